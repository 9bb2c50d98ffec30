"""The phones that reported a case: listing them, adding one, and queueing an SMS to each."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from barriosms.cases import outbox, subscribers
from barriosms.domain.phones import is_replyable
from barriosms.store.models import Case, CaseReporter, InboundMessage, OutboundMessage, utcnow

log = logging.getLogger(__name__)


def reporters(case: Case) -> list[CaseReporter]:
    return list(CaseReporter.select().where(CaseReporter.case == case).order_by(CaseReporter.joined_at, CaseReporter.id))


def add_reporter(case: Case, phone: str, how: str, message: InboundMessage | None = None,
                 now: dt.datetime | None = None) -> bool:
    """Record one more phone that reported this case's problem; False if it already had."""
    if CaseReporter.select().where((CaseReporter.case == case) & (CaseReporter.phone == phone)).exists():
        return False
    CaseReporter.create(case=case, phone=phone, message=message, how=how, joined_at=now or utcnow())
    # The count beside the rows (migration 19), in the same transaction: hotspots read the count.
    Case.update(reporter_count=Case.reporter_count + 1).where(Case.id == case.id).execute()
    case.reporter_count += 1
    return True


def reach(people: list[CaseReporter], region: str) -> tuple[list[CaseReporter], dict[str, str]]:
    """Who of `people` an SMS would reach, and why each other one gets none (phone → why)."""
    out_of = subscribers.opted_out([r.phone for r in people])
    reached: list[CaseReporter] = []
    skipped: dict[str, str] = {}
    for reporter in people:
        if not is_replyable(reporter.phone, region):
            skipped[reporter.phone] = "not a phone number"
        elif reporter.phone in out_of:
            skipped[reporter.phone] = "opted out (BAJA)"
        else:
            reached.append(reporter)
    return reached, skipped


def notify_reporters(case: Case, render: Callable[[CaseReporter], str], *, kind: str, region: str,
                     now: dt.datetime, urgent: bool = False,
                     only: list[CaseReporter] | None = None) -> tuple[list[OutboundMessage], dict[str, str]]:
    """Queue one SMS to each reporter who can and wants to receive it (inside the caller's transaction)."""
    people = only if only is not None else reporters(case)
    reached, skipped = reach(people, region)
    queued = [outbox.queue(reporter.phone, render(reporter), kind=kind, case=case, now=now, urgent=urgent)
              for reporter in reached]
    for phone, why in skipped.items():
        log.info("case %s: no SMS to %s: %s", case.tracking, phone, why)
    return queued, skipped
