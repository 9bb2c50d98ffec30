"""The audit trail: who changed what, when, and from where (the CLI, the website or a crew's SMS).

Each entry is written in the same transaction as the change it records (`recorded`), so the
trail never claims a change that was rolled back nor misses one that was committed. The website
calls the same functions with source "web" (and `staff.accounts.login` for logins). Writing lives
in cases.audittrail (a field crew's SMS, handled by the pipeline below staff, is recorded too);
its names are this module's, as every caller knows them.
"""

from __future__ import annotations

import datetime as dt

from barriosms.cases.audittrail import SOURCES as SOURCES
from barriosms.cases.audittrail import AuditError as AuditError
from barriosms.cases.audittrail import Pending as Pending
from barriosms.cases.audittrail import record as record
from barriosms.cases.audittrail import recorded as recorded
from barriosms.store.models import AuditEntry


def entries(*, actor: str | None = None, since: dt.datetime | None = None, action: str | None = None,
            limit: int | None = None) -> list[AuditEntry]:
    """Entries newest first; `since` is naive UTC; `action` matches itself and its sub-actions
    ("cases" matches "cases.status"); `actor` ignores case, as usernames do."""
    query = AuditEntry.select().order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if actor:
        query = query.where(AuditEntry.actor.in_({actor.strip(), actor.strip().lower()}))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if action:
        a = action.strip()
        query = query.where((AuditEntry.action == a) | AuditEntry.action.startswith(a + "."))
    if limit:
        query = query.limit(limit)
    return list(query)
