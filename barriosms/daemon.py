"""The long-running gateway: the modem thread, the scheduler that paces it, and signals.

Threads:
- the main thread installs signal handlers (which only set flags) and waits for them;
- the modem thread owns the GammuModem and does every modem call, reading the SIM, storing,
  answering and sending (see gateway.Gateway);
- APScheduler's thread only *asks* the modem thread for work (poll the SIM, look at the outbox,
  write a heartbeat), so a slow modem never piles up jobs.
"""

from __future__ import annotations

import logging
import os
import shlex
from datetime import datetime, timedelta, timezone
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from . import outbox, runlock, ussd
from .config import Settings
from .gateway import Gateway, Modem, StoreUnavailable
from .intake import Intake, IntakeRules, rules_from_settings
from .modem.gammu_modem import GammuModem
from .sendpolicy import SendPolicy
from .sms import ModemError
from .store.models import database

log = logging.getLogger(__name__)

# How often the idle modem thread lets Gammu read unsolicited lines (+CMTI): this bounds how long a
# notified message waits before it is read.
EVENT_POLL_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 60.0
# Failed reconnections in a row before the configured USB reset command runs (and again every as many).
USB_RESET_AFTER = 3
# Connection losses in a row (without a successful turn of work between) before a soft reset is tried.
SOFT_RESET_AFTER = 2
# After aborting a stuck call, how long to wait for Gammu to give up before exiting for systemd.
ABORT_GRACE_SECONDS = 30.0
# With the database refusing writes, how long to wait before reading the SIM again.
STORE_RETRY_SECONDS = 15.0


def build_rules(settings: Settings) -> IntakeRules:
    return rules_from_settings(settings)


def build_policy(settings: Settings) -> SendPolicy:
    return SendPolicy(settings.service, settings.zone)


@dataclass
class Requests:
    """Work asked of the modem thread; asking twice before it runs is asking once."""

    _wanted: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)

    def ask(self, what: str) -> None:
        with self._lock:
            self._wanted.add(what)
        self._wake.set()

    def take(self, timeout: float) -> set[str]:
        self._wake.wait(timeout)
        with self._lock:
            wanted, self._wanted = self._wanted, set()
            self._wake.clear()
        return wanted

    def wake(self) -> None:
        self._wake.set()


class ModemThread(threading.Thread):
    def __init__(self, settings: Settings, stop: threading.Event,
                 modem_factory: Callable[[Settings], Modem] | None = None):
        super().__init__(name="modem", daemon=True)
        self.settings = settings
        self.stop_event = stop
        self.requests = Requests()
        self._factory = modem_factory or (lambda s: GammuModem(s.modem))
        self.modem = self._factory(settings)
        self.gateway = Gateway(self.modem, Intake(build_rules(settings)), settings.gateway, build_policy(settings))
        self._pending_settings: Settings | None = None
        self._down_reason: str | None = None
        self.failed: BaseException | None = None
        # Set by the main thread on SIGUSR1 (let go of the modem so a technician can use the gammu
        # command on it), cleared on SIGUSR2.
        self.hold = threading.Event()
        self._held = False
        self._failed_connects = 0
        self._losses = 0
        self._store_problem: str | None = None

    def reload(self, settings: Settings) -> None:
        """Take new settings (SIGHUP): applied by the modem thread itself, between two jobs."""
        self._pending_settings = settings
        self.requests.ask("reload")

    def run(self) -> None:
        try:
            with database.connection_context():
                self._loop()
        except BaseException as exc:  # noqa: BLE001 - recorded for the main thread, which exits
            log.exception("the modem thread stopped on an unexpected error")
            self.failed = exc
            self.stop_event.set()
        finally:
            self._disconnect()

    def _loop(self) -> None:
        delay = 1.0
        while not self.stop_event.is_set():
            if self._hold_if_asked():
                continue
            if not self.modem.connected:
                if self._connect():
                    delay = 1.0
                    self.requests.ask("receive")
                    self.requests.ask("health")
                else:
                    # Still alive, only without a modem: `modem status` must tell the two apart.
                    self.gateway.heartbeat_only()
                    self._maybe_usb_reset()
                    self._wait_for_device(delay)
                    delay = min(delay * 2, RECONNECT_MAX_SECONDS)
                continue
            wanted = self.requests.take(EVENT_POLL_SECONDS)
            try:
                self._work(wanted)
                self._losses = 0
                if self._store_problem:
                    log.info("the database accepts writes again")
                    self._store_problem = None
            except ModemError as exc:
                if exc.reconnect:
                    self._lost(str(exc))
                else:
                    log.warning("%s", exc)
            except StoreUnavailable as exc:
                if str(exc) != self._store_problem:
                    log.error("%s", exc)  # once per change: the technician must act, the retries are quiet
                    self._store_problem = str(exc)
                self.stop_event.wait(STORE_RETRY_SECONDS)

    def _hold_if_asked(self) -> bool:
        if self.hold.is_set():
            if not self._held:
                self._disconnect()
                self._held = True
                reason = "released on request (SIGUSR1) for maintenance; SIGUSR2 takes it back"
                log.warning("modem %s", reason)
                self.gateway.record_disconnected(reason)
            self.gateway.heartbeat_only()
            self.stop_event.wait(1.0)
            return True
        if self._held:
            self._held = False
            log.info("taking the modem back (SIGUSR2)")
        return False

    def _wait_for_device(self, delay: float) -> None:
        """Wait before the next attempt, but come back at once when a missing device reappears."""
        device = self.settings.modem.device
        missing = self.settings.modem.connection != "none" and not os.path.exists(device)
        deadline = time.monotonic() + delay
        while not self.stop_event.is_set() and time.monotonic() < deadline and not self.hold.is_set():
            if missing and os.path.exists(device):
                log.info("%s is back", device)
                time.sleep(0.5)  # let udev finish setting up the port
                return
            self.stop_event.wait(0.25)

    def _maybe_usb_reset(self) -> None:
        command = self.settings.modem.usb_reset_command
        self._failed_connects += 1
        if not command or self._failed_connects % USB_RESET_AFTER:
            return
        log.warning("%d failed reconnections: running the USB reset command: %s", self._failed_connects, command)
        try:
            done = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.error("the USB reset command failed to run: %s; check [modem] usb_reset_command", exc)
            return
        output = (done.stdout + done.stderr).strip().replace("\n", " | ")[:500]
        if done.returncode:
            log.error("the USB reset command exited %d: %s", done.returncode, output)
        else:
            log.info("the USB reset command finished: %s", output or "no output")

    def _work(self, wanted: set[str]) -> None:
        if "reload" in wanted and self._pending_settings is not None:
            self._apply_settings(self._pending_settings)
            self._pending_settings = None
            return
        announced = self.modem.poll_events()
        if announced or "receive" in wanted:
            self.gateway.receive()
            wanted.add("send")
        if "flush" in wanted:
            if self.gateway.intake.flush_expired_parts():
                wanted.add("send")
            self.gateway.intake.expire_pending()
        if "send" in wanted:
            self.gateway.send_due()
            self._run_ussd()
        if "balance" in wanted and self.settings.gateway.balance_ussd:
            ussd.queue(self.settings.gateway.balance_ussd, purpose="balance")
            self._run_ussd()
        if "health" in wanted:
            status = getattr(self.modem, "status", None)
            if status is not None:
                self.gateway.record_status(status())
            else:
                self.gateway.heartbeat_only()

    def _run_ussd(self) -> None:
        """Run USSD requests queued by `barriosms modem ussd` or the balance job, one at a time."""
        if ussd.next_queued() is None:
            return  # the common case, every second: a read, no write (SD cards wear out)
        run = getattr(self.modem, "ussd", None)
        ussd.cancel_stale()
        while (request := ussd.next_queued()) is not None:
            if run is None:
                ussd.finish(request, error="this modem cannot dial USSD codes")
                continue
            try:
                answer = run(request.code)
            except ModemError as exc:
                ussd.finish(request, error=str(exc))
                if exc.reconnect:
                    raise
                log.warning("USSD %s failed: %s", request.code, exc)
                continue
            ussd.finish(request, answer=answer)
            log.info("USSD %s answered: %s", request.code, answer)
            if request.purpose == "balance":
                self._check_balance(answer)

    def _check_balance(self, answer: str) -> None:
        value = ussd.record_balance(answer)
        limit = self.settings.gateway.balance_warn_below
        if value is None:
            log.warning("could not read an amount in the balance answer %r", answer)
        elif limit is not None and value < limit:
            log.warning("SIM credit is low: %.2f (warning below %.2f); recharge it or replies will stop", value, limit)

    def _connect(self) -> bool:
        try:
            identity = self.modem.connect()  # type: ignore[attr-defined]
        except ModemError as exc:
            reason = str(exc)
            if reason != self._down_reason:
                # One line per change of state, not one per retry: a technician reads these.
                log.error("modem unavailable: %s; retrying (up to every %.0f s)", reason, RECONNECT_MAX_SECONDS)
                self._down_reason = reason
                self.gateway.record_disconnected(reason)
            return False
        log.info("modem connected on %s: %s %s, IMEI %s", self.settings.modem.device,
                 identity.manufacturer, identity.model, identity.imei)
        self._down_reason = None
        self._failed_connects = 0
        self.gateway.record_connected(identity.manufacturer, identity.model, identity.imei,
                                      getattr(identity, "imsi", ""), self.settings.modem.device)
        return True

    def _lost(self, reason: str) -> None:
        self._losses += 1
        log.error("lost the modem: %s; reconnecting", reason)
        soft_reset = getattr(self.modem, "soft_reset", None)
        if self._losses >= SOFT_RESET_AFTER and soft_reset is not None and self.modem.connected:
            # Huawei sticks that stall often need the modem itself restarted, not only the port.
            log.warning("the modem failed %d times in a row: asking it to reset itself", self._losses)
            try:
                soft_reset()
            except ModemError as exc:
                log.warning("soft reset failed: %s", exc)
        self._down_reason = reason
        self._disconnect()
        self.gateway.record_disconnected(reason)

    def _disconnect(self) -> None:
        disconnect = getattr(self.modem, "disconnect", None)
        if disconnect is not None:
            disconnect()

    def _apply_settings(self, settings: Settings) -> None:
        try:
            rules = build_rules(settings)
        except Exception as exc:  # noqa: BLE001 - keep running on the old rules
            log.error("reload: templates or categories not usable, keeping the old ones: %s", exc)
            return
        modem_changed = settings.modem != self.settings.modem
        self.settings = settings
        self.gateway.paused_until, self.gateway._pause = 0.0, 0.0  # the fix may be in this reload
        self.gateway.settings = settings.gateway
        self.gateway.intake.rules = rules
        self.gateway.policy = build_policy(settings)
        released = outbox.release_held()
        if released:
            log.info("reload: %d held SMS looked at again under the new quiet hours and budget", released)
        if modem_changed:
            self._disconnect()
            self.modem = self._factory(settings)
            self.gateway.modem = self.modem
        else:
            # SIGHUP also means "reconnect": the technician may have replugged the stick.
            self._disconnect()
        log.info("reloaded configuration from %s", settings.source)


class Daemon:
    def __init__(self, settings: Settings, modem_factory: Callable[[Settings], Modem] | None = None,
                 reload: Callable[[], Settings] | None = None):
        self.settings = settings
        self.stop = threading.Event()
        self._hup = threading.Event()
        self._usr1 = threading.Event()
        self._usr2 = threading.Event()
        self._aborted_call: float | None = None
        self._reload = reload
        self.thread = ModemThread(settings, self.stop, modem_factory)
        self.scheduler = BackgroundScheduler(timezone="UTC", job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 30})

    def _on_signal(self, signum, frame) -> None:
        # Only flags: logging or stopping threads inside a handler is not safe.
        if signum == signal.SIGHUP:
            self._hup.set()
        elif signum == signal.SIGUSR1:
            self._usr1.set()
        elif signum == signal.SIGUSR2:
            self._usr2.set()
        else:
            self.stop.set()

    def _schedule(self) -> None:
        g = self.settings.gateway
        ask = self.thread.requests.ask
        self.scheduler.add_job(ask, "interval", args=["receive"], seconds=g.poll_seconds, id="poll")
        # The CLI queues status SMS in the database; look at the outbox often so they leave quickly.
        self.scheduler.add_job(ask, "interval", args=["send"], seconds=1, id="outbox")
        self.scheduler.add_job(ask, "interval", args=["health"], seconds=g.heartbeat_seconds, id="heartbeat")
        self.scheduler.add_job(ask, "interval", args=["flush"],
                               seconds=max(1.0, min(30.0, g.multipart_timeout / 4)), id="multipart")
        self.scheduler.add_job(self.watchdog, "interval", seconds=2, id="watchdog")
        if g.balance_ussd:
            self.scheduler.add_job(ask, "interval", args=["balance"], hours=g.balance_check_hours, id="balance",
                                   next_run_time=datetime.now(timezone.utc) + timedelta(minutes=1))

    def watchdog(self) -> None:
        """Abort a modem call that runs too long; if even that does not free it, stop for systemd.

        Gammu has its own timeouts, so this is the second line of defence: a hung USB driver or a
        read that never returns must not freeze the gateway for good.
        """
        busy = getattr(self.thread.modem, "busy", None)
        if not busy:
            return
        what, since = busy
        age = time.monotonic() - since
        limit = self.thread.settings.gateway.modem_timeout
        if age > limit and self._aborted_call != since:
            self._aborted_call = since
            log.error("the modem has been busy %s for %.0f s: aborting it and reopening the modem", what, age)
            self.thread.modem.abort()  # type: ignore[attr-defined]
        elif age > limit + ABORT_GRACE_SECONDS:
            log.critical("the modem is still stuck %s after the abort (%.0f s): exiting so that systemd "
                         "restarts barriosms; if this repeats, replug the modem", what, age)
            self.thread.failed = RuntimeError(f"modem stuck {what}")
            self.stop.set()

    def run(self) -> int:
        # One daemon per database (see runlock.py), before anything touches the outbox or the modem.
        # The kernel releases the lock when this process ends, however it ends.
        try:
            with runlock.hold(self.settings.database.path):
                return self._run()
        except (runlock.AlreadyRunning, runlock.LockUnavailable) as exc:
            log.error("%s", exc)
            return 2  # as for a wrong config: systemd's RestartPreventExitStatus=2, a person must look

    def _run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, self._on_signal)
        with database.connection_context():
            recovered = outbox.recover_interrupted()
        if recovered:
            log.warning("%d message(s) interrupted by the last stop will be sent again", recovered)
        log.info("barriosms %s starting (pid %d), database %s, modem %s", _version(), os.getpid(),
                 self.settings.database.path, self.settings.modem.device)
        self._schedule()
        self.scheduler.start()
        self.thread.start()
        try:
            while not self.stop.wait(0.2):
                if self._hup.is_set():
                    self._hup.clear()
                    self._do_reload()
                if self._usr1.is_set():
                    self._usr1.clear()
                    self.thread.hold.set()
                if self._usr2.is_set():
                    self._usr2.clear()
                    self.thread.hold.clear()
        finally:
            log.info("stopping: finishing the current modem operation")
            self.scheduler.shutdown(wait=False)
            self.thread.requests.wake()
            # A stuck thread (see watchdog) is not waited for: it is a daemon thread, the process ends.
            self.thread.join(timeout=5 if self.thread.failed else 60)
            if self.thread.is_alive():
                log.error("the modem thread did not stop within 60 s; exiting anyway")
        if self.thread.failed is not None:
            return 1
        log.info("stopped")
        return 0

    def _do_reload(self) -> None:
        if self._reload is None:
            return
        try:
            settings = self._reload()
        except Exception as exc:  # noqa: BLE001 - a bad edit must not stop a running gateway
            log.error("reload refused, still running with the old configuration: %s", exc)
            return
        self.thread.reload(settings)


def _version() -> str:
    from . import __version__
    return __version__
