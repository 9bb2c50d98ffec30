"""The long-running gateway: the modem threads (modem_thread.py), the scheduler that paces them, and signals.

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

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from peewee import DatabaseError

from barriosms.cases import learning, outbox
from barriosms.config import Settings
from barriosms.daemon.modem_thread import ModemThread
from barriosms.modem.interface import Modem
from barriosms.operations import eventdelivery, health, runlock, sdnotify
from barriosms.pipeline import conversations, practice
from barriosms.store.models import database, utcnow, write_tx

log = logging.getLogger(__name__)

# After aborting a stuck call, how long to wait for Gammu to give up before exiting for systemd.
ABORT_GRACE_SECONDS = 30.0
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
# Without systemd's watchdog, how often the main thread still looks at the daemon's health (to log it).
HEALTH_CHECK_SECONDS = 5.0
# When the categoriser learns again from the day's corrections ([gateway] timezone): a quiet hour.
# Also at start-up and on SIGHUP, so `systemctl reload barriosms` applies a `categories forget` at once.
LEARN_AT = (3, 30)
LEARN_CHECK_SECONDS = 60
EVENTS_SECONDS = 2


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
        if len(self.threads) > 1 or settings.database.shared:
            # Each modem sends its own replies, and those of modems that are down: with another
            # gateway on the database, its modems count too (see outbox.for_modem).
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
        self._lessons_version: tuple[int, int, int, int] | None = None  # what the model was learnt from
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
        hour, minute = LEARN_AT
        self.scheduler.add_job(self.relearn, "cron", hour=hour, minute=minute, timezone=self.settings.zone, id="learn")
        # Between nights, a correction or a `categories forget` is taken within a minute: a cheap
        # look at whether the learner's input changed, a retraining only when it did.
        self.scheduler.add_job(self.relearn_if_corrected, "interval", seconds=LEARN_CHECK_SECONDS, id="learn-check")
        # Events go to their receivers from a scheduler thread: a slow webhook never holds the modem.
        self.scheduler.add_job(self.deliver_events, "interval", seconds=EVENTS_SECONDS, id="events")
        # A lease renewed four times over: one late run of the job never loses a claim.
        self.scheduler.add_job(self.keep_claims, "interval", seconds=max(1.0, g.claim_lease_seconds / 4), id="claims")
        self.scheduler.add_job(self.prune_events, "interval", hours=6, id="events-prune",
                               next_run_time=datetime.now(UTC) + timedelta(minutes=5))

    def deliver_events(self) -> list[eventdelivery.Turn]:
        """Hand each [events] receiver the events it has not taken yet, in order."""
        if not self.settings.events.targets:
            return []
        try:
            with database.connection_context():
                return self._deliverer().deliver()
        except DatabaseError as exc:
            log.warning("could not deliver events (tried again in %d s): %s", EVENTS_SECONDS, exc)
        except Exception:  # noqa: BLE001 - a bug here must not stop the gateway; the events wait
            log.exception("delivering events failed (they wait in the database; tried again in %d s)",
                          EVENTS_SECONDS)
        return []

    def _deliverer(self) -> eventdelivery.Deliverer:
        return eventdelivery.Deliverer(self.settings.events, holder=self.settings.gateway_id,
                                       lease=timedelta(seconds=self.settings.gateway.claim_lease_seconds))

    def keep_claims(self) -> tuple[int, int]:
        """Renew this daemon's claims on the outbox, and take over those another gateway sharing the
        database stopped renewing (it died mid-send): (renewed, taken over).

        From the scheduler's thread, so a claim stays renewed while a modem thread waits on a slow
        send; a daemon stuck for good is stopped by the watchdog, and its claims then lapse.
        """
        lease = timedelta(seconds=self.settings.gateway.claim_lease_seconds)
        own = [t.gateway.claimer for t in self.threads]
        try:
            with database.connection_context():
                renewed = outbox.renew_claims(own)
                taken = outbox.take_over_stale(own, lease)
        except DatabaseError as exc:
            log.warning("could not renew this gateway's claims on the outbox (another gateway takes them over "
                        "after %.0f s without renewal): %s", lease.total_seconds(), exc)
            return 0, 0
        if taken:
            self._ask("send")
        return renewed, taken

    def _start_receivers(self) -> None:
        """A receiver new to [events] gets the events from now on (before the modem connects)."""
        try:
            for target in self.settings.events.targets:
                eventdelivery.cursor(target)
        except DatabaseError as exc:
            log.warning("could not start the events' receivers (their events start later): %s", exc)

    def prune_events(self) -> int:
        try:
            with database.connection_context():
                pruned = self._deliverer().prune()
        except DatabaseError as exc:
            log.warning("could not delete old events (tried again in 6 hours): %s", exc)
            return 0
        if pruned:
            log.info("deleted %d event(s) older than %d days that every receiver took", pruned,
                     eventdelivery.KEEP_DAYS)
        return pruned

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

    def relearn_if_corrected(self) -> learning.Learnt | None:
        """Learn again when staff corrected a category or forgot a lesson since the last time."""
        try:
            with database.connection_context():
                version = learning.lessons_version()
        except DatabaseError as exc:
            log.debug("could not look for new corrections (looked again in a minute): %s", exc)
            return None
        if version == self._lessons_version:
            return None
        return self.relearn()

    def relearn(self) -> learning.Learnt | None:
        """Learn the categories again from staff's corrections (cases/learning.py) and hand the model
        to every modem thread, which swaps it into its rules between two messages."""
        try:
            with database.connection_context():
                version = learning.lessons_version()
                learnt = learning.learn(self.threads[0].gateway.intake.rules.categories)
        except DatabaseError as exc:
            log.warning("could not learn from staff's corrections (still using what was learnt before): %s", exc)
            return None
        except Exception:  # noqa: BLE001 - a bug here must not stop the gateway: the keywords still work
            log.exception("learning from staff's corrections failed (still using what was learnt before)")
            return None
        for thread in self.threads:
            thread.use_learned(learnt.model)
        self._lessons_version = version
        log.info("categories: %s", learnt.summary.line())
        return learnt

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
            taken = health.name_taken([t.ms.name for t in self.threads], self.settings.gateway.heartbeat_seconds)
            if taken:
                log.error("%s", taken)
                return 2  # a configuration to fix, as for a wrong config: systemd does not restart it
            recovered = outbox.recover_interrupted(
                self.settings.gateway_id, lease=timedelta(seconds=self.settings.gateway.claim_lease_seconds))
            self._start_receivers()
        if recovered:
            log.warning("%d message(s) interrupted by the last stop will be sent again", recovered)
        log.info("barriosms %s starting (pid %d), database %s, modem %s", _version(), os.getpid(),
                 self.settings.database.path, ", ".join(f"{t.ms.name} on {t.ms.device}" if len(self.threads) > 1
                                                        else t.ms.device for t in self.threads))
        self.relearn()  # taken by the modem threads before their first message
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
        self.relearn()  # also when the configuration cannot be reloaded: `categories forget` is applied
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
        with database.connection_context():
            self._start_receivers()
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
