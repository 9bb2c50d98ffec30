"""Hotspots and statistics from the store, and the `report hotspots` and `stats` commands."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import statistics
from zoneinfo import ZoneInfo

import pytest
from conftest import SAMPLE_CSV

from barriosms.cases import casework
from barriosms.cases.reporters import add_reporter
from barriosms.cli.stats import duration, start_of_day_utc
from barriosms.domain.ranking import OpenCase, rank_hotspots
from barriosms.reporting import reports
from barriosms.staff.neighborhoods import import_csv
from barriosms.store.models import Case, Neighborhood, utcnow

NOW = dt.datetime(2026, 11, 24, 12, 0)
_numbers = itertools.count(2000001)


def add_case(code: str, category: str = "vias", *, days: float = 0.0, reporters: int = 1, status: str = "received",
             merged_into: Case | None = None, resolve_hours: float | None = None, text: str = "hay un bache",
             now: dt.datetime | None = None) -> Case:
    """A case opened `days` before `now`, with `reporters` phones (the first is the case's own)."""
    created = (now or NOW) - dt.timedelta(days=days)
    n = next(_numbers)
    case = Case.create(tracking=str(n), neighborhood=Neighborhood.get(Neighborhood.code == code), category=category,
                       text=text, phone=f"+591{n}", status=status, created_at=created, updated_at=created,
                       merged_into=merged_into,
                       resolved_at=None if resolve_hours is None else created + dt.timedelta(hours=resolve_hours))
    for i in range(reporters):
        add_reporter(case, f"+591{n}{i}", "reported" if i == 0 else "merged", None, created)
    return case


def merge(duplicate_of: Case, *, days: float = 0.0) -> Case:
    """A duplicate merged into `duplicate_of`: closed, and its reporter joins the surviving case."""
    dup = add_case(duplicate_of.neighborhood.code, duplicate_of.category, days=days, status="closed",
                   merged_into=duplicate_of)
    add_reporter(duplicate_of, dup.phone, "merged")
    return dup


def test_hotspots_rank_waiting_cases_and_count_merged_reporters_once(hoods):
    keep = add_case("B12", days=7)
    merge(keep, days=30)  # an old duplicate must not add its age or a case of its own
    add_case("B03", "agua", days=1)
    add_case("B03", "agua", status="resolved", days=60, resolve_hours=1)  # fixed: waits only to be closed
    add_case("B01", status="rejected", days=90)
    spots = reports.hotspots(NOW)
    assert [(s.code, s.category, s.open, s.reporters) for s in spots] == [("B12", "vias", 1, 2), ("B03", "agua", 1, 1)]
    assert spots[0].score == pytest.approx(2 * (1 + 7 / 7))
    assert spots[0].oldest_days == pytest.approx(7)
    assert (spots[0].name, spots[0].district) == ("Villa San Antonio", "San Antonio")


def test_hotspots_by_district_ignore_case_and_accents(hoods):
    add_case("B04")  # Villa Fátima, Periférica
    add_case("B12")
    assert [s.code for s in reports.hotspots(NOW, district="periferica")] == ["B04"]
    with pytest.raises(reports.ReportError, match="no neighbourhood is in district 'Nowhere'; districts: Centro"):
        reports.hotspots(NOW, district="Nowhere")


def test_median_of_odd_and_even_counts_and_of_nothing():
    assert reports.median([5, 1, 100]) == 5
    assert reports.median([20, 2, 10, 4]) == 7
    assert reports.median([]) is None


def test_stats_counts_and_median_time_to_resolve(hoods):
    for hours in (1, 5, 100):
        add_case("B12", "vias", status="closed", resolve_hours=hours)
    for hours in (2, 4, 10, 20):
        add_case("B06", "agua", status="resolved", resolve_hours=hours)
    add_case("B06", "agua")
    keep = add_case("B01", "luz", status="in_progress")
    merge(keep)
    s = reports.stats()
    assert s.total == 9  # not the merged duplicate
    assert s.by_status == {"received": 1, "reviewing": 0, "in_progress": 1, "resolved": 4, "closed": 3, "rejected": 0}
    assert s.by_category == {"agua": 5, "vias": 3, "luz": 1}
    assert list(s.by_district.items())[:3] == [("Sur", 5), ("San Antonio", 3), ("Centro", 1)]
    assert s.by_district["Mallasa"] == 0  # every district is listed
    assert s.resolve_time == reports.ResolveTime(resolved=7, median_seconds=5 * 3600)
    assert s.resolve_time_by_category["vias"].median_seconds == 5 * 3600  # odd: the middle one
    assert s.resolve_time_by_category["agua"] == reports.ResolveTime(resolved=4, median_seconds=7 * 3600)  # even
    assert s.resolve_time_by_category["luz"] == reports.ResolveTime(resolved=0, median_seconds=None)


def test_stats_with_nothing_resolved_and_since(hoods):
    add_case("B12", days=10)
    add_case("B12", days=1)
    s = reports.stats(since=NOW - dt.timedelta(days=2))
    assert s.total == 1
    assert s.resolve_time == reports.ResolveTime(resolved=0, median_seconds=None)
    assert reports.stats().total == 2


def test_since_is_local_midnight_and_durations_read_well():
    assert start_of_day_utc("2026-11-01", ZoneInfo("America/La_Paz")) == dt.datetime(2026, 11, 1, 4, 0)
    assert duration(None) == "-"
    assert duration(5.5 * 3600) == "5.5 h"
    assert duration(47 * 3600) == "47.0 h"
    assert duration(3 * 86400) == "3.0 d"


def test_hood_counts_of_open_or_all_cases(hoods):
    keep = add_case("B12")
    merge(keep)
    add_case("B12", status="in_progress")
    add_case("B03", status="closed")
    open_counts = {h.code: h.count for h in reports.hood_counts()}
    assert open_counts["B12"] == 2 and open_counts["B03"] == 0 and len(open_counts) == 15
    assert {h.code: h.count for h in reports.hood_counts(None)}["B03"] == 1
    assert reports.hood_counts()[0].code == "B12"  # most first


def test_hotspots_command(ready):
    now = utcnow()
    add_case("B12", days=14, reporters=3, now=now)
    add_case("B12", days=1, now=now)
    add_case("B07", "basura", days=2, now=now)
    out = ready("report", "hotspots").output
    lines = out.splitlines()
    assert lines[0].split() == ["RANK", "CODE", "NEIGHBOURHOOD", "DISTRICT", "CATEGORY", "OPEN", "REPORTERS",
                                "OLDEST", "(DAYS)", "SCORE"]
    assert lines[1].split() == ["1", "B12", "Villa", "San", "Antonio", "San", "Antonio", "vias", "2", "4", "14", "10.1"]
    data = json.loads(ready("report", "hotspots", "--json", "--limit", "1").output)
    assert data == [{"rank": 1, "neighborhood": "B12", "neighborhood_name": "Villa San Antonio",
                     "district": "San Antonio", "category": "vias", "open": 2, "reporters": 4, "oldest_days": 14.0,
                     "score": 10.14}]
    assert json.loads(ready("report", "hotspots", "--json", "--district", "SUR").output)[0]["neighborhood"] == "B07"
    unknown = ready("report", "hotspots", "--district", "Norte", code=1).output
    assert "no neighbourhood is in district 'Norte'" in unknown
    assert "score = sum over the open cases of" in ready("report", "hotspots", "--help").output


def test_hotspots_command_with_nothing_open(ready):
    assert "no open cases" in ready("report", "hotspots").output
    assert json.loads(ready("report", "hotspots", "--json").output) == []


def test_stats_command(ready):
    now = utcnow()
    add_case("B12", status="resolved", resolve_hours=3, now=now)
    add_case("B12", status="closed", resolve_hours=5, now=now)
    add_case("B07", "agua", days=40, now=now)
    out = ready("stats").output
    assert "3 case(s)" in out and "median time to resolve: 4.0 h over 2 resolved case(s)" in out
    assert "agua      1      0         -" in out
    data = json.loads(ready("stats", "--json").output)
    assert data["total"] == 3 and data["by_status"]["closed"] == 1
    assert data["time_to_resolve"]["median_hours"] == 4.0 and data["time_to_resolve"]["resolved"] == 2
    assert data["time_to_resolve"]["by_category"]["agua"] == {"resolved": 0, "median_seconds": None,
                                                              "median_hours": None}
    since = (now - dt.timedelta(days=10)).date().isoformat()
    recent = json.loads(ready("stats", "--json", "--since", since).output)
    assert recent["total"] == 2 and recent["since"].startswith(since) and recent["since"].endswith("-04:00")
    assert "bad date '1/11/2026': write it as YYYY-MM-DD" in ready("stats", "--since", "1/11/2026", code=1).output


def test_stats_command_on_an_empty_database(ready):
    out = ready("stats").output
    assert "0 case(s)" in out and "median time to resolve: - over 0 resolved case(s)" in out


def test_figures_added_up_by_the_database_agree_with_the_cases(either_db):
    """stats and report hotspots add up in SQL (migration 17's indexes, seconds_between): on both
    databases they must give what the pure functions give over the cases one by one."""
    import_csv(SAMPLE_CSV)
    hoods = {n.code: n for n in Neighborhood.select()}
    rng = random.Random(7)
    cases = []
    for i in range(60):
        created = NOW - dt.timedelta(days=rng.uniform(-0.5, 40))  # some "in the future": a clock set back
        status = rng.choice(["received", "reviewing", "in_progress", "resolved", "closed"])
        resolved = created + dt.timedelta(hours=rng.uniform(1, 300)) if status in ("resolved", "closed") else None
        case = Case.create(tracking=str(3000001 + i), neighborhood=hoods[rng.choice(["B01", "B03", "B12"])],
                           category=rng.choice(["vias", "agua"]), text="hay un bache", phone=f"+5917{i:07d}",
                           status=status, created_at=created, updated_at=created, resolved_at=resolved)
        for k in range(rng.choice([0, 1, 1, 2, 3])):
            add_reporter(case, f"+5916{i:05d}{k}", "reported" if k == 0 else "merged")
        cases.append(case)
    Case.update(merged_into=cases[0]).where(Case.id == cases[1].id).execute()
    live = [c for c in Case.select() if c.merged_into_id is None]

    waiting = [OpenCase(code=c.neighborhood.code, category=c.category, created_at=c.created_at,
                        reporters=c.reporters.count(), name=c.neighborhood.name, district=c.neighborhood.district)
               for c in live if c.status in ("received", "reviewing", "in_progress")]
    expected = rank_hotspots(waiting, NOW)
    got = reports.hotspots(NOW)
    assert [(s.code, s.category, s.open, s.reporters) for s in got] == [
        (s.code, s.category, s.open, s.reporters) for s in expected]
    assert [s.score for s in got] == pytest.approx([s.score for s in expected])
    assert [s.oldest_days for s in got] == pytest.approx([s.oldest_days for s in expected])

    figures = reports.stats(now=NOW)
    seconds = {c.id: (c.resolved_at - c.created_at).total_seconds() for c in live if c.resolved_at}
    assert figures.total == len(live)
    assert figures.resolve_time.resolved == len(seconds)
    assert figures.resolve_time.median_seconds == pytest.approx(statistics.median(seconds.values()), abs=0.01)
    for category in ("vias", "agua"):
        mine = [s for c in live if c.category == category and (s := seconds.get(c.id)) is not None]
        assert figures.resolve_time_by_category[category].median_seconds == pytest.approx(statistics.median(mine),
                                                                                          abs=0.01)
    # A period (`stats --since`): its cases only, read in one pass rather than from the index's middle.
    since = NOW - dt.timedelta(days=20)
    recent = reports.stats(since, now=NOW)
    period = [c for c in live if c.created_at >= since]
    assert recent.total == len(period)
    for category in (None, "vias", "agua"):
        mine = [s for c in period if category in (None, c.category) and (s := seconds.get(c.id)) is not None]
        got = recent.resolve_time if category is None else recent.resolve_time_by_category[category]
        assert got.resolved == len(mine)
        assert got.median_seconds == pytest.approx(statistics.median(mine), abs=0.01)
    newest = casework.list_cases(category="agua", limit=5)
    assert [c.id for c in newest] == [c.id for c in sorted(
        (c for c in Case.select() if c.category == "agua"), key=lambda c: (c.created_at, c.id), reverse=True)][:5]
