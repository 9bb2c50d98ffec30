"""The hotspot score: pure, with `now` given."""

from __future__ import annotations

import datetime as dt

import pytest

from barriosms.domain.ranking import OpenCase, age_days, case_weight, rank_hotspots

NOW = dt.datetime(2026, 11, 24, 12, 0)


def case(code="B12", category="vias", days=0.0, reporters=1) -> OpenCase:
    return OpenCase(code=code, category=category, created_at=NOW - dt.timedelta(days=days), reporters=reporters,
                    name=f"Barrio {code}", district="Centro")


def order(spots) -> list[tuple[str, str]]:
    return [(s.code, s.category) for s in spots]


def test_weight_grows_with_reporters_and_weeks_of_waiting():
    assert case_weight(1, 0) == 1
    assert case_weight(3, 0) == 3
    assert case_weight(1, 7) == 2
    assert case_weight(3, 14) == 9
    assert case_weight(0, 0) == 1  # a case always has its own reporter


def test_age_is_fractional_days_and_never_negative():
    assert age_days(NOW - dt.timedelta(hours=36), NOW) == 1.5
    assert age_days(NOW + dt.timedelta(hours=1), NOW) == 0


def test_groups_by_neighbourhood_and_category_and_sums():
    spots = rank_hotspots([case(days=7, reporters=2), case(days=0), case(category="agua", days=0),
                           case(code="B01", days=0)], NOW)
    top = spots[0]
    assert (top.rank, top.code, top.category, top.open, top.reporters) == (1, "B12", "vias", 2, 3)
    assert top.score == pytest.approx(2 * 2 + 1)
    assert top.oldest_days == pytest.approx(7)
    assert (top.name, top.district) == ("Barrio B12", "Centro")
    assert [s.rank for s in spots] == [1, 2, 3]
    assert len(spots) == 3


def test_older_cases_rank_higher():
    spots = rank_hotspots([case("B01", days=1), case("B02", days=20), case("B03", days=5)], NOW)
    assert order(spots) == [("B02", "vias"), ("B03", "vias"), ("B01", "vias")]


def test_more_reporters_rank_higher():
    spots = rank_hotspots([case("B01", reporters=1), case("B02", reporters=4), case("B03", reporters=2)], NOW)
    assert order(spots) == [("B02", "vias"), ("B03", "vias"), ("B01", "vias")]


def test_a_long_wait_outranks_a_crowd_of_new_reports():
    # one case of three weeks: 1 × (1 + 3) = 4; three new cases: 3 × 1 = 3
    spots = rank_hotspots([case("B01", days=21), case("B02"), case("B02"), case("B02")], NOW)
    assert order(spots)[0] == ("B01", "vias")


def test_ties_are_broken_by_open_cases_then_reporters_then_age_then_code():
    # all score 4: two cases of 2 reporters / one case of 4 reporters / one case of 3 weeks
    spots = rank_hotspots([case("B09", reporters=4), case("B05", days=21), case("B07", reporters=2),
                           case("B07", reporters=2)], NOW)
    assert [s.score for s in spots] == pytest.approx([4, 4, 4])
    assert order(spots) == [("B07", "vias"), ("B09", "vias"), ("B05", "vias")]
    # exactly equal in everything: alphabetical, whatever the input order
    same = [case("B02", category="luz"), case("B01", category="vias"), case("B01", category="agua")]
    assert order(rank_hotspots(same, NOW)) == [("B01", "agua"), ("B01", "vias"), ("B02", "luz")]
    assert order(rank_hotspots(list(reversed(same)), NOW)) == order(rank_hotspots(same, NOW))


def test_limit_and_nothing_open():
    assert len(rank_hotspots([case(f"B0{i}") for i in range(1, 6)], NOW, limit=2)) == 2
    assert rank_hotspots([], NOW) == []
