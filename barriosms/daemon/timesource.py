"""The time the modem thread reads and waits on: the real clock, or a test's stepped one."""

from __future__ import annotations

import threading
import time


class Clock:
    """Monotonic time, sleeping and waiting on an event; a test passes a subclass it advances by hand."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """Wait for `event` at most `timeout` seconds; whether it is set."""
        return event.wait(timeout)


REAL_CLOCK = Clock()
