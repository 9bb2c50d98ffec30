"""The modem thread driven by the in-memory modem: notifications, polling, reconnects, reload."""

from __future__ import annotations

import threading
import time

import pytest

from barriosms import config
from barriosms.daemon import ModemThread, Requests
from barriosms.sms import ModemError
from barriosms.store.models import Case, ModemHealth, OutboundMessage

from fakemodem import FakeModem


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def settings(db, tmp_path):
    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/fake\n[gateway]\npoll_seconds = 60\n")
    return config.load(ini)


class FlakyModem(FakeModem):
    """Refuses to connect a given number of times, like a stick still booting."""

    def __init__(self, failures: int):
        super().__init__()
        self.failures = failures
        self.attempts = 0

    def connect(self):
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ModemError("cannot initialise the modem on /dev/fake: No such file", reconnect=True)
        return super().connect()


def start(settings, modem):
    stop = threading.Event()
    thread = ModemThread(settings, stop, modem_factory=lambda s: modem)
    thread.start()
    return thread, stop


def test_notified_message_is_answered_without_waiting_for_the_poll(settings, hoods):
    modem = FakeModem()
    thread, stop = start(settings, modem)
    try:
        assert wait_until(lambda: modem.connected)
        modem.arrive("+59171234567", "B12 bache en la calle 3")
        assert wait_until(lambda: len(modem.sent) == 1), "no reply"  # poll is 60 s: this was the notification
        assert Case.select().count() == 1
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and thread.failed is None
    assert not modem.connected  # disconnected on the way out


def test_poll_request_finds_messages_without_notification(settings, hoods):
    modem = FakeModem()
    thread, stop = start(settings, modem)
    try:
        assert wait_until(lambda: modem.connected)
        modem.arrive("+59171234567", "AYUDA")
        modem.announced = False  # as when a full SIM sends no +CMTI
        time.sleep(0.3)
        assert modem.sent == []
        thread.requests.ask("receive")
        assert wait_until(lambda: len(modem.sent) == 1)
    finally:
        stop.set()
        thread.join(5)


def test_reconnects_after_failures_and_records_health(settings, hoods):
    modem = FlakyModem(failures=2)
    thread, stop = start(settings, modem)
    try:
        assert wait_until(lambda: ModemHealth.get_or_none() is not None and not ModemHealth.get().connected)
        assert "No such file" in ModemHealth.get().last_error
        assert wait_until(lambda: modem.connected, timeout=8)  # back-off 1 s then 2 s
        assert wait_until(lambda: ModemHealth.get().connected)
        modem.failures = 10**6  # the stick vanished and stays away
        modem.connected = False
        assert wait_until(lambda: not ModemHealth.get().connected)
        assert "No such file" in ModemHealth.get().last_error
        modem.failures = 0  # plugged back in
        assert wait_until(lambda: ModemHealth.get().connected, timeout=8)
    finally:
        stop.set()
        thread.join(5)


def test_status_updates_queued_by_staff_are_sent(settings, hoods):
    from barriosms import outbox

    modem = FakeModem()
    thread, stop = start(settings, modem)
    try:
        assert wait_until(lambda: modem.connected)
        outbox.queue("+59171234567", "Su caso 1234567 esta en proceso")
        thread.requests.ask("send")  # what the scheduler's outbox job does every second
        assert wait_until(lambda: modem.sent == [("+59171234567", "Su caso 1234567 esta en proceso")])
        assert wait_until(lambda: OutboundMessage.get().status == "sent")
    finally:
        stop.set()
        thread.join(5)


def test_requests_coalesce():
    r = Requests()
    r.ask("send")
    r.ask("send")
    r.ask("receive")
    assert r.take(0) == {"send", "receive"}
    started = time.monotonic()
    assert r.take(0.05) == set()
    assert time.monotonic() - started >= 0.04
