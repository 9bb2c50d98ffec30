"""The thread that owns one modem: opens it, reconnects with back-off, lends it out, closes it, and turns the gateway's work."""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from peewee import DatabaseError, DataError, IntegrityError

from barriosms.cases import callbacks, outbox
from barriosms.config import ModemSettings, Settings
from barriosms.daemon.clock_trust import ClockTrust
from barriosms.daemon.requests import Requests
from barriosms.daemon.timesource import REAL_CLOCK, Clock
from barriosms.daemon.ussd_runner import UssdRunner
from barriosms.domain.learning import Model
from barriosms.modem.gammu_modem import GammuModem
from barriosms.modem.interface import IncomingCall, Modem, ModemError
from barriosms.pipeline.gateway import Gateway, StoreUnavailable
from barriosms.pipeline.intake import Intake, IntakeRules, rules_from_settings
from barriosms.pipeline.sendpolicy import SendPolicy
from barriosms.store.models import database

# The daemon's lines keep the logger name they always had: journal filters and docs use it.
log = logging.getLogger("barriosms.daemon.process")

# How often the idle modem thread lets Gammu read unsolicited lines (+CMTI): this bounds how long a
# notified message waits before it is read.
EVENT_POLL_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 60.0
# Failed reconnections in a row before the configured USB reset command runs (and again every as many).
USB_RESET_AFTER = 3
# Connection losses in a row (without a successful turn of work between) before a soft reset is tried.
SOFT_RESET_AFTER = 2
# With the database refusing writes, how long to wait before reading the SIM again.
STORE_RETRY_SECONDS = 15.0
# Unexpected errors in a row in the modem thread's work (a bug; one SMS's own failure is handled in
# intake and never gets here) before the thread gives up and the daemon exits for systemd to restart.
UNEXPECTED_LIMIT = 5


def build_rules(settings: Settings, learned: Model | None = None) -> IntakeRules:
    return dataclasses.replace(rules_from_settings(settings), learned=learned)


def build_policy(settings: Settings) -> SendPolicy:
    return SendPolicy(settings.service, settings.zone)


class ModemThread(threading.Thread):
    """Owns one modem for its whole life; every modem call of the daemon happens on this thread."""

    def __init__(self, settings: Settings, stop: threading.Event,
                 modem_factory: Callable[[Settings], Modem] | None = None,
                 now: Callable[[], datetime] | None = None, modem_settings: ModemSettings | None = None,
                 primary: bool = True, clock: Clock = REAL_CLOCK):
        # One thread per modem ([modem NAME]): each owns its stick; the primary one also dials USSD.
        self.ms = modem_settings or settings.modem
        several = len(settings.all_modems) > 1
        super().__init__(name=f"modem-{self.ms.name}" if several else "modem", daemon=True)
        self.settings = settings
        self.primary = primary
        self.stop_event = stop
        self.clock = clock  # monotonic time and every wait of this thread (a test steps it)
        self.requests = Requests(clock)
        self._factory = modem_factory or (lambda s: GammuModem(s.modem))
        self.modem = self._make_modem(settings)
        self.gateway = Gateway(self.modem, Intake(build_rules(settings)), settings.gateway, build_policy(settings),
                               name=self.ms.name, operator=self.ms.operator,
                               claimer=f"{settings.gateway_id}/{self.ms.name}")
        self._pending_settings: Settings | None = None
        # What was learnt from staff's corrections (Daemon.relearn), and a newer one not taken yet.
        self.learned: Model | None = None
        self._pending_learned: Model | None = None
        self._down_reason: str | None = None
        self.failed: BaseException | None = None
        # Set by the main thread on SIGUSR1 (let go of the modem so a technician can use the gammu
        # command on it), cleared on SIGUSR2.
        self.hold = threading.Event()
        self._held = False
        self._failed_connects = 0
        self._losses = 0
        self._unexpected = 0
        self._store_problem: str | None = None
        self.aborted_call: float | None = None  # the stuck call the watchdog already aborted
        # Read by the main thread (see Daemon): when the loop last turned (monotonic, by its clock:
        # the real one in a daemon, whose health check compares it with time.monotonic()), whether the
        # first connection attempt is behind it (READY=1 waits for that) and how many reloads are done.
        self.heartbeat = clock.monotonic()
        self.started_up = threading.Event()
        self.reloads_asked = self.reloads_done = 0
        self._reload_lock = threading.Lock()
        self._modem_status = f"starting: opening the modem on {self.ms.device}"
        # The system clock, injectable for tests; while it is not believable nothing leaves the SIM.
        self.clock_trust = ClockTrust(now or (lambda: datetime.now(UTC)), clock.monotonic,
                                      on_believable=lambda: self.requests.ask("receive"))
        self.ussd = UssdRunner(self.ms.name)
        # Missed calls already hung up, to be recorded (a wrong clock or a database refusing writes
        # keeps them here until it is fixed).
        self._calls_waiting: list[IncomingCall] = []

    def _make_modem(self, settings: Settings) -> Modem:
        # The factory sees this thread's [modem NAME] as `settings.modem`.
        return self._factory(dataclasses.replace(settings, modem=self.ms))

    @property
    def status(self) -> str:
        """One line on what the gateway is doing, for `systemctl status` (sent by the main thread)."""
        if self.clock_trust.problem and self.modem.connected:
            return "waiting for the system clock (NTP) before reading the SIM; check timedatectl"
        return self._store_problem or self._modem_status

    def use_learned(self, model: Model) -> None:
        """Categorise with a newly learnt model: taken by the modem thread itself at the top of its next
        turn, so the intake's rules are only ever replaced by this thread, all at once."""
        with self._reload_lock:
            self._pending_learned = model
        self.requests.wake()

    def reload(self, settings: Settings) -> int:
        """Take new settings (SIGHUP): applied by the modem thread itself, between two jobs.

        Returns the number that `reloads_done` reaches once they are applied (or refused).
        """
        with self._reload_lock:
            self._pending_settings = settings
            self.reloads_asked += 1
            asked = self.reloads_asked
        self.requests.ask("reload")
        return asked

    def _take_reload(self) -> None:
        # Here, at the top of a turn, and not only between two jobs on a connected modem: a reload
        # is how a technician fixes the [modem] section of a gateway that cannot connect.
        with self._reload_lock:
            settings, self._pending_settings = self._pending_settings, None
            learned, self._pending_learned = self._pending_learned, None
            asked = self.reloads_asked
        if learned is not None:
            self.learned = learned  # _apply_settings below builds the new rules with it
        if settings is not None:
            self._apply_settings(settings)
            if not self.modem.connected and not self.hold.is_set():
                self._modem_status = f"reopening the modem on {self.ms.device} after a reload"
            self.reloads_done = asked
        if self.gateway.intake.rules.learned is not self.learned:  # a new model, or a refused reload
            self.gateway.intake.rules = dataclasses.replace(self.gateway.intake.rules, learned=self.learned)

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
            self.heartbeat = self.clock.monotonic()
            self._take_reload()
            if self._hold_if_asked():
                continue
            if not self.modem.connected:
                connected = self._connect()
                self.started_up.set()
                if connected:
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
                self._losses = self._unexpected = 0
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
                self.clock.wait(self.stop_event, STORE_RETRY_SECONDS)
            except Exception:
                # A bug, not the modem nor the store: carry on (waiting longer each time) rather than
                # stop the gateway, unless it happens every time.
                self._unexpected += 1
                if self._unexpected >= UNEXPECTED_LIMIT:
                    raise
                log.exception("unexpected error in the gateway's work (%d in a row; it stops after %d and systemd "
                              "restarts it); carrying on. Please report this error with the lines above",
                              self._unexpected, UNEXPECTED_LIMIT)
                self.clock.wait(self.stop_event, min(60.0, 2.0 ** self._unexpected))
                # What this turn was asked to do is still to be done, and an announced SMS may wait.
                for what in wanted | {"receive"}:
                    self.requests.ask(what)

    def _hold_if_asked(self) -> bool:
        if self.hold.is_set():
            if not self._held:
                self._disconnect()
                self._held = True
                reason = "released on request (SIGUSR1) for maintenance; SIGUSR2 takes it back"
                log.warning("modem %s", reason)
                self.gateway.record_disconnected(reason)
                self._modem_status = f"modem {reason}"
                self.started_up.set()
            self.gateway.heartbeat_only()
            self.clock.wait(self.stop_event, 1.0)
            return True
        if self._held:
            self._held = False
            log.info("taking the modem back (SIGUSR2)")
        return False

    def _wait_for_device(self, delay: float) -> None:
        """Wait before the next attempt, but come back at once when a missing device reappears."""
        device = self.ms.device
        missing = self.ms.connection != "none" and not os.path.exists(device)
        deadline = self.clock.monotonic() + delay
        while (not self.stop_event.is_set() and self.clock.monotonic() < deadline and not self.hold.is_set()
               and self._pending_settings is None):
            self.heartbeat = self.clock.monotonic()
            if missing and os.path.exists(device):
                log.info("%s is back", device)
                self.clock.sleep(0.5)  # let udev finish setting up the port
                return
            self.clock.wait(self.stop_event, 0.25)

    def _maybe_usb_reset(self) -> None:
        command = self.ms.usb_reset_command
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
        announced = self.modem.poll_events()
        if self._answer_calls():
            wanted.add("send")
        if (announced or wanted - {"health", "reload"}) and not self.clock_trust.is_sane():
            # Nothing is read, stored or sent with a wrong time: SMS wait on the SIM, replies in the
            # outbox. An announcement is not lost: the SIM is read as soon as the clock is sane.
            announced = False
            wanted &= {"health"}
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
            self.ussd.queue_balance(self.settings.gateway.balance_ussd)
            self._run_ussd()
        if "health" in wanted:
            status = self.modem.status()
            if status is not None:
                self.gateway.record_status(status)
            else:
                self.gateway.heartbeat_only()

    def _answer_calls(self) -> bool:
        """Hang up the calls the modem announced, then record each one (a callback request, its SMS).

        Hung up first and at once, whatever else waits: the call then costs the resident nothing.
        Recorded only with a believable clock; a database refusing writes stops the turn as it does
        for an SMS (StoreUnavailable) and the calls wait here. True when calls were recorded.
        """
        calls = self.modem.calls()
        if calls:
            self._calls_waiting.extend(calls)
            try:
                self.modem.hang_up()  # one line: whatever rang, this ends it
            except ModemError as exc:
                if exc.reconnect:
                    raise
                log.warning("%s; the caller hears it ring until they give up (it costs them nothing)", exc)
        if not self._calls_waiting or not self.clock_trust.is_sane():
            return False
        rules = self.gateway.intake.rules
        while self._calls_waiting:
            call = self._calls_waiting[0]
            caller = call.number or "a withheld number"
            try:
                callbacks.record_call(call.number, call.at, rules, modem=self.gateway.name)
            except (IntegrityError, DataError) as exc:
                log.error("could not record the missed call from %s (%s); it is only in this log", caller, exc)
            except DatabaseError as exc:
                raise StoreUnavailable(f"cannot record the missed call from {caller} ({exc}); it is recorded once "
                                       "the database accepts writes again") from exc
            except Exception:  # noqa: BLE001 - a bug with one call must not stop the gateway
                log.exception("could not record the missed call from %s; it is only in this log. Please report "
                              "this error", caller)
            self._calls_waiting.pop(0)
        return True

    def _run_ussd(self) -> None:
        if self.primary:  # one modem dials USSD: the first [modem NAME]
            self.ussd.run(self.modem, self.settings.gateway.balance_warn_below)

    def _connect(self) -> bool:
        try:
            identity = self.modem.connect()
        except ModemError as exc:
            reason = str(exc)
            if reason != self._down_reason:
                # One line per change of state, not one per retry: a technician reads these.
                log.error("modem unavailable: %s; retrying (up to every %.0f s)", reason, RECONNECT_MAX_SECONDS)
                self._down_reason = reason
                self.gateway.record_disconnected(reason)
            self._modem_status = f"modem unavailable, retrying: {reason}"
            return False
        log.info("modem connected on %s: %s %s, IMEI %s", self.ms.device,
                 identity.manufacturer, identity.model, identity.imei)
        self._down_reason = None
        self._failed_connects = 0
        self.gateway.record_connected(identity.manufacturer, identity.model, identity.imei,
                                      identity.imsi, self.ms.device)
        self._modem_status = (f"modem connected on {self.ms.device}: "
                              f"{identity.manufacturer} {identity.model}".strip())
        return True

    def _lost(self, reason: str) -> None:
        self._losses += 1
        log.error("lost the modem: %s; reconnecting", reason)
        if self._losses >= SOFT_RESET_AFTER and self.modem.connected:
            # Huawei sticks that stall often need the modem itself restarted, not only the port.
            log.warning("the modem failed %d times in a row: asking it to reset itself", self._losses)
            try:
                self.modem.soft_reset()
            except ModemError as exc:
                log.warning("soft reset failed: %s", exc)
        self._down_reason = reason
        self._modem_status = f"lost the modem, reconnecting: {reason}"
        self._disconnect()
        self.gateway.record_disconnected(reason)

    def _disconnect(self) -> None:
        self.modem.disconnect()

    def _apply_settings(self, settings: Settings) -> None:
        try:
            rules = build_rules(settings, self.learned)
        except Exception as exc:  # noqa: BLE001 - keep running on the old rules
            log.error("reload: templates or categories not usable, keeping the old ones: %s", exc)
            return
        same_name = [m for m in settings.all_modems if m.name == self.ms.name]
        if not same_name:
            log.warning("reload: [modem %s] is gone from the configuration; modems are added or removed at a "
                        "restart (systemctl restart barriosms)", self.ms.name)
        new_ms = same_name[0] if same_name else self.ms
        modem_changed = new_ms != self.ms
        self.ms = new_ms
        self.settings = settings
        self.gateway.reconfigure(settings.gateway, rules, build_policy(settings), new_ms.operator)
        released = outbox.release_held()
        if released:
            log.info("reload: %d held SMS looked at again under the new quiet hours and budget", released)
        if modem_changed:
            self._disconnect()
            self.modem = self._make_modem(settings)
            self.gateway.replace_modem(self.modem)
        else:
            # SIGHUP also means "reconnect": the technician may have replugged the stick.
            self._disconnect()
        log.info("reloaded configuration from %s", settings.source)
