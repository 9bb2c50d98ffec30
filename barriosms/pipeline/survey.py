"""The satisfaction question after a case is resolved: was it really fixed?

When staff resolve a case (`barriosms cases status N resolved`) and ``[service]
satisfaction_survey`` is on, each reporter who can receive SMS and was never asked about that case
gets ``resolved_survey`` ("... ¿Se arreglo de verdad? Responda 1 si, 2 no") instead of the usual
status SMS: one SMS, not two. The question is asked once per case and phone (resolving, reopening
and resolving again does not ask twice) and is a ``CaseQuestion`` of kind "survey" that stays open
``satisfaction_days``.

The resident's answer (:func:`route`, called by the intake before anything else):

* "1", "si", ... → the fix is confirmed: counted by `barriosms stats`, thanked (``survey_thanks``).
* "2", "no", "2 sigue el bache" → a resolved case goes back to "reviewing" with the resident's words
  (``reopened``); a case staff already closed (or moved on) is not reopened, but the "no" is kept
  and flagged the same way (``answer_received``). Either way `cases show` has the words, the case
  counts one unseen reply and a WARNING in the log tells staff.
* No answer is fine: after ``satisfaction_days`` the question expires (counted as unanswered) and
  a "1" or "2" is read as any other message.

Which messages are answers: the first word decides (:func:`domain.answers.survey_answer`). "1" and
"2" always answer an open question; a word ("si", "no") does too, except in a report ("no hay luz en
B12" is a new case) and when a staff question or message to the same phone is newer than the
survey (then the words answer staff). With several open questions, a leading tracking number picks
one ("2408917 2"); without it the resident is asked which case (``which_case``) and nothing is
recorded until they say.

:func:`satisfaction` is what `stats` reports: per category and district, how many were asked and
answered, the share of answers that confirmed the fix and the median time from resolving to "yes".
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

# casework imports this module too (change_status asks the question); both refer to the other as
# a module, attributes read at call time, so either may be imported first.
from barriosms.cases import casework
from barriosms.config import ServiceSettings
from barriosms.domain.answers import Routed, leading_tracking, survey_answer
from barriosms.domain.parsing import Report
from barriosms.domain.replies import Templates
from barriosms.domain.statuses import REOPEN_TARGET
from barriosms.domain.tracking import TRACKING_LENGTH
from barriosms.store.models import Case, CaseEvent, CaseQuestion, InboundMessage, Neighborhood, OutboundMessage, utcnow

log = logging.getLogger(__name__)

__all__ = ["ask_after_resolving", "route", "satisfaction", "Satisfaction", "SurveyCounts"]

# "1" or "2" first: an answer to the survey whatever else the message looks like.
_DIGIT_FIRST = re.compile(r"\s*[12](?!\d)")
# "2408917 2": leading_tracking reads "2408917 2" as one number with a space inside (8 digits, so
# none); a tracking number that stands alone before the answer is taken first.
_TRACKING_FIRST = re.compile(r"\s*#?\s*(\d{%d})(?!\d)[\s,.:;-]*" % TRACKING_LENGTH)


# -- asking --------------------------------------------------------------------------------------

def ask_after_resolving(case: Case, templates: Templates, service: ServiceSettings, *, usual: str, note: str,
                        region: str, now: dt.datetime,
                        actor: str = "") -> tuple[list[OutboundMessage], dict[str, str], list[str]]:
    """Tell the reporters of a case just resolved, asking those never asked whether it is fixed.

    Inside the caller's transaction. `usual` is the status SMS for reporters asked before. Returns
    the SMS queued, the phones skipped (and why) and the phones asked.
    """
    asked_rows = (CaseQuestion.select(CaseQuestion.phone)
                  .where((CaseQuestion.case == case) & (CaseQuestion.kind == "survey")).tuples())
    asked_before = {phone for (phone,) in cast("Iterable[tuple[str]]", asked_rows)}  # types-peewee: tuples() yields models
    label = templates.status_label("resolved")
    question = (templates.render("resolved_survey_note", tracking=case.tracking, status=label, note=note)
                if note else templates.render("resolved_survey", tracking=case.tracking, status=label))
    queued, skipped = casework.notify_reporters(
        case, lambda r: usual if r.phone in asked_before else question, kind="status_update", region=region,
        now=now)
    expires = now + dt.timedelta(days=service.satisfaction_days)
    asked = []
    for sms in queued:
        if sms.recipient not in asked_before:
            CaseQuestion.create(case=case, phone=sms.recipient, kind="survey", text=sms.text, actor=actor,
                                asked_at=now, expires_at=expires, status="open", outbound=sms)
            asked.append(sms.recipient)
    if asked:
        CaseEvent.create(case=case, at=now, kind="survey_asked", public=False, actor=actor,
                         note=f"asked whether it is really fixed (1 yes, 2 no): {', '.join(asked)}")
        log.info("case %s: %d reporter(s) asked whether it is really fixed", case.tracking, len(asked))
    return queued, skipped, asked


# -- the answer ----------------------------------------------------------------------------------

def route(msg: InboundMessage, intent, now: dt.datetime, rules, hoods) -> Routed | None:
    """The resident's answer to an open satisfaction question, or None when the message is not one.

    Runs inside the intake's write transaction. `rules` is the intake's IntakeRules.
    """
    _expire(msg.phone, now)
    waiting = list(CaseQuestion.select(CaseQuestion, Case).join(Case)
                   .where((CaseQuestion.phone == msg.phone) & (CaseQuestion.kind == "survey")
                          & (CaseQuestion.status == "open"))
                   .order_by(CaseQuestion.asked_at, CaseQuestion.id))
    if not waiting:
        return None
    text = msg.text
    alone = _TRACKING_FIRST.match(text)
    lead = (alone.group(1), text[alone.end():].strip()) if alone else leading_tracking(text)
    if lead is not None:
        tracking, text = lead
        waiting = [q for q in waiting if tracking in (q.case.tracking, casework.surviving(q.case).tracking)]
        if not waiting:
            return None  # about another case: not this question's answer
    answer = survey_answer(text)
    if answer is None:
        return None
    if not _DIGIT_FIRST.match(text) and (isinstance(intent, Report) or _staff_spoke_last(msg.phone, waiting, now)):
        return None
    t = rules.templates
    if len(waiting) > 1:
        numbers = ", ".join(q.case.tracking for q in waiting)
        return Routed("which_case", reply=t.render("which_case", options=numbers), case=None)
    question = waiting[0]
    words = " ".join(text.split())
    question.status, question.answered_at, question.answer, question.answer_message = "answered", now, answer, msg
    question.save(only=[CaseQuestion.status, CaseQuestion.answered_at, CaseQuestion.answer,
                        CaseQuestion.answer_message])
    case = casework.surviving(question.case)
    if answer == "yes":
        CaseEvent.create(case=case, at=now, kind="survey", note=f"confirmado: {words}", public=False,
                         actor=msg.phone)
        log.info("case %s: %s confirms it is fixed", case.tracking, msg.phone)
        return Routed("survey_yes", reply=t.render("survey_thanks", tracking=case.tracking), case=case)
    return _not_fixed(case, msg.phone, words, now, t)


def _not_fixed(case: Case, phone: str, words: str, now: dt.datetime, t: Templates) -> Routed:
    """A "no": a resolved case is reopened; any other is left as staff put it, but flagged."""
    Case.update(unseen_replies=Case.unseen_replies + 1).where(Case.id == case.id).execute()
    if case.status == "resolved":
        casework.reopen(case, phone, words, now)  # as REABRIR does
        log.warning("case %s reopened: the resident %s says it is not fixed: '%s'; see barriosms cases show %s",
                    case.tracking, phone, words, case.tracking)
        return Routed("survey_no", reply=t.render("reopened", tracking=case.tracking), case=case)
    CaseEvent.create(case=case, at=now, kind="survey", note=words, public=False, actor=phone)
    log.warning("case %s is %s, not reopened, but the resident %s says it is not fixed: '%s'; see barriosms "
                "cases show %s (reopen it with barriosms cases status %s %s)", case.tracking, case.status, phone,
                words, case.tracking, case.tracking, REOPEN_TARGET)
    return Routed("survey_no", reply=t.render("answer_received", tracking=case.tracking), case=case)


def _expire(phone: str, now: dt.datetime) -> None:
    """Close this phone's questions whose time ran out (lazily: when the phone writes again)."""
    (CaseQuestion.update(status="expired")
     .where((CaseQuestion.phone == phone) & (CaseQuestion.kind == "survey") & (CaseQuestion.status == "open")
            & (CaseQuestion.expires_at <= now))
     .execute())


def _staff_spoke_last(phone: str, waiting: list[CaseQuestion], now: dt.datetime) -> bool:
    """Whether a staff question or message to this phone, still open, is newer than its surveys."""
    newest = max(q.asked_at for q in waiting)
    return (CaseQuestion.select()
            .where((CaseQuestion.phone == phone) & (CaseQuestion.kind != "survey")
                   & (CaseQuestion.status == "open") & (CaseQuestion.expires_at > now)
                   & (CaseQuestion.asked_at > newest))
            .exists())


# -- statistics ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SurveyCounts:
    """Satisfaction questions of one group: asked, how they were answered and how fast "yes" came."""

    asked: int = 0
    answered: int = 0
    yes: int = 0
    no: int = 0
    waiting: int = 0  # still open
    expired: int = 0  # no answer in time
    median_seconds_to_yes: float | None = None  # from the question (the case resolved) to the "yes"

    @property
    def confirmed_share(self) -> float | None:
        """Share of answers that confirmed the fix (yes / answered); None without answers."""
        return self.yes / self.answered if self.answered else None


@dataclass(frozen=True)
class Satisfaction:
    overall: SurveyCounts
    by_category: dict[str, SurveyCounts]  # most asked first; only categories with questions
    by_district: dict[str, SurveyCounts]


class _Tally:
    def __init__(self) -> None:
        self.counts = dict.fromkeys(("asked", "answered", "yes", "no", "waiting", "expired"), 0)
        self.to_yes: list[float] = []

    def add(self, state: str, answer: str, seconds: float | None) -> None:
        self.counts["asked"] += 1
        self.counts[state] += 1
        if state == "answered":
            self.counts[answer] += 1
            if answer == "yes" and seconds is not None:
                self.to_yes.append(seconds)

    def result(self) -> SurveyCounts:
        return SurveyCounts(**self.counts, median_seconds_to_yes=statistics.median(self.to_yes) if self.to_yes else None)


def satisfaction(since: dt.datetime | None = None, now: dt.datetime | None = None) -> Satisfaction:
    """The satisfaction questions of cases opened since `since` (naive UTC), by category and district.

    A question past its time counts as expired even before the phone writes again (`now`: the
    moment to judge that, default the current time). Each question counts once, also on a
    duplicate merged later: it is one resident's answer.
    """
    now = now or utcnow()
    q = (CaseQuestion.select(CaseQuestion.status, CaseQuestion.answer, CaseQuestion.asked_at,
                             CaseQuestion.answered_at, CaseQuestion.expires_at, Case.category, Neighborhood.district)
         .join(Case).join(Neighborhood)
         .where(CaseQuestion.kind == "survey"))
    if since is not None:
        q = q.where(Case.created_at >= since)
    overall = _Tally()
    by_category: dict[str, _Tally] = {}
    by_district: dict[str, _Tally] = {}
    rows = cast("Iterable[tuple[Any, ...]]", q.tuples())  # types-peewee: tuples() yields models
    for status, answer, asked_at, answered_at, expires_at, category, district in rows:
        if status == "open" and expires_at <= now:
            status = "expired"
        state = {"open": "waiting"}.get(status, status)
        if state not in ("answered", "waiting", "expired") or (state == "answered" and answer not in ("yes", "no")):
            continue  # a row edited by hand: not counted rather than miscounted
        seconds = max(0.0, (answered_at - asked_at).total_seconds()) if answered_at is not None else None
        for tally in (overall, by_category.setdefault(category, _Tally()), by_district.setdefault(district, _Tally())):
            tally.add(state, answer, seconds)

    def most_asked(groups: dict[str, _Tally]) -> dict[str, SurveyCounts]:
        return {k: t.result() for k, t in sorted(groups.items(), key=lambda kv: (-kv[1].counts["asked"], kv[0]))}

    return Satisfaction(overall=overall.result(), by_category=most_asked(by_category),
                        by_district=most_asked(by_district))
