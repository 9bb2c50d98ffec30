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

from barriosms.cases.filing import answer_seconds
from barriosms.cases.lookup import surviving
from barriosms.cases.reopening import reopen

# Asking and counting live with the cases (casework asks when staff resolve, reports count): the
# dependency runs one way, survey -> cases. They stay names of this module, the feature's home.
from barriosms.cases.satisfaction import Satisfaction, SurveyCounts, ask_after_resolving, satisfaction
from barriosms.domain.answers import Routed, leading_tracking, survey_answer
from barriosms.domain.parsing import Report
from barriosms.domain.replies import Templates
from barriosms.domain.statuses import REOPEN_TARGET
from barriosms.domain.tracking import LONGEST, TRACKING_LENGTH
from barriosms.store.models import Case, CaseEvent, CaseQuestion, InboundMessage

log = logging.getLogger(__name__)

__all__ = ["ask_after_resolving", "route", "satisfaction", "Satisfaction", "SurveyCounts"]

# "1" or "2" first: an answer to the survey whatever else the message looks like.
_DIGIT_FIRST = re.compile(r"\s*[12](?!\d)")
# "2408917 2": leading_tracking reads "2408917 2" as one number with a space inside (8 digits, so
# none); a tracking number that stands alone before the answer is taken first.
_TRACKING_FIRST = re.compile(r"\s*#?\s*(\d{%d,%d})(?!\d)[\s,.:;-]*" % (TRACKING_LENGTH, LONGEST))


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
        waiting = [q for q in waiting if tracking in (q.case.tracking, surviving(q.case).tracking)]
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
    question.answer_seconds = answer_seconds(question.asked_at, now)
    question.save(only=[CaseQuestion.status, CaseQuestion.answered_at, CaseQuestion.answer,
                        CaseQuestion.answer_message, CaseQuestion.answer_seconds])
    case = surviving(question.case)
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
        reopen(case, phone, words, now)  # as REABRIR does
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
