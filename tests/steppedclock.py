"""A clock the test moves by hand, for the daemon's modem thread (see barriosms/daemon/timesource.py).

The thread's monotonic time stands still until the test calls `advance()`; its sleeps and waits end
when the test has moved time past them (or, for a wait, when its event is set). `advance()` goes from
one wake-up to the next and, after each, lets the thread run until it waits again, so a test sees the
state after every turn of work, however slow the machine is.
"""

from __future__ import annotations

import itertools
import threading

from barriosms.daemon.timesource import Clock

# Real seconds the thread may take to get back to a wait: a guard against a hung test, not a pace.
SETTLE_TIMEOUT = 30.0


class SteppedClock(Clock):
    def __init__(self, start: float = 1000.0):
        self._now = start
        self._cond = threading.Condition()
        self._waiting: dict[int, tuple[float, threading.Event]] = {}  # who waits: (deadline, event)
        self._keys = itertools.count()

    def monotonic(self) -> float:
        with self._cond:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.wait(threading.Event(), seconds)

    def wait(self, event: threading.Event, timeout: float) -> bool:
        with self._cond:
            if event.is_set() or timeout <= 0:
                return event.is_set()
            key = next(self._keys)
            self._waiting[key] = (self._now + timeout, event)
            self._cond.notify_all()
            try:
                while not event.is_set() and self._now < self._waiting[key][0]:
                    # Setting an Event does not notify this condition: look at it again shortly.
                    self._cond.wait(0.005)
            finally:
                del self._waiting[key]
                self._cond.notify_all()
            return event.is_set()

    def _settled(self) -> bool:
        return bool(self._waiting) and all(deadline > self._now and not event.is_set()
                                           for deadline, event in self._waiting.values())

    def settle(self) -> None:
        """Wait until the thread is waiting again for a time still ahead: its turn of work is done."""
        with self._cond:
            assert self._cond.wait_for(self._settled, SETTLE_TIMEOUT), "the modem thread never waited again"

    def advance(self, seconds: float) -> None:
        """Move time `seconds` forward, stopping at every wake-up on the way to let the thread work."""
        self.settle()
        with self._cond:
            target = self._now + seconds
        while True:
            with self._cond:
                if self._now >= target:
                    return
                soonest = min((deadline for deadline, _ in self._waiting.values()), default=target)
                self._now = min(soonest, target)
                self._cond.notify_all()
            self.settle()
