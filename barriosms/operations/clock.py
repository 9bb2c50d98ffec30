"""Is the system clock believable? A Raspberry Pi has no real-time clock: it boots in the past (or at
the time fake-hwclock saved) and jumps to the right time when NTP syncs.

Messages stored with a wrong time would get wrong tracking dates, reply budgets and quiet hours, so
the daemon leaves them on the SIM until the clock is sane (see daemon.ModemThread).
"""

from __future__ import annotations

import datetime as dt

# Nothing real happens before this release: a clock earlier than this has not been set yet.
EARLIEST_SANE = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
# How far before the newest stored record the clock may be (fake-hwclock saves only now and then).
BEHIND_TOLERANCE = dt.timedelta(days=1)
# How long to wait for a clock that is after this release but behind the newest record. That record
# may itself be the wrong one (written while the clock ran ahead): waiting for ever would stop the
# gateway for good, so after this the clock is trusted (and the log says so).
BEHIND_WAIT_LIMIT = dt.timedelta(hours=1)


def clock_problem(now_utc: dt.datetime, newest_stored_utc: dt.datetime | None,
                  waited: dt.timedelta = dt.timedelta(0)) -> str | None:
    """What is wrong with `now_utc` (aware or naive UTC), or None when it is believable.

    `waited`: how long the clock has been behind the newest record already.
    """
    now = _aware(now_utc)
    if now < EARLIEST_SANE:
        return (f"the system clock says {_show(now)}, before this release ({EARLIEST_SANE:%Y-%m-%d}): "
                "waiting for NTP; check timedatectl")
    if waited >= BEHIND_WAIT_LIMIT:
        return None
    if newest_stored_utc is not None and now < _aware(newest_stored_utc) - BEHIND_TOLERANCE:
        return (f"the system clock says {_show(now)}, more than a day before the newest record in the "
                f"database ({_show(_aware(newest_stored_utc))}): waiting for NTP; check timedatectl")
    return None


def newest_stored_utc() -> dt.datetime | None:
    """The newest time barriosms wrote in the database (naive UTC), from the last row of each table.

    The last row by id, not MAX() over a column: this runs every few seconds on a years-old database.
    """
    from barriosms.store.models import InboundMessage, OutboundMessage

    found = [row for row in (
        InboundMessage.select(InboundMessage.received_at).order_by(InboundMessage.id.desc()).limit(1).scalar(),
        OutboundMessage.select(OutboundMessage.created_at).order_by(OutboundMessage.id.desc()).limit(1).scalar(),
    ) if row is not None]
    return max(found) if found else None


def _aware(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _show(when: dt.datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M} UTC"
