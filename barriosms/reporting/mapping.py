"""A picture of cases per neighbourhood that opens without internet: SVG, or HTML with the SVG inline.

Each neighbourhood with coordinates is placed by an equirectangular projection (longitudes shrunk
by the cosine of the mean latitude, so distances look right at La Paz's latitude) scaled to fit the
bounding box of all of them, with margins. A neighbourhood with cases gets a circle whose *area* is
proportional to its count; one without cases a small grey square, so the map stays recognisable.
Nothing refers to the network (no fonts, styles or scripts from elsewhere) and every text from the
data is escaped: names come from a CSV staff edit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import cast

from barriosms.reporting.reports import HoodCount

WIDTH = 900
HEIGHT = 680
MAX_RADIUS = 32.0  # the neighbourhood with the most cases
_TOP = 70  # title and subtitle above
_LEGEND = 116  # legend below
_SIDE = 24

_STYLE = ("text{font-family:sans-serif;fill:#222}"
          ".hood{fill:#d9480f;fill-opacity:.55;stroke:#a61e00;stroke-width:1}"
          ".empty{fill:#adb5bd}"
          ".label{font-size:12px}.quiet{font-size:11px;fill:#868e96}"
          ".title{font-size:20px;font-weight:bold}.note{font-size:12px;fill:#495057}")


@dataclass(frozen=True)
class Placed:
    hood: HoodCount
    x: float
    y: float
    r: float


def _f(v: float) -> str:
    return f"{v:.1f}"


def radius(count: int, most: int) -> float:
    """Circle radius so that the area is proportional to `count` (the largest gets MAX_RADIUS)."""
    return MAX_RADIUS * math.sqrt(count / most) if count > 0 and most > 0 else 0.0


def place(hoods: Sequence[HoodCount], width: int = WIDTH, height: int = HEIGHT) -> list[Placed]:
    """Screen positions of the neighbourhoods that have coordinates (others are left out)."""
    located = [h for h in hoods if h.located]
    if not located:
        return []
    ys = [cast(float, h.lat) for h in located]  # located: lat and lon are set
    kx = math.cos(math.radians(sum(ys) / len(located)))
    xs = [cast(float, h.lon) * kx for h in located]
    margin = MAX_RADIUS + 8
    left, right = _SIDE + margin, width - _SIDE - margin - 60  # room for the labels on the right
    top, bottom = _TOP + margin, height - _LEGEND - margin
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    scales = [s for s in ((right - left) / span_x if span_x else None,
                          (bottom - top) / span_y if span_y else None) if s is not None]
    scale = min(scales) if scales else 0.0
    # Centre the drawing in the free space along the axis that does not fill it.
    off_x = left + ((right - left) - span_x * scale) / 2
    off_y = top + ((bottom - top) - span_y * scale) / 2
    most = max((h.count for h in hoods), default=0)
    return [Placed(h, off_x + (x - min(xs)) * scale, off_y + (max(ys) - y) * scale, radius(h.count, most))
            for h, x, y in zip(located, xs, ys)]


def _legend(most: int, noun: str, y: float) -> list[str]:
    """Reference circles for the largest count and about a quarter of it, on one line."""
    parts = [f'<g class="legend"><text class="note" x="{_SIDE}" y="{_f(y)}">'
             f"Circle area: number of {escape(noun)}</text>"]
    x: float = _SIDE + 8
    values = sorted({most, max(1, round(most / 4))}) if most else []
    cy = y + 8 + MAX_RADIUS
    for value in values:
        r = radius(value, most)
        x += r
        parts.append(f'<circle class="hood" cx="{_f(x)}" cy="{_f(cy)}" r="{_f(r)}"/>')
        parts.append(f'<text class="label" x="{_f(x + r + 4)}" y="{_f(cy + 4)}">{value}</text>')
        x += r + 40
    parts.append(f'<rect class="empty" x="{_f(x)}" y="{_f(cy - 2)}" width="4" height="4"/>'
                 f'<text class="label" x="{_f(x + 8)}" y="{_f(cy + 4)}">none</text></g>')
    return parts


def render_svg(hoods: Sequence[HoodCount], *, title: str, subtitle: str = "", noun: str = "cases",
               width: int = WIDTH, height: int = HEIGHT, standalone: bool = True) -> str:
    """The map as SVG text. `standalone` adds the XML declaration (leave it out to inline in HTML)."""
    placed = place(hoods, width, height)
    most = max((h.count for h in hoods), default=0)
    missing = [h for h in hoods if not h.located]
    out = []
    if standalone:
        out.append('<?xml version="1.0" encoding="UTF-8"?>')
    out.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
               f'viewBox="0 0 {width} {height}" role="img">')
    out.append(f"<title>{escape(title)}</title>")
    out.append(f"<style>{_STYLE}</style>")
    out.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>')
    out.append(f'<text class="title" x="{_SIDE}" y="32">{escape(title)}</text>')
    if subtitle:
        out.append(f'<text class="note" x="{_SIDE}" y="52">{escape(subtitle)}</text>')
    # Quiet neighbourhoods first, then circles largest first (small ones stay visible on top), then
    # every label above every shape.
    labels = []
    for p in sorted(placed, key=lambda p: (p.hood.count > 0, -p.hood.count, p.hood.code)):
        h = p.hood
        tip = escape(f"{h.code} {h.name}" + (f" ({h.district})" if h.district else "") + f": {h.count} {noun}")
        if h.count:
            out.append(f'<circle class="hood" cx="{_f(p.x)}" cy="{_f(p.y)}" r="{_f(p.r)}">'
                       f"<title>{tip}</title></circle>")
            labels.append(f'<text class="label" x="{_f(p.x + p.r + 3)}" y="{_f(p.y + 4)}">'
                          f"{escape(h.code)} {h.count}</text>")
        else:
            out.append(f'<rect class="empty" x="{_f(p.x - 2)}" y="{_f(p.y - 2)}" width="4" height="4">'
                       f"<title>{tip}</title></rect>")
            labels.append(f'<text class="quiet" x="{_f(p.x + 5)}" y="{_f(p.y + 4)}">{escape(h.code)}</text>')
    out.extend(labels)
    legend_y = height - _LEGEND + 14
    out.extend(_legend(most, noun, legend_y))
    if missing:
        codes = ", ".join(h.code for h in missing)
        out.append(f'<text class="note" x="{_SIDE}" y="{height - 8}">Not drawn (no coordinates): '
                   f"{escape(codes)}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_html(hoods: Sequence[HoodCount], *, title: str, subtitle: str = "", noun: str = "cases") -> str:
    """One HTML page: the SVG inline and a table of every neighbourhood with its count."""
    rows = []
    for h in hoods:
        where = "" if h.located else "no coordinates"
        rows.append(f"<tr><td>{escape(h.code)}</td><td>{escape(h.name)}</td><td>{escape(h.district)}</td>"
                    f'<td class="n">{h.count}</td><td>{where}</td></tr>')
    svg = render_svg(hoods, title=title, subtitle=subtitle, noun=noun, standalone=False)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1em;color:#222}"
        "table{border-collapse:collapse;margin-top:1em}th,td{border:1px solid #ced4da;padding:2px 8px;"
        "text-align:left}td.n{text-align:right}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(subtitle)}</p>" if subtitle else "",
        svg,
        "<table>",
        f"<thead><tr><th>Code</th><th>Neighbourhood</th><th>District</th><th>{escape(noun.capitalize())}</th>"
        "<th>Map</th></tr></thead>",
        "<tbody>",
        *rows,
        "</tbody>",
        "</table>",
        "</body>",
        "</html>",
        "",
    ])
