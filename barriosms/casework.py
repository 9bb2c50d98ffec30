"""What staff do to cases: find them, look at them, move them along.

Used by the CLI (and later the web); never touches the modem: an SMS to the resident is a row in
the outbox that the daemon sends.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from . import outbox
from .domain.phones import is_replyable
from .domain.replies import Templates
from .domain.statuses import STATUSES
from .store.models import Case, CaseEvent, InboundMessage, Neighborhood, OutboundMessage, database, utcnow

log = logging.getLogger(__name__)


class CaseError(Exception):
    """A staff action that cannot be done; the message says why and what to do instead."""


@dataclass(frozen=True)
class StatusChange:
    case: Case
    event: CaseEvent
    notification: OutboundMessage | None


def find_case(tracking: str) -> Case:
    tracking = tracking.strip()
    case = (Case.select(Case, Neighborhood).join(Neighborhood)
            .where(Case.tracking == tracking).first())
    if case is None:
        raise CaseError(f"no case with tracking number {tracking} (list them with `barriosms cases list`)")
    return case


def list_cases(*, status: str | None = None, neighborhood: str | None = None, category: str | None = None,
               limit: int | None = None) -> list[Case]:
    q = Case.select(Case, Neighborhood).join(Neighborhood).order_by(Case.created_at.desc(), Case.id.desc())
    if status:
        if status not in STATUSES:
            raise CaseError(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}")
        q = q.where(Case.status == status)
    if neighborhood:
        q = q.where(Neighborhood.code == neighborhood.strip().upper().replace("-", "").replace(" ", ""))
    if category:
        q = q.where(Case.category == category.strip().lower())
    if limit:
        q = q.limit(limit)
    return list(q)


def history(case: Case) -> list[CaseEvent]:
    return list(CaseEvent.select().where(CaseEvent.case == case).order_by(CaseEvent.at, CaseEvent.id))


def messages(case: Case) -> tuple[list[InboundMessage], list[OutboundMessage]]:
    inbound = list(InboundMessage.select().where(InboundMessage.case == case).order_by(InboundMessage.id))
    out = list(OutboundMessage.select().where(OutboundMessage.case == case).order_by(OutboundMessage.id))
    return inbound, out


def change_status(tracking: str, status: str, templates: Templates, *, note: str = "", actor: str = "",
                  region: str = "BO", now: dt.datetime | None = None) -> StatusChange:
    """Move a case to `status`, record who and why, and queue an SMS to the reporter.

    The note is public: it goes to the resident in the SMS (shortened if it does not fit) and is
    what a later status query answers.
    """
    if status not in STATUSES:
        raise CaseError(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}")
    note = " ".join(note.split())
    now = now or utcnow()
    with database.atomic("IMMEDIATE"):
        case = find_case(tracking)
        if case.status == status and not note:
            raise CaseError(f"case {case.tracking} is already {status}; add --note to tell the resident something new")
        event = CaseEvent.create(case=case, at=now, kind="status", old_status=case.status, new_status=status,
                                 note=note, public=True, actor=actor)
        case.status = status
        case.updated_at = now
        case.save(only=[Case.status, Case.updated_at])
        notification = None
        if is_replyable(case.phone, region):
            label = templates.status_label(status)
            text = (templates.render("status_changed_note", tracking=case.tracking, status=label, note=note)
                    if note else templates.render("status_changed", tracking=case.tracking, status=label))
            notification = outbox.queue(case.phone, text, kind="status_update", case=case, now=now)
        else:
            log.info("case %s: reporter %s cannot receive SMS; status changed without notification",
                     case.tracking, case.phone)
    return StatusChange(case, event, notification)
