"""Residents' messages as staff see them: what could not be routed, what was not answered, and
routing a message by hand into a new case (the resident gets the tracking number)."""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass

from barriosms.cases import outbox
from barriosms.cases.lookup import NeighborhoodNotFound, find_neighborhood
from barriosms.cases.opening import open_case
from barriosms.domain.phones import is_replyable
from barriosms.domain.replies import Templates
from barriosms.pipeline.practice import PRACTICE_INTENTS
from barriosms.store.models import Case, CaseEvent, InboundMessage, OutboundMessage, PendingReport, utcnow, write_tx
from barriosms.templates.rules import IntakeRules

log = logging.getLogger(__name__)


class InboxError(Exception):
    """A triage action that cannot be done; the message says why and what to do instead."""


@dataclass(frozen=True)
class Assigned:
    """A message staff assigned to a case: the case it opened or joined, and the SMS queued back."""

    message: InboundMessage
    case: Case
    reply: OutboundMessage | None


def list_messages(*, unmatched: bool = False, unanswered: bool = False, phone: str | None = None,
                  limit: int | None = None, practice: bool = False) -> list[InboundMessage]:
    """Newest first. unmatched: waiting for a neighbourhood (no case yet); unanswered: got no SMS back.

    Workshops' practice messages (PRUEBA ...) are not staff's inbox: left out unless `practice`.
    """
    q = InboundMessage.select().order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
    if not practice:
        q = q.where(InboundMessage.intent.not_in(PRACTICE_INTENTS))
    if unmatched:
        q = q.where((InboundMessage.needs_staff == True) & InboundMessage.case.is_null())  # noqa: E712
    if unanswered:
        q = q.where(InboundMessage.unanswered != "")
    if phone:
        q = q.where(InboundMessage.phone == phone)
    if limit:
        q = q.limit(limit)
    return list(q)


def get(message_id: int) -> InboundMessage:
    msg = InboundMessage.get_or_none(InboundMessage.id == message_id)
    if msg is None:
        raise InboxError(f"no message {message_id} (see `barriosms inbox list --unmatched`)")
    return msg


def route(message_id: int, code: str, rules: IntakeRules, *, category: str | None = None, actor: str = "",
          rng: random.Random | None = None, now: dt.datetime | None = None) -> Assigned:
    """Open a case for a message staff routed by hand, and queue the tracking number to its sender.

    `rules`: the categories, region and texts the intake reads messages with (rules_from_settings).
    `rng` draws the tracking number (cases.opening.open_case: SystemRandom by default).
    """
    now = now or utcnow()
    templates: Templates = rules.templates
    with write_tx():
        msg = get(message_id)
        if msg.case_id is not None:
            raise InboxError(f"message {message_id} already belongs to case {msg.case.tracking}")
        if msg.intent in ("binary", "flash", "status_report"):
            raise InboxError(f"message {message_id} is {msg.intent} data, not a report")
        if msg.intent in PRACTICE_INTENTS:
            raise InboxError(f"message {message_id} is practice from a workshop (PRUEBA ...), not a report")
        try:
            hood = find_neighborhood(code, by_name=False)
        except NeighborhoodNotFound:
            raise InboxError(f"no neighbourhood with code {code!r} (see `barriosms neighborhoods list`)") from None
        if category is not None:
            category = category.strip().lower()
            names = rules.categories.names
            if category not in names:
                raise InboxError(f"unknown category {category!r}; use one of: {', '.join(names)}")
        case = open_case(msg, hood, msg.text, now, categories=rules.categories, rng=rng,
                         category=category, actor=actor or "staff", how="assigned", learned=rules.learned)
        CaseEvent.create(case=case, at=now, kind="note", note=f"routed by hand from message {msg.id}",
                         public=False, actor=actor)
        msg.case, msg.needs_staff = case, False
        msg.save(only=[InboundMessage.case, InboundMessage.needs_staff])
        (PendingReport.update(outcome="routed", closed_at=now)
         .where((PendingReport.message == msg) & (PendingReport.outcome == "")).execute())
        reply = None
        if is_replyable(msg.phone, rules.region):
            text = templates.render("report_received", tracking=case.tracking, barrio=hood.name, category=case.category)
            # Not urgent: the resident wrote a while ago, so this one waits out the quiet hours.
            reply = outbox.queue(msg.phone, text, kind="reply", case=case, in_reply_to=msg, now=now, urgent=False)
    log.info("message %d routed by %s to %s: case %s", msg.id, actor or "-", hood.code, case.tracking)
    return Assigned(msg, case, reply)
