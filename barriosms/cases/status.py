"""What a resident who asks about a case by its number is told: its status and last public note."""

from __future__ import annotations

from barriosms.cases.lookup import surviving
from barriosms.domain.replies import Templates
from barriosms.store.models import Case, CaseEvent


def last_public_note(case: Case) -> str:
    event = (CaseEvent.select()
             .where((CaseEvent.case == case) & (CaseEvent.public == True) & (CaseEvent.note != ""))  # noqa: E712
             .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
             .first())
    return event.note if event else ""


def status_text(templates: Templates, case: Case) -> str:
    """The answer to a resident asking about a case: status and last public note, nothing personal."""
    label = templates.status_label(case.status)
    note = last_public_note(case)
    if note:
        return templates.render("status_note", tracking=case.tracking, status=label, note=note)
    return templates.render("status", tracking=case.tracking, status=label)


def status_reply(templates: Templates, case: Case) -> str:
    """The answer about any case: a merged duplicate answers with the status of the case it lives in."""
    if case.merged_into_id is not None:
        keep = surviving(case)
        return templates.render("status_merged", tracking=case.tracking, into=keep.tracking,
                                status=templates.status_label(keep.status))
    return status_text(templates, case)
