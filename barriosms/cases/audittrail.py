"""Writing the audit trail: who changed what, when, and from where (the CLI, the website, an SMS).

Each entry is written in the same transaction as the change it records (`recorded`), so the
trail never claims a change that was rolled back nor misses one that was committed. It lives
below the pipeline so that a field crew's SMS (pipeline.crewdesk) is recorded like a staff action;
staff.audit gives these same names to the CLI and the website, and reads the trail.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from barriosms.store.models import AuditEntry, utcnow, write_tx

log = logging.getLogger(__name__)

# cli: the command line; web: the back-office; sms: a field crew's PIN command (its name is the actor).
SOURCES = ("cli", "web", "sms")

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
    now: dt.datetime | None = None  # when the entry says it happened (None: when it is written)


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
            record(pending.actor, pending.source, pending.action, pending.target, pending.detail, now=pending.now)
