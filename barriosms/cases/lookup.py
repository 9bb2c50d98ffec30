"""Finding the case a merged duplicate now lives in."""

from __future__ import annotations

from barriosms.store.models import Case, Neighborhood


def surviving(case: Case) -> Case:
    """The case a merged duplicate now lives in (itself when not merged)."""
    seen = {case.id}
    while case.merged_into_id is not None:
        case = Case.select(Case, Neighborhood).join(Neighborhood).where(Case.id == case.merged_into_id).get()
        if case.id in seen:  # cannot happen through merge(); never loop on a hand-edited database
            break
        seen.add(case.id)
    return case
