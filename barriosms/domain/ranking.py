"""What to attend first: the hotspot score of a neighbourhood and category.

Pure: the caller passes the cases, or their sums per neighbourhood and category (`OpenGroup`, as
the store adds them up in SQL), and ``now`` (naive UTC, like the store's times); nothing here reads
the database or the clock.

A case weighs ``reporters × (1 + age_in_days / 7)``: every extra resident who reported the same
problem (including those of duplicates merged into it) and every week it has waited raise its
weight.  A hotspot (neighbourhood × category) scores the sum of its open cases' weights, so three
new cases outrank one new case, and one case of three weeks outranks three of a day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

from barriosms.domain.statuses import Status

__all__ = ["WAITING_STATUSES", "WEEK_DAYS", "OpenCase", "OpenGroup", "Hotspot", "age_days", "case_weight",
           "rank_groups", "rank_hotspots"]

# The cases the ranking counts as open: those still waiting for the municipality. "resolved" is
# open in the statuses' sense (staff still close it, a resident may reopen it) but its problem is
# fixed, so it no longer asks for work and its age would only inflate the score.
WAITING_STATUSES: Final[tuple[Status, ...]] = ("received", "reviewing", "in_progress")

# Days of waiting that add as much weight as the case itself had when it was new.
WEEK_DAYS: Final = 7.0


@dataclass(frozen=True)
class OpenCase:
    """One open case, as much of it as the ranking needs (name and district are only carried)."""

    code: str
    category: str
    created_at: dt.datetime
    reporters: int = 1
    name: str = ""
    district: str = ""


@dataclass(frozen=True)
class OpenGroup:
    """The open cases of one neighbourhood and category, summed up: all the ranking needs of them.

    The score is linear in the cases, so these sums give it exactly: sum of weights =
    ``reporters + weighted_days / WEEK_DAYS``.
    """

    code: str
    category: str
    open: int  # cases
    reporters: int  # sum over the cases of max(1, reporters)
    oldest: dt.datetime  # created_at of the oldest case
    weighted_days: float  # sum over the cases of max(1, reporters) × age_days(created_at, now)
    name: str = ""
    district: str = ""


@dataclass(frozen=True)
class Hotspot:
    rank: int
    code: str
    name: str
    district: str
    category: str
    open: int
    reporters: int
    oldest_days: float
    score: float


def age_days(created_at: dt.datetime, now: dt.datetime) -> float:
    """Days (fractional) from ``created_at`` to ``now``; never negative (a clock set back)."""
    return max(0.0, (now - created_at).total_seconds() / 86400)


def case_weight(reporters: int, days: float) -> float:
    """One case's share of the score: reporters × (1 + days / 7). A case has at least one reporter."""
    return max(1, reporters) * (1 + max(0.0, days) / WEEK_DAYS)


def rank_hotspots(cases: Iterable[OpenCase], now: dt.datetime, limit: int | None = None) -> list[Hotspot]:
    """Group the cases by (neighbourhood code, category) and rank the groups (`rank_groups`)."""
    groups: dict[tuple[str, str], list[OpenCase]] = {}
    for case in cases:
        groups.setdefault((case.code, case.category), []).append(case)
    return rank_groups((OpenGroup(code=code, category=category, open=len(members),
                                  reporters=sum(max(1, c.reporters) for c in members),
                                  oldest=min(c.created_at for c in members),
                                  weighted_days=sum(max(1, c.reporters) * age_days(c.created_at, now) for c in members),
                                  name=members[0].name, district=members[0].district)
                        for (code, category), members in groups.items()), now, limit)


def rank_groups(groups: Iterable[OpenGroup], now: dt.datetime, limit: int | None = None) -> list[Hotspot]:
    """Rank the neighbourhood × category groups, highest score first.

    Equal scores are ordered by more open cases, then more reporters, then the older oldest case,
    then code and category, so the order never depends on the order of the input.
    """
    spots = [Hotspot(rank=0, code=g.code, name=g.name, district=g.district, category=g.category, open=g.open,
                     reporters=g.reporters, oldest_days=age_days(g.oldest, now),
                     score=g.reporters + g.weighted_days / WEEK_DAYS)
             for g in groups]
    # round(): scores that are equal on paper may differ in the last bits of a float.
    spots.sort(key=lambda s: (-round(s.score, 9), -s.open, -s.reporters, -s.oldest_days, s.code, s.category))
    ranked = [replace(s, rank=i) for i, s in enumerate(spots, start=1)]
    return ranked[:limit] if limit else ranked
