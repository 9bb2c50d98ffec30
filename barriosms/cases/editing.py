"""Staff correct what the gateway understood of a case: its category, its neighbourhood.

The case keeps its tracking number. Each field that really changes leaves two records, in the
same write transaction as the case itself: a `CaseCorrection` (before -> after, the labelled
example the categoriser's learner reads) and an internal `CaseEvent` of kind "correction" for the
case's history ("category: vias → agua"). Hotspots and statistics read `Case.category` and
`Case.neighborhood`, so they follow at once (the website keeps its counts a few seconds: call
`web.cache.forget_counts` after an edit there).

Residents are told only of a move to another neighbourhood, and only when staff ask (`notify`):
the `neighborhood_changed` SMS to every reporter who did not opt out. A category is office
vocabulary and never sent. Closed and resolved cases can be corrected too (the statistics count
them); a duplicate merged into another case cannot: correct the case it lives in.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from barriosms.cases.casework import CaseError, find_case
from barriosms.cases.filing import refile_case
from barriosms.cases.lookup import NeighborhoodNotFound, find_neighborhood, surviving
from barriosms.cases.reporters import notify_reporters
from barriosms.domain.categories import CategoryRules
from barriosms.domain.replies import Templates
from barriosms.store.models import Case, CaseCorrection, CaseEvent, Neighborhood, OutboundMessage, utcnow, write_tx

log = logging.getLogger(__name__)

# How each corrected field is named in the case's history (CaseCorrection.field is the left side).
_HISTORY_NAME = {"category": "category", "neighborhood": "neighbourhood"}


class EditError(CaseError):
    """A correction that cannot be made; `field` names the input at fault ("tracking", "category",
    "neighborhood", or "" when it is the request as a whole), for a form to show it in place."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class FieldChange:
    """One corrected field: category names, or neighbourhood codes."""

    field: str  # "category" | "neighborhood" (store.models.CORRECTED_FIELDS)
    before: str
    after: str

    def describe(self) -> str:
        """As the case's history says it: "category: vias → agua"."""
        return f"{_HISTORY_NAME[self.field]}: {self.before} → {self.after}"


@dataclass(frozen=True)
class CaseEdit:
    """What an edit did. `changes` is empty when every value asked for was already the case's
    (nothing written, nothing sent); `unchanged` names those fields."""

    case: Case
    changes: tuple[FieldChange, ...]
    unchanged: tuple[str, ...]
    events: tuple[CaseEvent, ...]
    notifications: list[OutboundMessage]
    skipped: dict[str, str]  # phone → why it gets no SMS (opted out, not a phone number)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def edit_case(tracking: str, templates: Templates, categories: CategoryRules, *, category: str | None = None,
              neighborhood: str | None = None, note: str = "", notify: bool = False, actor: str = "",
              region: str, now: dt.datetime | None = None) -> CaseEdit:
    """Correct the category and/or the neighbourhood (a code) of the case `tracking`.

    `category` must be one of `categories` (the configured rules, the default included);
    `neighborhood` a known code ("B12", "b-12"); names are not guessed. `note` (internal) says
    why; it is kept with each correction. With `notify`, a move to another neighbourhood is sent
    by SMS to the case's reporters (not those who sent BAJA). A value equal to the case's is no
    change: when nothing changes, nothing is written and `CaseEdit.changed` is False.

    Raises EditError: unknown or merged case, unknown category or code, nothing asked.
    """
    if category is None and neighborhood is None:
        raise EditError("nothing to change: give a new category or neighbourhood (--category, --neighborhood)")
    wanted_category = _valid_category(category, categories) if category is not None else None
    note = " ".join(note.split())
    now = now or utcnow()
    with write_tx():
        case = _load(tracking)
        hood = _valid_neighborhood(neighborhood) if neighborhood is not None else None
        changes: list[FieldChange] = []
        unchanged: list[str] = []
        if wanted_category is not None:
            if wanted_category == case.category:
                unchanged.append("category")
            else:
                changes.append(FieldChange("category", case.category, wanted_category))
        if hood is not None:
            if hood.id == case.neighborhood_id:
                unchanged.append("neighborhood")
            else:
                changes.append(FieldChange("neighborhood", case.neighborhood.code, hood.code))
        if not changes:
            return CaseEdit(case, (), tuple(unchanged), (), [], {})
        events = []
        for change in changes:
            CaseCorrection.create(case=case, field=change.field, before=change.before, after=change.after,
                                  note=note, actor=actor, at=now)
            text = change.describe() + (f"; {note}" if note else "")
            events.append(CaseEvent.create(case=case, at=now, kind="correction", note=text, public=False,
                                           actor=actor))
        if wanted_category is not None:
            case.category = wanted_category
        if hood is not None:
            case.neighborhood = hood
        case.updated_at = now
        case.save(only=[Case.category, Case.neighborhood, Case.updated_at])
        refile_case(case)
        queued: list[OutboundMessage] = []
        skipped: dict[str, str] = {}
        if notify and hood is not None and any(c.field == "neighborhood" for c in changes):
            sms = templates.render("neighborhood_changed", tracking=case.tracking, barrio=hood.name, code=hood.code)
            queued, skipped = notify_reporters(case, lambda r: sms, kind="correction", region=region, now=now)
    log.info("case %s corrected by %s: %s; %d SMS queued", case.tracking, actor or "-",
             ", ".join(c.describe() for c in changes), len(queued))
    return CaseEdit(case, tuple(changes), tuple(unchanged), tuple(events), queued, skipped)


def _load(tracking: str) -> Case:
    try:
        case = find_case(tracking)
    except CaseError as exc:
        raise EditError(str(exc), "tracking") from None
    if case.merged_into_id is not None:
        raise EditError(f"case {case.tracking} was merged into {surviving(case).tracking}; correct that case",
                        "tracking")
    return case


def _valid_category(category: str, categories: CategoryRules) -> str:
    name = category.strip().lower()
    if name not in categories.names:
        raise EditError(f"unknown category {category.strip()!r}; use one of: {', '.join(categories.names)} "
                        "(see `barriosms categories list`)", "category")
    return name


def _valid_neighborhood(code: str) -> Neighborhood:
    try:
        return find_neighborhood(code, by_name=False)
    except NeighborhoodNotFound:
        raise EditError(f"unknown neighbourhood code {code.strip()!r} (see `barriosms neighborhoods list`)",
                        "neighborhood") from None
