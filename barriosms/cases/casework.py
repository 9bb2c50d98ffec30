"""What staff do to cases: find them, look at them, move them along, note, assign, merge.

Used by the CLI (and later the web) and by the intake for what residents ask by SMS (reopen);
never touches the modem: an SMS to a resident is a row in the outbox that the daemon sends.
Every reporter of a case (the first one and those of duplicates merged into it) is told when it
changes, except phones that opted out (BAJA).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from barriosms.cases import outbox, subscribers
from barriosms.config import ServiceSettings
from barriosms.domain.phones import is_replyable
from barriosms.domain.replies import Templates
from barriosms.domain.statuses import REOPEN_TARGET, STATUSES, TransitionError, can_reopen_by_sms, check_transition
from barriosms.pipeline import survey
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


def surviving(case: Case) -> Case:
    """The case a merged duplicate now lives in (itself when not merged)."""
    seen = {case.id}
    while case.merged_into_id is not None:
        case = Case.select(Case, Neighborhood).join(Neighborhood).where(Case.id == case.merged_into_id).get()
        if case.id in seen:  # cannot happen through merge(); never loop on a hand-edited database
            break
        seen.add(case.id)
    return case


def list_cases(*, status: str | None = None, neighborhood: str | None = None, category: str | None = None,
               assignee: str | None = None, limit: int | None = None) -> list[Case]:
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
    if limit:
        q = q.limit(limit)
    return list(q)


def history(case: Case) -> list[CaseEvent]:
    return list(CaseEvent.select().where(CaseEvent.case == case).order_by(CaseEvent.at, CaseEvent.id))


def reporters(case: Case) -> list[CaseReporter]:
    return list(CaseReporter.select().where(CaseReporter.case == case).order_by(CaseReporter.joined_at, CaseReporter.id))


def messages(case: Case) -> tuple[list[InboundMessage], list[OutboundMessage]]:
    inbound = list(InboundMessage.select().where(InboundMessage.case == case).order_by(InboundMessage.id))
    out = list(OutboundMessage.select().where(OutboundMessage.case == case).order_by(OutboundMessage.id))
    return inbound, out


def add_reporter(case: Case, phone: str, how: str, message: InboundMessage | None = None,
                 now: dt.datetime | None = None) -> bool:
    """Record one more phone that reported this case's problem; False if it already had."""
    if CaseReporter.select().where((CaseReporter.case == case) & (CaseReporter.phone == phone)).exists():
        return False
    CaseReporter.create(case=case, phone=phone, message=message, how=how, joined_at=now or utcnow())
    return True


def notify_reporters(case: Case, render: Callable[[CaseReporter], str], *, kind: str, region: str,
                     now: dt.datetime, urgent: bool = False,
                     only: list[CaseReporter] | None = None) -> tuple[list[OutboundMessage], dict[str, str]]:
    """Queue one SMS to each reporter who can and wants to receive it (inside the caller's transaction)."""
    people = only if only is not None else reporters(case)
    out_of = subscribers.opted_out([r.phone for r in people])
    queued: list[OutboundMessage] = []
    skipped: dict[str, str] = {}
    for reporter in people:
        if not is_replyable(reporter.phone, region):
            skipped[reporter.phone] = "not a phone number"
        elif reporter.phone in out_of:
            skipped[reporter.phone] = "opted out (BAJA)"
        else:
            queued.append(outbox.queue(reporter.phone, render(reporter), kind=kind, case=case, now=now,
                                       urgent=urgent))
    for phone, why in skipped.items():
        log.info("case %s: no SMS to %s: %s", case.tracking, phone, why)
    return queued, skipped


def _load_for_change(tracking: str) -> Case:
    case = find_case(tracking)
    if case.merged_into_id is not None:
        raise CaseError(f"case {case.tracking} was merged into {surviving(case).tracking}; work on that case")
    return case


def change_status(tracking: str, status: str, templates: Templates, *, note: str = "", internal_note: str = "",
                  actor: str = "", region: str = "BO", now: dt.datetime | None = None,
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
            queued, skipped, asked = survey.ask_after_resolving(case, templates, service, usual=text, note=note,
                                                                region=region, now=now, actor=actor)
        else:
            queued, skipped = notify_reporters(case, lambda r: text, kind="status_update", region=region, now=now)
    log.info("case %s: %s -> %s by %s; %d SMS queued", case.tracking, event.old_status, status, actor or "-",
             len(queued))
    return CaseChange(case, event, queued, skipped, tuple(asked))


def add_note(tracking: str, text: str, templates: Templates, *, public: bool, actor: str = "", region: str = "BO",
             now: dt.datetime | None = None) -> CaseChange:
    """A note on a case: public notes are sent to its reporters, internal ones never leave the office."""
    text = " ".join(text.split())
    if not text:
        raise CaseError("the note is empty")
    now = now or utcnow()
    with write_tx():
        case = _load_for_change(tracking)
        event = CaseEvent.create(case=case, at=now, kind="note", note=text, public=public, actor=actor)
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


def merge(duplicate: str, into: str, templates: Templates, *, actor: str = "", region: str = "BO",
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


def reopen_by_resident(case: Case, phone: str, reason: str, *, days: float, now: dt.datetime) -> str:
    """A resident's REABRIR: "reopened", or why not ("not_yours", "not_resolved", "too_late").

    Inside the caller's transaction. Only a reporter of the case may reopen it, within `days` of
    its resolution; the resident's words are kept as the reason, for staff.
    """
    if not CaseReporter.select().where((CaseReporter.case == case) & (CaseReporter.phone == phone)).exists():
        return "not_yours"
    verdict = can_reopen_by_sms(case.status, case.resolved_at, now, days)
    if verdict != "ok":
        return verdict
    reopen(case, phone, reason, now)
    log.warning("case %s reopened by its reporter %s: %s", case.tracking, phone, reason or "(no reason given)")
    return "reopened"


def reopen(case: Case, phone: str, reason: str, now: dt.datetime) -> None:
    """Put a case back to review because its reporter says the problem is still there.

    Inside the caller's transaction. The resident's words stay private (staff read them in the
    history; the website shows only the change of status). resolved_at stays the last time it
    was resolved, until it is resolved again.
    """
    CaseEvent.create(case=case, at=now, kind="reopen", old_status=case.status, new_status=REOPEN_TARGET,
                     note=reason, public=False, actor=phone)
    case.status, case.updated_at = REOPEN_TARGET, now
    case.save(only=[Case.status, Case.updated_at])
