"""The satisfaction question on the case side: asking the reporters of a resolved case, and counting the answers."""

from __future__ import annotations

import datetime as dt
import logging
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from peewee import fn

from barriosms.cases.filing import filed_under
from barriosms.store.models import Case, CaseEvent, CaseQuestion, OutboundMessage, utcnow

if TYPE_CHECKING:
    from barriosms.config import ServiceSettings
    from barriosms.domain.replies import Templates

log = logging.getLogger(__name__)


# -- asking --------------------------------------------------------------------------------------

def ask_after_resolving(case: Case, templates: Templates, service: ServiceSettings, *, usual: str, note: str,
                        region: str, now: dt.datetime,
                        actor: str = "") -> tuple[list[OutboundMessage], dict[str, str], list[str]]:
    """Tell the reporters of a case just resolved, asking those never asked whether it is fixed.

    Inside the caller's transaction. `usual` is the status SMS for reporters asked before. Returns
    the SMS queued, the phones skipped (and why) and the phones asked.
    """
    # Imported here: `stats` reads the counts below, and the outbox and its guard behind
    # notify_reporters would be a third of its start-up.
    from barriosms.cases.reporters import notify_reporters

    asked_rows = (CaseQuestion.select(CaseQuestion.phone)
                  .where((CaseQuestion.case == case) & (CaseQuestion.kind == "survey")).tuples())
    asked_before = {phone for (phone,) in cast("Iterable[tuple[str]]", asked_rows)}  # types-peewee: tuples() yields models
    label = templates.status_label("resolved")
    question = (templates.render("resolved_survey_note", tracking=case.tracking, status=label, note=note)
                if note else templates.render("resolved_survey", tracking=case.tracking, status=label))
    queued, skipped = notify_reporters(
        case, lambda r: usual if r.phone in asked_before else question, kind="status_update", region=region,
        now=now)
    expires = now + dt.timedelta(days=service.satisfaction_days)
    asked = []
    for sms in queued:
        if sms.recipient not in asked_before:
            CaseQuestion.create(case=case, phone=sms.recipient, kind="survey", text=sms.text, actor=actor,
                                asked_at=now, expires_at=expires, status="open", outbound=sms, **filed_under(case))
            asked.append(sms.recipient)
    if asked:
        CaseEvent.create(case=case, at=now, kind="survey_asked", public=False, actor=actor,
                         note=f"asked whether it is really fixed (1 yes, 2 no): {', '.join(asked)}")
        log.info("case %s: %d reporter(s) asked whether it is really fixed", case.tracking, len(asked))
    return queued, skipped, asked


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

    def add(self, state: str, answer: str, count: int) -> None:
        self.counts["asked"] += count
        self.counts[state] += count
        if state == "answered":
            self.counts[answer] += count

    def result(self) -> SurveyCounts:
        return SurveyCounts(**self.counts, median_seconds_to_yes=statistics.median(self.to_yes) if self.to_yes else None)


def satisfaction(since: dt.datetime | None = None, now: dt.datetime | None = None) -> Satisfaction:
    """The satisfaction questions of cases opened since `since` (naive UTC), by category and district.

    A question past its time counts as expired even before the phone writes again (`now`: the
    moment to judge that, default the current time). Each question counts once, also on a
    duplicate merged later: it is one resident's answer, filed under its own case's category and
    district (`cases.filing`).
    """
    # One read transaction: the counts, the overdue ones taken from them and the medians located
    # by those counts are of one moment, whatever the intake answers meanwhile.
    with CaseQuestion._meta.database.atomic():
        return _satisfaction(since, now)


def _satisfaction(since: dt.datetime | None, now: dt.datetime | None) -> Satisfaction:
    now = now or utcnow()
    db = CaseQuestion._meta.database
    surveys = CaseQuestion.kind == "survey"
    if since is not None:
        surveys &= CaseQuestion.case_created_at >= since  # the day its case was opened, copied
    # Counted by the database from one index (migration 19), grouped in its order: a million
    # questions never come to Python. The open ones past their time are counted apart, from the
    # same index's few open entries, not tested on every row.
    groups = (CaseQuestion.select(CaseQuestion.status, CaseQuestion.answer, CaseQuestion.category, CaseQuestion.district,
                                  fn.COUNT(1), fn.COUNT(CaseQuestion.answer_seconds))
              .where(surveys)
              .group_by(CaseQuestion.status, CaseQuestion.answer, CaseQuestion.category, CaseQuestion.district))
    overdue_groups = (CaseQuestion.select(CaseQuestion.answer, CaseQuestion.category, CaseQuestion.district, fn.COUNT(1))
                      .where(surveys & (CaseQuestion.status == "open") & (CaseQuestion.expires_at <= now))
                      .group_by(CaseQuestion.answer, CaseQuestion.category, CaseQuestion.district))
    overdue = {(answer, category, district): count for answer, category, district, count in db.execute(overdue_groups)}
    overall = _Tally()
    by_category: dict[str, _Tally] = {}
    by_district: dict[str, _Tally] = {}
    timed: dict[tuple[str, str], int] = {}  # ("category" or "district" or "", its name): "yes" answers timed
    for status, answer, category, district, count, with_seconds in db.execute(groups):
        tallies = (overall, by_category.setdefault(category, _Tally()), by_district.setdefault(district, _Tally()))
        if status == "open":
            expired = overdue.get((answer, category, district), 0)
            for tally in tallies:
                tally.add("expired", answer, expired)
                tally.add("waiting", answer, count - expired)
            continue
        if status not in ("answered", "expired") or (status == "answered" and answer not in ("yes", "no")):
            continue  # a row edited by hand: not counted rather than miscounted
        for tally in tallies:
            tally.add(status, answer, count)
        if status == "answered" and answer == "yes":
            for key in (("", ""), ("category", category), ("district", district)):
                timed[key] = timed.get(key, 0) + with_seconds
    yes = surveys & (CaseQuestion.status == "answered") & (CaseQuestion.answer == "yes")
    overall.to_yes = _median_seconds(yes, timed.get(("", ""), 0))
    for name, tally in by_category.items():
        tally.to_yes = _median_seconds(yes & (CaseQuestion.category == name), timed.get(("category", name), 0))
    for name, tally in by_district.items():
        tally.to_yes = _median_seconds(yes & (CaseQuestion.district == name), timed.get(("district", name), 0))

    def most_asked(groups: dict[str, _Tally]) -> dict[str, SurveyCounts]:
        return {k: t.result() for k, t in sorted(groups.items(), key=lambda kv: (-kv[1].counts["asked"], kv[0]))}

    return Satisfaction(overall=overall.result(), by_category=most_asked(by_category),
                        by_district=most_asked(by_district))


def _median_seconds(where: Any, count: int) -> list[float]:
    """The middle one or two of the `count` seconds to the answers `where` selects, in the order
    of an index of migration 19: the database steps over half of one index instead of sending
    every answer. Rounded to the millisecond and floored at 0, which keeps the order."""
    if not count:
        return []
    middle = (CaseQuestion.select(CaseQuestion.answer_seconds)
              .where(where & CaseQuestion.answer_seconds.is_null(False))
              .order_by(CaseQuestion.answer_seconds).limit(2 - count % 2).offset((count - 1) // 2))
    return [max(0.0, round(float(s), 3)) for (s,) in CaseQuestion._meta.database.execute(middle)]
