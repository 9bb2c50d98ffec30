"""Whether a queued SMS may leave now: quiet hours and the municipality's daily SMS budget.

Asked by the gateway (in the modem thread) just before each send, so a change of configuration
(SIGHUP) or of the clock is always taken into account; a held SMS stays queued with the time it
may go and the reason, which `barriosms outbox list` shows.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from barriosms.cases import outbox
from barriosms.config import ServiceSettings
from barriosms.domain.guard import budget_left, local_day_start, next_budget_day, quiet_until
from barriosms.store.models import OutboundMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hold:
    until: dt.datetime  # naive UTC, as stored
    reason: str


def _utc(aware: dt.datetime) -> dt.datetime:
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


class SendPolicy:
    def __init__(self, service: ServiceSettings, zone: ZoneInfo):
        self.service = service
        self.zone = zone
        self._budget_warned_for: dt.datetime | None = None

    def hold(self, msg: OutboundMessage, now: dt.datetime) -> Hold | None:
        """Why `msg` must wait, and until when; None when it may be sent now (`now` naive UTC)."""
        local_now = now.replace(tzinfo=dt.UTC).astimezone(self.zone)
        if not msg.urgent:
            end = quiet_until(local_now, self.service.quiet_hours)
            if end is not None:
                return Hold(_utc(end), f"quiet hours ({self.service.quiet_hours}) until {end:%H:%M}")
        budget = self.service.daily_sms_budget
        if budget:
            day_start = local_day_start(local_now)
            left = budget_left(outbox.sent_parts_since(_utc(day_start)), budget)
            if left is not None and left <= 0:
                tomorrow = next_budget_day(local_now)
                if self._budget_warned_for != day_start:
                    # Once a day, not once per held SMS: the technician reads this in the journal.
                    log.warning("the daily SMS budget (%d) is used up; SMS wait until %s. Raise "
                                "[service] daily_sms_budget and reload if this is wrong", budget,
                                f"{tomorrow:%Y-%m-%d %H:%M}")
                    self._budget_warned_for = day_start
                return Hold(_utc(tomorrow), f"daily SMS budget of {budget} used up; waits until {tomorrow:%Y-%m-%d %H:%M}")
        return None
