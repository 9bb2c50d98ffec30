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
import signal
import threading
from dataclasses import dataclass, field
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from . import outbox
from .config import Settings
from .domain.categories import load_categories
from .domain.replies import Templates
from .gateway import Gateway, Modem
from .intake import Intake, IntakeRules
from .modem.gammu_modem import GammuModem
from .sms import ModemError
from .store.models import database

log = logging.getLogger(__name__)

# How often the idle modem thread lets Gammu read unsolicited lines (+CMTI): this bounds how long a
# notified message waits before it is read.
EVENT_POLL_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 60.0


def build_rules(settings: Settings) -> IntakeRules:
    return IntakeRules(templates=Templates.load(settings.gateway.replies),
                       categories=load_categories(settings.gateway.categories),
                       region=settings.gateway.region,
                       multipart_timeout=settings.gateway.multipart_timeout)


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
        self.gateway = Gateway(self.modem, Intake(build_rules(settings)), settings.gateway)
        self._pending_settings: Settings | None = None
        self._down_reason: str | None = None
        self.failed: BaseException | None = None

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
            if not self.modem.connected:
                if self._connect():
                    delay = 1.0
                    self.requests.ask("receive")
                    self.requests.ask("health")
                else:
                    # Still alive, only without a modem: `modem status` must tell the two apart.
                    self.gateway.heartbeat_only()
                    self.stop_event.wait(delay)
                    delay = min(delay * 2, RECONNECT_MAX_SECONDS)
                continue
            wanted = self.requests.take(EVENT_POLL_SECONDS)
            try:
                self._work(wanted)
            except ModemError as exc:
                if exc.reconnect:
                    self._lost(str(exc))
                else:
                    log.warning("%s", exc)

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
        if "send" in wanted:
            self.gateway.send_due()
        if "health" in wanted:
            status = getattr(self.modem, "status", None)
            if status is not None:
                self.gateway.record_status(status())
            else:
                self.gateway.heartbeat_only()

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
        self.gateway.record_connected(identity.manufacturer, identity.model, identity.imei,
                                      getattr(identity, "imsi", ""), self.settings.modem.device)
        return True

    def _lost(self, reason: str) -> None:
        log.error("lost the modem: %s; reconnecting", reason)
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
        self.gateway.settings = settings.gateway
        self.gateway.intake.rules = rules
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
        self._reload = reload
        self.thread = ModemThread(settings, self.stop, modem_factory)
        self.scheduler = BackgroundScheduler(timezone="UTC", job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 30})

    def _on_signal(self, signum, frame) -> None:
        # Only flags: logging or stopping threads inside a handler is not safe.
        if signum == signal.SIGHUP:
            self._hup.set()
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

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
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
        finally:
            log.info("stopping: finishing the current modem operation")
            self.scheduler.shutdown(wait=False)
            self.thread.requests.wake()
            self.thread.join(timeout=60)
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
