"""The copies a case's questions carry for counting, kept in step with the case.

`stats` counts a million satisfaction answers per category and district from indexes of the
questions alone (migration 19), so every question is filed under its case's category, its
neighbourhood's district and the day the case was opened when it is asked (`filed_under`: every
CaseQuestion.create passes it, tests/test_filing.py checks the package for it), and filed again
whenever the category or district changes: a case recategorised or moved to another
neighbourhood, or a neighbourhood moved to another district. An answer records its seconds
(`answer_seconds`) beside its time. All inside the caller's transaction, so the copies never
disagree with the case. (A case's reporter count is kept by cases.reporters.add_reporter.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from barriosms.store.models import Case, CaseQuestion, Neighborhood


def filed_under(case: Case) -> dict[str, Any]:
    """The fields a new question of `case` is created with: its category and district, and when
    the case was opened (which never changes)."""
    return {"category": case.category, "district": case.neighborhood.district, "case_created_at": case.created_at}


def refile_case(case: Case) -> int:
    """File the questions of `case` under its category and district now; how many rows changed."""
    return (CaseQuestion.update(category=case.category, district=case.neighborhood.district)
            .where(CaseQuestion.case == case).execute())


def refile_neighborhood(hood: Neighborhood) -> int:
    """File the questions of every case of `hood` under its district now; how many rows changed."""
    cases = Case.select(Case.id).where(Case.neighborhood == hood)
    return (CaseQuestion.update(district=hood.district)
            .where(CaseQuestion.case.in_(cases) & (CaseQuestion.district != hood.district)).execute())


def answer_seconds(asked_at: dt.datetime, answered_at: dt.datetime) -> float:
    """The seconds from a question to its answer, as the question records them."""
    return (answered_at - asked_at).total_seconds()
