"""What anyone may see of the cases: the website's pages, its map data and the Open311 API read here.

Nothing personal ever leaves this module: no phone number, no name of a reporter or of the staff
member assigned, no internal note. What residents wrote is shown with phone numbers and e-mail
addresses masked (or not at all, `[web] show_descriptions = no`). Duplicates merged into another
case are left out of lists and counts (the surviving case stands for them).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

from peewee import fn

from barriosms.cases.opening import tracking_lengths
from barriosms.domain.masking import mask
from barriosms.domain.tracking import LONGEST, SHORTEST, digits_phrase, is_valid_tracking
from barriosms.store.models import Case, CaseEvent, Neighborhood, Project

# Open for the public (and Open311's "open"): work still to do. Resolved counts as done.
OPEN = ("received", "reviewing", "in_progress")
DONE = ("resolved", "closed", "rejected")
STATES = {"abiertos": OPEN, "cerrados": DONE, "todos": OPEN + DONE}

class NotFound(Exception):
    """No such public thing; `reason` is "invalid" (a mistyped number) or "unknown"."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class PublicNote:
    at: dt.datetime
    text: str


@dataclass(frozen=True)
class PublicCase:
    tracking: str
    status: str
    category: str
    neighborhood_code: str
    neighborhood_name: str
    district: str
    created_at: dt.datetime
    updated_at: dt.datetime
    resolved_at: dt.datetime | None
    description: str  # masked, or "" when descriptions are not shown
    lat: float | None  # the point marked on the map, else the neighbourhood's
    lon: float | None
    channel: str
    merged_into: str = ""  # tracking number of the case this one was merged into
    notes: tuple[PublicNote, ...] = ()
    history: tuple[tuple[dt.datetime, str], ...] = field(default=())  # (when, new status)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN and not self.merged_into


def _public(case: Case, hood: Neighborhood, show_descriptions: bool, *, detail: bool = False,
            merged_into: str = "") -> PublicCase:
    notes: tuple[PublicNote, ...] = ()
    history: tuple[tuple[dt.datetime, str], ...] = ()
    if detail:
        # Every change of status is public (a reopening by the resident's REABRIR or "2" too);
        # a note only when staff made it public: a reopening keeps the resident's words private.
        events = list(CaseEvent.select()
                      .where((CaseEvent.case == case)
                             & ((CaseEvent.public == True) | CaseEvent.new_status.is_null(False)))  # noqa: E712
                      .order_by(CaseEvent.at, CaseEvent.id))
        notes = tuple(PublicNote(e.at, mask(e.note)) for e in events if e.note and e.public)
        history = tuple((e.at, e.new_status) for e in events if e.new_status)
    return PublicCase(
        tracking=case.tracking, status=case.status, category=case.category,
        neighborhood_code=hood.code, neighborhood_name=hood.name, district=hood.district,
        created_at=case.created_at, updated_at=case.updated_at, resolved_at=case.resolved_at,
        description=mask(case.text) if show_descriptions else "",
        lat=case.lat if case.lat is not None else hood.lat, lon=case.lon if case.lon is not None else hood.lon,
        channel=case.channel, merged_into=merged_into, notes=notes, history=history)


def check_tracking(number: str) -> str:
    """The tracking number as typed, tidied ("12 345 67" → "1234567"); NotFound("invalid") if mistyped."""
    digits = re.sub(r"[\s.-]", "", number or "")
    if not digits:
        raise NotFound("invalid", f"Escriba el número de seguimiento que recibió ({digits_phrase(tracking_lengths())} "
                                  "cifras).")
    if not digits.isascii() or not digits.isdigit() or not SHORTEST <= len(digits) <= LONGEST:
        raise NotFound("invalid", f"El número de seguimiento tiene {digits_phrase(tracking_lengths())} cifras. "
                                  "Revíselo en su SMS "
                                  "o en la página que vio al reportar.")
    if not is_valid_tracking(digits):
        raise NotFound("invalid", f"El número {digits} no es válido: seguramente una cifra está mal escrita o "
                                  "cambiada de lugar. Revíselo.")
    return digits


def case(number: str, *, show_descriptions: bool = True) -> PublicCase:
    """One case by tracking number, with its public notes and status history."""
    tracking = check_tracking(number)
    found = Case.select(Case, Neighborhood).join(Neighborhood).where(Case.tracking == tracking).first()
    if found is None:
        raise NotFound("unknown", f"No encontramos ningún caso con el número {tracking}.")
    merged_into = ""
    if found.merged_into_id is not None:
        merged_into = Case.select(Case.tracking).where(Case.id == found.merged_into_id).scalar() or ""
    return _public(found, found.neighborhood, show_descriptions, detail=True, merged_into=merged_into)


@dataclass(frozen=True)
class CaseFilter:
    """The public list's filters: a neighbourhood code, a category, abiertos/cerrados/todos, a time span."""

    neighborhood: str = ""
    category: str = ""
    state: str = "todos"
    since: dt.datetime | None = None  # created at or after (naive UTC)
    until: dt.datetime | None = None  # created before
    updated_since: dt.datetime | None = None

    def where(self, query):
        query = query.where(Case.merged_into.is_null(True), Case.status.in_(STATES.get(self.state, STATES["todos"])))
        if self.neighborhood:  # `= (its id)`: an equality the index of its cases is sought with, no join
            query = query.where(Case.neighborhood == Neighborhood.select(Neighborhood.id)
                                .where(Neighborhood.code == self.neighborhood))
        if self.category:
            query = query.where(Case.category == self.category)
        if self.since:
            query = query.where(Case.created_at >= self.since)
        if self.until:
            query = query.where(Case.created_at < self.until)
        if self.updated_since:
            query = query.where(Case.updated_at >= self.updated_since)
        return query


def count(filters: CaseFilter, *, up_to: int | None = None) -> int:
    """How many cases match; with `up_to`, counting stops past it: an answer above `up_to` means
    "more than up_to" (counting a million cases, even from an index, takes a tenth of a second)."""
    query = filters.where(Case.select(Case.id))
    if up_to is not None:
        query = query.limit(up_to + 1)
    return query.count()


def listing(filters: CaseFilter, *, offset: int = 0, limit: int = 50, show_descriptions: bool = True,
            newest_first: bool = True) -> list[PublicCase]:
    """One page of cases, newest (or oldest) first.

    The page's ids first, from the index of the order alone (migration 18's case_public_created_at,
    or case_public_neighborhood): the cases a deep OFFSET skips are index entries, not rows read;
    then the page's own cases.
    """
    order = (Case.created_at.desc(), Case.id.desc()) if newest_first else (Case.created_at, Case.id)
    ids = filters.where(Case.select(Case.id)).order_by(*order).offset(offset).limit(limit)
    rows = sorted(Case.select(Case, Neighborhood).join(Neighborhood).where(Case.id.in_(ids)),
                  key=lambda c: (c.created_at, c.id), reverse=newest_first)  # the page alone, here
    return [_public(c, c.neighborhood, show_descriptions) for c in rows]


def cases(filters: CaseFilter, *, offset: int = 0, limit: int = 50, show_descriptions: bool = True,
          newest_first: bool = True) -> tuple[list[PublicCase], int]:
    """One page of cases and how many match in all."""
    rows = listing(filters, offset=offset, limit=limit, show_descriptions=show_descriptions,
                   newest_first=newest_first) if limit else []
    return rows, count(filters)


def by_tracking(numbers: list[str], *, show_descriptions: bool = True) -> list[PublicCase]:
    """Several cases by tracking number (Open311's service_request_id list); unknown ones left out."""
    wanted = [n for n in numbers if is_valid_tracking(n)]
    if not wanted:
        return []
    rows = Case.select(Case, Neighborhood).join(Neighborhood).where(Case.tracking.in_(wanted))
    found = {c.tracking: c for c in rows}
    out = []
    for n in wanted:
        c = found.get(n)
        if c is not None:
            merged = ""
            if c.merged_into_id is not None:
                merged = Case.select(Case.tracking).where(Case.id == c.merged_into_id).scalar() or ""
            out.append(_public(c, c.neighborhood, show_descriptions, merged_into=merged))
    return out


@dataclass(frozen=True)
class HoodProgress:
    """A neighbourhood on the public map: its open and done cases (reports.HoodCount counts one group)."""

    code: str
    name: str
    district: str
    lat: float | None
    lon: float | None
    open: int
    done: int

    @property
    def total(self) -> int:
        return self.open + self.done


def counts(category: str = "", state: str = "todos") -> list[HoodProgress]:
    """Open and done cases per neighbourhood (every neighbourhood, zeros included), by code."""
    statuses = STATES.get(state, STATES["todos"])
    q = (Case.select(Case.neighborhood, Case.status, fn.COUNT(Case.id).alias("n"))
         .where(Case.merged_into.is_null(True), Case.status.in_(statuses))
         .group_by(Case.neighborhood, Case.status))
    if category:
        q = q.where(Case.category == category)
    tally: dict[int, list[int]] = {}
    for row in cast("Iterable[tuple[int, str, int]]", q.tuples()):  # types-peewee: tuples() yields models
        hood_id, status, n = row
        pair = tally.setdefault(hood_id, [0, 0])
        pair[0 if status in OPEN else 1] += n
    out = []
    for hood in Neighborhood.select().order_by(Neighborhood.code):
        o, d = tally.get(hood.id, (0, 0))
        out.append(HoodProgress(hood.code, hood.name, hood.district, hood.lat, hood.lon, o, d))
    return out


def map_geojson(category: str = "", state: str = "todos") -> dict:
    """A GeoJSON FeatureCollection: one point per neighbourhood with coordinates, its counts as properties."""
    features = []
    for c in counts(category, state):
        if c.lat is None or c.lon is None:
            continue
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [c.lon, c.lat]},
            "properties": {"code": c.code, "name": c.name, "district": c.district,
                           "open": c.open, "done": c.done, "total": c.total},
        })
    return {"type": "FeatureCollection", "features": features}


def neighborhoods(query: str = "") -> list[Neighborhood]:
    """Neighbourhoods whose code, name, alias or district contains `query` (accents and case ignored)."""
    from barriosms.domain.categories import fold

    hoods = list(Neighborhood.select().order_by(Neighborhood.name, Neighborhood.code))
    wanted = " ".join(fold(query).split())
    if not wanted:
        return hoods
    compact = wanted.replace(" ", "").replace("-", "")
    return [h for h in hoods
            if compact in h.code.lower()
            or any(wanted in " ".join(fold(s).split()) for s in (h.name, h.district, *h.alias_list))]


def neighborhood(code: str) -> Neighborhood:
    from barriosms.domain.matching import normalize_code

    hood = Neighborhood.get_or_none(Neighborhood.code == normalize_code(code or ""))
    if hood is None:
        raise NotFound("unknown", f"No hay ningún barrio con el código {code}.")
    return hood


def projects(hood: Neighborhood | None = None) -> list[Project]:
    """Municipal projects (of one neighbourhood, or all), newest first."""
    q = Project.select(Project, Neighborhood).join(Neighborhood)
    if hood is not None:
        q = q.where(Project.neighborhood == hood)
    return list(q.order_by(Project.start_date.desc(nulls="LAST"), Project.id.desc()))
