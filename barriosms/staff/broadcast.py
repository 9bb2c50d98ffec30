"""Notices to a neighbourhood (a water cut, a road closed): one SMS to each resident who reported
there and did not opt out, counted against the daily SMS budget before staff confirm."""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from barriosms.cases import outbox, subscribers
from barriosms.cases.lookup import NeighborhoodNotFound, find_neighborhood
from barriosms.domain.gsm import SMS_SEPTETS, septet_count, to_gsm7
from barriosms.domain.guard import budget_left, local_day_start
from barriosms.domain.phones import is_replyable
from barriosms.store.models import Broadcast, Case, CaseReporter, Neighborhood, utcnow, write_tx

log = logging.getLogger(__name__)

# A concatenated part carries 153 septets; more than this many parts is no longer a notice.
PART_SEPTETS = 153
MAX_PARTS = 3


class BroadcastError(Exception):
    """The notice cannot be sent as asked; the message says why."""


@dataclass(frozen=True)
class Plan:
    neighborhood: Neighborhood
    text: str  # as it will be sent (GSM-7)
    parts: int  # SMS per recipient
    recipients: tuple[str, ...]
    opted_out: int
    not_replyable: int
    budget_left: int | None  # SMS the daily budget still allows today (None: no budget)

    @property
    def cost(self) -> int:
        return self.parts * len(self.recipients)

    @property
    def over_budget(self) -> int:
        """SMS of this notice that will wait for tomorrow's budget."""
        return 0 if self.budget_left is None else max(0, self.cost - self.budget_left)


def sms_parts(text: str) -> int:
    septets = septet_count(text) or 0
    return 1 if septets <= SMS_SEPTETS else math.ceil(septets / PART_SEPTETS)


def plan(code: str, text: str, *, region: str, daily_budget: int, zone: ZoneInfo,
         now: dt.datetime | None = None) -> Plan:
    now = now or utcnow()
    try:
        hood = find_neighborhood(code, by_name=False)
    except NeighborhoodNotFound:
        raise BroadcastError(f"no neighbourhood with code {code!r} (see `barriosms neighborhoods list`)") from None
    clean = to_gsm7(" ".join(text.split()))
    if not clean:
        raise BroadcastError("the notice is empty")
    parts = sms_parts(clean)
    if parts > MAX_PARTS:
        septets = septet_count(clean) or 0
        raise BroadcastError(f"the notice is {septets} characters, {parts} SMS per resident; keep it to "
                             f"{MAX_PARTS * PART_SEPTETS} characters at most ({SMS_SEPTETS} fit in one SMS)")
    phones = sorted({r.phone for r in CaseReporter.select(CaseReporter.phone).join(Case)
                     .where(Case.neighborhood == hood)})
    replyable = [p for p in phones if is_replyable(p, region)]
    out = subscribers.opted_out(replyable)
    recipients = tuple(p for p in replyable if p not in out)
    left = None
    if daily_budget:
        local_now = now.replace(tzinfo=dt.UTC).astimezone(zone)
        since = local_day_start(local_now).astimezone(dt.UTC).replace(tzinfo=None)
        left = budget_left(outbox.sent_parts_since(since) + outbox.queued_parts(), daily_budget)
    return Plan(hood, clean, parts, recipients, len(out), len(phones) - len(replyable), left)


def send(p: Plan, *, urgent: bool = False, actor: str = "", now: dt.datetime | None = None) -> Broadcast:
    """Queue the notice to every recipient of the plan, in one transaction."""
    if not p.recipients:
        raise BroadcastError(f"nobody to tell in {p.neighborhood.code}: no resident who reported there can "
                             "receive it")
    now = now or utcnow()
    with write_tx():
        b = Broadcast.create(neighborhood=p.neighborhood, text=p.text, recipients=len(p.recipients), parts=p.parts,
                             urgent=urgent, actor=actor, created_at=now)
        for phone in p.recipients:
            outbox.queue(phone, p.text, kind="broadcast", now=now, urgent=urgent, broadcast=b)
    log.info("notice %d to %d resident(s) of %s queued by %s (%d SMS)", b.id, len(p.recipients),
             p.neighborhood.code, actor or "-", p.cost)
    return b
