"""Staff questions and messages to reporters, and the residents' answers.

Staff ask (`cases ask`) or write (`cases message`): every reporter of the case gets one SMS (not
urgent: quiet hours and the daily budget apply) and a `CaseQuestion` row stays open for
`[service] answer_window_hours`. While one is open, the phone's next SMS is taken as the answer
and attached to the case (not a new report), by `route`, which the intake calls inside its write
transaction:

* a message that starts with a neighbourhood code ("B12 hay otro bache") is a new report;
* one that starts with the tracking number of one of the phone's open conversations
  ("2408917 si, frente a la escuela") is attached to that case, the rest of it being the answer;
* a bare tracking number of a case without an open question is a status query, as always;
* with open conversations on one case, the message is attached to it;
* with open conversations on several cases, the resident is asked which one (`which_case`); the
  message waits, unattached (intent "which_case"), and goes to the case the resident then names
  ("2408917", or "2408917 frente a la plaza").

Thanks ("gracias") are attached without an answer (answering would invite another). The
satisfaction question (kind "survey") is `barriosms.pipeline.survey`'s: ignored here.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from barriosms.cases.casework import CaseError, find_case, notify_reporters, surviving
from barriosms.cases.filing import answer_seconds, filed_under
from barriosms.domain.answers import Routed, leading_tracking, starts_with_code
from barriosms.domain.categories import fold
from barriosms.domain.errors import TemplateError
from barriosms.domain.gsm import SMS_SEPTETS, septet_count, to_gsm7
from barriosms.domain.parsing import Courtesy, Help, InvalidTracking, MissingDescription, Report, StatusQuery
from barriosms.domain.replies import Templates
from barriosms.domain.tracking import LONGEST, SHORTEST
from barriosms.store.models import (
    Case,
    CaseEvent,
    CaseQuestion,
    InboundMessage,
    Neighborhood,
    OutboundMessage,
    utcnow,
    write_tx,
)

log = logging.getLogger(__name__)

# The kinds this module asks and routes ("survey" is the satisfaction question's).
KINDS = ("question", "message")
# Which template carries the staff text, and under which placeholder; the outbox kind of the SMS.
_TEMPLATE = {"question": ("question", "question"), "message": ("staff_message", "message")}
_OUTBOX_KIND = {"question": "question", "message": "staff_message"}


@dataclass(frozen=True)
class Asked:
    """What `ask` did: the event in the history, one open question per reporter reached, the SMS
    queued, and the reporters who get nothing (phone → why)."""

    case: Case
    event: CaseEvent
    questions: list[CaseQuestion]
    notifications: list[OutboundMessage]
    skipped: dict[str, str]


# -- staff side --------------------------------------------------------------------------------


def ask(tracking: str, text: str, templates: Templates, service, *, actor: str = "", region: str,
        now: dt.datetime | None = None, kind: str = "question") -> Asked:
    """Send a case's reporters a question (kind "question") or a message (kind "message").

    The text is never shortened: when it does not fit one SMS with the case's number the CaseError
    says how many characters fit. Nothing is stored when no reporter can be reached.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    text = " ".join(text.split())
    if not text:
        raise CaseError(f"the {kind} is empty")
    now = now or utcnow()
    template, field = _TEMPLATE[kind]
    with write_tx():
        case = find_case(tracking)
        if case.merged_into_id is not None:
            keep = surviving(case)
            raise CaseError(f"case {case.tracking} was merged into {keep.tracking}; its reporters follow that case: "
                            f"barriosms cases {'ask' if kind == 'question' else 'message'} {keep.tracking} ...")
        try:
            sms = templates.render(template, tracking=case.tracking, **{field: text})
        except TemplateError:
            raise CaseError(_too_long(templates, template, field, case.tracking, text, kind)) from None
        expire_overdue(now)
        queued, skipped = notify_reporters(case, lambda r: sms, kind=_OUTBOX_KIND[kind], region=region, now=now,
                                           urgent=False)
        if not queued:
            why = "; ".join(f"{phone}: {reason}" for phone, reason in skipped.items()) or "it has no reporter"
            raise CaseError(f"case {case.tracking}: no reporter can receive an SMS ({why}); nothing was sent")
        expires = now + dt.timedelta(hours=service.answer_window_hours)
        questions = [CaseQuestion.create(case=case, phone=m.recipient, kind=kind, text=text, actor=actor, asked_at=now,
                                         expires_at=expires, status="open", outbound=m, **filed_under(case))
                     for m in queued]
        event = CaseEvent.create(case=case, at=now, kind=kind, note=text, public=False, actor=actor)
        case.updated_at = now
        if kind == "question":
            case.awaiting_resident = True
        case.save(only=[Case.updated_at, Case.awaiting_resident])
    log.info("case %s: %s by %s to %d reporter(s), answers attached for %.0f h", case.tracking, kind, actor or "-",
             len(queued), service.answer_window_hours)
    return Asked(case, event, questions, queued, skipped)


def _too_long(templates: Templates, template: str, field: str, tracking: str, text: str, kind: str) -> str:
    """Why the staff text does not fit: its length, how many characters fit, how many to cut."""
    def fits(n: int) -> bool:
        try:
            templates.render(template, tracking=tracking, **{field: "a" * n})
        except TemplateError:
            return False
        return True

    low, high = 0, SMS_SEPTETS  # the largest n that fits: fits(low) holds, fits(high + 1) does not
    if not fits(0):
        return (f"the SMS template {template!r} leaves no room for the {kind} "
                "(shorten it in the replies file; run `barriosms config check`)")
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    room = low
    length = septet_count(to_gsm7(text)) or len(text)
    return (f"the {kind} is {length} characters, {length - room} too many: with case {tracking}'s number at most "
            f"{room} fit in one SMS ([ ] {{ }} ~ ^ | \\ and the euro sign count twice). Shorten it")


def expire_overdue(now: dt.datetime, phone: str | None = None) -> int:
    """Close the questions and messages whose answer window ran out (one phone's, or all).

    Inside the caller's transaction. A case whose last open question expired no longer waits for
    the resident.
    """
    where = ((CaseQuestion.kind.in_(KINDS)) & (CaseQuestion.status == "open") & (CaseQuestion.expires_at <= now))
    if phone is not None:
        where &= CaseQuestion.phone == phone
    overdue = list(CaseQuestion.select(CaseQuestion.id, CaseQuestion.case).where(where))
    if not overdue:
        return 0
    CaseQuestion.update(status="expired").where(CaseQuestion.id.in_([q.id for q in overdue])).execute()
    for case_id in {q.case_id for q in overdue}:
        _update_awaiting(case_id, now)
    log.info("%d staff question(s)/message(s) got no answer in time%s", len(overdue), f" from {phone}" if phone else "")
    return len(overdue)


def _update_awaiting(case_id: int, now: dt.datetime) -> None:
    still = (CaseQuestion.select().where((CaseQuestion.case == case_id) & (CaseQuestion.kind == "question")
                                         & (CaseQuestion.status == "open") & (CaseQuestion.expires_at > now))
             .exists())
    if not still:
        (Case.update(awaiting_resident=False)
         .where((Case.id == case_id) & (Case.awaiting_resident == True)).execute())  # noqa: E712


def cases_with_new_replies() -> list[Case]:
    """Cases with answers staff have not looked at (`cases show` clears them), newest first."""
    return list(Case.select(Case, Neighborhood).join(Neighborhood).where(Case.unseen_replies > 0)
                .order_by(Case.created_at.desc(), Case.id.desc()))


def conversation(case: Case) -> list[CaseQuestion]:
    """The questions and messages staff sent about the case, oldest first."""
    return list(CaseQuestion.select().where((CaseQuestion.case == case) & (CaseQuestion.kind.in_(KINDS)))
                .order_by(CaseQuestion.asked_at, CaseQuestion.id))


def mark_seen(case: Case) -> int:
    """Staff have looked at the case's answers: how many there were."""
    with write_tx():
        unseen = Case.select(Case.unseen_replies).where(Case.id == case.id).scalar() or 0
        if unseen:
            Case.update(unseen_replies=0).where(Case.id == case.id).execute()
    return unseen


# -- resident side ------------------------------------------------------------------------------


def route(msg: InboundMessage, intent, now: dt.datetime, rules, hoods) -> Routed | None:
    """The message as an answer to a staff question or message, or None (handled as usual)."""
    expire_overdue(now, msg.phone)
    open_rows = list(CaseQuestion.select(CaseQuestion, Case).join(Case)
                     .where((CaseQuestion.phone == msg.phone) & (CaseQuestion.kind.in_(KINDS))
                            & (CaseQuestion.status == "open") & (CaseQuestion.expires_at > now))
                     .order_by(CaseQuestion.asked_at, CaseQuestion.id))
    if not open_rows:
        return None
    if isinstance(intent, (Report, MissingDescription)) and starts_with_code(msg.text, hoods.keys()):
        log.info("message %d from %s starts with a neighbourhood code: a new report, not an answer", msg.id, msg.phone)
        return None
    # The open conversations by the case they now live in (a merged case's reporters follow the survivor).
    by_case: dict[int, tuple[Case, list[CaseQuestion]]] = {}
    numbers: dict[str, int] = {}
    for row in open_rows:
        case = surviving(row.case)
        by_case.setdefault(case.id, (case, []))[1].append(row)
        numbers[row.case.tracking] = numbers[case.tracking] = case.id
    service, templates = rules.service, rules.templates
    waiting = _waiting(msg, now, service.answer_window_hours)
    lead = leading_tracking(msg.text)
    if lead is not None and lead[0] in numbers:
        case, rows = by_case[numbers[lead[0]]]
        if not lead[1] and not waiting:
            return None  # only the number: the resident asks how the case goes
        return _attach(msg, case, rows, lead[1], waiting, now, templates)
    if lead is not None and Case.select().where(Case.tracking == lead[0]).exists():
        return None  # about another of the resident's cases: a status query, or what it says
    if isinstance(intent, (StatusQuery, Help)):
        return None  # an unknown case's number, "hola", "ayuda": answered as always
    if isinstance(intent, InvalidTracking) and SHORTEST <= len(intent.number) <= LONGEST:
        return None  # a mistyped tracking number: "check the number", never another case
    if isinstance(intent, Courtesy):
        if len(by_case) > 1:
            return None  # thanks to whom? stored, not answered, as any "gracias"
        [(case, rows)] = by_case.values()
        return _attach(msg, case, rows, msg.text, [], now, templates, thanks=True)
    if len(by_case) == 1:
        [(case, rows)] = by_case.values()
        return _attach(msg, case, rows, msg.text, waiting, now, templates)
    cases = [case for case, _rows in by_case.values()]
    log.info("message %d from %s: open questions on %d cases (%s); asked which one", msg.id, msg.phone, len(cases),
             ", ".join(c.tracking for c in cases))
    return Routed("which_case", _which_case(templates, cases), None)


def _waiting(msg: InboundMessage, now: dt.datetime, hours: float) -> list[InboundMessage]:
    """This phone's earlier answers still waiting for the resident to say which case they are about."""
    since = now - dt.timedelta(hours=hours)
    return list(InboundMessage.select()
                .where((InboundMessage.phone == msg.phone) & (InboundMessage.intent == "which_case")
                       & InboundMessage.case.is_null() & (InboundMessage.received_at >= since)
                       & (InboundMessage.id != msg.id))
                .order_by(InboundMessage.received_at, InboundMessage.id))


def _attach(msg: InboundMessage, case: Case, rows: list[CaseQuestion], text: str, waiting: list[InboundMessage],
            now: dt.datetime, templates: Templates, *, thanks: bool = False) -> Routed:
    """Attach the message (and those that waited for it) to the case as the resident's answer."""
    texts: list[str] = []
    for part in [m.text for m in waiting] + [text]:
        part = " ".join(part.split())
        if part and all(fold(part) != fold(t) for t in texts):
            texts.append(part)
    answer = " / ".join(texts)
    if waiting:
        (InboundMessage.update(case=case, intent="answer")
         .where(InboundMessage.id.in_([m.id for m in waiting])).execute())
    CaseEvent.create(case=case, at=now, kind="answer", note=answer, public=False, actor=msg.phone)
    # Thanks close a message (nothing to answer) but do not answer a question.
    answered = [q for q in rows if not (thanks and q.kind == "question")]
    for q in answered:
        q.status, q.answered_at, q.answer, q.answer_message = "answered", now, answer, msg
        q.answer_seconds = answer_seconds(q.asked_at, now)
        q.save(only=[CaseQuestion.status, CaseQuestion.answered_at, CaseQuestion.answer, CaseQuestion.answer_message,
                     CaseQuestion.answer_seconds])
    for case_id in {q.case_id for q in answered}:
        _update_awaiting(case_id, now)
    Case.update(unseen_replies=Case.unseen_replies + 1, updated_at=now).where(Case.id == case.id).execute()
    log.info("message %d from %s attached to case %s as %s%s: %s", msg.id, msg.phone, case.tracking,
             "thanks" if thanks else "the answer", f" (with {len(waiting)} earlier message(s))" if waiting else "",
             answer)
    if thanks:
        return Routed("answer", "", case)
    return Routed("answer", templates.render("answer_received", tracking=case.tracking), case)


def _which_case(templates: Templates, cases: list[Case]) -> str:
    """"Which case?" with every number, and the neighbourhoods' names when they fit too."""
    plain = ", ".join(c.tracking for c in cases)
    named = ", ".join(f"{c.tracking} {c.neighborhood.name}" for c in cases)
    for options in (named, plain):
        text = templates.render("which_case", options=options)
        if to_gsm7(options) in text:
            return text
    return templates.render("which_case", options=plain)  # too many to list: as many as fit
