"""Missed calls: a resident calls the municipal SIM, the gateway hangs up, staff call back.

Residents who cannot write an SMS call instead. The daemon's modem thread hangs up at once (so the
call costs the resident nothing) and hands the call here (`record_call`): a call from a phone whose
pending request had a call within `[service] callback_window_hours` is counted on that request;
any other call opens a new request and queues ONE SMS (template `callback_received`: "Recibimos su
llamada. La Alcaldia lo llamara pronto."), as a reply: within the phone's reply budgets, never to a
phone that opted out (BAJA) or that the loop guard silenced, and never to a withheld number or to
a sender that is not a phone (the request is recorded all the same). The daily SMS budget applies
when the daemon sends it; like every reply it does not wait out the quiet hours (the resident just
called). Each call is an event `callback.requested` (id, phone, calls), written in its transaction.

Staff list the requests (`barriosms callbacks list`), call back and mark them done (`callbacks
done ID`), with a note and the case the call led to.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from barriosms.cases import events, outbox, subscribers
from barriosms.domain.phones import is_replyable, normalize_sender
from barriosms.store.models import Callback, Case, OutboundMessage, utcnow, write_tx
from barriosms.templates.rules import IntakeRules

log = logging.getLogger(__name__)

STATUSES = ("pending", "done")
TEMPLATE = "callback_received"

# Why a new request got no SMS (CallOutcome.sms), besides "queued".
WITHHELD = "withheld"  # the caller hid the number: nobody to answer
NOT_A_PHONE = "not_a_phone"  # a short code or a name: answering costs money and may start a loop
OPTED_OUT = "opted_out"  # the phone sent BAJA
MUTED = "muted"  # the loop guard silenced the phone as a machine
PHONE_BUDGET = "phone_budget"  # the phone had its replies for the hour or the day


class CallbackError(Exception):
    """A staff action on a callback request that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class CallOutcome:
    """What one call did: the request it opened or was counted on, and the SMS.

    `sms`: "queued" (the SMS is in the outbox), why a new request got none (WITHHELD, NOT_A_PHONE,
    OPTED_OUT, MUTED, PHONE_BUDGET), or "" for a call counted on an earlier request (no SMS again).
    """

    callback: Callback
    new: bool
    sms: str


def record_call(number: str, at: dt.datetime, rules: IntakeRules, *, modem: str = "",
                now: dt.datetime | None = None) -> CallOutcome:
    """Record one missed call from `number` ("" withheld) announced at `at` (naive UTC).

    `modem`: the [modem NAME] the call came in on; its SMS leaves through it. In one transaction:
    the request, its SMS and the event.
    """
    now = now or utcnow()
    phone = normalize_sender(number, rules.region) if number.strip() else ""
    window = dt.timedelta(hours=rules.service.callback_window_hours)
    with write_tx():
        earlier = None
        if phone:  # withheld calls cannot be told apart: each is a request of its own
            earlier = (Callback.select()
                       .where((Callback.phone == phone) & (Callback.status == "pending")
                              & (Callback.last_call_at >= at - window))
                       .order_by(Callback.last_call_at.desc(), Callback.id.desc())
                       .first())
        if earlier is not None:
            earlier.calls += 1
            earlier.last_call_at = max(earlier.last_call_at, at)
            earlier.save(only=[Callback.calls, Callback.last_call_at])
            events.record("callback.requested", at, id=earlier.id, phone=phone, calls=earlier.calls)
            outcome = CallOutcome(earlier, False, "")
        else:
            callback = Callback.create(phone=phone, first_call_at=at, last_call_at=at, calls=1)
            sms = _why_no_sms(phone, rules, now)
            if sms is None:
                text = rules.templates.render(TEMPLATE)
                callback.sms = outbox.queue(phone, text, kind="reply", now=now, urgent=True, modem=modem)
                callback.save(only=[Callback.sms])
                sms = "queued"
            events.record("callback.requested", at, id=callback.id, phone=phone or None, calls=1)
            outcome = CallOutcome(callback, True, sms)
    who = phone or "a withheld number"
    if outcome.new:
        log.info("missed call from %s: callback request %d (%s)", who, outcome.callback.id,
                 "SMS queued" if outcome.sms == "queued" else f"no SMS: {outcome.sms}")
    else:
        log.info("missed call from %s: call %d on callback request %d (no SMS again)", who, outcome.callback.calls,
                 outcome.callback.id)
    return outcome


def _why_no_sms(phone: str, rules: IntakeRules, now: dt.datetime) -> str | None:
    """Why this phone gets no SMS for its new request, or None when it gets one."""
    if not phone:
        return WITHHELD
    if not is_replyable(phone, rules.region):
        return NOT_A_PHONE
    if subscribers.opted_out([phone]):
        return OPTED_OUT
    if subscribers.muted_until(phone, now) is not None:
        return MUTED
    service = rules.service
    for limit, span in ((service.replies_per_hour, dt.timedelta(hours=1)),
                        (service.replies_per_day, dt.timedelta(days=1))):
        if limit and (OutboundMessage.select()
                      .where((OutboundMessage.recipient == phone) & (OutboundMessage.created_at >= now - span))
                      .count()) >= limit:
            return PHONE_BUDGET
    return None


def list_callbacks(*, pending: bool = False, limit: int | None = None) -> list[Callback]:
    """Newest call first; `pending`: only those still to be called back."""
    query = Callback.select().order_by(Callback.last_call_at.desc(), Callback.id.desc())
    if pending:
        query = query.where(Callback.status == "pending")
    if limit:
        query = query.limit(limit)
    return list(query)


def get(callback_id: int) -> Callback:
    callback = Callback.get_or_none(Callback.id == callback_id)
    if callback is None:
        raise CallbackError(f"no callback request {callback_id} (list them with `barriosms callbacks list`)")
    return callback


def mark_done(callback_id: int, *, actor: str, note: str = "", tracking: str | None = None,
              now: dt.datetime | None = None) -> Callback:
    """Staff called the resident back: the request is done, with a note and the case it led to.

    `tracking`: a case the call is linked to (one opened while on the phone with the resident, or
    the case the resident called about). Inside the caller's transaction when there is one.
    """
    now = now or utcnow()
    with write_tx():
        callback = get(callback_id)
        if callback.status == "done":
            raise CallbackError(f"callback request {callback_id} is already done (by {callback.done_by or '-'}); "
                                "nothing changed")
        case = None
        if tracking is not None:
            case = Case.get_or_none(Case.tracking == tracking.strip())
            if case is None:
                raise CallbackError(f"no case with tracking number {tracking.strip()} (list them with "
                                    "`barriosms cases list`)")
        callback.status, callback.done_at, callback.done_by = "done", now, actor
        callback.note = " ".join(note.split())
        callback.case = case
        callback.save(only=[Callback.status, Callback.done_at, Callback.done_by, Callback.note, Callback.case])
    log.info("callback request %d to %s done by %s%s", callback.id, callback.phone or "a withheld number", actor,
             f" (case {case.tracking})" if case is not None else "")
    return callback
