"""Work asked of a modem thread (by the scheduler, a reload, the clock coming right), coalesced."""

from __future__ import annotations

import threading

from barriosms.daemon.timesource import REAL_CLOCK, Clock


class Requests:
    """Work asked of the modem thread; asking twice before it runs is asking once."""

    def __init__(self, clock: Clock = REAL_CLOCK):
        self._clock = clock
        self._wanted: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def ask(self, what: str) -> None:
        with self._lock:
            self._wanted.add(what)
        self._wake.set()

    def take(self, timeout: float) -> set[str]:
        self._clock.wait(self._wake, timeout)
        with self._lock:
            wanted, self._wanted = self._wanted, set()
            self._wake.clear()
        return wanted

    def wake(self) -> None:
        self._wake.set()
