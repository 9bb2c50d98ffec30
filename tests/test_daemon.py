"""The modem thread driven by the in-memory modem: notifications, polling, reconnects, reload."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from fakemodem import FakeModem
from steppedclock import SteppedClock

from barriosms import config
from barriosms.daemon.modem_thread import ModemThread
from barriosms.daemon.requests import Requests
from barriosms.modem.interface import ModemError
from barriosms.store.models import Case, ModemHealth, OutboundMessage


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


def start(settings, modem, clock=None):
    stop = threading.Event()
    extra = {"clock": clock} if clock is not None else {}
    thread = ModemThread(settings, stop, modem_factory=lambda s: modem, **extra)
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
    clock = SteppedClock()
    thread, stop = start(settings, modem, clock)
    try:
        clock.settle()
        # The SIM is read once at start-up: the message must come after that sweep to prove the point.
        assert modem.connected and modem.reads == 1
        modem.arrive("+59171234567", "AYUDA", announce=False)  # as when a full SIM sends no +CMTI
        clock.advance(30.0)  # three hundred idle turns
        assert modem.sent == [] and modem.reads == 1  # nothing looked at the SIM by itself
        thread.requests.ask("receive")
        clock.settle()
        assert len(modem.sent) == 1
    finally:
        stop.set()
        thread.requests.wake()  # its stepped time stands still: wake it rather than let a wait run out
        thread.join(5)
    assert not thread.is_alive()


def test_reconnects_after_failures_and_records_health(settings, hoods):
    modem = FlakyModem(failures=2)
    clock = SteppedClock()
    thread, stop = start(settings, modem, clock)
    try:
        clock.settle()
        assert not ModemHealth.get().connected and "No such file" in ModemHealth.get().last_error
        clock.advance(1.0)  # back-off 1 s, then 2 s
        assert modem.attempts == 2 and not modem.connected
        clock.advance(1.9)
        assert modem.attempts == 2
        clock.advance(0.1)
        assert modem.attempts == 3 and modem.connected and ModemHealth.get().connected
        modem.failures = 10**6  # the stick vanished and stays away
        modem.connected = False
        clock.advance(0.1)
        # The loss is recorded first ("not connected"), then the failed reconnection's own error.
        assert not ModemHealth.get().connected and "No such file" in (ModemHealth.get().last_error or "")
        assert modem.attempts == 4
        modem.failures = 0  # plugged back in
        clock.advance(1.0)  # the back-off starts again at 1 s
        assert modem.connected and ModemHealth.get().connected
    finally:
        stop.set()
        thread.requests.wake()  # its stepped time stands still: wake it rather than let a wait run out
        thread.join(5)
    assert not thread.is_alive()


def test_status_updates_queued_by_staff_are_sent(settings, hoods):
    from barriosms.cases import outbox

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
    clock = SteppedClock()
    thread, stop = start(settings, modem, clock)
    try:
        clock.settle()
        assert modem.connected
        thread.hold.set()
        clock.advance(0.1)  # the next turn lets go of it
        assert not modem.connected
        assert "released on request" in ModemHealth.get().last_error
        modem.arrive("+59171234567", "AYUDA")
        clock.advance(30.0)
        assert modem.sent == [] and not modem.connected  # nobody touches the modem meanwhile
        thread.hold.clear()
        clock.advance(1.0)  # the held thread looks at the flag every second
        assert modem.connected and len(modem.sent) == 1
    finally:
        stop.set()
        thread.requests.wake()  # its stepped time stands still: wake it rather than let a wait run out
        thread.join(5)
    assert not thread.is_alive()


def test_usb_reset_command_runs_after_repeated_failures(db, tmp_path, hoods):
    marker = tmp_path / "resets"
    settings = settings_with(db, tmp_path, modem_extra=f"usb_reset_command = sh -c 'echo reset >> {marker}'")
    modem = FlakyModem(failures=10**6)
    clock = SteppedClock()
    thread, stop = start(settings, modem, clock)
    try:
        clock.advance(2.9)  # failures at 0 and 1 s
        assert modem.attempts == 2 and not marker.exists()
        clock.advance(0.1)  # the third failure, at 3 s
        assert modem.attempts == 3
        assert marker.read_text() == "reset\n"
    finally:
        stop.set()
        thread.requests.wake()  # its stepped time stands still: wake it rather than let a wait run out
        thread.join(5)
    assert not thread.is_alive()


def test_a_vanished_device_is_reopened_as_soon_as_it_returns(db, tmp_path, hoods, caplog):
    caplog.set_level(logging.INFO, logger="barriosms.daemon.process")
    device = tmp_path / "ttyUSB0"
    settings = settings_with(db, tmp_path, device=str(device))

    class Unplugged(FakeModem):
        def connect(self):
            if not device.exists():
                raise ModemError(f"cannot initialise the modem on {device}: no such device", reconnect=True)
            return super().connect()

    modem = Unplugged()
    clock = SteppedClock()
    thread, stop = start(settings, modem, clock)
    try:
        clock.advance(3.5)  # failures at 0, 1 and 3 s: the back-off is now 4 s
        assert not modem.connected
        device.write_text("")
        clock.advance(0.75)  # seen within 0.25 s, then half a second for udev
        assert modem.connected  # long before the back-off's 7 s
        # It noticed the device come back instead of sitting out the back-off.
        assert any("is back" in r.getMessage() for r in caplog.records)
    finally:
        stop.set()
        thread.requests.wake()  # its stepped time stands still: wake it rather than let a wait run out
        thread.join(5)
    assert not thread.is_alive()


def test_watchdog_aborts_a_stuck_call_then_gives_up(settings):
    from barriosms.daemon.process import ABORT_GRACE_SECONDS, Daemon

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
    daemon.thread.aborted_call = modem.busy[1]
    daemon.watchdog()
    assert daemon.stop.is_set() and daemon.thread.failed is not None
    modem.busy = None


# -- the whole daemon under a fake systemd: notifications, watchdog, clock, quiet logs -----------

import contextlib
import datetime as dt
import signal
import socket
import types
import uuid

from barriosms.daemon import clock_trust
from barriosms.daemon import process as daemon_module
from barriosms.daemon.process import Daemon


class FakeSystemd:
    """systemd's end of NOTIFY_SOCKET: collects the datagrams the daemon sends, one string each."""

    def __init__(self, address: str):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + address[1:].encode() if address.startswith("@") else address)
        self.sock.setblocking(False)
        self.messages: list[str] = []

    def received(self) -> list[str]:
        with contextlib.suppress(BlockingIOError):
            while True:
                self.messages.append(self.sock.recv(4096).decode())
        return self.messages

    def find(self, field: str, start: int = 0) -> int | None:
        """Index of the first message from `start` with a line that starts with `field`."""
        for i, message in enumerate(self.received()[start:], start):
            if any(line.startswith(field) for line in message.splitlines()):
                return i
        return None

    def wait_for(self, field: str, start: int = 0, timeout: float = 3.0) -> str:
        assert wait_until(lambda: self.find(field, start) is not None, timeout), (field, self.received())
        return self.messages[self.find(field, start)]

    def pings_within(self, seconds: float) -> int:
        start = len(self.received())
        time.sleep(seconds)
        return sum(m == "WATCHDOG=1" for m in self.received()[start:])


@pytest.fixture
def systemd(request, tmp_path, monkeypatch):
    kind = getattr(request, "param", "path")  # or "abstract": an abstract socket name, "@..."
    address = str(tmp_path / "notify") if kind == "path" else f"@barriosms-test-{uuid.uuid4().hex}"
    fake = FakeSystemd(address)
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # a ping every 0.2 s: every turn of the main loop
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield fake
    fake.sock.close()


@pytest.fixture
def quick(db, tmp_path, monkeypatch):
    """Settings with every periodic job at its shortest, and Daemon.run usable outside the main thread."""
    names = ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2")
    monkeypatch.setattr(daemon_module, "signal", types.SimpleNamespace(
        signal=lambda *args: None, **{n: getattr(signal, n) for n in names}))
    ini = tmp_path / "quick.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/fake\n"
                   "[gateway]\npoll_seconds = 0.5\nheartbeat_seconds = 1\nmultipart_timeout = 4\n")
    return config.load(ini)


@contextlib.contextmanager
def running(daemon: Daemon):
    codes: list[int] = []
    runner = threading.Thread(target=lambda: codes.append(daemon.run()), name="main-of-test")
    runner.start()
    try:
        yield codes
    finally:
        daemon.stop.set()
        release = getattr(daemon.thread.modem, "release", None)
        if release is not None:
            release.set()  # a Freezable modem left frozen by a failed assertion
        runner.join(10)
        assert not runner.is_alive()


class Freezable(FakeModem):
    """Blocks the modem thread inside poll_events(), as a hung USB read would; abort() does not help."""

    def __init__(self):
        super().__init__()
        self.freeze = threading.Event()
        self.release = threading.Event()
        self.busy: tuple[str, float] | None = None
        self.stuck_for: float | None = None  # what `busy` claims: a call that began this long ago
        self.aborts = 0

    def poll_events(self):
        if self.freeze.is_set():
            if self.stuck_for is not None:
                self.busy = ("reading the modem", time.monotonic() - self.stuck_for)
            self.release.wait(10)
            self.busy = None
        return super().poll_events()

    def abort(self):
        self.aborts += 1


@pytest.mark.parametrize("systemd", ["path", "abstract"], indirect=True)
def test_ready_after_start_then_pings_and_stopping(quick, systemd):
    modem = FakeModem()
    daemon = Daemon(quick, modem_factory=lambda s: modem)
    with running(daemon) as codes:
        ready = systemd.wait_for("READY=1")
        assert "STATUS=modem connected on /dev/fake: Fake In-memory" in ready.splitlines()
        assert systemd.pings_within(1.0) >= 3
    assert codes == [0]
    stopping = systemd.wait_for("STOPPING=1")
    assert systemd.messages.index(stopping) > systemd.messages.index(ready)


def test_ready_without_the_modem_and_status_follows_it(quick, systemd):
    modem = FlakyModem(failures=1)
    daemon = Daemon(quick, modem_factory=lambda s: modem)
    with running(daemon):
        ready = systemd.wait_for("READY=1")
        # READY means the daemon works: the missing stick is the status, not a start that never ends.
        assert "STATUS=modem unavailable, retrying: cannot initialise the modem on /dev/fake: No such file" in ready
        assert systemd.pings_within(0.6) >= 2
        systemd.wait_for("STATUS=modem connected on /dev/fake: Fake In-memory", timeout=4)  # back-off 1 s
        mark = len(systemd.received())
        modem.failures = 10**6
        modem.connected = False  # unplugged
        # ("lost the modem" lasts only until the reconnection fails: too short to be sent)
        systemd.wait_for("STATUS=modem unavailable, retrying: cannot initialise the modem on /dev/fake: No such file",
                         mark)


def test_pings_stop_while_the_modem_thread_makes_no_progress(quick, systemd, monkeypatch):
    monkeypatch.setattr(daemon_module, "STALL_SECONDS", 0.5)
    modem = Freezable()
    daemon = Daemon(quick, modem_factory=lambda s: modem)
    with running(daemon):
        systemd.wait_for("READY=1")
        assert systemd.pings_within(0.6) >= 2
        mark = len(systemd.received())
        modem.freeze.set()
        time.sleep(0.7)
        assert systemd.pings_within(1.0) == 0
        assert "made no progress" in systemd.wait_for("STATUS=unhealthy: ", mark)
        modem.freeze.clear()
        modem.release.set()
        assert systemd.pings_within(0.6) >= 2  # free again: fed again


def test_pings_stop_when_a_modem_call_stays_stuck_after_the_abort(quick, systemd):
    from barriosms.daemon.process import ABORT_SETTLE_SECONDS

    modem = Freezable()
    modem.stuck_for = quick.gateway.modem_timeout + ABORT_SETTLE_SECONDS + 1
    daemon = Daemon(quick, modem_factory=lambda s: modem)
    with running(daemon):
        systemd.wait_for("READY=1")
        modem.freeze.set()
        assert wait_until(lambda: modem.busy is not None)
        time.sleep(0.3)
        assert systemd.pings_within(1.0) == 0  # long before STALL_SECONDS: the call is over its limit
        assert "still stuck reading the modem" in systemd.wait_for("STATUS=unhealthy: ")
        modem.freeze.clear()
        modem.release.set()
        assert systemd.pings_within(0.6) >= 2
        assert not daemon.stop.is_set()


def test_pings_stop_when_the_scheduler_stops(quick, systemd):
    modem = FakeModem()
    daemon = Daemon(quick, modem_factory=lambda s: modem)
    with running(daemon):
        systemd.wait_for("READY=1")
        assert systemd.pings_within(0.6) >= 2
        daemon.scheduler.shutdown(wait=False)
        time.sleep(0.3)
        assert systemd.pings_within(1.0) == 0
        assert "scheduler has stopped" in systemd.wait_for("STATUS=unhealthy: ")
        daemon.scheduler.start()  # what a fixed scheduler would look like: fed again
        assert systemd.pings_within(0.6) >= 2
        # A scheduler that runs but fires no job (its watchdog job stamps the time) is as dead.
        daemon._scheduler_beat = time.monotonic() - daemon_module.SCHEDULER_STALL_SECONDS - 1
        assert "scheduler has run no job" in daemon.health_problem()


def test_sighup_sends_reloading_then_ready(quick, systemd):
    modem = FakeModem()
    daemon = Daemon(quick, modem_factory=lambda s: modem, reload=lambda: config.load(quick.source))
    with running(daemon):
        first = systemd.messages.index(systemd.wait_for("READY=1"))
        daemon._on_signal(signal.SIGHUP, None)
        reloading = systemd.wait_for("RELOADING=1", first + 1)
        assert any(line.startswith("MONOTONIC_USEC=") for line in reloading.splitlines())
        at = systemd.messages.index(reloading)
        systemd.wait_for("READY=1", at + 1)
        assert daemon.thread.reloads_done == 1


def test_a_bad_clock_holds_the_sim_keeps_the_pings_and_says_why(quick, systemd, monkeypatch, caplog, hoods):
    monkeypatch.setattr(clock_trust, "CLOCK_CHECK_SECONDS", 0.1)
    caplog.set_level(logging.INFO, logger="barriosms.daemon.process")
    clock = {"now": dt.datetime(1970, 1, 1, 0, 2, tzinfo=dt.UTC)}  # a Pi before NTP
    modem = FakeModem()
    daemon = Daemon(quick, modem_factory=lambda s: modem, now=lambda: clock["now"])
    with running(daemon):
        systemd.wait_for("READY=1")
        modem.arrive("+59171234567", "B12 bache en la calle 3")
        waiting = systemd.wait_for("STATUS=waiting for the system clock (NTP) before reading the SIM; "
                                   "check timedatectl")
        assert systemd.pings_within(1.0) >= 3  # alive and doing the right thing
        assert len(modem.sim) == 1 and modem.sent == []
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings == ["the system clock says 1970-01-01 00:02 UTC, before this release (2026-11-01): "
                            "waiting for NTP; check timedatectl; SMS stay on the SIM until then"]
        clock["now"] = dt.datetime.now(dt.UTC)  # NTP synced
        assert wait_until(lambda: len(modem.sent) == 1)
        assert modem.sim == {} and Case.select().count() == 1
        systemd.wait_for("STATUS=modem connected on /dev/fake: Fake In-memory", systemd.messages.index(waiting))


def test_an_idle_daemon_logs_nothing(quick, caplog):
    caplog.set_level(logging.DEBUG, logger="barriosms")
    modem = FakeModem()
    daemon = Daemon(quick, modem_factory=lambda s: modem)
    with running(daemon):
        assert wait_until(lambda: modem.connected and daemon._ready)
        time.sleep(0.5)  # the first turn after connecting: receive, health
        caplog.clear()
        time.sleep(2.5)  # five polls, two heartbeats, the outbox and multipart jobs, the clock check
        assert [r.getMessage() for r in caplog.records if r.name.startswith("barriosms")] == []


def test_a_reload_is_applied_while_the_modem_cannot_connect(db, tmp_path, hoods):
    broken = settings_with(db, tmp_path, device="/dev/wrong")
    fixed = settings_with(db, tmp_path, device="/dev/fake")
    modems = {"/dev/wrong": FlakyModem(failures=10**6), "/dev/fake": FakeModem()}
    stop = threading.Event()
    clock = SteppedClock()
    thread = ModemThread(broken, stop, modem_factory=lambda s: modems[s.modem.device], clock=clock)
    thread.start()
    try:
        clock.advance(1.0)
        assert modems["/dev/wrong"].attempts == 2  # now waiting 2 s
        asked = thread.reload(fixed)  # the technician fixed [modem] device and sent SIGHUP
        clock.advance(0.25)  # the back-off's next look, not its end
        assert modems["/dev/fake"].connected
        assert thread.reloads_done == asked
    finally:
        stop.set()
        thread.requests.wake()  # its stepped time stands still: wake it rather than let a wait run out
        thread.join(5)
    assert not thread.is_alive()


def test_two_modems_each_answer_their_own_and_share_the_rest(quick, db, tmp_path, hoods):
    """[modem entel] and [modem tigo]: a reply leaves through the modem its report came in on; a
    status SMS through the modem of the recipient's operator; when one stick is gone, the other
    sends everything."""
    from barriosms.cases import casework
    from barriosms.daemon.process import Daemon
    from barriosms.store.models import Case, OutboundMessage
    from barriosms.templates.loader import load_templates

    ini = tmp_path / "two.ini"
    ini.write_text(f"[database]\npath = {db}\n"
                   "[modem entel]\ndevice = /dev/fake-entel\noperator = Entel\n"
                   "[modem tigo]\ndevice = /dev/fake-tigo\noperator = Tigo\n"
                   "[gateway]\npoll_seconds = 60\nheartbeat_seconds = 1\n")
    settings = config.load(ini)
    assert [m.name for m in settings.all_modems] == ["entel", "tigo"]
    modems = {"entel": FakeModem(), "tigo": FlakyModem(failures=0)}
    daemon = Daemon(settings, modem_factory=lambda s: modems[s.modem.name])
    with running(daemon) as codes:
        assert wait_until(lambda: all(m.connected for m in modems.values()))
        tigo_resident = "+59176543210"
        # The Tigo resident's report happens to arrive on the Entel SIM: the reply goes back through it.
        modems["entel"].arrive(tigo_resident, "B12 bache en la calle 3")
        assert wait_until(lambda: len(modems["entel"].sent) == 1)
        assert modems["entel"].sent[0][0] == tigo_resident and modems["tigo"].sent == []
        assert wait_until(lambda: all(t.gateway._health().connected for t in daemon.threads))
        # A status SMS leaves through the recipient's operator.
        tracking = Case.get().tracking
        casework.change_status(tracking, "in_progress", load_templates(), region="BO")
        assert wait_until(lambda: len(modems["tigo"].sent) == 1)
        assert modems["tigo"].sent[0][0] == tigo_resident
        # The Tigo stick is unplugged: its SMS fall back to the Entel one.
        modems["tigo"].connected = False
        modems["tigo"].failures = 10**6
        assert wait_until(lambda: not daemon.threads[1].gateway._health().connected)
        casework.change_status(tracking, "resolved", load_templates(), region="BO")
        assert wait_until(lambda: len(modems["entel"].sent) == 2, timeout=10)
        assert modems["entel"].sent[1][0] == tigo_resident
        # The fake records the SMS before the daemon marks its row sent: wait for the row too.
        assert wait_until(lambda: OutboundMessage.select().where(
            OutboundMessage.status == "sent").count() == 3)
        sent_by = {m.claimed_by.split("/")[-1] for m in OutboundMessage.select()}
        assert sent_by == {"entel", "tigo"}
    assert codes == [0]


def test_an_unexpected_error_in_a_turn_does_not_stop_the_gateway(settings, hoods, caplog):
    class OnceBroken(FakeModem):
        broke = False

        def read_all(self):
            if not self.broke:
                self.broke = True
                raise RuntimeError("a bug somewhere in reading")
            return super().read_all()

    modem = OnceBroken()
    modem.arrive("+59171234567", "B12 bache en la calle 3")
    clock = SteppedClock()
    thread, stop = start(settings, modem, clock)
    try:
        clock.settle()
        assert modem.broke and modem.sent == []
        clock.advance(2.0)  # it waits 2 s after the first unexpected error
        assert len(modem.sent) == 1, "the next turn stored and answered it"
        assert thread.is_alive() and thread.failed is None
    finally:
        stop.set()
        thread.requests.wake()  # its stepped time stands still: wake it rather than let a wait run out
        thread.join(5)
    assert not thread.is_alive()
    assert any("unexpected error in the gateway's work (1 in a row" in r.getMessage() for r in caplog.records)


def test_a_gateway_whose_name_another_machine_uses_exits_2_before_touching_the_modem(db, tmp_path, caplog):
    from barriosms.store.models import utcnow

    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\npath = {db}\n[gateway]\nname = norte\n[modem]\ndevice = /dev/fake\n")
    ModemHealth.create(name="norte", updated_at=utcnow(), connected=True, host="pi-otro (0badc0de)", pid=77)
    modem = FakeModem()
    daemon = Daemon(config.load(ini), modem_factory=lambda s: modem)
    assert daemon.run() == 2
    assert not modem.connected and not daemon.thread.is_alive()
    assert any("'norte' is in use on this database by the gateway on pi-otro" in r.getMessage()
               for r in caplog.records)


def test_the_daemon_on_sqlite_loads_neither_the_postgresql_driver_nor_werkzeug(ready, ini):
    # barriosms run (the modem absent: it keeps trying), stopped by its own SIGTERM after 3 s; what
    # it imported is printed at exit. psycopg2 is ~5 MiB resident, werkzeug ~2.5 MiB (crews import it
    # when a PIN is checked); phonenumbers' carrier data only when operators are compared.
    import subprocess
    import sys

    ini.write_text(ini.read_text().replace("/dev/ttyUSB0", str(ini.parent / "no-modem")))
    unwanted = ("psycopg2", "werkzeug", "flask", "phonenumbers.carrier", "phonenumbers.geocoder")
    code = ("import atexit, os, signal, sys, threading\n"
            f"atexit.register(lambda: print('LOADED', sorted(m for m in {unwanted!r} if sys.modules.get(m))))\n"
            "threading.Timer(3, os.kill, (os.getpid(), signal.SIGTERM)).start()\n"
            "from barriosms.cli import main\n"
            f"sys.argv = ['barriosms', '--config', {str(ini)!r}, 'run']\n"
            "main()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines()[-1] == "LOADED []"
