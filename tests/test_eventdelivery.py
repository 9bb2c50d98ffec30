"""Delivering events (operations/eventdelivery.py) to a real command and a real local webhook, on a
real SQLite file: in order, signed, again after a failure, never skipping one."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest
from eventreceiver import Receiver

from barriosms.cases import events
from barriosms.config import EventsSettings
from barriosms.operations import eventdelivery
from barriosms.operations.eventdelivery import Deliverer
from barriosms.store.models import Event, EventCursor

SECRET = "un secreto largo de prueba"
T0 = dt.datetime(2026, 12, 6, 12, 0)


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    yield r
    r.close()


def record(n: int, start: int = 0) -> list[int]:
    return [events.record("modem.up", T0, modem=f"m{start + i}").id for i in range(n)]


def test_a_receiver_starts_with_the_events_after_it_was_configured(db, receiver):
    record(3)  # before the webhook existed
    deliverer = Deliverer(EventsSettings(webhook_url=receiver.url, webhook_secret=SECRET))
    assert deliverer.deliver(T0) == [eventdelivery.Turn("webhook", 0)]
    new = record(2, 3)
    assert deliverer.deliver(T0) == [eventdelivery.Turn("webhook", 2)]
    assert receiver.ids() == new and receiver.bad_signatures == 0
    assert receiver.events[0] == {"id": new[0], "kind": "modem.up", "at": "2026-12-06T12:00:00Z",
                                  "data": {"modem": "m3"}}


def test_a_receiver_that_is_down_gets_every_event_in_order_afterwards(db, receiver):
    deliverer = Deliverer(EventsSettings(webhook_url=receiver.url, webhook_secret=SECRET, retry_max_minutes=1))
    deliverer.deliver(T0)
    first = record(2)
    receiver.down = True
    turn = deliverer.deliver(T0)[0]
    assert turn.delivered == 0 and "HTTP 503" in turn.error
    later = record(3, 2)
    cursor = EventCursor.get()
    assert (cursor.attempts, cursor.next_attempt_at) == (1, T0 + dt.timedelta(seconds=5))
    # Within the pause nothing is tried; each further failure doubles it, up to retry_max_minutes.
    assert deliverer.deliver(T0 + dt.timedelta(seconds=4))[0].delivered == 0
    assert EventCursor.get().attempts == 1
    t = T0
    for expected in (10, 20, 40, 60, 60):
        t = EventCursor.get().next_attempt_at
        deliverer.deliver(t)
        assert (EventCursor.get().next_attempt_at - t).total_seconds() == expected
    receiver.down = False
    assert deliverer.deliver(EventCursor.get().next_attempt_at)[0].delivered == 5
    assert receiver.ids() == first + later
    assert (EventCursor.get().attempts, EventCursor.get().last_error) == (0, "")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_an_error_that_keeps_the_events_not_a_delivery(db, receiver, status):
    deliverer = Deliverer(EventsSettings(webhook_url=receiver.url, webhook_secret=SECRET))
    deliverer.deliver(T0)
    waiting = record(2)
    receiver.redirect = (status, receiver.url + "/nuevo")
    turn = deliverer.deliver(T0)[0]
    assert turn.delivered == 0
    assert f"HTTP {status}, a redirect to {receiver.url}/nuevo" in turn.error and "webhook_url" in turn.error
    assert receiver.gets == 0 and receiver.ids() == []  # followed, the POST would have become this GET
    # Once the address is right, the events that waited are delivered, in order.
    receiver.redirect = None
    EventCursor.update(next_attempt_at=T0).execute()
    assert deliverer.deliver(T0)[0].delivered == 2
    assert receiver.ids() == waiting


def test_a_wrong_secret_is_refused_by_the_receiver_and_nothing_is_skipped(db, receiver):
    deliverer = Deliverer(EventsSettings(webhook_url=receiver.url, webhook_secret="another secret entirely"))
    deliverer.deliver(T0)
    record(1)
    assert "HTTP 401" in deliverer.deliver(T0)[0].error
    assert receiver.bad_signatures == 1 and eventdelivery.waiting("webhook") == 1


def test_the_signature_is_hmac_sha256_of_the_body():
    import hashlib
    import hmac

    body = b'{"id":1}'
    assert eventdelivery.signature("k" * 16, body) == "sha256=" + hmac.new(b"k" * 16, body, hashlib.sha256).hexdigest()


def test_a_command_gets_each_event_on_stdin(db, tmp_path):
    out = tmp_path / "got.jsonl"
    script = tmp_path / "take.py"
    script.write_text("import sys\nopen(sys.argv[1], 'a').write(sys.stdin.read() + '\\n')\n")
    deliverer = Deliverer(EventsSettings(command=(sys.executable, str(script), str(out))))
    deliverer.deliver(T0)
    ids = record(3)
    assert deliverer.deliver(T0) == [eventdelivery.Turn("command", 3)]
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ids


@pytest.mark.parametrize("code,expected", [
    ("import sys; sys.exit(3)", "exited with status 3"),
    ("import sys; print('sin conexion', file=sys.stderr); sys.exit(1)", "status 1: sin conexion"),
    ("import time; time.sleep(5)", "took more than 1 s"),
])
def test_a_failing_command_keeps_the_event(db, tmp_path, code, expected):
    deliverer = Deliverer(EventsSettings(command=(sys.executable, "-c", code), command_timeout_seconds=1))
    deliverer.deliver(T0)
    record(1)
    assert expected in deliverer.deliver(T0)[0].error
    assert eventdelivery.waiting("command") == 1


def test_a_missing_program_is_an_error_that_waits(db, tmp_path):
    deliverer = Deliverer(EventsSettings(command=(str(tmp_path / "no-such-program"),)))
    deliverer.deliver(T0)
    record(1)
    assert "could not be started" in deliverer.deliver(T0)[0].error


def test_retry_now_ends_the_pause(db, receiver):
    deliverer = Deliverer(EventsSettings(webhook_url=receiver.url, webhook_secret=SECRET))
    deliverer.deliver(T0)
    record(1)
    receiver.down = True
    deliverer.deliver(T0)
    receiver.down = False
    assert deliverer.deliver(T0 + dt.timedelta(seconds=1))[0].delivered == 0  # still pausing
    assert eventdelivery.retry_now(T0 + dt.timedelta(seconds=1)) == 1
    assert deliverer.deliver(T0 + dt.timedelta(seconds=1))[0].delivered == 1


def test_prune_deletes_only_old_events_every_receiver_took(db, receiver):
    deliverer = Deliverer(EventsSettings(webhook_url=receiver.url, webhook_secret=SECRET))
    deliverer.deliver(T0)
    old = [events.record("modem.up", T0 - dt.timedelta(days=40), modem="x").id for _ in range(2)]
    receiver.down = True
    deliverer.deliver(T0)
    assert deliverer.prune(T0) == 0  # not taken yet: kept, however old
    receiver.down = False
    eventdelivery.retry_now(T0)
    deliverer.deliver(T0)
    record(1)
    assert deliverer.prune(T0) == 2
    assert [e.id for e in Event.select()] == [max(old) + 1]


def test_two_gateways_take_turns_and_a_dead_ones_turn_lapses(db, receiver):
    settings = EventsSettings(webhook_url=receiver.url, webhook_secret=SECRET)
    lease = dt.timedelta(seconds=60)
    norte, sur = Deliverer(settings, holder="norte", lease=lease), Deliverer(settings, holder="sur", lease=lease)
    norte.deliver(T0)
    first = record(2)
    # norte died holding the turn (its hold was never released): sur waits for the lease to run out.
    EventCursor.update(held_by="norte", held_until=T0 + lease).execute()
    assert sur.deliver(T0 + dt.timedelta(seconds=30)) == [eventdelivery.Turn("webhook", 0)]
    assert receiver.ids() == []
    assert sur.deliver(T0 + dt.timedelta(seconds=61)) == [eventdelivery.Turn("webhook", 2)]
    # A turn is let go at its end: the next events go to whichever gateway comes first, once each.
    assert EventCursor.get().held_by == ""
    later = record(1, 2)
    assert norte.deliver(T0 + dt.timedelta(seconds=62)) == [eventdelivery.Turn("webhook", 1)]
    assert sur.deliver(T0 + dt.timedelta(seconds=62)) == [eventdelivery.Turn("webhook", 0)]
    assert receiver.ids() == first + later
