"""Field crews: the phones that may move cases by SMS with a PIN, and checking that PIN.

A crew is a phone (E.164, one crew each), a name (the one staff assign cases to: `cases assign
TRACKING "Cuadrilla 3"`; several phones may share it) and a PIN of 4 to 8 digits. The PIN is shown
once, when it is made, and kept only as a werkzeug scrypt hash, checked in constant time.

Wrong PINs: after `MAX_FAILURES` in a row the phone's crew commands are locked for `LOCK_MINUTES`,
twice as long after each further `MAX_FAILURES` (up to `MAX_LOCK`); while locked no PIN is even
checked. A right PIN, or a new one (`crews pin`), clears the count. Every change is in the audit
trail (cases.audittrail) with its author; what a crew does by SMS is recorded by pipeline.crewdesk.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
from dataclasses import dataclass

from peewee import IntegrityError, fn

from barriosms.cases import audittrail
from barriosms.domain.crewcommands import PIN_MAX, PIN_MIN, is_pin
from barriosms.domain.statuses import Status
from barriosms.store.models import Case, Crew, Neighborhood, utcnow, write_tx

log = logging.getLogger(__name__)

HASH_METHOD = "scrypt"
# Digits of a PIN made up for a crew (`crews add` without --pin, `crews pin`).
GENERATED_PIN_DIGITS = 6
MAX_FAILURES = 3
LOCK_MINUTES = 15
MAX_LOCK = dt.timedelta(hours=24)
# Longer than any name staff give a team; the column is VARCHAR(255).
MAX_NAME = 80
# A crew's pending work: cases not yet resolved (a resolved case waits for the resident or staff).
PENDING_STATUSES: tuple[Status, ...] = ("received", "reviewing", "in_progress")


class CrewError(Exception):
    """A crew change that cannot be made; the message says why and what to do."""


def generate_pin() -> str:
    """A random PIN (secrets): GENERATED_PIN_DIGITS digits."""
    return "".join(secrets.choice("0123456789") for _ in range(GENERATED_PIN_DIGITS))


def check_pin(pin: str) -> str:
    pin = pin.strip()
    if not is_pin(pin):
        raise CrewError(f"a PIN is {PIN_MIN} to {PIN_MAX} digits (0-9), nothing else")
    return pin


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise CrewError('the crew needs a name, the one its cases are assigned to (--name "Cuadrilla 3")')
    if len(name) > MAX_NAME:
        raise CrewError(f"the name is too long: at most {MAX_NAME} characters")
    return name


def find(phone: str) -> Crew | None:
    """The crew of this phone (E.164), or None."""
    return Crew.get_or_none(Crew.phone == phone)


def get(phone: str) -> Crew:
    crew = find(phone)
    if crew is None:
        raise CrewError(f"no crew has the phone {phone} (see `barriosms crews list`)")
    return crew


def _hashed(pin: str) -> str:
    # werkzeug (about 1.6 MiB resident in the daemon, with what it imports) only when a PIN is made
    # or checked: a gateway may idle for days without a crew's SMS.
    from werkzeug.security import generate_password_hash

    return generate_password_hash(pin, method=HASH_METHOD)


def _matches(pin_hash: str, pin: str) -> bool:
    from werkzeug.security import check_password_hash

    return check_password_hash(pin_hash, pin)


def crews() -> list[Crew]:
    return list(Crew.select().order_by(Crew.name, Crew.phone))


def add(phone: str, name: str, pin: str | None = None, *, actor: str, source: str = "cli",
        now: dt.datetime | None = None) -> tuple[Crew, str]:
    """A new crew phone (`phone` E.164); returns it and its PIN (the one given, else a random one),
    which is never stored nor shown again."""
    name = _name(name)
    pin = generate_pin() if pin is None else check_pin(pin)
    pin_hash = _hashed(pin)
    now = now or utcnow()
    try:
        with write_tx():
            if find(phone) is not None:
                raise CrewError(f"the phone {phone} is already a crew's (`barriosms crews list`; "
                                "`barriosms crews remove` it first to give it to another crew)")
            crew = Crew.create(phone=phone, name=name, pin_hash=pin_hash, created_at=now, failures=0,
                               locked_until=None)
            audittrail.record(actor, source, "crews.add", phone, f"name {name}", now=now)
    except IntegrityError:
        raise CrewError(f"the phone {phone} is already a crew's (`barriosms crews list`)") from None
    log.info("crew %s added with the phone %s by %s", name, phone, actor or "-")
    return crew, pin


def set_pin(phone: str, pin: str | None = None, *, actor: str, source: str = "cli",
            now: dt.datetime | None = None) -> tuple[Crew, str]:
    """A new PIN for the crew of `phone` (random unless given); the old one stops working and the
    phone's wrong-PIN count and lock are cleared."""
    pin = generate_pin() if pin is None else check_pin(pin)
    pin_hash = _hashed(pin)
    now = now or utcnow()
    with write_tx():
        crew = get(phone)
        crew.pin_hash, crew.failures, crew.locked_until = pin_hash, 0, None
        crew.save(only=[Crew.pin_hash, Crew.failures, Crew.locked_until])
        audittrail.record(actor, source, "crews.pin", phone, f"name {crew.name}", now=now)
    log.info("crew %s (%s): new PIN by %s", crew.name, phone, actor or "-")
    return crew, pin


def remove(phone: str, *, actor: str, source: str = "cli", now: dt.datetime | None = None) -> Crew:
    """The phone is no longer a crew's: its PIN commands are read as any resident's messages.
    Cases, their history and the audit trail keep the crew's name."""
    now = now or utcnow()
    with write_tx():
        crew = get(phone)
        crew.delete_instance()
        audittrail.record(actor, source, "crews.remove", phone, f"name {crew.name}", now=now)
    log.info("crew %s (%s) removed by %s", crew.name, phone, actor or "-")
    return crew


@dataclass(frozen=True)
class PinCheck:
    """What a PIN from a crew's phone turned out to be."""

    crew: Crew
    ok: bool
    failures: int = 0  # wrong PINs in a row, this one included
    locked_until: dt.datetime | None = None  # set when the phone is locked (now, or already)
    was_locked: bool = False  # locked before this message: its PIN was not even checked

    def minutes_left(self, now: dt.datetime) -> int:
        """Whole minutes until the lock ends (at least 1)."""
        if self.locked_until is None:
            return 0
        return max(1, math.ceil((self.locked_until - now).total_seconds() / 60))


def lock_for(failures: int) -> dt.timedelta | None:
    """How long `failures` wrong PINs in a row lock a phone: LOCK_MINUTES at MAX_FAILURES, twice as
    long at each further MAX_FAILURES, at most MAX_LOCK; None between those counts."""
    if failures < MAX_FAILURES or failures % MAX_FAILURES:
        return None
    doublings = failures // MAX_FAILURES - 1
    if doublings >= 16:  # far past MAX_LOCK already (and no huge power of two)
        return MAX_LOCK
    return min(dt.timedelta(minutes=LOCK_MINUTES * 2 ** doublings), MAX_LOCK)


def verify(phone: str, pin: str, now: dt.datetime | None = None) -> PinCheck | None:
    """Check a PIN sent from `phone`; None when the phone is no crew's.

    Locked: nothing is checked. Wrong: counted, and the MAX_FAILURES-th in a row locks. Right: the
    count is cleared. The hash check is werkzeug's (scrypt, compared in constant time).
    """
    now = now or utcnow()
    with write_tx():
        crew = find(phone)
        if crew is None:
            return None
        if crew.locked_until is not None and crew.locked_until > now:
            return PinCheck(crew, False, crew.failures, crew.locked_until, was_locked=True)
        if is_pin(pin) and _matches(crew.pin_hash, pin):
            if crew.failures or crew.locked_until is not None:
                crew.failures, crew.locked_until = 0, None
                crew.save(only=[Crew.failures, Crew.locked_until])
            return PinCheck(crew, True)
        # One UPDATE: two gateways on one database both count their wrong PIN.
        Crew.update(failures=Crew.failures + 1).where(Crew.id == crew.id).execute()
        crew.failures = Crew.select(Crew.failures).where(Crew.id == crew.id).scalar()
        lock = lock_for(crew.failures)
        if lock is not None:
            crew.locked_until = now + lock
            crew.save(only=[Crew.locked_until])
            log.warning("crew %s (%s): %d wrong PINs in a row; its SMS commands are locked until %s UTC "
                        "(`barriosms crews pin %s` gives a new PIN and unlocks it)", crew.name, phone,
                        crew.failures, f"{crew.locked_until:%Y-%m-%d %H:%M}", phone)
        return PinCheck(crew, False, crew.failures, crew.locked_until if lock is not None else None)


def assigned_cases(name: str) -> list[Case]:
    """The crew's pending cases (assigned to its name, ignoring case; not yet resolved, not merged),
    oldest first."""
    name = " ".join(name.split())
    return list(Case.select(Case, Neighborhood).join(Neighborhood)
                .where(((Case.assignee == name) | (fn.LOWER(Case.assignee) == name.lower()))
                       & Case.status.in_(PENDING_STATUSES) & Case.merged_into.is_null())
                .order_by(Case.created_at, Case.id))
