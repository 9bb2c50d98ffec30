"""Logging in to the back-office: the password check with back-off per account and per address.

An attempt while the account name or the address is locked is refused without checking the
password (and recorded as login.blocked); a failure counts against both; a success clears the
account's count. Unknown names are counted exactly like known ones, so the answers and the locks
say nothing about which accounts exist.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from barriosms.domain import throttle
from barriosms.staff import accounts, audit
from barriosms.store.models import LoginThrottle, StaffAccount, utcnow, write_tx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    account: StaffAccount | None
    retry_after: int = 0  # seconds until another attempt is allowed (0: try again at once)


def _keys(username: str, address: str) -> tuple[tuple[str, throttle.BackOff], ...]:
    name = accounts.normalize(username)[:64]
    return ((f"user:{name}", throttle.ACCOUNT), (f"addr:{address[:64]}", throttle.ADDRESS))


def blocked_for(username: str, address: str, now: dt.datetime | None = None) -> int:
    """Seconds until this account name from this address may try again (0: it may now)."""
    now = now or utcnow()
    keys = [key for key, _ in _keys(username, address)]
    rows = LoginThrottle.select().where(LoginThrottle.key.in_(keys))
    return max([throttle.wait_seconds(row.locked_until, now) for row in rows], default=0)


def attempt(username: str, password: str, *, address: str, now: dt.datetime | None = None) -> Outcome:
    """Check a login: the account, or None with how long to wait before the next try."""
    now = now or utcnow()
    wait = blocked_for(username, address, now)
    name = accounts.normalize(username)[:64] or "-"
    if wait:
        audit.record(name, "web", "login.blocked", name, address, now=now)
        log.info("staff login for %r from %s refused: locked for %d s more", name, address, wait)
        return Outcome(None, wait)
    account = accounts.login(username, password, source="web", detail=address)
    if account is not None:
        with write_tx():
            LoginThrottle.delete().where(LoginThrottle.key == f"user:{account.username}").execute()
        return Outcome(account)
    return Outcome(None, _count_failure(username, address, now))


def _count_failure(username: str, address: str, now: dt.datetime) -> int:
    wait = 0
    with write_tx():
        for key, policy in _keys(username, address):
            row = LoginThrottle.get_or_none(LoginThrottle.key == key)
            if row is None:
                row = LoginThrottle(key=key, failures=0, first_failure=now, last_failure=now)
                created = True
            else:
                created = False
                if policy.failures_now(row.failures, row.last_failure, now) == 0:
                    row.failures, row.first_failure = 0, now
            row.failures += 1
            row.last_failure = now
            lock = policy.lock_seconds(row.failures)
            row.locked_until = now + dt.timedelta(seconds=lock) if lock else None
            row.save(force_insert=created)
            wait = max(wait, throttle.wait_seconds(row.locked_until, now))
        # Names nobody has are counted too (see the module doc): forget rows nobody needs any more.
        forget = now - dt.timedelta(seconds=throttle.ACCOUNT.forget_seconds)
        LoginThrottle.delete().where((LoginThrottle.last_failure < forget)
                                     & ((LoginThrottle.locked_until.is_null()) | (LoginThrottle.locked_until < now))
                                     ).execute()
    if wait:
        log.warning("repeated failed staff logins for %r from %s: locked for %d s (the audit trail has "
                    "each attempt: `barriosms audit list --since today`)", accounts.normalize(username)[:64],
                    address, wait)
    return wait
