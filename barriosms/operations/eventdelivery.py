"""Delivering events (cases.events) to what [events] configures: a command and/or a webhook.

Each receiver has a cursor in the database: every event up to `last_event_id` was taken. The
daemon's events job (in the scheduler's threads, never the modem's) hands each receiver the
events after its cursor, in order, and moves the cursor after each one it took: a receiver that is
down waits at its first untaken event and gets every later one, in order, once it is back; a
daemon killed between a delivery and the cursor's move delivers that one event again. So a
receiver may see an event twice (never out of order): it should ignore an `id` it already has.

A failure is tried again after FIRST_RETRY_SECONDS, then twice as long each time, up to [events]
retry_max_minutes; `barriosms events retry` tries at once. A receiver configured later starts
with the events from then on, not with the whole history.

The command gets the event's JSON on its standard input; exit status 0 is taken. The webhook gets
an HTTP POST of the same JSON with the headers X-Barriosms-Event (the kind), X-Barriosms-Delivery
(the event's id) and X-Barriosms-Signature: sha256=<hex HMAC-SHA256 of the body with
[events] webhook_secret>; any 2xx is taken (docs/events.md shows how to check the signature).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass

from barriosms.cases import events
from barriosms.config import EventsSettings, GatewaySettings
from barriosms.store.models import Event, EventCursor, utcnow, write_tx

log = logging.getLogger(__name__)

BATCH = 100  # events handed over per receiver per turn (the job runs every few seconds)
FIRST_RETRY_SECONDS = 5.0
KEEP_DAYS = 30  # events every receiver took are deleted this long after they happened
USER_AGENT = "barriosms-events/1"


@dataclass(frozen=True)
class Turn:
    """What one receiver got in one turn: how many events, and the error that stopped it ("" none)."""

    target: str
    delivered: int
    error: str = ""


def body(event: Event) -> bytes:
    return json.dumps(events.as_json(event), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(secret: str, payload: bytes) -> str:
    """The X-Barriosms-Signature header's value for `payload`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()


def run_command(argv: tuple[str, ...], payload: bytes, timeout: float) -> str:
    """"" when the command took the event, else why not."""
    try:
        done = subprocess.run(list(argv), input=payload, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"the command took more than {timeout:g} s"
    except OSError as exc:
        return f"the command could not be started: {exc.strerror or exc}"
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"the command exited with status {done.returncode}" + (f": {said[-1][:200]}" if said else "")
    return ""


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not followed: urllib would turn the POST into a GET without the
    event (301-303), and the GET's 200 would count as delivered; nor would the signed event go on
    to an address nobody configured."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # urllib's hook: None stops it
        return None


_NO_REDIRECTS = urllib.request.build_opener(_KeepRedirects)


def post_webhook(url: str, secret: str, event: Event, payload: bytes, timeout: float) -> str:
    """"" when the webhook answered 2xx, else why not."""
    request = urllib.request.Request(url, data=payload, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
        "X-Barriosms-Event": event.kind, "X-Barriosms-Delivery": str(event.id),
        "X-Barriosms-Signature": signature(secret, payload)})
    try:
        with _NO_REDIRECTS.open(request, timeout=timeout) as answer:
            answer.read(65536)
            status = answer.status
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            return (f"the webhook answered HTTP {exc.code}, a redirect to {exc.headers.get('Location') or '?'}: "
                    "events are not sent on to another address; set [events] webhook_url to the final one")
        return f"the webhook answered HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return f"the webhook could not be reached: {exc.reason}"
    except (OSError, ValueError) as exc:  # a timeout, a reset connection, a bad address
        return f"the webhook could not be reached: {exc}"
    return "" if 200 <= status < 300 else f"the webhook answered HTTP {status}"


def retry_after(attempts: int, max_minutes: float) -> float:
    """Seconds before the next try after `attempts` failures in a row."""
    return min(max_minutes * 60, FIRST_RETRY_SECONDS * 2.0 ** min(attempts - 1, 30))


def cursor(target: str, now: dt.datetime | None = None) -> EventCursor:
    """The receiver's cursor; a new receiver starts after the newest event there is now."""
    row = EventCursor.get_or_none(EventCursor.target == target)
    if row is None:
        with write_tx():
            row = EventCursor.get_or_none(EventCursor.target == target)
            if row is None:
                newest = Event.select(Event.id).order_by(Event.id.desc()).scalar() or 0
                row = EventCursor.create(target=target, last_event_id=newest, attempts=0, last_error="")
                log.info("events: %s starts with the events after %d", target, newest)
    return row


class Deliverer:
    """One turn of delivery for every configured receiver (`deliver`), and the clean-up (`prune`).

    Several gateways sharing a database take turns: a receiver's turn is held by one of them
    (`holder`) at a time, renewed at every event it hands over, and lapses after `lease` when that
    gateway dies; so two gateways never hand a receiver the same events side by side.
    """

    # The lease defaults to [gateway] claim_lease_seconds' default, as the outbox claims' does.
    def __init__(self, settings: EventsSettings, holder: str = "",
                 lease: dt.timedelta = dt.timedelta(seconds=GatewaySettings.claim_lease_seconds)):
        self.settings = settings
        self.holder = holder
        self.lease = lease

    def _send(self, target: str, event: Event) -> str:
        s = self.settings
        payload = body(event)
        if target == "command":
            return run_command(s.command, payload, s.command_timeout_seconds)
        return post_webhook(s.webhook_url, s.webhook_secret, event, payload, s.webhook_timeout_seconds)

    def deliver(self, now: dt.datetime | None = None) -> list[Turn]:
        return [self.deliver_to(target, now) for target in self.settings.targets]

    def deliver_to(self, target: str, now: dt.datetime | None = None) -> Turn:
        now = now or utcnow()
        row = cursor(target, now)
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            return Turn(target, 0, row.last_error)
        if not self._hold(target, now):
            return Turn(target, 0)  # another gateway hands this receiver its events now
        try:
            return self._deliver_held(target, cursor(target, now), now)
        finally:
            with write_tx():
                EventCursor.update(held_by="", held_until=None).where(
                    (EventCursor.target == target) & (EventCursor.held_by == self.holder)).execute()

    def _hold(self, target: str, now: dt.datetime) -> bool:
        """Take the receiver's turn, unless another gateway holds it and renewed it within the lease."""
        free = ((EventCursor.held_by == "") | (EventCursor.held_by == self.holder) | EventCursor.held_until.is_null()
                | (EventCursor.held_until < now))
        with write_tx():
            return bool(EventCursor.update(held_by=self.holder, held_until=now + self.lease)
                        .where((EventCursor.target == target) & free).execute())

    def _deliver_held(self, target: str, row: EventCursor, now: dt.datetime) -> Turn:
        pending = list(Event.select().where(Event.id > row.last_event_id).order_by(Event.id).limit(BATCH))
        taken = 0
        for event in pending:
            error = self._send(target, event)
            if error:
                self._failed(row, event, error, now)
                return Turn(target, taken, error)
            with write_tx():
                # Only forward: another daemon (or a retry) may have moved it further meanwhile. The
                # turn is renewed with it: a long batch to a slow receiver is not taken over.
                EventCursor.update(last_event_id=event.id, attempts=0, next_attempt_at=None, last_error="",
                                   failing_since=None, held_until=max(now, utcnow()) + self.lease).where(
                    (EventCursor.target == target) & (EventCursor.last_event_id < event.id)).execute()
            if row.attempts:
                log.info("events: %s takes events again (it had failed %d time(s))", target, row.attempts)
            row.last_event_id, row.attempts, row.last_error, row.failing_since = event.id, 0, "", None
            taken += 1
        return Turn(target, taken)

    def _failed(self, row: EventCursor, event: Event, error: str, now: dt.datetime) -> None:
        attempts = row.attempts + 1
        wait = retry_after(attempts, self.settings.retry_max_minutes)
        with write_tx():
            EventCursor.update(attempts=attempts, next_attempt_at=now + dt.timedelta(seconds=wait), last_error=error,
                               failing_since=row.failing_since or now).where(EventCursor.target == row.target).execute()
        # The first failure and then every tenth: a receiver down for a day must not fill the journal.
        if attempts == 1 or attempts % 10 == 0:
            log.warning("events: %s did not take event %d (%s): %s; tried again in %.0f s, the events wait in "
                        "order (`barriosms events list --failed`; fix the receiver, then `barriosms events retry`)",
                        row.target, event.id, event.kind, error, wait)

    def prune(self, now: dt.datetime | None = None, keep_days: float = KEEP_DAYS) -> int:
        """Delete events older than `keep_days` that every configured receiver took."""
        now = now or utcnow()
        old = Event.at < now - dt.timedelta(days=keep_days)
        targets = self.settings.targets
        if targets:
            taken = min(cursor(t, now).last_event_id for t in targets)
            old = old & (Event.id <= taken)
        with write_tx():
            return Event.delete().where(old).execute()


def retry_now(now: dt.datetime | None = None) -> int:
    """Let every failing receiver try again at once; how many were waiting."""
    with write_tx():
        return EventCursor.update(next_attempt_at=now or utcnow()).where(EventCursor.next_attempt_at.is_null(False)).execute()


def waiting(target: str) -> int:
    """Events the receiver has not taken yet."""
    row = EventCursor.get_or_none(EventCursor.target == target)
    if row is None:
        return 0
    return Event.select().where(Event.id > row.last_event_id).count()
