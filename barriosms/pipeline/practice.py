"""Practice mode for workshops: "PRUEBA B12 hay un bache" is answered exactly like a real report.

Trainers teach residents to report by SMS with their own phones. A practice message starts with the
practice keyword (``[keywords] practice`` of the replies file, ``prueba`` by default); the rest is
read as any message is, and the resident gets the reply a real one would get: the same tracking
number format (7 digits with a check digit), which a status query (with or without PRUEBA) then
answers; the same help when something is missing.

It is the intake's own pipeline (one reading, one dispatch over intents) with a different sink:
:class:`PracticeSink` writes what a real message would do to cases to the practice tables instead.
What practice leaves is kept apart: a report opens a :class:`PracticeCase`, never a ``case`` row, so
case lists, exports, maps, statistics, the website and Open311 cannot see it; every practice message
is logged as a :class:`PracticeMessage` with what it was (``outcome``) and whether it was well formed,
which ``barriosms workshop report`` counts per phone so trainers see who needs help; and
:func:`purge` deletes all of it after ``[service] practice_days``.

Choices:

- Nothing real changes in practice: there are no two-step reports (a practice report without its
  neighbourhood gets the usual "falta el barrio" reply, but the answer does not complete it),
  ``PRUEBA BAJA`` / ``PRUEBA ALTA`` get the usual reply without changing the phone's notices, and
  ``PRUEBA REABRIR <numero>`` never reopens a real case (a practice case is never resolved, so it is
  answered "esta recibido"; any other number "no encontramos").
- ``PRUEBA <numero>`` of a real case is answered as a plain status query would be: that answer is
  what anyone who has the number gets by SMS anyway.
- The reply budget of a phone does not silence practice (a workshop has one phone send several
  messages in an hour); a phone silenced as a machine (loops, mutes) stays silent.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from peewee import JOIN

from barriosms.cases import outbox
from barriosms.cases.opening import unused_tracking
from barriosms.domain.categories import fold
from barriosms.domain.guard import Decision
from barriosms.domain.learning import decide
from barriosms.domain.parsing import Intent
from barriosms.pipeline import replygate
from barriosms.pipeline.sink import Turn
from barriosms.store.models import (
    Case,
    CaseQuestion,
    CaseReporter,
    InboundMessage,
    OutboundMessage,
    PendingReport,
    PracticeCase,
    PracticeMessage,
    SmsPart,
    write_tx,
)
from barriosms.templates.rules import IntakeRules

log = logging.getLogger(__name__)

# The intents of practice messages in `inbound_message`: "practice" for PRUEBA ..., "practice_status"
# for a practice case's bare number (set by intake). Not staff's inbox; purged with the rest.
PRACTICE_INTENTS = ("practice", "practice_status")
# Outcomes that mean the trainee wrote what a resident should write.
WELL_FORMED = frozenset({"report", "status", "optout", "optin", "reopen"})
# Per-phone reply budgets do not apply to practice (a workshop has one phone send several messages).
BUDGET_REASONS = frozenset({"phone_hour_budget", "phone_day_budget"})

# The keyword as the first word: "PRUEBA B12 ...", "Prueba: B12 ...", "prueba, 2408917", "*PRUEBA*".
_FIRST_WORD = re.compile(r"[\W_]*([^\W\d_]+)(?![^\W_])")
_AFTER_KEYWORD = " \t\r\n:.,;-*!¡"


def practice_text(text: str, keywords: Iterable[str]) -> str | None:
    """The text after the practice keyword when ``text`` starts with one (``keywords`` folded), else None.

    "" when the keyword came alone. Punctuation around the keyword is forgiven ("PRUEBA:", "prueba,").
    """
    m = _FIRST_WORD.match(text)
    if m is None or fold(m.group(1)) not in set(keywords):
        return None
    return text[m.end():].lstrip(_AFTER_KEYWORD).strip()


class PracticeSink:
    """Practice messages: replies as for real ones, a practice case for a report, a PracticeMessage
    logged for the workshop report; no real case, pending report or opt-out is touched."""

    converses = False  # PRUEBA ... never answers a staff question or a survey

    def __init__(self, rules: IntakeRules, rng: random.Random):
        self.rules = rules
        self.rng = rng
        self.over_budget = False

    def decide(self, msg: InboundMessage, now: dt.datetime, intent: Intent) -> Decision:
        decision = replygate.decide(msg, now, self.rules.service, repeat_check=False)
        self.over_budget = decision.reason in BUDGET_REASONS
        return Decision(True, "", False) if self.over_budget else decision

    def reply(self, turn: Turn, text: str, case: Case | None = None) -> None:
        if turn.decision.answer and text:
            # Its own kind: practice replies do not use up the phone's reply budget for real reports.
            outbox.queue(turn.msg.phone, text, kind="practice_reply", in_reply_to=turn.msg, now=turn.now,
                         urgent=True, modem=turn.msg.modem)

    def report(self, turn: Turn, code: str, description: str) -> None:
        turn.said("report")
        if not turn.decision.answer:
            return  # as for a real report: nothing is opened for a silenced phone
        hood = turn.hoods[code]
        case = PracticeCase.create(tracking=unused_tracking(self.rng), phone=turn.msg.phone, neighborhood=hood,
                                   category=decide(description, self.rules.categories, self.rules.learned),
                                   text=description,
                                   status="received", created_at=turn.now)
        turn.practice_case = case
        self.reply(turn, self.rules.templates.render("practice_received", tracking=case.tracking, barrio=hood.name,
                                                     category=case.category))

    def complete_waiting(self, turn: Turn, code: str) -> bool:
        return False  # no two-step reports in practice: nothing is ever waiting

    def hold_for_neighborhood(self, turn: Turn, description: str, candidates: str, why: str, *,
                              or_narrow: bool = False) -> None:
        pass  # the usual reply only; the next message does not complete it

    def set_opted_out(self, turn: Turn, opted_out: bool) -> None:
        pass  # the usual reply only; the phone's notices are left as they are

    def reopen(self, turn: Turn, tracking: str) -> None:
        t = self.rules.templates
        rehearsed = PracticeCase.get_or_none(PracticeCase.tracking == tracking)
        if rehearsed is None:
            # Practice never reopens a real case.
            turn.said("reopen", "unknown_tracking")
            self.reply(turn, t.render("unknown_tracking", tracking=tracking))
            return
        turn.said("reopen")
        turn.practice_case = rehearsed
        self.reply(turn, t.render("reopen_not_resolved", tracking=rehearsed.tracking,
                                  status=t.status_label(rehearsed.status)))

    def finish(self, turn: Turn) -> None:
        msg, decision, case = turn.msg, turn.decision, turn.practice_case
        if not decision.answer:
            msg.unanswered = decision.reason
        PracticeMessage.create(phone=msg.phone, text=msg.text, received_at=turn.now, outcome=turn.outcome,
                               well_formed=turn.outcome in WELL_FORMED, practice_case=case, message=msg)
        msg.intent, msg.needs_staff = "practice", False
        msg.save()
        log.info("message %d from %s is practice: %s%s%s", msg.id, msg.phone, turn.outcome,
                 f" (practice case {case.tracking})" if case is not None else "",
                 f", not answered ({decision.reason})" if not decision.answer
                 else ", answered although over the phone's reply budget (practice)" if self.over_budget else "")


# -- purging -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    """What one purge deleted: practice SMS, practice cases, and replies whose text was blanked."""

    messages: int
    cases: int
    replies: int


def purge(now: dt.datetime, days: float) -> int:
    """Delete practice messages and cases older than ``days`` (``now`` naive UTC); how many messages."""
    return purge_counts(now, days).messages


def purge_counts(now: dt.datetime, days: float) -> Purged:
    """Delete practice messages and cases older than ``days``, in one transaction.

    The practice SMS themselves (``inbound_message`` rows, and their parts) go too. Replies to them
    that were sent (or failed) stay as rows, without text or link, because the SMS budgets count
    them; replies still queued are dropped.
    """
    before = now - dt.timedelta(days=days)
    with write_tx():
        inbound = [i for (i,) in cast("Iterable[tuple[int]]", InboundMessage.select(InboundMessage.id)
                   .where(InboundMessage.intent.in_(PRACTICE_INTENTS) & (InboundMessage.received_at < before)
                          & InboundMessage.case.is_null()
                          & InboundMessage.id.not_in(_referenced_messages()))
                   .tuples())]  # types-peewee: tuples() yields models
        bare = len(set(inbound) & {i for (i,) in _bare_status().tuples()})
        old_cases = PracticeCase.select(PracticeCase.id).where(PracticeCase.created_at < before)
        # Newer practice messages may still name an old practice case: they keep their own row.
        PracticeMessage.update(practice_case=None).where(PracticeMessage.practice_case.in_(old_cases)).execute()
        logged = PracticeMessage.delete().where(PracticeMessage.received_at < before).execute()
        replies = 0
        for chunk in _chunks(inbound):
            answers = OutboundMessage.in_reply_to.in_(chunk)
            # Not sent yet: a purged practice needs no answer any more.
            OutboundMessage.delete().where(answers & (OutboundMessage.status == "queued")).execute()
            replies += (OutboundMessage.update(text="")
                        .where(answers & (OutboundMessage.status != "sending")).execute())
            OutboundMessage.update(in_reply_to=None).where(answers).execute()
            PracticeMessage.update(message=None).where(PracticeMessage.message.in_(chunk)).execute()
            SmsPart.delete().where(SmsPart.message.in_(chunk)).execute()
            InboundMessage.delete().where(InboundMessage.id.in_(chunk)).execute()
        cases = PracticeCase.delete().where(PracticeCase.created_at < before).execute()
    if logged or bare or cases:
        log.debug("purged %d practice message(s) (%d SMS), %d practice case(s), %d reply text(s) older than %g days",
                  logged + bare, len(inbound), cases, replies, days)
    return Purged(messages=logged + bare, cases=cases, replies=replies)


def _referenced_messages():
    """Messages something real points at (never a practice message, but a purge must not fail on one)."""
    return (CaseReporter.select(CaseReporter.message).where(CaseReporter.message.is_null(False))
            | PendingReport.select(PendingReport.message)
            | Case.select(Case.source_message).where(Case.source_message.is_null(False))
            | CaseQuestion.select(CaseQuestion.answer_message).where(CaseQuestion.answer_message.is_null(False)))


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


# -- the workshop report -----------------------------------------------------------------------


@dataclass
class PhoneRow:
    """One phone's practice: how many messages, how many well formed, what went wrong and how often."""

    phone: str
    messages: int = 0
    well_formed: int = 0
    not_well_formed: int = 0
    problems: dict[str, int] = field(default_factory=dict)  # outcome -> count, for the not well formed
    unanswered: int = 0  # silenced as a machine (sent too fast, same text again and again)
    first_at: dt.datetime | None = None
    last_at: dt.datetime | None = None

    def add(self, outcome: str, well_formed: bool, at: dt.datetime, unanswered: bool) -> None:
        self.messages += 1
        if well_formed:
            self.well_formed += 1
        else:
            self.not_well_formed += 1
            self.problems[outcome] = self.problems.get(outcome, 0) + 1
        self.unanswered += unanswered
        self.first_at = at if self.first_at is None else min(self.first_at, at)
        self.last_at = at if self.last_at is None else max(self.last_at, at)


def workshop_report(since: dt.datetime | None = None) -> list[PhoneRow]:
    """Practice per phone (since ``since``, naive UTC): those with most badly formed messages first."""
    rows: dict[str, PhoneRow] = {}
    logged = (PracticeMessage.select(PracticeMessage.phone, PracticeMessage.outcome, PracticeMessage.well_formed,
                                     PracticeMessage.received_at, InboundMessage.unanswered)
              .join(InboundMessage, JOIN.LEFT_OUTER, on=(PracticeMessage.message == InboundMessage.id)))
    if since is not None:
        logged = logged.where(PracticeMessage.received_at >= since)
    ordered = cast("Iterable[tuple[Any, ...]]", logged.order_by(PracticeMessage.received_at).tuples())  # types-peewee
    for phone, outcome, well_formed, at, why in ordered:
        rows.setdefault(phone, PhoneRow(phone)).add(outcome, bool(well_formed), at, bool(why))
    # A practice case's number sent alone is answered by intake (intent practice_status), with no
    # PracticeMessage: a well-formed status query all the same.
    bare = _bare_status().select(InboundMessage.phone, InboundMessage.received_at, InboundMessage.unanswered)
    if since is not None:
        bare = bare.where(InboundMessage.received_at >= since)
    for phone, at, why in bare.tuples():
        rows.setdefault(phone, PhoneRow(phone)).add("status", True, at, bool(why))
    return sorted(rows.values(), key=lambda r: (-r.not_well_formed, r.phone))


def _bare_status():
    """Messages that asked a practice case's status by its number alone (no PracticeMessage row)."""
    return (InboundMessage.select(InboundMessage.id)
            .join(PracticeMessage, JOIN.LEFT_OUTER, on=(PracticeMessage.message == InboundMessage.id))
            .where((InboundMessage.intent == "practice_status") & PracticeMessage.id.is_null()))
