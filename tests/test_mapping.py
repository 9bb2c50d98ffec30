"""The offline map: SVG and HTML, and `report map`."""

from __future__ import annotations

import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from test_reports import add_case, merge

from barriosms.reporting import mapping, reports
from barriosms.reporting.reports import HoodCount
from barriosms.store.models import Neighborhood

SVG = "{http://www.w3.org/2000/svg}"
HOODS = [
    HoodCount("B12", "Villa San Antonio", "San Antonio", -16.5082, -68.1019, 4),
    HoodCount("B07", "Achumani", "Sur", -16.5322, -68.0755, 1),
    HoodCount("B14", "Achachicala", "Periférica", -16.4686, -68.1376, 0),
    HoodCount("B77", "Barrio <&> \"Nuevo\"", "Norte & Sur", -16.50, -68.12, 2),
    HoodCount("B99", "Sin <mapa>", "", None, None, 3),
]


def circles(svg_text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg_text.encode("utf-8"))
    return {c.find(f"{SVG}title").text.split()[0]: c for c in root.iter(f"{SVG}circle")
            if c.find(f"{SVG}title") is not None}


def test_svg_is_valid_xml_with_one_circle_per_neighbourhood_with_cases():
    svg = mapping.render_svg(HOODS, title="Open cases per neighbourhood", subtitle="2026-11-24 08:00",
                             noun="open cases")
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    drawn = circles(svg)
    assert sorted(drawn) == ["B07", "B12", "B77"]  # not B14 (no cases), not B99 (no coordinates)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert "Open cases per neighbourhood" in texts and "2026-11-24 08:00" in texts
    assert {"B12 4", "B07 1", "B77 2", "B14"} <= set(texts)
    assert "Not drawn (no coordinates): B99" in texts
    assert "Circle area: number of open cases" in texts


def test_circle_area_is_proportional_to_the_count():
    drawn = circles(mapping.render_svg(HOODS, title="t"))
    r12, r07 = float(drawn["B12"].get("r")), float(drawn["B07"].get("r"))
    assert r12 == pytest.approx(mapping.MAX_RADIUS, abs=0.05)
    assert (r12 / r07) ** 2 == pytest.approx(4, rel=0.01)


def test_positions_follow_longitude_and_latitude_inside_the_picture():
    drawn = circles(mapping.render_svg(HOODS, title="t"))
    x = {code: float(c.get("cx")) for code, c in drawn.items()}
    y = {code: float(c.get("cy")) for code, c in drawn.items()}
    assert x["B07"] > x["B12"] > x["B77"]  # east is right
    assert y["B07"] > y["B12"] > y["B77"]  # south is down
    for code, c in drawn.items():
        r = float(c.get("r"))
        assert r <= x[code] - r and x[code] + r <= mapping.WIDTH
        assert 0 <= y[code] - r and y[code] + r <= mapping.HEIGHT


def test_equirectangular_keeps_distances_in_proportion():
    placed = {p.hood.code: p for p in mapping.place(HOODS)}
    a, b = placed["B12"], placed["B07"]
    ratio = abs(a.x - b.x) / abs(a.y - b.y)
    mean_lat = sum(h.lat for h in HOODS if h.located) / 4
    expected = abs(-68.1019 + 68.0755) * math.cos(math.radians(mean_lat)) / abs(-16.5082 + 16.5322)
    assert ratio == pytest.approx(expected, rel=0.01)


def test_every_text_is_escaped():
    svg = mapping.render_svg(HOODS, title="Casos <hoy> & mañana")
    assert "<&>" not in svg and "Casos &lt;hoy&gt; &amp; mañana" in svg
    tip = circles(svg)["B77"].find(f"{SVG}title").text
    assert tip == 'B77 Barrio <&> "Nuevo" (Norte & Sur): 2 cases'
    html = mapping.render_html(HOODS, title="t")
    assert "Barrio &lt;&amp;&gt; &quot;Nuevo&quot;" in html and "Sin &lt;mapa&gt;" in html


def test_one_neighbourhood_or_none_still_draws():
    one = [HoodCount("B01", "San Pedro", "Centro", -16.5, -68.1, 2)]
    [p] = mapping.place(one)
    assert 0 < p.x < mapping.WIDTH and 0 < p.y < mapping.HEIGHT
    assert ET.fromstring(mapping.render_svg([], title="empty").encode()).tag == f"{SVG}svg"
    assert circles(mapping.render_svg([HoodCount("B01", "x", "", 1.0, 2.0, 0)], title="t")) == {}


def test_html_is_self_contained_with_a_table_of_every_neighbourhood():
    html = mapping.render_html(HOODS, title="Open cases per neighbourhood", subtitle="2026-11-24")
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    assert html.replace('xmlns="http://www.w3.org/2000/svg"', "").count("http") == 0
    assert html.count('xmlns="http://www.w3.org/2000/svg"') == 1
    assert "<?xml" not in html
    for bad in ("<script", "<link", "@import", "url(", "src="):
        assert bad not in html
    assert html.count("<tr><td>") == len(HOODS)
    assert ('<tr><td>B99</td><td>Sin &lt;mapa&gt;</td><td></td><td class="n">3</td><td>no coordinates</td></tr>'
            in html)
    svg_part = html[html.index("<svg"):html.index("</svg>") + len("</svg>")]
    assert sorted(circles(svg_part)) == ["B07", "B12", "B77"]


def test_map_command_draws_open_cases(ready, tmp_path):
    keep = add_case("B12")
    merge(keep)
    add_case("B12", status="in_progress")
    add_case("B07", status="closed")
    Neighborhood.create(code="B99", name="Sin <mapa>")
    add_case("B99")
    target = tmp_path / "mapa.svg"
    result = ready("report", "map", "--output", str(target))
    assert f"wrote {target}: 3 open cases in 1 neighbourhood(s)" in result.stdout
    assert "not drawn (no coordinates): B99" in result.stderr
    drawn = circles(target.read_text(encoding="utf-8"))
    assert sorted(drawn) == ["B12"] and "2 open cases" in drawn["B12"].find(f"{SVG}title").text
    assert "already exists" in ready("report", "map", "--output", str(target), code=1).output
    ready("report", "map", "--output", str(target), "--status", "all", "--force")
    assert sorted(circles(target.read_text(encoding="utf-8"))) == ["B07", "B12"]


def test_map_command_html_by_file_ending(ready, tmp_path):
    add_case("B12")
    target = tmp_path / "mapa.html"
    ready("report", "map", "-o", str(target))
    html = target.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.count("<tr><td>") == 15
    assert html.replace('xmlns="http://www.w3.org/2000/svg"', "").count("http") == 0
    forced = tmp_path / "mapa.txt"
    ready("report", "map", "-o", str(forced), "--format", "html")
    assert forced.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


class Rows(HTMLParser):
    """Parses a whole HTML document: the cells of every table row, and every tag still open at the end."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "circle", "path", "rect", "line"}

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.open: list[str] = []
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_map_command_dash_is_standard_output(ready, tmp_path, monkeypatch):
    """`report map -o -` used to write a file named `-`: it is standard output, with the summary on stderr."""
    monkeypatch.chdir(tmp_path)
    add_case("B12")
    add_case("B12", status="in_progress")
    Neighborhood.create(code="B99", name="Sin <mapa>")
    add_case("B99")
    svg = ready("report", "map", "-o", "-")
    drawn = circles(svg.stdout)  # the whole of stdout is one SVG document
    assert sorted(drawn) == ["B12"] and "2 open cases" in drawn["B12"].find(f"{SVG}title").text
    assert "3 open cases in 1 neighbourhood(s)" in svg.stderr and "not drawn (no coordinates): B99" in svg.stderr
    html = ready("report", "map", "--output", "-", "--format", "html").stdout
    parsed = Rows(html)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>") and parsed.open == []
    by_code = {r[0]: r for r in parsed.rows[1:]}  # after the header row, one row per neighbourhood
    assert parsed.rows[0][:4] == ["Code", "Neighbourhood", "District", "Open cases"]
    assert by_code["B12"][:4] == ["B12", "Villa San Antonio", "San Antonio", "2"]
    assert by_code["B99"] == ["B99", "Sin <mapa>", "", "1", "no coordinates"]
    assert sorted(circles(html[html.index("<svg"):html.index("</svg>") + len("</svg>")])) == ["B12"]
    assert not (tmp_path / "-").exists()


def test_map_command_dash_with_json_is_refused(ready, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = ready("report", "map", "-o", "-", "--json", code=1)
    assert "--json" in result.stderr and "-o -" in result.stderr and "<svg" not in result.stdout
    assert not (tmp_path / "-").exists()


def test_map_to_standard_output_from_a_real_process(ready, ini, tmp_path):
    add_case("B12")
    proc = subprocess.run([sys.executable, "-m", "barriosms", "--config", str(ini), "report", "map", "-o", "-",
                           "--format", "html"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("<!DOCTYPE html>") and Rows(proc.stdout).open == []
    assert "1 open cases in 1 neighbourhood(s)" in proc.stderr
    assert not (tmp_path / "-").exists()


def test_hood_counts_feed_the_map(hoods):
    add_case("B12")
    svg = mapping.render_svg(reports.hood_counts(), title="t")
    assert sorted(circles(svg)) == ["B12"]
