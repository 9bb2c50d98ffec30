"""The audit trail: who changed what, when, and from where (the CLI or the website).

Each entry is written in the same transaction as the change it records (`recorded`), so the
trail never claims a change that was rolled back nor misses one that was committed. The website
will call the same functions with source "web" (and `staff.accounts.login` for logins).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from barriosms.store.models import AuditEntry, utcnow, write_tx

log = logging.getLogger(__name__)

SOURCES = ("cli", "web")

# The columns are VARCHAR(255); PostgreSQL refuses longer values where SQLite would keep them.
_SHORT = 255


class AuditError(Exception):
    """An audit entry that cannot be written as asked (an unknown source)."""


def record(actor: str, source: str, action: str, target: str = "", detail: str = "",
           now: dt.datetime | None = None) -> AuditEntry:
    """Write one entry now (inside the caller's transaction when there is one)."""
    if source not in SOURCES:
        raise AuditError(f"unknown audit source {source!r}: one of {', '.join(SOURCES)}")
    with write_tx():
        entry = AuditEntry.create(at=now or utcnow(), actor=(actor or "-")[:_SHORT], source=source,
                                  action=action[:_SHORT], target=str(target)[:_SHORT], detail=detail)
    log.debug("audit: %s %s %s by %s (%s)", action, target, detail, actor, source)
    return entry


@dataclass
class Pending:
    """The entry `recorded` will write once the change succeeds; the caller may fill in the detail
    (or the target) from the result, or set `skip` when the action turned out to change nothing."""

    actor: str
    source: str
    action: str
    target: str = ""
    detail: str = ""
    skip: bool = False


@contextmanager
def recorded(actor: str, source: str, action: str, target: str = "", detail: str = "") -> Iterator[Pending]:
    """Run a change and record it in one transaction: if the change raises, neither is written.

        with audit.recorded(who, "cli", "cases.status", tracking) as entry:
            change = casework.change_status(...)
            entry.detail = f"{change.event.old_status} -> {status}"

    The services open their own transactions inside; nested, those become savepoints of this one.
    """
    if source not in SOURCES:
        raise AuditError(f"unknown audit source {source!r}: one of {', '.join(SOURCES)}")
    with write_tx():
        pending = Pending(actor, source, action, target, detail)
        yield pending
        if not pending.skip:
            record(pending.actor, pending.source, pending.action, pending.target, pending.detail)


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
