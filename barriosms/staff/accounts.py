"""Staff accounts: who may use the staff tools, with which role, and their passwords.

Passwords are kept only as werkzeug scrypt hashes and never logged, printed or returned. Every
change is written to the audit trail in the same transaction (staff.audit). `verify` is what the
website's login will call (through `login`, which also records the attempt); it takes as long and
answers the same for an unknown user, a wrong password and a disabled account.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from peewee import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from barriosms.domain.roles import ROLES
from barriosms.staff import audit
from barriosms.store.models import StaffAccount, StaffSession, utcnow, write_tx

log = logging.getLogger(__name__)

MIN_PASSWORD = 10
# Hashing a password of megabytes would let anyone tie up the CPU through the login form.
MAX_PASSWORD = 1024
HASH_METHOD = "scrypt"
# Login names as people type them on a command line: a letter or digit, then letters, digits, . _ -
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


# werkzeug's hash form, "scrypt:32768:8:1$salt$hash" (or another method's name before the colon).
_HASH = re.compile(r"^[a-z0-9]+(?::[a-z0-9]+)*\$[^$]+\$[0-9a-f]+$")


class _NoHashes(logging.Filter):
    """peewee logs every query with its parameters at DEBUG: the password hash of an insert or
    update would reach the log of anyone who debugs. Blank it there."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if isinstance(msg, tuple) and len(msg) == 2 and isinstance(msg[1], (list, tuple)):
            params = [("[password hash]" if isinstance(p, str) and _HASH.match(p) else p) for p in msg[1]]
            record.msg = (msg[0], params)
        return True


logging.getLogger("peewee").addFilter(_NoHashes())


class AccountError(Exception):
    """An account change that cannot be made; the message says why and what to do."""


def normalize(username: str) -> str:
    """The stored form of a username: trimmed, lower-case (usernames ignore case)."""
    return username.strip().lower()


def _valid_username(username: str) -> str:
    name = normalize(username)
    if not _USERNAME.fullmatch(name):
        raise AccountError(f"bad username {username!r}: 1 to 64 letters (a-z), digits, '.', '_' or '-', "
                           "starting with a letter or digit")
    return name


def check_password(password: str) -> None:
    """Refuse a password that is too short or too long (says how long it must be, never what it was)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password is too long: at most {MAX_PASSWORD} characters")


def _hash(password: str) -> str:
    check_password(password)
    return generate_password_hash(password, method=HASH_METHOD)


def _check_role(role: str) -> str:
    role = role.strip().lower()
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    return role


def find(username: str) -> StaffAccount | None:
    return StaffAccount.get_or_none(StaffAccount.username == normalize(username))


def get(username: str) -> StaffAccount:
    account = find(username)
    if account is None:
        raise AccountError(f"no staff account {normalize(username)!r} (see `barriosms staff list`)")
    return account


def add(username: str, full_name: str, role: str, password: str, *, actor: str, source: str = "cli",
        now: dt.datetime | None = None) -> StaffAccount:
    """A new enabled account; refuses a username taken in any case, a bad role or a short password."""
    name = _valid_username(username)
    role = _check_role(role)
    password_hash = _hash(password)
    now = now or utcnow()
    try:
        with write_tx():
            if find(name) is not None:
                raise AccountError(f"a staff account {name!r} already exists (usernames ignore case)")
            account = StaffAccount.create(username=name, full_name=full_name.strip(), role=role,
                                          password_hash=password_hash, disabled=False, created_at=now, updated_at=now)
            audit.record(actor, source, "staff.add", name, f"role {role}", now=now)
    except IntegrityError:
        # Another process added it between the check and the insert.
        raise AccountError(f"a staff account {name!r} already exists (usernames ignore case)") from None
    log.info("staff account %s added (%s) by %s", name, role, actor or "-")
    return account


def accounts() -> list[StaffAccount]:
    return list(StaffAccount.select().order_by(StaffAccount.username))


def set_password(username: str, password: str, *, actor: str, source: str = "cli",
                 now: dt.datetime | None = None) -> StaffAccount:
    password_hash = _hash(password)
    now = now or utcnow()
    with write_tx():
        account = get(username)
        account.password_hash = password_hash
        account.updated_at = now
        account.save()
        # Whoever knew the old password is logged out, wherever they were.
        StaffSession.delete().where(StaffSession.account == account).execute()
        audit.record(actor, source, "staff.password", account.username, now=now)
    log.info("staff account %s: password changed by %s", account.username, actor or "-")
    return account


@dataclass(frozen=True)
class Switch:
    account: StaffAccount
    changed: bool  # False: the account already was as asked


def set_disabled(username: str, disabled: bool, *, actor: str, source: str = "cli",
                 now: dt.datetime | None = None) -> Switch:
    """Disable (or enable) an account; asking for the state it is already in changes and records nothing."""
    now = now or utcnow()
    with write_tx():
        account = get(username)
        if account.disabled == disabled:
            return Switch(account, False)
        account.disabled = disabled
        account.updated_at = now
        account.save()
        if disabled:
            StaffSession.delete().where(StaffSession.account == account).execute()
        action = "staff.disable" if disabled else "staff.enable"
        audit.record(actor, source, action, account.username, now=now)
    log.info("staff account %s %s by %s", account.username, "disabled" if disabled else "enabled", actor or "-")
    return Switch(account, True)


def disable(username: str, *, actor: str, source: str = "cli") -> Switch:
    return set_disabled(username, True, actor=actor, source=source)


def enable(username: str, *, actor: str, source: str = "cli") -> Switch:
    return set_disabled(username, False, actor=actor, source=source)


_dummy_hash: str | None = None


def _dummy() -> str:
    """A hash of nothing anyone knows, checked for unknown users so they take as long as known ones."""
    global _dummy_hash
    if _dummy_hash is None:
        import secrets

        _dummy_hash = generate_password_hash(secrets.token_urlsafe(16), method=HASH_METHOD)
    return _dummy_hash


def verify(username: str, password: str) -> StaffAccount | None:
    """The enabled account with this username and password, else None.

    The same work is done whether the user is unknown, the password wrong or the account disabled
    (a scrypt check with the same parameters; werkzeug compares in constant time), so neither the
    answer nor its timing tells which.
    """
    account = find(username) if _USERNAME.fullmatch(normalize(username)) else None
    if len(password) > MAX_PASSWORD:
        return None
    ok = check_password_hash(account.password_hash if account else _dummy(), password)
    if account is None or not ok or account.disabled:
        return None
    return account


def login(username: str, password: str, *, source: str = "web", detail: str = "") -> StaffAccount | None:
    """`verify`, and record the attempt (login or login.failed; `detail` e.g. the client address)."""
    account = verify(username, password)
    name = normalize(username)[:64] or "-"
    if account is None:
        audit.record(name, source, "login.failed", name, detail)
        log.info("failed staff login for %r (%s)", name, source)
    else:
        audit.record(account.username, source, "login", account.username, detail)
    return account
