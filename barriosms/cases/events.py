"""Events for other systems: what happened, written in the transaction of the change it tells of.

`record(kind, **data)` adds a row to the `event` table inside the caller's transaction (so an event
exists exactly when its change was committed, and a crash loses neither). The daemon delivers the
rows, in order, to what [events] configures (operations.eventdelivery): a command and/or a webhook.

Each event is JSON: {"id": N, "kind": "...", "at": "2026-12-06T14:03:00Z", "data": {...}}; the
kinds and their data are listed in KINDS (docs/events.md shows them to the receivers' authors).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from barriosms.store.models import Event, utcnow, write_tx

log = logging.getLogger(__name__)

# kind → what its data holds (tests check that every kind recorded is listed here).
KINDS: dict[str, str] = {
    "message.received": "id, phone, text, received_at, modem",
    "case.opened": "tracking, neighborhood, category, phone, channel, text",
    "case.status": "tracking, from, to, note, by",
    "case.note": "tracking, note, public, by",
    "sms.sent": "id, to, kind, tracking, parts",
    "sms.failed": "id, to, kind, tracking, error",
    "sms.delivered": "id, to, kind, tracking, delivery",
    "callback.requested": "id, phone, calls",
    "modem.down": "modem, problem",
    "modem.up": "modem",
}


def record(kind: str, now: dt.datetime | None = None, /, **data: Any) -> Event:
    """Write one event now, inside the caller's transaction when there is one."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}: one of {', '.join(KINDS)}")
    with write_tx():
        event = Event.create(kind=kind, at=now or utcnow(), payload=json.dumps(data, ensure_ascii=False, default=str))
    return event


def as_json(event: Event) -> dict[str, Any]:
    """The event as receivers get it."""
    return {"id": event.id, "kind": event.kind, "at": event.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": json.loads(event.payload)}
