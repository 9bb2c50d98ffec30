"""The long-running gateway: the modem thread, the scheduler that paces it, and signals.

Threads:
- the main thread installs signal handlers (which only set flags) and waits for them;
- the modem thread owns the GammuModem and does every modem call, reading the SIM, storing,
  answering and sending (see gateway.Gateway);
- APScheduler's thread only *asks* the modem thread for work (poll the SIM, look at the outbox,
  write a heartbeat), so a slow modem never piles up jobs.

systemd (Type=notify, WatchdogSec=; see sdnotify.py), all sent by the main thread:
- READY=1 once the database is open, the scheduler runs and the modem thread has made its first
  connection attempt, whether it connected or not. READY means "the daemon works"; a missing or dead
  stick is what `barriosms modem status` and the STATUS line report, and waiting for it would leave
  `systemctl start` hanging until systemd gives up and restarts a daemon that was fine.
- STATUS= whenever the modem thread's one-line state changes (connected, unavailable, lost, held,
  waiting for the clock, database refusing writes) or the daemon stops looking healthy.
- RELOADING=1 on SIGHUP, READY=1 once the modem thread has applied (or refused) the new settings.
- STOPPING=1 when the main loop ends, whatever ended it.
- WATCHDOG=1 every half WatchdogSec, only while `Daemon.health_problem()` finds nothing. Each ping
  vouches for all three threads: the main thread sends it from its own wait loop (the loop that
  handles signals and would stop the process), the modem thread's heartbeat says its loop still
  turns (or it is inside a modem call younger than its time limit), and the stamp left by the
  scheduler's watchdog job says the scheduler still fires jobs. A ping sent from a scheduler job
  would vouch only for the scheduler, and one sent by the modem thread only for that thread.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from peewee import DatabaseError

from barriosms.cases import outbox
from barriosms.config import ModemSettings, Settings
from barriosms.modem.gammu_modem import GammuModem
from barriosms.modem.interface import Modem, ModemError
from barriosms.operations import health, runlock, sdnotify, ussd
from barriosms.operations.clock import clock_problem, newest_stored_utc
from barriosms.pipeline import conversations, practice
from barriosms.pipeline.gateway import Gateway, StoreUnavailable
from barriosms.pipeline.intake import Intake, IntakeRules, rules_from_settings
from barriosms.pipeline.sendpolicy import SendPolicy
from barriosms.store.models import database, utcnow, write_tx

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
# While the system clock is not believable (see clock.py), how often to look at it again.
CLOCK_CHECK_SECONDS = 5.0
# Health (see Daemon.health_problem). The modem thread's loop turns at least every few seconds when
# idle or waiting for the modem; a busy turn may run many modem calls (each bounded by the watchdog
# job) and up to a minute of USB reset command: without a turn and outside a modem call this long,
# it is stuck.
STALL_SECONDS = 120.0
# After the watchdog job has aborted a call, how long the call may take to give up before it counts
# as stuck for systemd (the daemon exits by itself after ABORT_GRACE_SECONDS).
ABORT_SETTLE_SECONDS = 10.0
# The scheduler's watchdog job runs every 2 s; a scheduler that ran no job for this long is dead.
SCHEDULER_STALL_SECONDS = 30.0
# Unexpected errors in a row in the modem thread's work (a bug; one SMS's own failure is handled in
# intake and never gets here) before the thread gives up and the daemon exits for systemd to restart.
UNEXPECTED_LIMIT = 5
# Without systemd's watchdog, how often the main thread still looks at the daemon's health (to log it).
HEALTH_CHECK_SECONDS = 5.0


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
                 modem_factory: Callable[[Settings], Modem] | None = None,
                 now: Callable[[], datetime] | None = None, modem_settings: ModemSettings | None = None,
                 primary: bool = True):
        # One thread per modem ([modem NAME]): each owns its stick; the primary one also dials USSD.
        self.ms = modem_settings or settings.modem
        several = len(settings.all_modems) > 1
        super().__init__(name=f"modem-{self.ms.name}" if several else "modem", daemon=True)
        self.settings = settings
        self.primary = primary
        self.stop_event = stop
        self.requests = Requests()
        self._factory = modem_factory or (lambda s: GammuModem(s.modem))
        self.modem = self._make_modem(settings)
        self.gateway = Gateway(self.modem, Intake(build_rules(settings)), settings.gateway, build_policy(settings),
                               name=self.ms.name, operator=self.ms.operator)
        self._pending_settings: Settings | None = None
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
        # Read by the main thread (see Daemon): when the loop last turned (monotonic), whether the
        # first connection attempt is behind it (READY=1 waits for that) and how many reloads are done.
        self.heartbeat = time.monotonic()
        self.started_up = threading.Event()
        self.reloads_asked = self.reloads_done = 0
        self._reload_lock = threading.Lock()
        self._modem_status = f"starting: opening the modem on {self.ms.device}"
        # The system clock, injectable for tests; while it is not believable nothing leaves the SIM.
        self._now = now or (lambda: datetime.now(UTC))
        self._clock_problem: str | None = None
        self._clock_checked = float("-inf")
        self._clock_behind_since: float | None = None  # monotonic: since when behind the newest record
        self._clock_trusted = False

    def _make_modem(self, settings: Settings) -> Modem:
        # The factory sees this thread's [modem NAME] as `settings.modem`.
        return self._factory(dataclasses.replace(settings, modem=self.ms))

    @property
    def status(self) -> str:
        """One line on what the gateway is doing, for `systemctl status` (sent by the main thread)."""
        if self._clock_problem and self.modem.connected:
            return "waiting for the system clock (NTP) before reading the SIM; check timedatectl"
        return self._store_problem or self._modem_status

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
            asked = self.reloads_asked
        if settings is not None:
            self._apply_settings(settings)
            if not self.modem.connected and not self.hold.is_set():
                self._modem_status = f"reopening the modem on {self.ms.device} after a reload"
            self.reloads_done = asked

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
            self.heartbeat = time.monotonic()
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
                self.stop_event.wait(STORE_RETRY_SECONDS)
            except Exception:
                # A bug, not the modem nor the store: carry on (waiting longer each time) rather than
                # stop the gateway, unless it happens every time.
                self._unexpected += 1
                if self._unexpected >= UNEXPECTED_LIMIT:
                    raise
                log.exception("unexpected error in the gateway's work (%d in a row; it stops after %d and systemd "
                              "restarts it); carrying on. Please report this error with the lines above",
                              self._unexpected, UNEXPECTED_LIMIT)
                self.stop_event.wait(min(60.0, 2.0 ** self._unexpected))
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
            self.stop_event.wait(1.0)
            return True
        if self._held:
            self._held = False
            log.info("taking the modem back (SIGUSR2)")
        return False

    def _wait_for_device(self, delay: float) -> None:
        """Wait before the next attempt, but come back at once when a missing device reappears."""
        device = self.ms.device
        missing = self.ms.connection != "none" and not os.path.exists(device)
        deadline = time.monotonic() + delay
        while (not self.stop_event.is_set() and time.monotonic() < deadline and not self.hold.is_set()
               and self._pending_settings is None):
            self.heartbeat = time.monotonic()
            if missing and os.path.exists(device):
                log.info("%s is back", device)
                time.sleep(0.5)  # let udev finish setting up the port
                return
            self.stop_event.wait(0.25)

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
        if (announced or wanted - {"health", "reload"}) and not self._clock_is_sane():
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
            ussd.queue(self.settings.gateway.balance_ussd, purpose="balance")
            self._run_ussd()
        if "health" in wanted:
            status = self.modem.status()
            if status is not None:
                self.gateway.record_status(status)
            else:
                self.gateway.heartbeat_only()

    def _clock_is_sane(self) -> bool:
        """Whether the system clock can be believed (see clock.py), looked at every few seconds."""
        now = time.monotonic()
        if now - self._clock_checked < CLOCK_CHECK_SECONDS:
            return self._clock_problem is None
        self._clock_checked = now
        try:
            newest = newest_stored_utc()
        except DatabaseError:
            newest = None  # the store's trouble is reported where it is written to
        waited = timedelta(seconds=now - self._clock_behind_since) if self._clock_behind_since is not None else timedelta(0)
        problem = clock_problem(self._now(), newest, waited)
        behind = clock_problem(self._now(), newest) is not None
        if behind and problem is None:
            if self._clock_behind_since is not None and not self._clock_trusted:
                log.error("the system clock stayed behind the newest record in the database for %s: trusting it; "
                          "a record written while the clock ran ahead may look out of order", waited)
                self._clock_trusted = True
        else:
            self._clock_trusted = False
        self._clock_behind_since = (self._clock_behind_since if self._clock_behind_since is not None else now) \
            if behind else None
        if problem and not self._clock_problem:
            log.warning("%s; SMS stay on the SIM until then", problem)  # once, not every few seconds
        elif self._clock_problem and not problem:
            log.info("the system clock is believable again (%s UTC): reading the SIM",
                     f"{self._now().astimezone(UTC):%Y-%m-%d %H:%M}")
            self.requests.ask("receive")
        self._clock_problem = problem
        return problem is None

    def _run_ussd(self) -> None:
        """Run USSD requests queued by `barriosms modem ussd` or the balance job, one at a time."""
        if not self.primary:
            return  # one modem dials USSD: the first [modem NAME]
        if ussd.next_queued() is None:
            return  # the common case, every second: a read, no write (SD cards wear out)
        ussd.cancel_stale()
        while (request := ussd.next_queued()) is not None:
            try:
                answer = self.modem.ussd(request.code)
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
            rules = build_rules(settings)
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
        self.gateway.operator = new_ms.operator
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
            self.modem = self._make_modem(settings)
            self.gateway.modem = self.modem
        else:
            # SIGHUP also means "reconnect": the technician may have replugged the stick.
            self._disconnect()
        log.info("reloaded configuration from %s", settings.source)


class Daemon:
    def __init__(self, settings: Settings, modem_factory: Callable[[Settings], Modem] | None = None,
                 reload: Callable[[], Settings] | None = None, now: Callable[[], datetime] | None = None):
        self.settings = settings
        self.stop = threading.Event()
        self._hup = threading.Event()
        self._usr1 = threading.Event()
        self._usr2 = threading.Event()
        self._reload = reload
        self.threads = [ModemThread(settings, self.stop, modem_factory, now, ms, primary=(i == 0))
                        for i, ms in enumerate(settings.all_modems)]
        self.thread = self.threads[0]  # the primary one (USSD, balance)
        if len(self.threads) > 1:
            for t in self.threads:
                t.gateway.peers = self._peers
        # systemd (see the module docstring); all of it is used by the main thread only.
        self.notify = sdnotify.Notifier()
        watchdog = sdnotify.watchdog_interval()
        self._ping_every = watchdog / 2 if watchdog else None
        self._ready = False
        self._reloading: list[int] | None = None  # the reload (per thread) whose READY=1 is still owed
        self._shown = ""  # the STATUS= last sent
        self._unhealthy: str | None = None
        self._next_look = 0.0
        self._scheduler_beat = time.monotonic()  # set by the scheduler's watchdog job
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

    def _peers(self) -> dict[str, str | None]:
        """The healthy modems (of this daemon and of others sharing the database) and their operators."""
        configured = {m.name: m.operator for m in self.settings.all_modems}
        up = health.healthy(self.settings.gateway.heartbeat_seconds)
        return {name: configured.get(name) or operator or None for name, operator in up.items()}

    def _ask(self, what: str) -> None:
        for thread in self.threads:
            if what != "balance" or thread.primary:
                thread.requests.ask(what)

    def _schedule(self) -> None:
        g = self.settings.gateway
        ask = self._ask
        self.scheduler.add_job(ask, "interval", args=["receive"], seconds=g.poll_seconds, id="poll")
        # The CLI queues status SMS in the database; look at the outbox often so they leave quickly.
        self.scheduler.add_job(ask, "interval", args=["send"], seconds=1, id="outbox")
        self.scheduler.add_job(ask, "interval", args=["health"], seconds=g.heartbeat_seconds, id="heartbeat")
        self.scheduler.add_job(ask, "interval", args=["flush"],
                               seconds=max(1.0, min(30.0, g.multipart_timeout / 4)), id="multipart")
        self.scheduler.add_job(self.watchdog, "interval", seconds=2, id="watchdog")
        # A database job, not the modem's: it runs in the scheduler's thread.
        self.scheduler.add_job(self.purge_practice, "interval", hours=1, id="practice",
                               next_run_time=datetime.now(UTC) + timedelta(minutes=1))
        self.scheduler.add_job(self.expire_questions, "interval", hours=1, id="questions",
                               next_run_time=datetime.now(UTC) + timedelta(minutes=1))
        if g.balance_ussd:
            self.scheduler.add_job(ask, "interval", args=["balance"], hours=g.balance_check_hours, id="balance",
                                   next_run_time=datetime.now(UTC) + timedelta(minutes=1))

    def watchdog(self) -> None:
        """Abort a modem call that runs too long; if even that does not free it, stop for systemd.

        Gammu has its own timeouts, so this is the second line of defence: a hung USB driver or a
        read that never returns must not freeze the gateway for good. Each run also stamps the time,
        which tells the main thread that the scheduler still fires jobs (see health_problem).
        """
        self._scheduler_beat = time.monotonic()
        for thread in self.threads:
            self._watch(thread)

    def purge_practice(self) -> int:
        """Delete workshops' practice (PRUEBA ...) older than [service] practice_days."""
        days = self.settings.service.practice_days
        try:
            with database.connection_context():
                purged = practice.purge(utcnow(), days)
        except DatabaseError as exc:
            log.warning("could not delete old practice messages (tried again in an hour): %s", exc)
            return 0
        if purged:
            log.info("deleted %d practice message(s) older than %g days", purged, days)
        return purged

    def expire_questions(self) -> int:
        """Close staff questions whose answer window ran out, so their cases stop showing as waiting."""
        try:
            with database.connection_context(), write_tx():
                expired = conversations.expire_overdue(utcnow())
        except DatabaseError as exc:
            log.warning("could not close expired questions (tried again in an hour): %s", exc)
            return 0
        if expired:
            log.info("%d question(s) to residents expired unanswered", expired)
        return expired

    def _watch(self, thread: ModemThread) -> None:
        busy = thread.modem.busy
        if not busy:
            return
        what, since = busy
        age = time.monotonic() - since
        limit = thread.settings.gateway.modem_timeout
        if age > limit and thread.aborted_call != since:
            thread.aborted_call = since
            log.error("the modem %shas been busy %s for %.0f s: aborting it and reopening the modem",
                      self._which(thread), what, age)
            thread.modem.abort()
        elif age > limit + ABORT_GRACE_SECONDS:
            log.critical("the modem %sis still stuck %s after the abort (%.0f s): exiting so that systemd "
                         "restarts barriosms; if this repeats, replug the modem", self._which(thread), what, age)
            thread.failed = RuntimeError(f"modem stuck {what}")
            self.stop.set()

    def _which(self, thread: ModemThread) -> str:
        return f"[{thread.ms.name}] " if len(self.threads) > 1 else ""

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
                 self.settings.database.path, ", ".join(f"{t.ms.name} on {t.ms.device}" if len(self.threads) > 1
                                                        else t.ms.device for t in self.threads))
        self._schedule()
        self.scheduler.start()
        for thread in self.threads:
            thread.start()
        try:
            while not self.stop.wait(0.2):
                self._tell_systemd()
                if self._hup.is_set():
                    self._hup.clear()
                    self._do_reload()
                if self._usr1.is_set():
                    self._usr1.clear()
                    for thread in self.threads:
                        thread.hold.set()
                if self._usr2.is_set():
                    self._usr2.clear()
                    for thread in self.threads:
                        thread.hold.clear()
        finally:
            self.notify.stopping("stopping: finishing the current modem operation")
            log.info("stopping: finishing the current modem operation")
            self.scheduler.shutdown(wait=False)
            for thread in self.threads:
                thread.requests.wake()
            deadline = time.monotonic() + 60
            for thread in self.threads:
                # A stuck thread (see watchdog) is not waited for: it is a daemon thread, the process ends.
                thread.join(timeout=5 if thread.failed else max(0.1, deadline - time.monotonic()))
                if thread.is_alive():
                    log.error("the modem thread %sdid not stop within 60 s; exiting anyway", self._which(thread))
        if any(thread.failed is not None for thread in self.threads):
            return 1
        log.info("stopped")
        return 0

    def _do_reload(self) -> None:
        if self._reload is None:
            return
        if self._ready:  # before READY=1, systemd is still waiting for the start to finish
            self.notify.reloading("reloading the configuration")
        try:
            settings = self._reload()
        except Exception as exc:  # noqa: BLE001 - a bad edit must not stop a running gateway
            log.error("reload refused, still running with the old configuration: %s", exc)
            if self._ready:
                self.notify.ready(self._shown)
            return
        self.settings = settings
        # READY=1 when every modem thread has applied it.
        self._reloading = [thread.reload(settings) for thread in self.threads]

    def _tell_systemd(self) -> None:
        """The main loop's dealings with systemd, every turn: a few attribute reads when nothing changes."""
        if not self._ready:
            if not all(thread.started_up.is_set() for thread in self.threads):
                return  # a modem thread's first connection attempt is still running
            self._ready = True
            self._shown = self.status
            self.notify.ready(self._shown)
        elif self._reloading is not None and all(
                thread.reloads_done >= asked for thread, asked in zip(self.threads, self._reloading)):
            self._reloading = None
            self.notify.ready(self._shown)
        now = time.monotonic()
        if now >= self._next_look:
            self._look(now)
        status = self._unhealthy or self.status
        if status != self._shown:
            self._shown = status
            self.notify.status(status)

    @property
    def status(self) -> str:
        if len(self.threads) == 1:
            return self.thread.status
        return "; ".join(f"{thread.ms.name}: {thread.status}" for thread in self.threads)

    def _look(self, now: float) -> None:
        problem = self.health_problem(now)
        if problem is None:
            if self._unhealthy is not None:
                log.info("healthy again after: %s", self._unhealthy)
                self._unhealthy = None
            if self._ping_every and not self.notify.watchdog():
                return  # not taken (systemd's queue full?): again next turn
            self._next_look = now + (self._ping_every or HEALTH_CHECK_SECONDS)
            return
        # No ping, and another look next turn: a long turn of work may only be between two modem calls.
        if self._unhealthy is None:  # logged and shown once, not again as its seconds go up
            log.error("%s%s", problem, "; no longer telling systemd's watchdog that all is well, so "
                      "it restarts barriosms" if self._ping_every else "")
            self._unhealthy = f"unhealthy: {problem}"

    def health_problem(self, now: float | None = None) -> str | None:
        """Why systemd's watchdog must not be told that all is well, or None (see the module docstring).

        The modem thread shows progress by turning its loop (every turn stamps `heartbeat`: it turns
        every 0.1 s when idle or waiting for the clock, every 0.25 s while waiting to reconnect,
        every second while the modem is lent out (SIGUSR1), every 15 s while the database refuses
        writes) or by being inside a modem call younger than the call's time limit, which the
        watchdog job enforces.
        """
        now = time.monotonic() if now is None else now
        for thread in self.threads:
            which = self._which(thread)
            if not thread.is_alive():
                return f"the modem thread {which}has stopped"
            busy = thread.modem.busy
            if busy:
                what, since = busy
                if now - since > thread.settings.gateway.modem_timeout + ABORT_SETTLE_SECONDS:
                    return (f"the modem {which}is still stuck {what} after {now - since:.0f} s: aborting it did not "
                            "free it")
            elif now - thread.heartbeat > STALL_SECONDS:
                return f"the modem thread {which}has made no progress for {now - thread.heartbeat:.0f} s"
        if not self.scheduler.running:
            return "the scheduler has stopped"
        if now - self._scheduler_beat > SCHEDULER_STALL_SECONDS:
            return f"the scheduler has run no job for {now - self._scheduler_beat:.0f} s"
        return None


def _version() -> str:
    from barriosms import __version__
    return __version__
