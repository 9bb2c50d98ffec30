"""From an SMS read off the SIM to a stored message, a case and a queued reply.

Everything for one SMS happens in one database transaction: the message (or message part) row,
the case it opens and the reply it queues. The modem thread deletes the SMS from the SIM only after
that transaction has committed, so a crash at any point either leaves the SMS on the SIM (it is read
again and the dedupe key recognises it) or leaves it fully handled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import random
from dataclasses import dataclass

from . import outbox
from .domain.categories import CategoryRules, categorize
from .domain.parsing import (
    Help,
    InvalidTracking,
    MissingDescription,
    Report,
    StatusQuery,
    Unroutable,
    classify,
)
from .domain.phones import is_replyable, normalize_sender
from .domain.replies import Templates
from .domain.tracking import new_tracking
from .sms import ReceivedSms
from peewee import fn

from .store.models import Case, CaseEvent, InboundMessage, Neighborhood, SmsPart, database, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntakeRules:
    templates: Templates
    categories: CategoryRules
    region: str = "BO"
    multipart_timeout: float = 600.0


class Intake:
    def __init__(self, rules: IntakeRules, rng: random.Random | None = None):
        self.rules = rules
        # SystemRandom: tracking numbers must not be predictable from earlier ones.
        self.rng = rng or random.SystemRandom()

    # -- storing -----------------------------------------------------------------------------

    def store(self, sms: ReceivedSms, now: dt.datetime | None = None) -> bool:
        """Store one SMS durably and act on it; False when it was already stored (read twice)."""
        now = now or utcnow()
        with database.atomic("IMMEDIATE"):
            if sms.kind == "status_report":
                # Not a resident's message: it only updates the delivery state of one we sent.
                outbox.apply_status_report(sms.reference or 0, sms.delivery_status or 0, now)
                return True
            if sms.is_part and not sms.binary:
                return self._store_part(sms, now)
            key = sms.dedupe_key()
            if InboundMessage.select().where(InboundMessage.dedupe_key == key).exists():
                log.info("SMS from %s at SIM location %d was already stored; not handled again",
                         sms.sender, sms.location)
                return False
            msg = self._create_message(key, sms.sender, sms.text, sms.smsc_time, now,
                                       parts=1, incomplete=False, coding=sms.coding)
            if sms.binary or sms.message_class == 0:
                # Data for the phone (8-bit) or a flash SMS: kept as received, never read as a report.
                msg.intent = "binary" if sms.binary else "flash"
                msg.save()
                log.info("message %d from %s is %s: stored, not answered", msg.id, msg.sender,
                         "8-bit data" if sms.binary else "a class-0 (flash) SMS")
                return True
            self._handle(msg, now)
            return True

    def _create_message(self, key: str, sender: str, text: str, smsc_time: dt.datetime | None,
                        now: dt.datetime, *, parts: int, incomplete: bool, coding: str) -> InboundMessage:
        return InboundMessage.create(
            dedupe_key=key, sender=sender, phone=normalize_sender(sender, self.rules.region),
            text=text, smsc_time=smsc_time, received_at=now, parts=parts, incomplete=incomplete,
            coding=coding)

    def _store_part(self, sms: ReceivedSms, now: dt.datetime) -> bool:
        key = sms.dedupe_key()
        if SmsPart.select().where(SmsPart.dedupe_key == key).exists():
            log.info("part %d/%d from %s was already stored", sms.part_number, sms.total_parts, sms.sender)
            return False
        group = self._open_group(sms.sender, sms.concat_ref, sms.total_parts)
        if any(p.part_number == sms.part_number for p in group):
            # The sender reused the reference number while an older message still misses parts:
            # that older one will not be completed any more, so hand it over as it is.
            log.warning("concatenated SMS %d from %s never got all its parts; storing it incomplete",
                        sms.concat_ref, sms.sender)
            self._assemble(group, now, incomplete=True)
            group = []
        part = SmsPart.create(dedupe_key=key, sender=sms.sender, concat_ref=sms.concat_ref,
                              part_number=sms.part_number, total_parts=sms.total_parts, text=sms.text,
                              smsc_time=sms.smsc_time, received_at=now)
        group = sorted(group + [part], key=lambda p: p.part_number)
        if {p.part_number for p in group} == set(range(1, sms.total_parts + 1)):
            self._assemble(group, now, incomplete=False)
        else:
            log.debug("part %d/%d of SMS %d from %s stored; waiting for the rest",
                      sms.part_number, sms.total_parts, sms.concat_ref, sms.sender)
        return True

    @staticmethod
    def _open_group(sender: str, ref: int | None, total: int) -> list[SmsPart]:
        return list(SmsPart.select()
                    .where((SmsPart.sender == sender) & (SmsPart.concat_ref == ref)
                           & (SmsPart.total_parts == total) & SmsPart.message.is_null())
                    .order_by(SmsPart.part_number))

    def _assemble(self, group: list[SmsPart], now: dt.datetime, *, incomplete: bool) -> InboundMessage:
        group = sorted(group, key=lambda p: p.part_number)
        # Parts are already decoded by Gammu, one by one; in part order they are the whole text.
        text = "".join(p.text for p in group)
        key = hashlib.sha256("\x1f".join(p.dedupe_key for p in group).encode()).hexdigest()
        first = group[0]
        msg = self._create_message(key, first.sender, text, first.smsc_time, now,
                                   parts=len(group), incomplete=incomplete, coding="")
        SmsPart.update(message=msg).where(SmsPart.id.in_([p.id for p in group])).execute()
        if incomplete:
            log.warning("SMS from %s stored with %d of %d parts (the rest never arrived)",
                        first.sender, len(group), first.total_parts)
        self._handle(msg, now)
        return msg

    def flush_expired_parts(self, now: dt.datetime | None = None) -> int:
        """Hand over, as incomplete, messages whose missing parts did not come in time."""
        now = now or utcnow()
        limit = now - dt.timedelta(seconds=self.rules.multipart_timeout)
        flushed = 0
        with database.atomic("IMMEDIATE"):
            stale = (SmsPart.select(SmsPart.sender, SmsPart.concat_ref, SmsPart.total_parts)
                     .where(SmsPart.message.is_null())
                     .group_by(SmsPart.sender, SmsPart.concat_ref, SmsPart.total_parts)
                     .having(fn.MIN(SmsPart.received_at) <= limit))
            for row in list(stale):
                group = self._open_group(row.sender, row.concat_ref, row.total_parts)
                if group:
                    self._assemble(group, now, incomplete=True)
                    flushed += 1
        return flushed

    # -- acting on a message -----------------------------------------------------------------

    def _handle(self, msg: InboundMessage, now: dt.datetime) -> None:
        if not is_replyable(msg.sender, self.rules.region):
            # Operators and short codes send promotions and balance notices; they cannot be answered.
            msg.intent = "not_replyable"
            msg.save()
            log.info("message %d from %s is not from a phone number: stored, not answered", msg.id, msg.sender)
            return
        neighborhoods = {n.code: n for n in Neighborhood.select()}
        intent = classify(msg.text, neighborhoods.keys())
        t = self.rules.templates
        if isinstance(intent, Report):
            hood = neighborhoods[intent.code]
            case = self._open_case(msg, hood, intent.description or msg.text, now)
            msg.intent, msg.case = "report", case
            self._reply(msg, t.render("report_received", tracking=case.tracking, barrio=hood.name,
                                      category=case.category), case, now)
            log.info("message %d opened case %s (%s, %s)", msg.id, case.tracking, hood.code, case.category)
        elif isinstance(intent, StatusQuery):
            case = Case.get_or_none(Case.tracking == intent.tracking)
            if case is None:
                msg.intent = "unknown_tracking"
                self._reply(msg, t.render("unknown_tracking", tracking=intent.tracking), None, now)
            else:
                msg.intent = "status"
                self._reply(msg, status_text(t, case), None, now)
        elif isinstance(intent, InvalidTracking):
            msg.intent = "invalid_tracking"
            self._reply(msg, t.render("invalid_tracking", number=intent.number), None, now)
        elif isinstance(intent, MissingDescription):
            msg.intent = "missing_description"
            self._reply(msg, t.render("missing_description", code=intent.code), None, now)
        elif isinstance(intent, Help):
            msg.intent = "help"
            self._reply(msg, t.render("help"), None, now)
        else:
            assert isinstance(intent, Unroutable)
            msg.intent, msg.needs_staff = "unroutable", True
            self._reply(msg, t.render("unroutable"), None, now)
            log.info("message %d from %s has no known neighbourhood code; kept for staff", msg.id, msg.phone)
        msg.save()

    def _open_case(self, msg: InboundMessage, hood: Neighborhood, description: str, now: dt.datetime) -> Case:
        tracking = self._unused_tracking()
        case = Case.create(tracking=tracking, neighborhood=hood,
                           category=categorize(msg.text, self.rules.categories), text=description,
                           phone=msg.phone, status="received", created_at=now, updated_at=now,
                           source_message=msg)
        CaseEvent.create(case=case, at=now, kind="created", new_status="received", actor="sms")
        return case

    def _unused_tracking(self) -> str:
        for _ in range(1000):
            tracking = new_tracking(self.rng)
            if not Case.select().where(Case.tracking == tracking).exists():
                return tracking
        raise RuntimeError("no free tracking number found in 1000 tries; the number space is nearly full")

    @staticmethod
    def _reply(msg: InboundMessage, text: str, case: Case | None, now: dt.datetime) -> None:
        outbox.queue(msg.phone, text, kind="reply", case=case, in_reply_to=msg, now=now)


def last_public_note(case: Case) -> str:
    event = (CaseEvent.select()
             .where((CaseEvent.case == case) & CaseEvent.public & (CaseEvent.note != ""))
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
