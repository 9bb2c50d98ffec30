"""The outbox: SMS waiting to be sent, and what happened to each.

The CLI and the intake only queue rows here; the daemon's modem thread is the only sender.
States: queued -> sending -> sent, or back to queued with a later next_attempt_at, or failed after
the last attempt (the reason is kept in last_error).
"""

from __future__ import annotations

import datetime as dt
import logging
import socket

from peewee import Case as SqlCase
from peewee import fn

from barriosms.cases import events
from barriosms.domain.retry import retry_delay
from barriosms.modem.interface import SendResult
from barriosms.store.models import Broadcast, Case, InboundMessage, OutboundMessage, utcnow, write_tx

log = logging.getLogger(__name__)

STATUSES = ("queued", "sending", "sent", "failed")


def queue(recipient: str, text: str, *, kind: str = "reply", case: Case | None = None,
          in_reply_to: InboundMessage | None = None, now: dt.datetime | None = None,
          urgent: bool | None = None, broadcast: Broadcast | None = None, modem: str = "") -> OutboundMessage:
    """Add an SMS to the outbox (inside the caller's transaction, if any).

    A reply is urgent by default (the resident just wrote and is waiting); everything else waits
    out the quiet hours unless `urgent` says otherwise. `modem`: the modem it must leave through
    ("" any: see `for_modem`).
    """
    now = now or utcnow()
    return OutboundMessage.create(recipient=recipient, text=text, kind=kind, case=case,
                                  in_reply_to=in_reply_to, created_at=now, next_attempt_at=now,
                                  urgent=(kind == "reply") if urgent is None else urgent, broadcast=broadcast,
                                  modem=modem)


def hold(msg: OutboundMessage, until: dt.datetime, reason: str) -> None:
    """Keep a queued SMS back until `until` (naive UTC) for a reason staff can read."""
    with write_tx():
        msg.next_attempt_at, msg.hold_reason = until, reason
        msg.save(only=[OutboundMessage.next_attempt_at, OutboundMessage.hold_reason])


def release_held(now: dt.datetime | None = None) -> int:
    """Let held SMS be looked at again at once (after a reload changed quiet hours or budgets)."""
    now = now or utcnow()
    with write_tx():
        return (OutboundMessage.update(next_attempt_at=now, hold_reason="")
                .where((OutboundMessage.status == "queued") & (OutboundMessage.hold_reason != ""))
                .execute())


def queued_parts() -> int:
    """SMS still waiting in the outbox (a not-yet-sent message counts as one)."""
    return OutboundMessage.select().where(OutboundMessage.status.in_(("queued", "sending"))).count()


def sent_parts_since(since: dt.datetime) -> int:
    """SMS (parts) the modem sent since `since` (naive UTC): what the daily budget counts."""
    # Only the time in the WHERE, the status inside the SUM: with `status = 'sent'` beside it, SQLite
    # read the day's SMS through the status index, every SMS ever sent (137 ms at 850,000, for each
    # queued SMS the daemon looks at), not through the sent_at index, the day's few hundred.
    sent = SqlCase(None, [(OutboundMessage.status == "sent", OutboundMessage.parts)], 0)
    total = (OutboundMessage.select(fn.COALESCE(fn.SUM(sent), 0))
             .where(OutboundMessage.sent_at >= since).scalar())
    return int(total or 0)


def due(now: dt.datetime | None = None, limit: int = 20) -> list[OutboundMessage]:
    """Queued messages whose time has come, oldest first so residents are answered in order."""
    now = now or utcnow()
    return list(OutboundMessage.select()
                .where((OutboundMessage.status == "queued") & (OutboundMessage.next_attempt_at <= now))
                .order_by(OutboundMessage.id)
                .limit(limit))


def default_claimer() -> str:
    """Who claims SMS for sending from this process: the machine's name (a modem's name is added
    where a daemon has several)."""
    return socket.gethostname() or "localhost"


def claim(msg: OutboundMessage, claimer: str | None = None, now: dt.datetime | None = None) -> bool:
    """Take a queued SMS for sending; False when another sender took it first.

    One conditional UPDATE: with several senders on one database (modems of one daemon, daemons on
    several machines) exactly one of them wins, so no SMS leaves twice.
    """
    now = now or utcnow()
    claimer = claimer or default_claimer()
    with write_tx():
        taken = (OutboundMessage.update(status="sending", attempts=OutboundMessage.attempts + 1,
                                        claimed_by=claimer, claimed_at=now)
                 .where((OutboundMessage.id == msg.id) & (OutboundMessage.status == "queued"))
                 .execute())
    if taken:
        msg.status, msg.attempts, msg.claimed_by, msg.claimed_at = "sending", msg.attempts + 1, claimer, now
    return taken == 1


# Operators as the modem config may name them, as phonenumbers names the carrier of a number.
OPERATOR_ALIASES = {"viva": "nuevatel"}


def operator_of(number: str) -> str:
    """The carrier of a phone number by its prefix ("" when unknown), lower case."""
    import phonenumbers
    from phonenumbers import carrier

    try:
        return carrier.name_for_number(phonenumbers.parse(number, None), "en").lower()
    except phonenumbers.NumberParseException:
        return ""


def _same_operator(a: str | None, b: str) -> bool:
    if not a or not b:
        return False
    a = a.strip().lower()
    return OPERATOR_ALIASES.get(a, a) == OPERATOR_ALIASES.get(b, b) or a in b or b in a


def for_modem(candidates: list[OutboundMessage], modem: str, operators: dict[str, str | None]) -> OutboundMessage | None:
    """The first of the due `candidates` that the modem `modem` should send.

    `operators`: the healthy modems (this one included) and the operator of each. A reply leaves
    through the modem its report came in on; other SMS through a modem of the recipient's operator;
    either falls back to any healthy modem when its own is down.
    """
    for msg in candidates:
        if msg.modem == modem:
            return msg
        if msg.modem and msg.modem in operators:
            continue  # its own modem is up: it sends it
        wanted = operator_of(msg.recipient)
        serving = [name for name, op in operators.items() if _same_operator(op, wanted)]
        if not serving or modem in serving:
            return msg
    return None


def mark_sending(msg: OutboundMessage, claimer: str | None = None) -> None:
    if not claim(msg, claimer):
        raise RuntimeError(f"outbound message {msg.id} is not queued any more (another sender took it)")


def mark_sent(msg: OutboundMessage, result: SendResult, now: dt.datetime | None = None,
              report_requested: bool = False) -> None:
    with write_tx():
        msg.status = "sent"
        msg.sent_at = now or utcnow()
        msg.parts = result.parts
        msg.modem_reference = ",".join(str(r) for r in result.references)
        msg.last_error = ""
        msg.hold_reason = ""
        if report_requested:
            msg.delivery = "pending"
            msg.awaiting_reports = msg.modem_reference
        msg.save(only=[OutboundMessage.status, OutboundMessage.sent_at, OutboundMessage.parts,
                       OutboundMessage.modem_reference, OutboundMessage.last_error,
                       OutboundMessage.delivery, OutboundMessage.awaiting_reports, OutboundMessage.hold_reason])
        events.record("sms.sent", msg.sent_at, id=msg.id, to=msg.recipient, kind=msg.kind, tracking=_tracking_of(msg),
                      parts=msg.parts)


def _tracking_of(msg: OutboundMessage) -> str | None:
    if msg.case_id is None:
        return None
    return Case.select(Case.tracking).where(Case.id == msg.case_id).scalar()


# TP-Status (3GPP TS 23.040 9.2.3.15): below 0x20 the SMS reached the phone; 0x20-0x3F the centre
# is still trying; from 0x40 it gave up (0x60-0x6F: after temporary errors).
STILL_TRYING = range(0x20, 0x40)

# Message references are one byte and wrap around: a report can only be about a recent message.
REPORT_WINDOW = dt.timedelta(days=3)


def apply_status_report(reference: int, status: int, now: dt.datetime | None = None) -> OutboundMessage | None:
    """Match a status report to the message it is about (inside the caller's transaction)."""
    now = now or utcnow()
    candidates = (OutboundMessage.select()
                  .where((OutboundMessage.delivery == "pending") & (OutboundMessage.sent_at >= now - REPORT_WINDOW))
                  .order_by(OutboundMessage.sent_at.desc(), OutboundMessage.id.desc()))
    for msg in candidates:
        awaiting = [r for r in msg.awaiting_reports.split(",") if r]
        if str(reference) not in awaiting:
            continue
        if status in STILL_TRYING:
            log.info("message %d to %s: the SMS centre is still trying (status 0x%02x)", msg.id, msg.recipient, status)
            return msg
        if status >= 0x40:
            msg.delivery = "undelivered"
            msg.last_error = f"not delivered: the network gave up (status 0x{status:02x})"
            msg.awaiting_reports = ""
            log.warning("message %d to %s was not delivered (status 0x%02x)", msg.id, msg.recipient, status)
        else:
            awaiting.remove(str(reference))
            msg.awaiting_reports = ",".join(awaiting)
            if not awaiting:
                msg.delivery, msg.delivered_at = "delivered", now
        msg.save(only=[OutboundMessage.delivery, OutboundMessage.awaiting_reports, OutboundMessage.delivered_at,
                       OutboundMessage.last_error])
        if msg.delivery in ("delivered", "undelivered"):
            events.record("sms.delivered", now, id=msg.id, to=msg.recipient, kind=msg.kind, tracking=_tracking_of(msg),
                          delivery=msg.delivery)
        return msg
    log.info("status report for reference %d matches no message waiting for one; ignored", reference)
    return None


def mark_failed_attempt(msg: OutboundMessage, error: str, *, permanent: bool, max_attempts: int,
                        base_seconds: float, max_seconds: float, now: dt.datetime | None = None) -> str:
    """Record a failed attempt; returns the new status (queued for a retry, or failed)."""
    now = now or utcnow()
    with write_tx():
        msg.last_error = error
        if permanent or msg.attempts >= max_attempts:
            msg.status = "failed"
        else:
            msg.status = "queued"
            msg.next_attempt_at = now + dt.timedelta(seconds=retry_delay(msg.attempts, base_seconds, max_seconds))
        msg.save(only=[OutboundMessage.status, OutboundMessage.last_error, OutboundMessage.next_attempt_at])
        if msg.status == "failed":
            events.record("sms.failed", now, id=msg.id, to=msg.recipient, kind=msg.kind, tracking=_tracking_of(msg),
                          error=error)
    return msg.status


def requeue(msg: OutboundMessage, reason: str) -> None:
    """Undo mark_sending when the modem, not the message, failed: the attempt does not count."""
    with write_tx():
        msg.status = "queued"
        msg.attempts = max(0, msg.attempts - 1)
        msg.last_error = reason
        msg.save(only=[OutboundMessage.status, OutboundMessage.attempts, OutboundMessage.last_error])


# Without a configured lease (tools, old callers): a claim this old by a sender that never came
# back (a daemon on another machine that died) is taken over. A send takes seconds, never minutes.
STALE_CLAIM = dt.timedelta(minutes=15)


def recover_interrupted(claimer: str | None = None, now: dt.datetime | None = None,
                        lease: dt.timedelta = STALE_CLAIM) -> int:
    """Put back in the queue the messages a killed daemon left in 'sending'.

    Only this sender's own claims (and unattributed ones, or claims not renewed for `lease`):
    another daemon sharing the database may be sending its own right now. We cannot know whether
    the modem sent them before the process died. Sending again risks a duplicate SMS; not sending
    risks a resident never getting a tracking number, which is worse.
    """
    claimer = claimer or default_claimer()
    now = now or utcnow()
    # The claims of this sender, and of its modems ("host/modem"): one daemon restarts them all.
    mine = ((OutboundMessage.claimed_by == claimer) | OutboundMessage.claimed_by.startswith(claimer + "/")
            | (OutboundMessage.claimed_by == "")
            | OutboundMessage.claimed_at.is_null() | (OutboundMessage.claimed_at < now - lease))
    return _requeue_claims(mine, now, "was being sent when barriosms stopped")


def renew_claims(claimers: list[str], now: dt.datetime | None = None) -> int:
    """Keep this daemon's claims its own: a claim not renewed for the lease is taken over (see
    take_over_stale). Called every few seconds by a live daemon, whatever its modems are doing."""
    if not claimers:
        return 0
    mine = (OutboundMessage.status == "sending") & OutboundMessage.claimed_by.in_(claimers)
    if not OutboundMessage.select().where(mine).exists():
        return 0  # the common case, every few seconds: a read, no write (SD cards wear out)
    with write_tx():
        return OutboundMessage.update(claimed_at=now or utcnow()).where(mine).execute()


def take_over_stale(own: list[str], lease: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Put back in the queue the SMS another sender claimed and stopped renewing for `lease`: it
    died (or lost the database) mid-send, and the gateways still alive send them instead."""
    now = now or utcnow()
    stale = ((OutboundMessage.claimed_at.is_null() | (OutboundMessage.claimed_at < now - lease))
             & OutboundMessage.claimed_by.not_in(own or [""]))
    if not OutboundMessage.select().where((OutboundMessage.status == "sending") & stale).exists():
        return 0
    return _requeue_claims(stale, now, "was claimed by a gateway that stopped renewing its claim")


def _requeue_claims(which, now: dt.datetime, why: str) -> int:
    taken = 0
    with write_tx():
        for msg in list(OutboundMessage.select().where((OutboundMessage.status == "sending") & which)):
            # Only if nobody renewed or took it since it was read: the same claim, still sending.
            # The process died, not the send: like requeue(), the attempt does not count.
            same = ((OutboundMessage.id == msg.id) & (OutboundMessage.status == "sending")
                    & (OutboundMessage.claimed_by == msg.claimed_by)
                    & (OutboundMessage.claimed_at.is_null() if msg.claimed_at is None
                       else OutboundMessage.claimed_at == msg.claimed_at))
            if OutboundMessage.update(status="queued", attempts=max(0, msg.attempts - 1)).where(same).execute():
                taken += 1
                log.warning("outbound message %d to %s %s (%s); sending it again (the resident may receive it "
                            "twice)", msg.id, msg.recipient, why, msg.claimed_by or "claimed by nobody recorded")
    return taken


def retry(ids: list[int] | None = None, *, all_failed: bool = False, now: dt.datetime | None = None) -> int:
    """Put failed messages back in the queue with a fresh count of attempts (after a fix)."""
    now = now or utcnow()
    query = OutboundMessage.update(status="queued", attempts=0, next_attempt_at=now)
    with write_tx():
        if all_failed:
            return query.where(OutboundMessage.status == "failed").execute()
        return query.where(OutboundMessage.id.in_(ids or []) & (OutboundMessage.status == "failed")).execute()


def list_messages(status: str | None = None, limit: int | None = None) -> list[OutboundMessage]:
    q = OutboundMessage.select().order_by(OutboundMessage.id.desc())
    if status:
        q = q.where(OutboundMessage.status == status)
    if limit:
        q = q.limit(limit)
    return list(q)
