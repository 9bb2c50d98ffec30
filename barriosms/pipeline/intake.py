"""From an SMS read off the SIM to a stored message, a case and a queued reply.

Everything for one SMS happens in one database transaction: the message (or message part) row,
the case it opens and the reply it queues. The modem thread deletes the SMS from the SIM only after
that transaction has committed, so a crash at any point either leaves the SMS on the SIM (it is read
again and the dedupe key recognises it) or leaves it fully handled.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import hashlib
import logging
import random
from dataclasses import dataclass
from typing import cast

from peewee import DatabaseError, DataError, IntegrityError, fn

from barriosms.cases import outbox, subscribers
from barriosms.cases.casework import add_reporter, reopen_by_resident, surviving
from barriosms.config import ServiceSettings, Settings
from barriosms.domain.categories import CategoryRules, categorize, fold, load_categories
from barriosms.domain.guard import Decision, Limits, Recent, reply_decision
from barriosms.domain.matching import Place
from barriosms.domain.parsing import (
    Ambiguous,
    Courtesy,
    Help,
    Intent,
    InvalidTracking,
    MissingDescription,
    OptIn,
    OptOut,
    Reopen,
    Report,
    StatusQuery,
    UnknownCode,
    Unroutable,
    classify,
)
from barriosms.domain.phones import is_replyable, normalize_sender
from barriosms.domain.replies import Templates
from barriosms.domain.sanitize import storable
from barriosms.domain.tracking import new_tracking
from barriosms.modem.sms import ReceivedSms
from barriosms.pipeline import conversations, practice, survey
from barriosms.store.models import (
    Case,
    CaseEvent,
    InboundMessage,
    Neighborhood,
    OutboundMessage,
    PendingReport,
    PracticeCase,
    SmsPart,
    database,
    utcnow,
    write_tx,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntakeRules:
    templates: Templates
    categories: CategoryRules
    region: str = "BO"
    multipart_timeout: float = 600.0
    service: ServiceSettings = ServiceSettings()


def rules_from_settings(settings: Settings) -> IntakeRules:
    """The rules of the configured language and files (TemplateError when they are not usable)."""
    g = settings.gateway
    return IntakeRules(templates=Templates.load(g.replies, g.language),
                       categories=load_categories(g.categories, g.language),
                       region=g.region, multipart_timeout=g.multipart_timeout, service=settings.service)


class Intake:
    def __init__(self, rules: IntakeRules, rng: random.Random | None = None):
        self.rules = rules
        # SystemRandom: tracking numbers must not be predictable from earlier ones.
        self.rng = rng or random.SystemRandom()

    # -- storing -----------------------------------------------------------------------------

    def store(self, sms: ReceivedSms, now: dt.datetime | None = None, modem: str = "") -> bool:
        """Store one SMS durably and act on it; False when it was already stored (read twice).

        `modem`: the [modem NAME] it came in on; its replies leave through the same one.
        """
        now = now or utcnow()
        self._modem = modem
        # Before anything is keyed or stored: text SQLite or PostgreSQL would refuse (half an emoji,
        # NULs) must not keep the message on the SIM forever.
        sms = dataclasses.replace(sms, sender=storable(sms.sender), text=storable(sms.text))
        with write_tx():
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

    def set_aside(self, sms: ReceivedSms, exc: BaseException, modem: str = "") -> InboundMessage:
        """Keep an SMS that could not be stored normally, as it is, for staff (its own transaction).

        The last resort of the gateway for an SMS that failed again and again: no field is trusted
        to be well formed, nothing is acted on; `inbox list --unmatched` shows it with the error.
        """
        sender = storable(str(sms.sender if sms.sender is not None else ""))
        text = storable(str(sms.text if sms.text is not None else ""))
        key = hashlib.sha256(("set-aside\x1f" + repr(sms)).encode("utf-8", "replace")).hexdigest()
        error = f"error: {type(exc).__name__}: {exc}"[:300]
        with write_tx():
            found = InboundMessage.get_or_none(InboundMessage.dedupe_key == key)
            if found is not None:
                return found
            try:
                phone = normalize_sender(sender, self.rules.region)
            except Exception:  # noqa: BLE001 - a sender no parser understands is kept as written
                phone = sender
            smsc_time = sms.smsc_time if isinstance(sms.smsc_time, dt.datetime) else None
            return InboundMessage.create(modem=modem, dedupe_key=key, sender=sender, phone=phone, text=text,
                                         smsc_time=smsc_time, received_at=utcnow(), intent="error",
                                         needs_staff=True, triage=storable(error))

    def _create_message(self, key: str, sender: str, text: str, smsc_time: dt.datetime | None,
                        now: dt.datetime, *, parts: int, incomplete: bool, coding: str) -> InboundMessage:
        return InboundMessage.create(
            modem=getattr(self, "_modem", ""),
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
        self._modem = ""  # parts waited too long: whichever modem is free answers
        limit = now - dt.timedelta(seconds=self.rules.multipart_timeout)
        flushed = 0
        with write_tx():
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
        """Act on a stored message; a failure keeps it for staff instead of stopping the gateway.

        Acting runs in a savepoint of the caller's transaction: when it fails, what it did (a half
        opened case, a queued reply) is undone, the message row itself stays and commits, marked
        for triage with the error, and the SIM may forget the SMS. A database that refuses writes
        is not the message's fault: that goes up, and the SMS stays on the SIM.
        """
        try:
            with database.atomic():
                self._act(msg, now)
        except (IntegrityError, DataError) as exc:
            self._set_aside(msg, exc)
        except DatabaseError:
            raise
        except Exception as exc:  # noqa: BLE001 - one message must never stop the gateway
            self._set_aside(msg, exc)

    @staticmethod
    def _set_aside(msg: InboundMessage, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"[:300]
        log.exception("message %d from %s could not be handled (%s). It is kept for staff: barriosms inbox list "
                      "--unmatched; please report this error with the log lines above", msg.id, msg.phone, error)
        (InboundMessage.update(intent="error", needs_staff=True, triage=f"error: {error}", case=None)
         .where(InboundMessage.id == msg.id).execute())
        msg.intent, msg.needs_staff, msg.triage, msg.case = "error", True, f"error: {error}", None

    def _act(self, msg: InboundMessage, now: dt.datetime) -> None:
        if not is_replyable(msg.sender, self.rules.region):
            # Operators and short codes send promotions and balance notices; they cannot be answered.
            msg.intent = "not_replyable"
            msg.save()
            log.info("message %d from %s is not from a phone number: stored, not answered", msg.id, msg.sender)
            return
        hoods = {n.code: n for n in Neighborhood.select()}
        places = [Place(n.code, n.name, tuple(n.alias_list)) for n in hoods.values()]
        rest = practice.practice_text(msg.text, self.rules.templates.keywords.get("practice", ()))
        if rest is not None:
            # A workshop's practice message (PRUEBA ...): answered like a real one, kept apart.
            practice.handle(self, msg, rest, now, hoods, places)
            return
        intent = classify(msg.text, places, self.rules.templates.keywords)
        # A resident asking again and again how their case goes is no machine repeating itself.
        decision = self._decide(msg, now, repeat_check=not isinstance(intent, StatusQuery))
        # Whatever was decided about the reply, the message is acted on: a person silenced by
        # mistake (or a machine) still opens cases, answers staff and can say BAJA. Only the SMS
        # back is withheld (see _reply).
        turn = _Turn(msg, now, decision, hoods)
        if not self._converse(turn, intent):
            handler = getattr(self, f"_on_{type(intent).__name__.lower()}")
            handler(turn, intent)
        msg.save()

    def _converse(self, turn: _Turn, intent: Intent) -> bool:
        """Take the message as an answer in a conversation about a case, when it is one.

        BAJA, ALTA and REABRIR are always commands. The satisfaction question is looked at first
        (its answer is "1" or "2"), then staff questions and messages.
        """
        if isinstance(intent, (OptOut, OptIn, Reopen)):
            return False
        for route in (survey.route, conversations.route):
            routed = route(turn.msg, intent, turn.now, self.rules, turn.hoods)
            if routed is None:
                continue
            turn.msg.intent = routed.intent
            case = cast("Case | None", routed.case)  # domain.answers.Routed cannot name the store's Case
            if case is not None:
                turn.msg.case = case
            if routed.reply:
                self._reply(turn, routed.reply, case)
            log.info("message %d from %s: %s%s", turn.msg.id, turn.msg.phone, routed.intent,
                     f" (case {case.tracking})" if case is not None else "")
            return True
        return False

    def _decide(self, msg: InboundMessage, now: dt.datetime, *, repeat_check: bool = True) -> Decision:
        """May this message be answered? Silences the phone when it looks like an auto-reply loop."""
        if subscribers.muted_until(msg.phone, now) is not None:
            return Decision(False, "muted", False)
        service = self.rules.service
        limits = Limits.from_settings(service)
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

    def _reply(self, turn: _Turn, text: str, case: Case | None = None) -> None:
        if not turn.decision.answer:
            turn.msg.unanswered = turn.decision.reason
            return
        outbox.queue(turn.msg.phone, text, kind="reply", case=case, in_reply_to=turn.msg, now=turn.now,
                     modem=turn.msg.modem)

    def _over_case_limit(self, turn: _Turn) -> bool:
        """Whether this phone already opened ``cases_per_phone_hour`` cases; then the report waits.

        One phone (a prank, a script, a broken gateway) must not fill the case list: what it sends
        beyond the limit is kept for staff with the reason, never dropped, and `inbox assign`
        opens it. The phone is told (within its reply budget).
        """
        limit = self.rules.service.cases_per_phone_hour
        if not limit:
            return False
        msg, since = turn.msg, turn.now - dt.timedelta(hours=1)
        opened = Case.select().where((Case.phone == msg.phone) & (Case.created_at > since)).count()
        if opened < limit:
            return False
        msg.needs_staff, msg.triage = True, "case_limit"
        held_before = (InboundMessage.select().where((InboundMessage.phone == msg.phone) & (InboundMessage.id != msg.id)
                                                     & (InboundMessage.triage == "case_limit")
                                                     & (InboundMessage.received_at > since)).exists())
        # Once per phone and hour at WARNING: a flood would otherwise flood the log too.
        log.log(logging.INFO if held_before else logging.WARNING,
                "%s opened %d cases in the last hour ([service] cases_per_phone_hour = %d): message %d is kept "
                    "for staff instead (barriosms inbox list --unmatched; barriosms inbox assign %d --neighborhood "
                    "CODE opens it)", msg.phone, opened, limit, msg.id, msg.id)
        self._reply(turn, self.rules.templates.render("report_held"))
        return True

    # One handler per intent (see domain.parsing).

    def _on_report(self, turn: _Turn, intent: Report) -> None:
        msg = turn.msg
        hood = turn.hoods[intent.code]
        if self._over_case_limit(turn):
            msg.intent = "report"
            return
        case = self.open_case(msg, hood, intent.description or msg.text, turn.now)
        msg.intent, msg.case = "report", case
        # A complete report supersedes what the same phone left waiting for its neighbourhood, when
        # it is the same text sent again with the code; a different problem keeps waiting.
        for pending in self._open_pending(msg.phone, turn.now):
            if _same_report(pending.description, case.text):
                self._close_pending(pending, "superseded", turn.now, case)
        self._reply(turn, self.rules.templates.render("report_received", tracking=case.tracking, barrio=hood.name,
                                                      category=case.category), case)
        log.info("message %d opened case %s (%s, %s)", msg.id, case.tracking, hood.code, case.category)

    def _on_missingdescription(self, turn: _Turn, intent: MissingDescription) -> None:
        msg, t = turn.msg, self.rules.templates
        waiting = self._open_pending(msg.phone, turn.now)
        if not waiting:
            msg.intent = "missing_description"
            self._reply(turn, t.render("missing_description", code=intent.code))
            return
        # The second step: the neighbourhood of what this phone sent before.
        hood = turn.hoods[intent.code]
        if self._over_case_limit(turn):
            msg.intent = "neighborhood"
            for pending in waiting:  # they stay for staff, each with the reason
                self._close_pending(pending, "held", turn.now, None)
                (InboundMessage.update(triage="case_limit")
                 .where(InboundMessage.id == pending.message_id).execute())
            return
        description = " ".join(p.description for p in waiting)
        first = waiting[0]
        case = self.open_case(first.message, hood, description, turn.now)
        for pending in waiting:
            self._close_pending(pending, "completed", turn.now, case)
        msg.intent, msg.case = "neighborhood", case
        self._reply(turn, t.render("report_received", tracking=case.tracking, barrio=hood.name,
                                   category=case.category), case)
        log.info("message %d gave the neighbourhood %s of %d waiting message(s): case %s", msg.id, hood.code,
                 len(waiting), case.tracking)

    def _on_ambiguous(self, turn: _Turn, intent: Ambiguous) -> None:
        msg = turn.msg
        msg.intent = "ambiguous"
        candidates = ",".join(intent.codes)
        waiting = self._open_pending(msg.phone, turn.now)
        if intent.description or not waiting:
            self._wait_for_neighborhood(turn, intent.description or msg.text, candidates, "ambiguous")
        else:
            for pending in waiting:  # the answer to "which neighbourhood?" was itself ambiguous
                pending.candidates = candidates
                pending.save(only=[PendingReport.candidates])
        options = ", ".join(f"{code} {turn.hoods[code].name}" for code in intent.codes)
        self._reply(turn, self.rules.templates.render("ambiguous", options=options))

    def _on_unknowncode(self, turn: _Turn, intent: UnknownCode) -> None:
        turn.msg.intent = "unroutable"
        if intent.description:
            self._wait_for_neighborhood(turn, intent.description, "", "unknown_code")
        # A code alone leaves nothing to complete: the resident sends code and problem again.
        self._reply(turn, self.rules.templates.render("unknown_code", code=intent.code))

    def _on_courtesy(self, turn: _Turn, intent: Courtesy) -> None:
        turn.msg.intent = "courtesy"  # "gracias": stored, not answered (that would invite another)

    def _on_unroutable(self, turn: _Turn, intent: Unroutable) -> None:
        turn.msg.intent = "unroutable"
        self._wait_for_neighborhood(turn, turn.msg.text, "", "no_neighborhood")
        self._reply(turn, self.rules.templates.render("unroutable"))

    def _on_statusquery(self, turn: _Turn, intent: StatusQuery) -> None:
        t = self.rules.templates
        case = Case.get_or_none(Case.tracking == intent.tracking)
        if case is None and (rehearsed := PracticeCase.get_or_none(PracticeCase.tracking == intent.tracking)):
            # Asked without PRUEBA, as a resident will ask for a real case: answered the same way.
            turn.msg.intent = "practice_status"
            self._reply(turn, t.render("status", tracking=rehearsed.tracking, status=t.status_label(rehearsed.status)))
            return
        if case is None:
            turn.msg.intent = "unknown_tracking"
            self._reply(turn, t.render("unknown_tracking", tracking=intent.tracking))
            return
        turn.msg.intent = "status"
        if case.merged_into_id is not None:
            keep = surviving(case)
            self._reply(turn, t.render("status_merged", tracking=case.tracking, into=keep.tracking,
                                       status=t.status_label(keep.status)))
        else:
            self._reply(turn, status_text(t, case))

    def _on_invalidtracking(self, turn: _Turn, intent: InvalidTracking) -> None:
        turn.msg.intent = "invalid_tracking"
        self._reply(turn, self.rules.templates.render("invalid_tracking", number=intent.number))

    def _on_help(self, turn: _Turn, intent: Help) -> None:
        turn.msg.intent = "help"
        self._reply(turn, self.rules.templates.render("help"))

    def _on_optout(self, turn: _Turn, intent: OptOut) -> None:
        turn.msg.intent = "optout"
        subscribers.set_opted_out(turn.msg.phone, True, turn.now)
        self._reply(turn, self.rules.templates.render("opted_out"))

    def _on_optin(self, turn: _Turn, intent: OptIn) -> None:
        turn.msg.intent = "optin"
        subscribers.set_opted_out(turn.msg.phone, False, turn.now)
        self._reply(turn, self.rules.templates.render("opted_in"))

    def _on_reopen(self, turn: _Turn, intent: Reopen) -> None:
        msg, t = turn.msg, self.rules.templates
        msg.intent = "reopen"
        if intent.tracking is None:
            self._reply(turn, t.render("invalid_tracking", number=intent.number) if intent.number else t.render("help"))
            return
        found = Case.get_or_none(Case.tracking == intent.tracking)
        if found is None:
            self._reply(turn, t.render("unknown_tracking", tracking=intent.tracking))
            return
        case = surviving(found)
        days = self.rules.service.reopen_days
        verdict = reopen_by_resident(case, msg.phone, msg.text, days=days, now=turn.now)
        if verdict == "reopened":
            msg.case = case
            self._reply(turn, t.render("reopened", tracking=case.tracking), case)
        elif verdict == "not_yours":
            self._reply(turn, t.render("reopen_not_yours", tracking=case.tracking))
        elif verdict == "too_late":
            self._reply(turn, t.render("reopen_too_late", tracking=case.tracking, days=f"{days:g}"))
        else:
            self._reply(turn, t.render("reopen_not_resolved", tracking=case.tracking,
                                       status=t.status_label(case.status)))

    # -- reports waiting for their neighbourhood ---------------------------------------------

    def _wait_for_neighborhood(self, turn: _Turn, description: str, candidates: str, why: str) -> None:
        msg = turn.msg
        msg.needs_staff = True  # in `inbox list --unmatched` until the resident or staff complete it
        msg.triage = why
        minutes = self.rules.service.pending_report_minutes
        PendingReport.create(phone=msg.phone, message=msg, description=description, candidates=candidates,
                             created_at=turn.now, expires_at=turn.now + dt.timedelta(minutes=minutes))
        log.info("message %d from %s has no neighbourhood%s; waiting %.0f min for it", msg.id, msg.phone,
                 f" (one of {candidates})" if candidates else "", minutes)

    @staticmethod
    def _open_pending(phone: str, now: dt.datetime) -> list[PendingReport]:
        return list(PendingReport.select(PendingReport, InboundMessage).join(InboundMessage)
                    .where((PendingReport.phone == phone) & (PendingReport.outcome == "")
                           & (PendingReport.expires_at > now))
                    .order_by(PendingReport.created_at, PendingReport.id))

    @staticmethod
    def _close_pending(pending: PendingReport, outcome: str, now: dt.datetime, case: Case | None) -> None:
        pending.outcome, pending.closed_at = outcome, now
        pending.save(only=[PendingReport.outcome, PendingReport.closed_at])
        if case is not None:
            (InboundMessage.update(needs_staff=False, case=case)
             .where(InboundMessage.id == pending.message_id).execute())

    def expire_pending(self, now: dt.datetime | None = None) -> int:
        """Close the waits that ran out: those messages stay for staff (`inbox list --unmatched`)."""
        now = now or utcnow()
        due = (PendingReport.outcome == "") & (PendingReport.expires_at <= now)
        if not PendingReport.select().where(due).exists():
            return 0  # the common case, every few seconds: a read, no write (SD cards wear out)
        with write_tx():
            count = (PendingReport.update(outcome="expired", closed_at=now)
                     .where((PendingReport.outcome == "") & (PendingReport.expires_at <= now)).execute())
        if count:
            log.info("%d report(s) got no neighbourhood in time; they wait for staff in `barriosms inbox list "
                     "--unmatched`", count)
        return count

    # -- cases -------------------------------------------------------------------------------

    def open_case(self, msg: InboundMessage | None, hood: Neighborhood, description: str, now: dt.datetime,
                  *, category: str | None = None, actor: str = "sms", how: str = "reported") -> Case:
        """Open a case for a resident's message (inside the caller's transaction)."""
        tracking = self._unused_tracking()
        # The category from the problem as described (in a two-step report, the first message's
        # text, not the one that only named the neighbourhood).
        case = Case.create(tracking=tracking, neighborhood=hood,
                           category=category or categorize(description, self.rules.categories), text=description,
                           phone=msg.phone if msg is not None else "", status="received", created_at=now,
                           updated_at=now, source_message=msg)
        CaseEvent.create(case=case, at=now, kind="created", new_status="received", actor=actor)
        if msg is not None:
            add_reporter(case, msg.phone, how, msg, now)
        return case

    def _unused_tracking(self) -> str:
        for _ in range(1000):
            tracking = new_tracking(self.rng)
            # Practice cases draw from the same numbers: a practice number never names a real case.
            if (not Case.select().where(Case.tracking == tracking).exists()
                    and not PracticeCase.select().where(PracticeCase.tracking == tracking).exists()):
                return tracking
        raise RuntimeError("no free tracking number found in 1000 tries; the number space is nearly full")


@dataclass
class _Turn:
    """One message being handled: when, whether it may be answered, the neighbourhoods by code."""

    msg: InboundMessage
    now: dt.datetime
    decision: Decision
    hoods: dict[str, Neighborhood]


def _same_report(waiting: str, report: str) -> bool:
    """Whether a complete report repeats the text that was waiting for its neighbourhood."""
    a, b = " ".join(fold(waiting).split()), " ".join(fold(report).split())
    return bool(a) and (a in b or b in a or difflib.SequenceMatcher(None, a, b).ratio() >= 0.6)


def last_public_note(case: Case) -> str:
    event = (CaseEvent.select()
             .where((CaseEvent.case == case) & (CaseEvent.public == True) & (CaseEvent.note != ""))  # noqa: E712
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
