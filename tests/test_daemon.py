"""The modem thread driven by the in-memory modem: notifications, polling, reconnects, reload."""

from __future__ import annotations

import logging
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
        # The loss is recorded first ("not connected"), then the failed reconnection's own error.
        assert wait_until(lambda: not ModemHealth.get().connected
                          and "No such file" in (ModemHealth.get().last_error or ""))
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


def settings_with(db, tmp_path, modem_extra: str = "", gateway_extra: str = "", device: str = "/dev/fake"):
    ini = tmp_path / "c.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = {device}\n{modem_extra}\n"
                   f"[gateway]\npoll_seconds = 60\n{gateway_extra}\n")
    return config.load(ini)


def test_sigusr1_hold_releases_the_modem_and_sigusr2_takes_it_back(settings, hoods):
    modem = FakeModem()
    thread, stop = start(settings, modem)
    try:
        assert wait_until(lambda: modem.connected)
        thread.hold.set()
        assert wait_until(lambda: not modem.connected)
        assert wait_until(lambda: "released on request" in ModemHealth.get().last_error)
        modem.arrive("+59171234567", "AYUDA")
        time.sleep(0.5)
        assert modem.sent == [] and not modem.connected  # nobody touches the modem meanwhile
        thread.hold.clear()
        assert wait_until(lambda: modem.connected)
        assert wait_until(lambda: len(modem.sent) == 1)
    finally:
        stop.set()
        thread.join(5)


def test_usb_reset_command_runs_after_repeated_failures(db, tmp_path, hoods):
    marker = tmp_path / "resets"
    settings = settings_with(db, tmp_path, modem_extra=f"usb_reset_command = sh -c 'echo reset >> {marker}'")
    modem = FlakyModem(failures=10**6)
    thread, stop = start(settings, modem)
    try:
        assert wait_until(lambda: marker.exists(), timeout=8), "the reset command never ran"
        assert modem.attempts >= 3
        assert marker.read_text() == "reset\n"
    finally:
        stop.set()
        thread.join(5)


def test_a_vanished_device_is_reopened_as_soon_as_it_returns(db, tmp_path, hoods, caplog):
    caplog.set_level(logging.INFO, logger="barriosms.daemon")
    device = tmp_path / "ttyUSB0"
    settings = settings_with(db, tmp_path, device=str(device))

    class Unplugged(FakeModem):
        def connect(self):
            if not device.exists():
                raise ModemError(f"cannot initialise the modem on {device}: no such device", reconnect=True)
            return super().connect()

    modem = Unplugged()
    thread, stop = start(settings, modem)
    try:
        time.sleep(3.5)  # failures at 0, 1 and 3 s: the back-off is now 4 s
        device.write_text("")
        assert wait_until(lambda: modem.connected, timeout=3)
        # It noticed the device come back instead of sitting out the back-off.
        assert any("is back" in r.getMessage() for r in caplog.records)
    finally:
        stop.set()
        thread.join(5)


def test_watchdog_aborts_a_stuck_call_then_gives_up(settings):
    from barriosms.daemon import ABORT_GRACE_SECONDS, Daemon

    class Stuck(FakeModem):
        aborted = 0

        def abort(self):
            self.aborted += 1

    modem = Stuck()
    daemon = Daemon(settings, modem_factory=lambda s: modem)
    limit = settings.gateway.modem_timeout
    modem.busy = ("reading SMS from the SIM", time.monotonic() - limit - 1)
    daemon.watchdog()
    daemon.watchdog()  # the same stuck call is aborted once
    assert modem.aborted == 1 and not daemon.stop.is_set()
    modem.busy = ("reading SMS from the SIM", time.monotonic() - limit - ABORT_GRACE_SECONDS - 1)
    daemon._aborted_call = modem.busy[1]
    daemon.watchdog()
    assert daemon.stop.is_set() and daemon.thread.failed is not None
    modem.busy = None
