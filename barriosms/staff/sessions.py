"""Back-office sessions: a random token in the browser's cookie, its SHA-256 in the database.

A login always starts a new session (the id a browser had before is never kept: no session
fixation) and ends the one the browser came with. A session ends when left idle for
[staff] session_minutes, after ABSOLUTE_HOURS whatever happens, at logout, and when its account
is disabled or its password changed (staff.accounts deletes them). Each session has its own CSRF
token, which every form of the back-office carries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from barriosms.store.models import StaffAccount, StaffSession, utcnow, write_tx

log = logging.getLogger(__name__)

ABSOLUTE_HOURS = 12
# last_seen is written at most this often: not one database write per page view.
TOUCH_SECONDS = 60


class _NoSessionSecrets(logging.Filter):
    """peewee logs every query with its parameters at DEBUG: a session's id and CSRF token would
    reach the log of anyone who debugs. Blank the parameters of every query on staff_session."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if (isinstance(msg, tuple) and len(msg) == 2 and isinstance(msg[0], str) and "staff_session" in msg[0]
                and isinstance(msg[1], (list, tuple))):
            record.msg = (msg[0], ["[hidden]" if isinstance(p, str) else p for p in msg[1]])
        return True


logging.getLogger("peewee").addFilter(_NoSessionSecrets())


def _id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Started:
    token: str  # for the cookie; only its hash is stored
    session: StaffSession


def start(account: StaffAccount, *, idle_minutes: int, address: str = "", replacing: str = "",
          now: dt.datetime | None = None) -> Started:
    """A new session for `account`, ending the session whose token the browser came with (if any)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    with write_tx():
        if replacing:
            StaffSession.delete().where(StaffSession.id == _id(replacing)).execute()
        StaffSession.delete().where(StaffSession.expires_at <= now).execute()
        session = StaffSession.create(
            id=_id(token), account=account, csrf=secrets.token_urlsafe(32), created_at=now, last_seen=now,
            expires_at=_expiry(now, now, idle_minutes), address=address[:255])
    return Started(token, session)


def _expiry(created: dt.datetime, now: dt.datetime, idle_minutes: int) -> dt.datetime:
    return min(created + dt.timedelta(hours=ABSOLUTE_HOURS), now + dt.timedelta(minutes=idle_minutes))


def find(token: str, *, idle_minutes: int, now: dt.datetime | None = None) -> StaffSession | None:
    """The live session of this cookie token (its idle time restarts), or None."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    session = (StaffSession.select(StaffSession, StaffAccount).join(StaffAccount)
               .where(StaffSession.id == _id(token)).get_or_none())
    if session is None:
        return None
    if session.expires_at <= now or session.account.disabled:
        end(token)
        return None
    if (now - session.last_seen).total_seconds() >= TOUCH_SECONDS:
        session.last_seen = now
        session.expires_at = _expiry(session.created_at, now, idle_minutes)
        with write_tx():
            StaffSession.update(last_seen=session.last_seen, expires_at=session.expires_at).where(
                StaffSession.id == session.id).execute()
    return session


def csrf_ok(session: StaffSession, token: str) -> bool:
    """Whether a form's CSRF token is this session's (compared in constant time)."""
    return bool(token) and hmac.compare_digest(session.csrf.encode(), token.encode("utf-8", "replace"))


def end(token: str) -> None:
    """Log out: the session of this token no longer exists."""
    if token:
        with write_tx():
            StaffSession.delete().where(StaffSession.id == _id(token)).execute()


def end_all(account: StaffAccount) -> int:
    """End every session of an account (disabled, or its password changed); how many ended."""
    with write_tx():
        return StaffSession.delete().where(StaffSession.account == account).execute()
