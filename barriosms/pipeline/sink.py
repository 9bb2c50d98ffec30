"""Where the intake's answers land: the Turn being handled, the Sink protocol, and CaseSink (real cases).

The intake reads a message and decides what it asks for, once, for real and practice messages
alike; what that does to the database is the sink's: CaseSink opens cases, keeps reports waiting
for their neighbourhood and reopens; practice.PracticeSink writes the practice tables instead.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import random
from dataclasses import dataclass
from typing import Protocol

from barriosms.cases import outbox, subscribers
from barriosms.cases.lookup import surviving
from barriosms.cases.opening import open_case
from barriosms.cases.reopening import reopen_by_resident
from barriosms.domain.categories import fold
from barriosms.domain.guard import Decision
from barriosms.domain.parsing import Intent, StatusQuery
from barriosms.pipeline import replygate
from barriosms.store.models import Case, InboundMessage, Neighborhood, PendingReport, PracticeCase
from barriosms.templates.rules import IntakeRules

log = logging.getLogger(__name__)


@dataclass
class Turn:
    """One message being handled: when, whether it may be answered, the neighbourhoods by code, and
    what it turned out to be."""

    msg: InboundMessage
    now: dt.datetime
    decision: Decision
    hoods: dict[str, Neighborhood]
    text: str  # the text read for its intent (in practice: what follows the keyword)
    intent: str = ""  # what it was, as inbound_message.intent records it
    outcome: str = ""  # the same, told apart more finely where a workshop's report needs it
    practice_case: PracticeCase | None = None  # the practice case it opened or named

    def said(self, intent: str, outcome: str | None = None) -> None:
        self.intent = intent
        self.outcome = intent if outcome is None else outcome


class Sink(Protocol):
    """What acting on a message does to the database, besides the message row."""

    # Whether staff questions and satisfaction surveys may take the message as their answer.
    converses: bool

    def decide(self, msg: InboundMessage, now: dt.datetime, intent: Intent) -> Decision:
        """May the message be answered (see replygate)."""
        ...

    def reply(self, turn: Turn, text: str, case: Case | None = None) -> None:
        """Queue the answer, when the turn may be answered."""
        ...

    def report(self, turn: Turn, code: str, description: str) -> None:
        """A complete report: open a case in the neighbourhood `code` and answer with its number."""
        ...

    def complete_waiting(self, turn: Turn, code: str) -> bool:
        """A neighbourhood alone: complete what this phone left waiting for one; False if nothing was."""
        ...

    def hold_for_neighborhood(self, turn: Turn, description: str, candidates: str, why: str, *,
                              or_narrow: bool = False) -> None:
        """Keep a report without its neighbourhood for the resident (or staff) to complete.

        `or_narrow`: when the phone already has reports waiting, this is the answer to "which
        neighbourhood?": narrow their `candidates` instead of keeping another one.
        """
        ...

    def set_opted_out(self, turn: Turn, opted_out: bool) -> None:
        """BAJA / ALTA: whether the phone gets notices about its cases."""
        ...

    def reopen(self, turn: Turn, tracking: str) -> None:
        """REABRIR with a valid tracking number: reopen it when allowed, and answer."""
        ...

    def finish(self, turn: Turn) -> None:
        """Record what the message was (the turn is done)."""
        ...


class CaseSink:
    """The real thing: cases, reports waiting for their neighbourhood, opt-outs, reopening."""

    converses = True

    def __init__(self, rules: IntakeRules, rng: random.Random):
        self.rules = rules
        self.rng = rng

    def decide(self, msg: InboundMessage, now: dt.datetime, intent: Intent) -> Decision:
        # A resident asking again and again how their case goes is no machine repeating itself.
        return replygate.decide(msg, now, self.rules.service, repeat_check=not isinstance(intent, StatusQuery))

    def reply(self, turn: Turn, text: str, case: Case | None = None) -> None:
        if not turn.decision.answer:
            turn.msg.unanswered = turn.decision.reason
            return
        outbox.queue(turn.msg.phone, text, kind="reply", case=case, in_reply_to=turn.msg, now=turn.now,
                     modem=turn.msg.modem)

    def finish(self, turn: Turn) -> None:
        turn.msg.intent = turn.intent
        turn.msg.save()

    def report(self, turn: Turn, code: str, description: str) -> None:
        msg = turn.msg
        hood = turn.hoods[code]
        turn.said("report")
        if self._over_case_limit(turn):
            return
        case = self._open(msg, hood, description, turn.now)
        msg.case = case
        # A complete report supersedes what the same phone left waiting for its neighbourhood, when
        # it is the same text sent again with the code; a different problem keeps waiting.
        for pending in open_pending(msg.phone, turn.now):
            if same_report(pending.description, case.text):
                close_pending(pending, "superseded", turn.now, case)
        self.reply(turn, self.rules.templates.render("report_received", tracking=case.tracking, barrio=hood.name,
                                                     category=case.category), case)
        log.info("message %d opened case %s (%s, %s)", msg.id, case.tracking, hood.code, case.category)

    def complete_waiting(self, turn: Turn, code: str) -> bool:
        msg = turn.msg
        waiting = open_pending(msg.phone, turn.now)
        if not waiting:
            return False
        # The second step: the neighbourhood of what this phone sent before.
        hood = turn.hoods[code]
        turn.said("neighborhood")
        if self._over_case_limit(turn):
            for pending in waiting:  # they stay for staff, each with the reason
                close_pending(pending, "held", turn.now, None)
                (InboundMessage.update(triage="case_limit")
                 .where(InboundMessage.id == pending.message_id).execute())
            return True
        description = " ".join(p.description for p in waiting)
        case = self._open(waiting[0].message, hood, description, turn.now)
        for pending in waiting:
            close_pending(pending, "completed", turn.now, case)
        msg.case = case
        self.reply(turn, self.rules.templates.render("report_received", tracking=case.tracking, barrio=hood.name,
                                                     category=case.category), case)
        log.info("message %d gave the neighbourhood %s of %d waiting message(s): case %s", msg.id, hood.code,
                 len(waiting), case.tracking)
        return True

    def hold_for_neighborhood(self, turn: Turn, description: str, candidates: str, why: str, *,
                              or_narrow: bool = False) -> None:
        msg = turn.msg
        if or_narrow and (waiting := open_pending(msg.phone, turn.now)):
            for pending in waiting:  # the answer to "which neighbourhood?" was itself ambiguous
                pending.candidates = candidates
                pending.save(only=[PendingReport.candidates])
            return
        msg.needs_staff = True  # in `inbox list --unmatched` until the resident or staff complete it
        msg.triage = why
        minutes = self.rules.service.pending_report_minutes
        PendingReport.create(phone=msg.phone, message=msg, description=description, candidates=candidates,
                             created_at=turn.now, expires_at=turn.now + dt.timedelta(minutes=minutes))
        log.info("message %d from %s has no neighbourhood%s; waiting %.0f min for it", msg.id, msg.phone,
                 f" (one of {candidates})" if candidates else "", minutes)

    def set_opted_out(self, turn: Turn, opted_out: bool) -> None:
        subscribers.set_opted_out(turn.msg.phone, opted_out, turn.now)

    def reopen(self, turn: Turn, tracking: str) -> None:
        msg, t = turn.msg, self.rules.templates
        turn.said("reopen")
        found = Case.get_or_none(Case.tracking == tracking)
        if found is None:
            self.reply(turn, t.render("unknown_tracking", tracking=tracking))
            return
        case = surviving(found)
        days = self.rules.service.reopen_days
        verdict = reopen_by_resident(case, msg.phone, msg.text, days=days, now=turn.now)
        if verdict == "reopened":
            msg.case = case
            self.reply(turn, t.render("reopened", tracking=case.tracking), case)
        elif verdict == "not_yours":
            self.reply(turn, t.render("reopen_not_yours", tracking=case.tracking))
        elif verdict == "too_late":
            self.reply(turn, t.render("reopen_too_late", tracking=case.tracking, days=f"{days:g}"))
        else:
            self.reply(turn, t.render("reopen_not_resolved", tracking=case.tracking,
                                      status=t.status_label(case.status)))

    def _open(self, msg: InboundMessage, hood: Neighborhood, description: str, now: dt.datetime) -> Case:
        return open_case(msg, hood, description, now, categories=self.rules.categories, rng=self.rng,
                         learned=self.rules.learned)

    def _over_case_limit(self, turn: Turn) -> bool:
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
        self.reply(turn, self.rules.templates.render("report_held"))
        return True


# -- reports waiting for their neighbourhood -----------------------------------------------------


def open_pending(phone: str, now: dt.datetime) -> list[PendingReport]:
    """What this phone left waiting for its neighbourhood, still in time, oldest first."""
    return list(PendingReport.select(PendingReport, InboundMessage).join(InboundMessage)
                .where((PendingReport.phone == phone) & (PendingReport.outcome == "")
                       & (PendingReport.expires_at > now))
                .order_by(PendingReport.created_at, PendingReport.id))


def close_pending(pending: PendingReport, outcome: str, now: dt.datetime, case: Case | None) -> None:
    pending.outcome, pending.closed_at = outcome, now
    pending.save(only=[PendingReport.outcome, PendingReport.closed_at])
    if case is not None:
        (InboundMessage.update(needs_staff=False, case=case)
         .where(InboundMessage.id == pending.message_id).execute())


def same_report(waiting: str, report: str) -> bool:
    """Whether a complete report repeats the text that was waiting for its neighbourhood."""
    a, b = " ".join(fold(waiting).split()), " ".join(fold(report).split())
    return bool(a) and (a in b or b in a or difflib.SequenceMatcher(None, a, b).ratio() >= 0.6)
