"""Reading the store for staff reports: hotspots, statistics, exports and the map.

Returns plain dataclasses (no peewee objects), so the CLI, the writers in `exports` and `mapping`
and, later, the web can use them without the database. A duplicate merged into another case is
never counted on its own: its reporters are counted with the case that absorbed it.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

from peewee import SQL, Value, fn
from peewee import Case as SqlCase  # CASE WHEN, not the model

from barriosms.cases.satisfaction import Satisfaction, satisfaction
from barriosms.domain.ranking import WAITING_STATUSES, Hotspot, OpenGroup, rank_groups
from barriosms.domain.statuses import STATUSES
from barriosms.store.database import seconds_between
from barriosms.store.models import Case, Neighborhood


class ReportError(Exception):
    """A report that cannot be made as asked; the message says why and what to do instead."""


@dataclass(frozen=True)
class CaseRow:
    """One case for an export: the case, its neighbourhood and how many phones reported it."""

    tracking: str
    status: str
    category: str
    code: str
    name: str
    district: str
    lat: float | None
    lon: float | None
    created_at: dt.datetime  # naive UTC, as stored
    updated_at: dt.datetime
    reporters: int
    assignee: str
    text: str
    phone: str


@dataclass(frozen=True)
class HoodCount:
    """A neighbourhood and how many cases it has (of the statuses asked for)."""

    code: str
    name: str
    district: str
    lat: float | None
    lon: float | None
    count: int

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class ResolveTime:
    resolved: int  # cases that reached "resolved"
    median_seconds: float | None  # None when none did


@dataclass(frozen=True)
class Stats:
    since: dt.datetime | None  # naive UTC; cases created from then on
    total: int
    by_status: dict[str, int]  # every status, in life order
    by_category: dict[str, int]  # most cases first
    by_district: dict[str, int]  # every district, most cases first
    resolve_time: ResolveTime
    resolve_time_by_category: dict[str, ResolveTime]
    # Whether residents confirmed the fixes (the question asked when a case is resolved).
    satisfaction: Satisfaction


# The lookup and the folding of names are imported where they are used: `stats` and `report
# hotspots` (without --district) need neither, and they are a tenth of those commands' start-up.

def _neighborhood(code: str) -> Neighborhood:
    from barriosms.cases.lookup import NeighborhoodNotFound, find_neighborhood

    try:
        return find_neighborhood(code, by_name=False)
    except NeighborhoodNotFound:
        raise ReportError(f"no neighbourhood with code {code!r} (list them with `barriosms neighborhoods list`)") from None


def match_district(district: str) -> str:
    """The stored spelling of a district typed without care for case or accents ("periferica")."""
    from barriosms.domain.categories import fold

    districts = cast("Iterable[tuple[str]]", Neighborhood.select(Neighborhood.district).distinct().tuples())
    known = sorted({d for (d,) in districts if d})
    for name in known:
        if fold(name) == fold(district.strip()):
            return name
    raise ReportError(f"no neighbourhood is in district {district!r}; districts: {', '.join(known) or 'none'}")


def hotspots(now: dt.datetime, *, district: str | None = None, limit: int | None = None) -> list[Hotspot]:
    """Neighbourhood × category ranked by `domain.ranking.rank_groups` over the waiting cases.

    The database adds the cases up per status, category and neighbourhood from an index
    (migrations 17 and 19), without reading the cases: how many, how many phones reported them
    (a case weighs at least one), the oldest, and their days of waiting weighed by the reporters.
    """
    hoods = {n.id: n for n in Neighborhood.select()}
    if district is not None:
        wanted = match_district(district)
        hoods = {i: n for i, n in hoods.items() if n.district == wanted}
    waiting = Case.merged_into.is_null() & Case.status.in_(WAITING_STATUSES)
    if district is not None:
        waiting &= Case.neighborhood.in_(list(hoods))
    days = _days_waited(now)
    weight = SqlCase(None, [(Case.reporter_count > 1, Case.reporter_count)], 1)
    # Grouped in the index's order (status first), so the database streams the groups; the
    # statuses are added together below.
    per_group = (Case.select(Case.neighborhood, Case.category, fn.COUNT(SQL("*")), fn.SUM(weight),
                             fn.MIN(Case.created_at), fn.SUM(days * weight))
                 .where(waiting).group_by(Case.status, Case.category, Case.neighborhood))
    sums: dict[tuple[int, str], list[Any]] = {}
    for hood, category, count, reporters, oldest, waited in Case._meta.database.execute(per_group):
        if isinstance(oldest, str):  # SQLite gives MIN() of a time as it is stored
            oldest = Case.created_at.python_value(oldest)
        group = sums.setdefault((hood, category), [0, 0, oldest, 0.0])
        group[0] += count
        group[1] += int(reporters)
        group[2] = min(group[2], oldest)
        group[3] += float(waited or 0)
    groups = (OpenGroup(code=hoods[hood].code, category=category, open=count, reporters=reporters, oldest=oldest,
                        weighted_days=waited, name=hoods[hood].name, district=hoods[hood].district)
              for (hood, category), (count, reporters, oldest, waited) in sums.items())
    return rank_groups(groups, now, limit=limit)


def _days_waited(now: dt.datetime) -> Any:
    """A case's days from its report to `now` (never negative), as the database computes it."""
    return SqlCase(None, [(Case.created_at < now, seconds_between(Case.created_at, Value(now)) / 86400)], 0)


def median(values: Iterable[float]) -> float | None:
    """The median (mean of the middle two for an even count), or None for no values."""
    values = list(values)
    return statistics.median(values) if values else None


def _resolve_seconds(seconds: Any) -> float:
    # Rounded to the millisecond: the database's day fractions are not exact to the microsecond.
    return max(0.0, round(float(seconds), 3))


def _median_resolve_time(where: Any, count: int) -> ResolveTime:
    """The median seconds from report to resolved of the `count` cases `where` selects: the
    middle one or two in the order of the seconds, which an index of migration 17 holds, so the
    database steps over half of one index instead of sending every case. Rounding and the floor
    at 0 keep the order, so the middle values are those of the rounded list."""
    if not count:
        return ResolveTime(resolved=0, median_seconds=None)
    seconds = seconds_between(Case.created_at, Case.resolved_at)
    middle = Case.select(seconds).where(where).order_by(seconds).limit(2 - count % 2).offset((count - 1) // 2)
    values = [_resolve_seconds(v) for (v,) in Case._meta.database.execute(middle)]
    return ResolveTime(resolved=count, median_seconds=median(values))


def _most_first(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def stats(since: dt.datetime | None = None, now: dt.datetime | None = None) -> Stats:
    """Counts per status, category and district, the median time from report to resolved, and
    the residents' answers to "was it really fixed?" (`cases.satisfaction`, judged at `now`).

    The time to resolve counts the cases that reached "resolved" (also those closed since):
    `resolved_at` minus `created_at`.
    """
    # The residents' answers are counted on a second connection, in a thread, while this one counts
    # the cases: the two read different tables, and SQLite and the PostgreSQL driver let other
    # threads run while the database works, so at a million cases the answers cost no extra time.
    # (A second connection sees only what is committed: never call this inside a transaction that
    # wrote what it should count.) Each side reads in one transaction: counts and the medians they
    # locate are of one moment.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stats") as pool:
        answers = pool.submit(_on_own_connection, satisfaction, since, now)
        with Case._meta.database.atomic():
            return _case_stats(since, answers)


def _on_own_connection(function: Callable[..., Any], *args: Any) -> Any:
    with Case._meta.database.connection_context():
        return function(*args)


def _case_stats(since: dt.datetime | None, answers: Future[Satisfaction]) -> Stats:
    # Counted by the database from its indexes (migration 17): one GROUP BY over the live cases
    # (how many, how many resolved), then the middle of the resolve times overall and per
    # category. The neighbourhoods' districts are added up here (a few dozen neighbourhoods).
    live = Case.merged_into.is_null() if since is None else Case.merged_into.is_null() & (Case.created_at >= since)
    groups = (Case.select(Case.status, Case.category, Case.neighborhood, fn.COUNT(SQL("*")), fn.COUNT(Case.resolved_at))
              .where(live).group_by(Case.status, Case.category, Case.neighborhood))
    by_status: dict[str, int] = dict.fromkeys(STATUSES, 0)
    by_category: dict[str, int] = {}
    resolved_counts: dict[str, int] = {}
    hoods = cast("Iterable[tuple[int, str]]", Neighborhood.select(Neighborhood.id, Neighborhood.district).tuples())
    district_of = dict(hoods)
    by_district = dict.fromkeys(sorted(set(district_of.values())), 0)
    total = 0
    for status, category, hood, count, resolved_count in Case._meta.database.execute(groups):
        total += count
        by_status[status] = by_status.get(status, 0) + count
        by_category[category] = by_category.get(category, 0) + count
        by_district[district_of[hood]] = by_district.get(district_of[hood], 0) + count
        resolved_counts[category] = resolved_counts.get(category, 0) + resolved_count
    resolved = live & Case.resolved_at.is_null(False)
    if since is None:
        overall = _median_resolve_time(resolved, sum(resolved_counts.values()))
        per_category = {c: _median_resolve_time(resolved & (Case.category == c), resolved_counts.get(c, 0))
                        for c in _most_first(by_category)}
    else:
        overall, per_category = _resolve_times_read(resolved, list(_most_first(by_category)))
    return Stats(since=since, total=total, by_status=by_status, by_category=_most_first(by_category),
                 by_district=_most_first(by_district), resolve_time=overall, resolve_time_by_category=per_category,
                 satisfaction=answers.result())


def _resolve_times_read(where: Any, categories: list[str]) -> tuple[ResolveTime, dict[str, ResolveTime]]:
    """The median times to resolve of a period's cases (`stats --since`), overall and per category,
    from their seconds read in one pass of an index (migration 19's case_public_created_at): the
    middle of an index cannot serve a period, and sorting the period once per category in the
    database took 1.6 s for a year of a million cases."""
    seconds: dict[str, list[float]] = {c: [] for c in categories}
    query = Case.select(Case.category, seconds_between(Case.created_at, Case.resolved_at)).where(where)
    for category, value in Case._meta.database.execute(query):
        seconds.setdefault(category, []).append(value)
    every = [s for values in seconds.values() for s in values]
    return (_middle(every), {c: _middle(seconds[c]) for c in categories})


def _middle(values: list[float]) -> ResolveTime:
    """The median of raw seconds, as _median_resolve_time gives it: only the middle one or two
    are rounded (rounding and the floor at 0 keep the order)."""
    values.sort()
    n = len(values)
    middle = values[(n - 1) // 2:n // 2 + 1]
    return ResolveTime(resolved=n, median_seconds=median(_resolve_seconds(v) for v in middle))


def _export_query(status: str | None, neighborhood: str | None) -> Any:
    if status is not None and status not in STATUSES:
        raise ReportError(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}")
    q = Case.select().where(Case.merged_into.is_null())
    if status is not None:
        q = q.where(Case.status == status)
    if neighborhood is not None:
        q = q.where(Case.neighborhood == _neighborhood(neighborhood))
    return q


def count_case_rows(*, status: str | None = None, neighborhood: str | None = None) -> int:
    """How many cases `case_rows` gives for the same filters."""
    return int(_export_query(status, neighborhood).count())


def case_rows(*, status: str | None = None, neighborhood: str | None = None) -> Iterator[CaseRow]:
    """The cases to export, oldest first, read from the database as they are consumed.

    Filters are checked now (ReportError); the rows come one at a time, so an export of a million
    cases holds one row in memory, not a million: no join or GROUP BY to materialise (each case
    carries its reporter count) and the neighbourhoods are read once.
    """
    q = _export_query(status, neighborhood)
    rows = (q.select(Case.tracking, Case.status, Case.category, Case.neighborhood, Case.lat, Case.lon,
                     Case.created_at, Case.updated_at, Case.reporter_count, Case.assignee, Case.text, Case.phone)
            .order_by(Case.created_at, Case.id))
    hoods = {n.id: n for n in Neighborhood.select()}
    return _stream(rows, hoods)


def _time(value: Any) -> dt.datetime:
    """A (never empty) time as the database's cursor gives it: PostgreSQL's driver makes the
    datetime, SQLite gives the text peewee stored (ISO 8601, which fromisoformat reads in C)."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def _stream(rows: Any, hoods: dict[int, Neighborhood]) -> Iterator[CaseRow]:
    # The database's own cursor, not peewee's rows: its conversion of each value of a million rows
    # cost more than the query (the times are read by _time).
    for tracking, status, category, hood_id, lat, lon, created, updated, reporters, assignee, text, phone in \
            Case._meta.database.execute(rows):
        created, updated = _time(created), _time(updated)
        hood = hoods[hood_id]
        marked = lat is not None and lon is not None  # the point a resident marked on the web map
        yield CaseRow(tracking=tracking, status=status, category=category, code=hood.code, name=hood.name,
                      district=hood.district, lat=lat if marked else hood.lat, lon=lon if marked else hood.lon,
                      created_at=created, updated_at=updated, reporters=reporters, assignee=assignee, text=text,
                      phone=phone)


def hood_counts(statuses: Collection[str] | None = WAITING_STATUSES) -> list[HoodCount]:
    """Every neighbourhood with its number of cases in `statuses` (None: all), most first."""
    per_hood = Case.select(Case.neighborhood, fn.COUNT(Case.id)).where(Case.merged_into.is_null())
    if statuses is not None:
        per_hood = per_hood.where(Case.status.in_(list(statuses)))
    counts = dict(cast("Iterable[tuple[int, int]]", per_hood.group_by(Case.neighborhood).tuples()))
    rows = [HoodCount(code=n.code, name=n.name, district=n.district, lat=n.lat, lon=n.lon,
                      count=counts.get(n.id, 0))
            for n in Neighborhood.select()]
    return sorted(rows, key=lambda r: (-r.count, r.code))
