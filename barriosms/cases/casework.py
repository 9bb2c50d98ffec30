"""What staff do to cases: find them, look at them, move them along, note, assign, merge.

Used by the CLI (and later the web); never touches the modem: an SMS to a resident is a row in the outbox that the daemon sends.
Every reporter of a case (the first one and those of duplicates merged into it) is told when it
changes, except phones that opted out (BAJA).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from barriosms.cases import events
from barriosms.cases.lookup import surviving
from barriosms.cases.reopening import reopen, reopen_by_resident
from barriosms.cases.reporters import add_reporter, notify_reporters, reporters
from barriosms.cases.satisfaction import ask_after_resolving
from barriosms.config import ServiceSettings
from barriosms.domain.replies import Templates
from barriosms.domain.statuses import STATUSES, TransitionError, check_transition
from barriosms.store.models import (
    Case,
    CaseEvent,
    CaseReporter,
    InboundMessage,
    Neighborhood,
    OutboundMessage,
    utcnow,
    write_tx,
)

# Finding the surviving case, the reporters and reopening live in their own modules (the survey
# uses them without casework); they stay names of casework, what staff and tests call.
__all__ = ["CaseChange", "CaseError", "StatusChange", "add_note", "add_reporter", "assign", "change_status",
           "find_case", "history", "list_cases", "merge", "messages", "notify_reporters", "reopen", "timeline",
           "reopen_by_resident", "reporters", "surviving"]

log = logging.getLogger(__name__)


class CaseError(Exception):
    """A staff action that cannot be done; the message says why and what to do instead."""


@dataclass(frozen=True)
class CaseChange:
    """What a staff action did: the case, the event it recorded and the SMS it queued."""

    case: Case
    event: CaseEvent
    notifications: list[OutboundMessage]
    skipped: dict[str, str]  # phone → why it gets no SMS (opted out, not a phone number)
    surveyed: tuple[str, ...] = ()  # phones asked whether it is really fixed (resolving, see survey)


# The name the first version used; a status change is one kind of case change.
StatusChange = CaseChange


def find_case(tracking: str) -> Case:
    tracking = tracking.strip()
    case = (Case.select(Case, Neighborhood).join(Neighborhood)
            .where(Case.tracking == tracking).first())
    if case is None:
        raise CaseError(f"no case with tracking number {tracking} (list them with `barriosms cases list`)")
    return case



def list_cases(*, status: str | None = None, neighborhood: str | None = None, category: str | None = None,
               assignee: str | None = None, phone: str | None = None, limit: int | None = None) -> list[Case]:
    """Newest first. `phone` (E.164): cases it reported, first or later (a merged duplicate's reporter too)."""
    q = Case.select(Case, Neighborhood).join(Neighborhood).order_by(Case.created_at.desc(), Case.id.desc())
    if status:
        if status not in STATUSES:
            raise CaseError(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}")
        q = q.where(Case.status == status)
    if neighborhood:
        q = q.where(Neighborhood.code == neighborhood.strip().upper().replace("-", "").replace(" ", ""))
    if category:
        q = q.where(Case.category == category.strip().lower())
    if assignee is not None:
        q = q.where(Case.assignee == assignee.strip())
    if phone:
        q = q.where(Case.id.in_(reported_by(phone)))
    if limit:
        q = q.limit(limit)
    return list(q)


def reported_by(phone: str):
    """The ids of the cases `phone` (E.164) is a reporter of, as a subquery."""
    return CaseReporter.select(CaseReporter.case).where(CaseReporter.phone == phone)


def history(case: Case) -> list[CaseEvent]:
    return list(CaseEvent.select().where(CaseEvent.case == case).order_by(CaseEvent.at, CaseEvent.id))



def messages(case: Case) -> tuple[list[InboundMessage], list[OutboundMessage]]:
    inbound = list(InboundMessage.select().where(InboundMessage.case == case).order_by(InboundMessage.id))
    out = list(OutboundMessage.select().where(OutboundMessage.case == case).order_by(OutboundMessage.id))
    return inbound, out




# Conversation events in the history: which way the words went.
DIRECTION = {"question": "out", "message": "out", "answer": "in"}


def timeline(events: list[CaseEvent], inbound: list[InboundMessage],
             outbound: list[OutboundMessage]) -> list[tuple[dt.datetime, dict]]:
    """The case's history and its SMS in and out as one story, oldest first (`cases show`, the case page).

    At the same minute (the intake stores the SMS, opens the case and queues the reply in one
    transaction, all at one `now`) the SMS in comes first, then what staff or the gateway did, then
    the SMS out: the order in which they happened.
    """
    items: list[tuple[dt.datetime, int, int, dict]] = []
    for m in inbound:
        items.append((m.received_at, 0, m.id, {"type": "sms", "direction": "in", "phone": m.phone, "text": m.text}))
    for e in events:
        items.append((e.at, 1, e.id, {"type": "event", "kind": e.kind, "from": e.old_status, "to": e.new_status,
                                      "note": e.note, "public": e.public, "by": e.actor,
                                      "direction": DIRECTION.get(e.kind)}))
    for o in outbound:
        items.append((o.sent_at or o.created_at, 2, o.id,
                      {"type": "sms", "direction": "out", "phone": o.recipient, "text": o.text, "status": o.status,
                       "delivery": o.delivery or None, "error": o.last_error}))
    items.sort(key=lambda item: item[:3])
    return [(at, entry) for at, _, _, entry in items]


def _load_for_change(tracking: str) -> Case:
    case = find_case(tracking)
    if case.merged_into_id is not None:
        raise CaseError(f"case {case.tracking} was merged into {surviving(case).tracking}; work on that case")
    return case


def change_status(tracking: str, status: str, templates: Templates, *, note: str = "", internal_note: str = "",
                  actor: str = "", region: str, now: dt.datetime | None = None,
                  service: ServiceSettings | None = None) -> CaseChange:
    """Move a case to `status` (an allowed transition), record who and why, and tell its reporters.

    `note` is public: it goes to the residents in the SMS (shortened if it does not fit) and is
    what a later status query answers. `internal_note` is for staff only and is never sent.
    Resolving with `service` whose satisfaction_survey is on asks each reporter, once per case,
    whether it is really fixed, in the same SMS (see `survey`); without `service` nobody is asked.
    """
    if status not in STATUSES:
        raise CaseError(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}")
    note, internal_note = " ".join(note.split()), " ".join(internal_note.split())
    now = now or utcnow()
    with write_tx():
        case = _load_for_change(tracking)
        try:
            check_transition(case.status, status)
        except TransitionError as exc:
            hint = " (to tell the residents something new, use `barriosms cases note`)" if case.status == status else ""
            raise CaseError(f"case {case.tracking}: {exc}{hint}") from None
        event = CaseEvent.create(case=case, at=now, kind="status", old_status=case.status, new_status=status,
                                 note=note, public=True, actor=actor)
        events.record("case.status", now, tracking=case.tracking, **{"from": case.status}, to=status, note=note,
                      by=actor)
        if internal_note:
            CaseEvent.create(case=case, at=now, kind="note", note=internal_note, public=False, actor=actor)
        case.status, case.updated_at = status, now
        if status == "resolved":
            case.resolved_at = now
        case.save(only=[Case.status, Case.updated_at, Case.resolved_at])
        label = templates.status_label(status)
        text = (templates.render("status_changed_note", tracking=case.tracking, status=label, note=note)
                if note else templates.render("status_changed", tracking=case.tracking, status=label))
        asked: list[str] = []
        if status == "resolved" and service is not None and service.satisfaction_survey:
            queued, skipped, asked = ask_after_resolving(case, templates, service, usual=text, note=note,
                                                                region=region, now=now, actor=actor)
        else:
            queued, skipped = notify_reporters(case, lambda r: text, kind="status_update", region=region, now=now)
    log.info("case %s: %s -> %s by %s; %d SMS queued", case.tracking, event.old_status, status, actor or "-",
             len(queued))
    return CaseChange(case, event, queued, skipped, tuple(asked))


def add_note(tracking: str, text: str, templates: Templates, *, public: bool, actor: str = "", region: str,
             now: dt.datetime | None = None) -> CaseChange:
    """A note on a case: public notes are sent to its reporters, internal ones never leave the office."""
    text = " ".join(text.split())
    if not text:
        raise CaseError("the note is empty")
    now = now or utcnow()
    with write_tx():
        case = _load_for_change(tracking)
        event = CaseEvent.create(case=case, at=now, kind="note", note=text, public=public, actor=actor)
        events.record("case.note", now, tracking=case.tracking, note=text, public=public, by=actor)
        case.updated_at = now
        case.save(only=[Case.updated_at])
        queued: list[OutboundMessage] = []
        skipped: dict[str, str] = {}
        if public:
            sms = templates.render("note_added", tracking=case.tracking, note=text)
            queued, skipped = notify_reporters(case, lambda r: sms, kind="note", region=region, now=now)
    return CaseChange(case, event, queued, skipped)


def assign(tracking: str, assignee: str, *, actor: str = "", now: dt.datetime | None = None) -> CaseChange:
    """Give a case to a team or a person ("" takes it back); recorded, never sent to residents."""
    assignee = " ".join(assignee.split())
    now = now or utcnow()
    with write_tx():
        case = _load_for_change(tracking)
        if case.assignee == assignee:
            raise CaseError(f"case {case.tracking} is already assigned to {assignee or 'nobody'}")
        event = CaseEvent.create(case=case, at=now, kind="assign", note=assignee, public=False, actor=actor,
                                 old_status=case.status, new_status=case.status)
        case.assignee, case.updated_at = assignee, now
        case.save(only=[Case.assignee, Case.updated_at])
    return CaseChange(case, event, [], {})


def merge(duplicate: str, into: str, templates: Templates, *, actor: str = "", region: str,
          now: dt.datetime | None = None) -> CaseChange:
    """Merge a duplicate report into the case that stays: the duplicate is closed, its reporters
    follow the surviving case (and are told its number), and later changes reach them too."""
    now = now or utcnow()
    with write_tx():
        dup = _load_for_change(duplicate)
        keep = _load_for_change(into)
        if dup.id == keep.id:
            raise CaseError("a case cannot be merged into itself")
        if keep.status in ("closed", "rejected"):
            raise CaseError(f"case {keep.tracking} is {keep.status}: merge into an open case, or reopen it first "
                            f"(barriosms cases status {keep.tracking} reviewing)")
        moved = []
        for reporter in reporters(dup):
            if add_reporter(keep, reporter.phone, "merged", reporter.message, now):
                moved.append(CaseReporter.get((CaseReporter.case == keep) & (CaseReporter.phone == reporter.phone)))
        # Cases merged earlier into the duplicate now point at the case that stays.
        Case.update(merged_into=keep).where(Case.merged_into == dup).execute()
        InboundMessage.update(case=keep).where(InboundMessage.case == dup).execute()
        event = CaseEvent.create(case=dup, at=now, kind="merge", old_status=dup.status, new_status="closed",
                                 note=f"merged into {keep.tracking}", public=True, actor=actor)
        CaseEvent.create(case=keep, at=now, kind="merged_from", note=f"{dup.tracking} merged into this case",
                         public=False, actor=actor)
        events.record("case.status", now, tracking=dup.tracking, **{"from": dup.status}, to="closed",
                      note=f"merged into {keep.tracking}", by=actor)
        dup.status, dup.merged_into, dup.updated_at = "closed", keep, now
        dup.save(only=[Case.status, Case.merged_into, Case.updated_at])
        keep.updated_at = now
        keep.save(only=[Case.updated_at])
        label = templates.status_label(keep.status)
        sms = templates.render("merged", tracking=dup.tracking, into=keep.tracking, status=label)
        queued, skipped = notify_reporters(keep, lambda r: sms, kind="merged", region=region, now=now, only=moved)
    log.info("case %s merged into %s by %s; %d reporter(s) moved", dup.tracking, keep.tracking, actor or "-",
             len(moved))
    return CaseChange(dup, event, queued, skipped)

