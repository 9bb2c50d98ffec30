"""What barriosms remembers about each phone: opted out of status SMS, or silenced as a machine.

A phone that sent BAJA (or STOP) gets no status SMS, notes or notices until it sends ALTA; it is
still answered when it writes to us (it asked). A phone caught in an auto-reply loop is silenced
for a while: its messages are stored and shown to staff, never answered.
"""

from __future__ import annotations

import datetime as dt
import logging

from barriosms.store.models import PhoneState, utcnow

log = logging.getLogger(__name__)


def _state(phone: str, now: dt.datetime) -> PhoneState:
    state = PhoneState.get_or_none(PhoneState.phone == phone)
    if state is None:
        state = PhoneState.create(phone=phone, updated_at=now)
    return state


def set_opted_out(phone: str, opted_out: bool, now: dt.datetime | None = None) -> bool:
    """Record BAJA (True) or ALTA (False); returns whether anything changed. Inside the caller's transaction."""
    now = now or utcnow()
    state = _state(phone, now)
    if state.opted_out == opted_out:
        return False
    state.opted_out, state.opted_out_at, state.updated_at = opted_out, (now if opted_out else None), now
    state.save()
    log.info("%s %s status SMS", phone, "opted out of" if opted_out else "opted back in to")
    return True


def opted_out(phones: list[str]) -> set[str]:
    """Which of these phones asked for no status SMS."""
    if not phones:
        return set()
    return {s.phone for s in PhoneState.select(PhoneState.phone)
            .where(PhoneState.phone.in_(phones) & (PhoneState.opted_out == True))}  # noqa: E712


def muted_until(phone: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """The end of the silence of a phone caught in a loop, if it is still silenced."""
    now = now or utcnow()
    state = PhoneState.get_or_none(PhoneState.phone == phone)
    if state is None or state.muted_until is None or state.muted_until <= now:
        return None
    return state.muted_until


def mute(phone: str, until: dt.datetime, reason: str, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    state = _state(phone, now)
    state.muted_until, state.mute_reason, state.updated_at = until, reason, now
    state.save()


def unmute(phone: str, now: dt.datetime | None = None) -> bool:
    """Staff lift a silence (a person, not a machine, after all); returns whether one was lifted."""
    now = now or utcnow()
    state = PhoneState.get_or_none(PhoneState.phone == phone)
    if state is None or state.muted_until is None or state.muted_until <= now:
        return False
    state.muted_until, state.mute_reason, state.updated_at = None, "", now
    state.save()
    return True


def list_states() -> list[PhoneState]:
    return list(PhoneState.select().order_by(PhoneState.updated_at.desc()))
