"""How long repeated failed logins lock an account or an address: exponential back-off, pure.

A few mistakes cost nothing (people mistype passwords); after that each failure doubles the wait,
up to an hour, so guessing a password through the login form takes years while a clerk who
forgot theirs waits seconds, then minutes. Failures are forgotten a day after the last one.
An office behind one NAT address shares that address, so addresses get more free failures than
accounts do.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BackOff:
    free: int  # failures allowed before the first lock
    base_seconds: float  # the first lock
    cap_seconds: float  # no lock is longer
    forget_seconds: float  # failures are forgotten this long after the last one

    def lock_seconds(self, failures: int) -> float:
        """The lock that `failures` failures in a row earn (0: none yet)."""
        if failures < self.free:
            return 0.0
        # 2**n overflows a float for absurd counts: cap the exponent first.
        return min(self.cap_seconds, self.base_seconds * 2.0 ** min(failures - self.free, 64))

    def failures_now(self, failures: int, last_failure: dt.datetime | None, now: dt.datetime) -> int:
        """The failures that still count at `now` (all of them, or none once forgotten)."""
        if last_failure is None or (now - last_failure).total_seconds() >= self.forget_seconds:
            return 0
        return failures


ACCOUNT = BackOff(free=5, base_seconds=30, cap_seconds=3600, forget_seconds=86400)
ADDRESS = BackOff(free=20, base_seconds=30, cap_seconds=3600, forget_seconds=86400)


def wait_seconds(locked_until: dt.datetime | None, now: dt.datetime) -> int:
    """Whole seconds until `locked_until` (rounded up; 0 when not locked)."""
    if locked_until is None or locked_until <= now:
        return 0
    return max(1, math.ceil((locked_until - now).total_seconds()))


def spanish_wait(seconds: int) -> str:
    """"30 segundos", "2 minutos", "1 hora": how long to wait, as the login page says it."""
    if seconds < 60:
        return f"{seconds} segundo{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"{minutes} minuto{'s' if minutes != 1 else ''}"
    hours = math.ceil(minutes / 60)
    return f"{hours} hora{'s' if hours != 1 else ''}"
