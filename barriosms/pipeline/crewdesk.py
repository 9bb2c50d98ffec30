"""A field crew's SMS: its PIN checked, the command done as staff do it, one SMS back.

The intake hands every message here first. `handle` takes it only when the text is shaped as a
crew command (domain.crewcommands: a PIN, then a tracking number or a command word) and the phone
is a crew's (cases.crews); anything else, from a crew's phone too, is a resident's message and
`handle` returns False (a crew member may report a pothole, or ask about a case, like anyone).

What a crew does goes through the services staff use (cases.casework.change_status and add_note,
with the same templates): residents are told exactly as when staff act, and the case's history and
the audit trail (source "sms") carry the crew's name. The PIN is masked in the stored text (the
message and its parts), so nobody reading the inbox or a case learns it.

Answers: a command with the right PIN, or a wrong one, always gets its one-SMS answer (kind "crew",
urgent), whatever the loop guard or the per-phone reply budgets say: those watch residents, and a
crew's own commands never silence its phone. Wrong PINs are few by themselves: the
`crews.MAX_FAILURES`-th locks the phone and its answer says so. What the phone sends while locked
is answered as a resident is (replygate: budgets, loop guard), so nobody can make the gateway spend
SMS without limit with wrong PINs.
"""

from __future__ import annotations

import datetime as dt
import logging

from barriosms.cases import audittrail, casework, crews, outbox
from barriosms.cases.lookup import surviving
from barriosms.cases.opening import tracking_lengths
from barriosms.domain.crewcommands import (
    NOTE_LEAD,
    PIN_MASK,
    AddNote,
    BadTracking,
    CrewCommand,
    CrewHelp,
    ListCases,
    SetStatus,
    mask_pin,
    parse_crew_command,
)
from barriosms.domain.gsm import to_gsm7
from barriosms.domain.replies import Templates
from barriosms.domain.statuses import STATUSES, TRANSITIONS, TransitionError, check_transition, is_status
from barriosms.domain.tracking import digits_phrase
from barriosms.pipeline import replygate
from barriosms.store.models import Case, Crew, InboundMessage, SmsPart
from barriosms.templates.rules import IntakeRules

log = logging.getLogger(__name__)

SOURCE = "sms"
# Enough cases to fill one SMS several times over: the rest are counted ("+N mas").
LIST_LIMIT = 40


def handle(msg: InboundMessage, now: dt.datetime, rules: IntakeRules) -> bool:
    """Act on a crew's PIN command and answer it; False when `msg` is not one (a resident's)."""
    command = parse_crew_command(msg.text)
    if command is None:
        return False
    check = crews.verify(msg.phone, command.pin, now)
    if check is None:
        return False  # not a crew's phone: "4821 2408917 ..." from anyone else is a resident's
    _mask(msg, command.pin)
    if not check.ok:
        _refuse(msg, now, rules, check)
        return True
    crew = check.crew
    msg.intent = "crew"
    text, case = _act(msg, crew, command, now, rules)
    if case is not None:
        msg.case = case
    msg.save()
    outbox.queue(msg.phone, text, kind="crew", case=case, in_reply_to=msg, now=now, urgent=True, modem=msg.modem)
    log.info("message %d: crew %s (%s) %s", msg.id, crew.name, msg.phone, type(command).__name__)
    return True


def _mask(msg: InboundMessage, pin: str) -> None:
    """The stored text, and the first part of a long SMS, without the PIN."""
    msg.text = mask_pin(msg.text)
    for part in SmsPart.select().where((SmsPart.message == msg) & (SmsPart.part_number == 1)):
        if part.text.lstrip(NOTE_LEAD).startswith(pin):
            part.text = part.text.replace(pin, PIN_MASK, 1)
            part.save(only=[SmsPart.text])


def _refuse(msg: InboundMessage, now: dt.datetime, rules: IntakeRules, check: crews.PinCheck) -> None:
    t, crew = rules.templates, check.crew
    if check.was_locked:
        msg.intent = "crew_locked"
        audittrail.record(crew.name, SOURCE, "crews.locked", msg.phone,
                          f"refused: locked until {check.locked_until:%Y-%m-%d %H:%M} UTC", now=now)
    else:
        msg.intent = "crew_wrong_pin"
        locked = f"; locked until {check.locked_until:%Y-%m-%d %H:%M} UTC" if check.locked_until else ""
        audittrail.record(crew.name, SOURCE, "crews.wrong_pin", msg.phone,
                          f"{check.failures} wrong PIN(s) in a row{locked}", now=now)
    text = (t.render("crew_locked", minutes=str(check.minutes_left(now))) if check.locked_until is not None
            else t.render("crew_wrong_pin"))
    if not check.was_locked:
        # A mistyped PIN is still the crew's own command, answered like the others: at most
        # MAX_FAILURES of them before the lock, which this answer then announces.
        outbox.queue(msg.phone, text, kind="crew", in_reply_to=msg, now=now, urgent=True, modem=msg.modem)
    elif (decision := replygate.decide(msg, now, rules.service)).answer:
        # Already told it is locked: what it sends meanwhile is answered within a resident's limits.
        outbox.queue(msg.phone, text, kind="reply", in_reply_to=msg, now=now, modem=msg.modem)
    else:
        msg.unanswered = decision.reason
    msg.save()
    log.info("message %d from crew %s (%s): %s", msg.id, crew.name, msg.phone, msg.intent)


def _act(msg: InboundMessage, crew: Crew, command: CrewCommand, now: dt.datetime,
         rules: IntakeRules) -> tuple[str, Case | None]:
    """Do what the command asks; the acknowledgement and the case it was about."""
    t = rules.templates
    match command:
        case ListCases():
            return _list(msg, crew, now, t), None
        case CrewHelp():
            return t.render("crew_help"), None
        case BadTracking(number=number):
            return t.render("crew_bad_tracking", number=number,
                            digits=digits_phrase(tracking_lengths())), None
        case SetStatus(tracking=tracking, status=status, note=note):
            case, refusal = _case(tracking, t)
            if case is None:
                return refusal, None
            try:
                check_transition(case.status, status)
            except TransitionError:
                old = case.status
                options = ", ".join(t.status_label(s) for s in STATUSES if is_status(old) and s in TRANSITIONS[old])
                return t.render("crew_not_allowed", tracking=case.tracking, status=t.status_label(case.status),
                                options=options), case
            with audittrail.recorded(crew.name, SOURCE, "cases.status", case.tracking) as entry:
                entry.now = now
                change = casework.change_status(case.tracking, status, t, note=note, actor=crew.name,
                                                region=rules.region, now=now, service=rules.service)
                entry.detail = (f"{change.event.old_status} -> {status}" + (f"; note: {note}" if note else "")
                                + f"; by SMS from {msg.phone}")
            return t.render("crew_status", tracking=case.tracking, status=t.status_label(status)), case
        case AddNote(tracking=tracking, text=text, public=public):
            case, refusal = _case(tracking, t)
            if case is None:
                return refusal, None
            with audittrail.recorded(crew.name, SOURCE, "cases.note", case.tracking) as entry:
                entry.now = now
                casework.add_note(case.tracking, text, t, public=public, actor=crew.name, region=rules.region,
                                  now=now)
                entry.detail = f"{'public' if public else 'internal'}: {text}; by SMS from {msg.phone}"
            return t.render("crew_note" if public else "crew_internal", tracking=case.tracking), case
    raise AssertionError(f"unhandled crew command {command!r}")


def _case(tracking: str, t: Templates) -> tuple[Case | None, str]:
    """The case a command names, or None and the answer saying why not (unknown, merged)."""
    case = Case.get_or_none(Case.tracking == tracking)
    if case is None:
        return None, t.render("crew_unknown_tracking", tracking=tracking)
    if case.merged_into_id is not None:
        return None, t.render("crew_merged", tracking=case.tracking, into=surviving(case).tracking)
    return case, ""


def _list(msg: InboundMessage, crew: Crew, now: dt.datetime, t: Templates) -> str:
    cases = crews.assigned_cases(crew.name)
    audittrail.record(crew.name, SOURCE, "crews.list", msg.phone, f"{len(cases)} pending case(s)", now=now)
    if not cases:
        return t.render("crew_list_empty")
    entries = [f"{c.tracking} {c.neighborhood.code} {c.category}" for c in cases[:LIST_LIMIT]]
    return fit_list(t, entries, len(cases))


def fit_list(t: Templates, entries: list[str], total: int) -> str:
    """The crew_list SMS with as many whole entries as fit, oldest first, and how many more there are."""
    best = ""
    for shown in range(1, len(entries) + 1):
        more = total - shown
        options = "; ".join(entries[:shown]) + (f" (+{more} mas)" if more else "")
        text = t.render("crew_list", options=options)
        if to_gsm7(options) not in text:  # cut short to fit: one entry too many
            break
        best = text
    # Even the first entry was cut (an edited template leaving no room): it is all there is to say.
    return best or t.render("crew_list", options=entries[0])
