"""Putting a resolved case back to review when its reporter says the problem is still there."""

from __future__ import annotations

import datetime as dt
import logging

from barriosms.cases import events
from barriosms.domain.statuses import REOPEN_TARGET, can_reopen_by_sms
from barriosms.store.models import Case, CaseEvent, CaseReporter

log = logging.getLogger(__name__)


def reopen_by_resident(case: Case, phone: str, reason: str, *, days: float, now: dt.datetime) -> str:
    """A resident's REABRIR: "reopened", or why not ("not_yours", "not_resolved", "too_late").

    Inside the caller's transaction. Only a reporter of the case may reopen it, within `days` of
    its resolution; the resident's words are kept as the reason, for staff.
    """
    if not CaseReporter.select().where((CaseReporter.case == case) & (CaseReporter.phone == phone)).exists():
        return "not_yours"
    verdict = can_reopen_by_sms(case.status, case.resolved_at, now, days)
    if verdict != "ok":
        return verdict
    reopen(case, phone, reason, now)
    log.warning("case %s reopened by its reporter %s: %s", case.tracking, phone, reason or "(no reason given)")
    return "reopened"


def reopen(case: Case, phone: str, reason: str, now: dt.datetime) -> None:
    """Put a case back to review because its reporter says the problem is still there.

    Inside the caller's transaction. The resident's words stay private (staff read them in the
    history; the website shows only the change of status). resolved_at stays the last time it
    was resolved, until it is resolved again.
    """
    CaseEvent.create(case=case, at=now, kind="reopen", old_status=case.status, new_status=REOPEN_TARGET,
                     note=reason, public=False, actor=phone)
    events.record("case.status", now, tracking=case.tracking, **{"from": case.status}, to=REOPEN_TARGET, note="",
                  by=phone)
    case.status, case.updated_at = REOPEN_TARGET, now
    case.save(only=[Case.status, Case.updated_at])
