"""Whether a resident's message may be answered: muted phones, reply budgets, auto-reply loops.

Used by the intake for real and practice messages alike. Only the SMS back is ever withheld: the
message itself is acted on whatever is decided here.
"""

from __future__ import annotations

import datetime as dt
import logging

from barriosms.cases import subscribers
from barriosms.config import ServiceSettings
from barriosms.domain.guard import Decision, Recent, reply_decision
from barriosms.store.models import InboundMessage, OutboundMessage

log = logging.getLogger(__name__)


def decide(msg: InboundMessage, now: dt.datetime, service: ServiceSettings, *, repeat_check: bool = True) -> Decision:
    """May this message be answered? Silences the phone when it looks like an auto-reply loop."""
    if subscribers.muted_until(msg.phone, now) is not None:
        return Decision(False, "muted", False)
    limits = service.limits()
    since = now - max(dt.timedelta(days=1), limits.loop_window)
    inbound = [(m.received_at, m.text) for m in InboundMessage.select(InboundMessage.received_at, InboundMessage.text)
               .where((InboundMessage.phone == msg.phone) & (InboundMessage.id != msg.id)
                      & (InboundMessage.received_at >= since))
               .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())]
    rows = list(OutboundMessage.select(OutboundMessage.sent_at, OutboundMessage.created_at,
                                       OutboundMessage.kind, OutboundMessage.text)
                .where((OutboundMessage.recipient == msg.phone) & (OutboundMessage.created_at >= since)))
    replies = [r for r in rows if r.kind == "reply"]
    # Loops are judged on replies that really left (a machine answers what it received); budgets
    # on every reply queued (a burst read off the SIM at once is answered before any leaves).
    sent = sorted((r.sent_at for r in replies if r.sent_at is not None), reverse=True)
    queued = sorted((r.created_at for r in replies), reverse=True)
    # Any SMS of ours sent back (a status notice too) is an echo.
    ours = [r.text for r in rows if r.sent_at is not None]
    decision = reply_decision(now, msg.text, Recent(inbound=inbound, replies_sent=sent, replies_queued=queued,
                                                    our_texts=ours),
                              limits, repeat_check=repeat_check)
    if decision.mute:
        until = now + dt.timedelta(hours=service.loop_mute_hours)
        subscribers.mute(msg.phone, until, decision.reason, now)
        log.warning("%s looks like a machine answering our replies (%s): it gets no SMS back for %g h; its "
                    "messages are still acted on (reports open cases). If it is a person: barriosms phones "
                    "unmute %s", msg.phone, decision.reason, service.loop_mute_hours, msg.phone)
    elif not decision.answer:
        log.info("%s reached its reply budget (%s): message %d stored, not answered",
                 msg.phone, decision.reason, msg.id)
    return decision
