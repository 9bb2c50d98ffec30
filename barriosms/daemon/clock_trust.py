"""Whether the modem thread may believe the system clock (see operations/clock.py) before it reads the SIM."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from peewee import DatabaseError

from barriosms.operations.clock import clock_problem, newest_stored_utc

# The daemon's lines keep the logger name they always had: journal filters and docs use it.
log = logging.getLogger("barriosms.daemon.process")

# While the system clock is not believable, how often to look at it again.
CLOCK_CHECK_SECONDS = 5.0


class ClockTrust:
    """Looks at the system clock every few seconds; while it is not believable nothing leaves the SIM."""

    def __init__(self, now: Callable[[], datetime], monotonic: Callable[[], float],
                 on_believable: Callable[[], None]):
        self._now = now  # the system clock (injectable for tests)
        self._monotonic = monotonic
        self._on_believable = on_believable  # called when a wrong clock comes right: read the SIM then
        self.problem: str | None = None
        self._checked = float("-inf")
        self._behind_since: float | None = None  # monotonic: since when behind the newest record
        self._trusted = False

    def is_sane(self) -> bool:
        """Whether the system clock can be believed, looked at again every CLOCK_CHECK_SECONDS."""
        now = self._monotonic()
        if now - self._checked < CLOCK_CHECK_SECONDS:
            return self.problem is None
        self._checked = now
        try:
            newest = newest_stored_utc()
        except DatabaseError:
            newest = None  # the store's trouble is reported where it is written to
        waited = timedelta(seconds=now - self._behind_since) if self._behind_since is not None else timedelta(0)
        problem = clock_problem(self._now(), newest, waited)
        behind = clock_problem(self._now(), newest) is not None
        if behind and problem is None:
            if self._behind_since is not None and not self._trusted:
                log.error("the system clock stayed behind the newest record in the database for %s: trusting it; "
                          "a record written while the clock ran ahead may look out of order", waited)
                self._trusted = True
        else:
            self._trusted = False
        self._behind_since = (self._behind_since if self._behind_since is not None else now) if behind else None
        if problem and not self.problem:
            log.warning("%s; SMS stay on the SIM until then", problem)  # once, not every few seconds
        elif self.problem and not problem:
            log.info("the system clock is believable again (%s UTC): reading the SIM",
                     f"{self._now().astimezone(UTC):%Y-%m-%d %H:%M}")
            self._on_believable()
        self.problem = problem
        return problem is None
