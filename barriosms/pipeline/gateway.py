"""One turn of the gateway's work: read the SIM, store, answer, send, report health.

Called only from the daemon's modem thread. The modem is anything with the modem.interface.Modem protocol,
so the loop can be driven in unit tests by a small in-memory modem as well as by real Gammu.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable

from peewee import DatabaseError, DataError, IntegrityError

from barriosms.cases import events, outbox
from barriosms.config import GatewaySettings
from barriosms.modem.interface import Modem, ModemError, ModemSendError, ModemStatus, ReceivedSms
from barriosms.operations import health
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.pipeline.sendpolicy import SendPolicy
from barriosms.store.models import ModemHealth, OutboundMessage, utcnow, write_tx

log = logging.getLogger(__name__)

# An SMS whose storing fails this many times in a row (through no fault of the database) is set
# aside: stored as it is for staff and deleted from the SIM, instead of being read forever.
SET_ASIDE_AFTER = 3
# Pause of the whole outbox after a network-level send failure: doubles up to the maximum.
PAUSE_MIN_SECONDS = 5.0
PAUSE_MAX_SECONDS = 60.0


class StoreUnavailable(Exception):
    """The database refused a write (disk full, read-only, locked for too long): nothing may leave the SIM."""


class Gateway:
    def __init__(self, modem: Modem, intake: Intake, settings: GatewaySettings,
                 policy: SendPolicy | None = None, name: str = "default", operator: str | None = None,
                 claimer: str | None = None):
        self.modem = modem
        self.name = name  # [modem NAME]: its health row, the SMS it received, the replies it sends
        self.operator = operator
        # With several modems: the healthy ones and their operators (None: this is the only modem).
        self.peers: Callable[[], dict[str, str | None]] | None = None
        self.intake = intake
        self.settings = settings
        self.policy = policy  # quiet hours and daily budget (None: send everything at once)
        # Who takes SMS for sending here: "<gateway>/<modem>" (the daemon renews its modems' claims).
        self.claimer = claimer or f"{outbox.default_claimer()}/{name}"
        self.paused_until = 0.0  # monotonic; sending waits while the network is out
        self._pause = 0.0
        # SMS on the SIM whose storing failed (see _failed): failures in a row, and those given up on.
        self._failures: dict[tuple, int] = {}
        self._given_up: set[tuple] = set()

    def reconfigure(self, settings: GatewaySettings, rules: IntakeRules, policy: SendPolicy | None,
                    operator: str | None) -> None:
        """Take reloaded settings (SIGHUP). A pause of sending ends: the fix may be in this reload."""
        self.operator = operator
        self.resume_sending()
        self.settings = settings
        self.intake.rules = rules
        self.policy = policy

    def resume_sending(self) -> None:
        """End a pause of sending after a network failure, as if it had run out."""
        self.paused_until, self._pause = 0.0, 0.0

    def replace_modem(self, modem: Modem) -> None:
        """Work through another modem from now on (a reload changed its [modem NAME] section)."""
        self.modem = modem

    def receive(self) -> int:
        """Store every SMS on the SIM, then delete each one whose storing has committed.

        Returns how many new messages (or parts) were stored. A failed delete is only logged: the
        SMS will be read again and recognised as already stored. A database refusing writes stops
        the turn (StoreUnavailable: everything stays on the SIM); any other failure is this one
        SMS's problem: it is tried again, then set aside, and the others go on.
        """
        new = 0
        for sms in self.modem.read_all():
            key = _sim_key(sms)
            if key in self._given_up:
                continue
            try:
                stored = self.intake.store(sms, modem=self.name)
            except (IntegrityError, DataError) as exc:
                if not self._failed(sms, key, exc):
                    continue
                stored = True
            except DatabaseError as exc:
                raise StoreUnavailable(
                    f"cannot store the SMS from {sms.sender} ({exc}); it stays on the SIM until this is fixed: "
                    f"{self._store_hint()}") from exc
            except Exception as exc:  # noqa: BLE001 - one SMS must never stop the gateway
                if not self._failed(sms, key, exc):
                    continue
                stored = True
            self._failures.pop(key, None)
            if stored:
                new += 1
            # Only here, after the commit (synchronous=FULL), may the SIM forget the message.
            try:
                self.modem.delete(sms)
            except ModemError as exc:
                if exc.reconnect:
                    raise
                log.warning("%s; the message is stored and will be recognised if read again", exc)
        if new:
            self._count(received=new)
        return new

    def _failed(self, sms: ReceivedSms, key: tuple, exc: Exception) -> bool:
        """Count a failure to store ``sms``; True once it is set aside (stored as it is: delete it)."""
        tries = self._failures[key] = self._failures.get(key, 0) + 1
        where = f"the SMS at SIM location {sms.location} from {sms.sender!r}"
        if tries < SET_ASIDE_AFTER:
            log.error("could not store %s (%s: %s); it stays on the SIM and is tried again (%d of %d)",
                      where, type(exc).__name__, exc, tries, SET_ASIDE_AFTER, exc_info=exc)
            return False
        try:
            msg = self.intake.set_aside(sms, exc, modem=self.name)
        except Exception:  # noqa: BLE001 - the last resort failed too: leave the SMS where it is
            log.exception("could not store %s even as it is; it stays on the SIM and is not read again until "
                          "barriosms restarts. Read it with `barriosms modem ...`/gammu, delete it by hand, and "
                          "please report this error", where)
            self._given_up.add(key)
            self._failures.pop(key, None)
            return False
        log.error("%s failed %d times; stored as it is, as message %d, for staff (barriosms inbox list "
                  "--unmatched) and deleted from the SIM", where, tries, msg.id)
        return True

    def send_due(self, limit: int = 20) -> int:
        """Send queued SMS in order; stop early when the modem announces new messages."""
        sent = 0
        if time.monotonic() < self.paused_until:
            return 0
        for _ in range(limit):
            # One at a time: replies queued by a receive() during this turn join the queue in order.
            msg = self._next_due()
            if msg is None:
                break
            if self.policy is not None:
                held = self.policy.hold(msg, utcnow())
                if held is not None:
                    outbox.hold(msg, held.until, held.reason)
                    log.info("message %d to %s waits: %s", msg.id, msg.recipient, held.reason)
                    continue
            if not outbox.claim(msg, self.claimer):
                continue  # another sender on this database took it first
            try:
                result = self.modem.send(msg.recipient, msg.text, report=self.settings.delivery_reports)
            except ModemSendError as exc:
                if exc.network:
                    # Not this message's fault: it keeps its attempts, and nothing is sent for a while.
                    outbox.requeue(msg, str(exc))
                    self._pause = min(PAUSE_MAX_SECONDS, max(PAUSE_MIN_SECONDS, self._pause * 2))
                    self.paused_until = time.monotonic() + self._pause
                    log.warning("sending paused for %.0f s: %s", self._pause, exc)
                    break
                status = outbox.mark_failed_attempt(
                    msg, str(exc), permanent=exc.permanent, max_attempts=self.settings.send_attempts,
                    base_seconds=self.settings.retry_base_seconds, max_seconds=self.settings.retry_max_seconds)
                if status == "failed":
                    log.error("gave up sending message %d to %s after %d attempt(s): %s",
                              msg.id, msg.recipient, msg.attempts, exc)
                else:
                    log.warning("sending message %d to %s failed (attempt %d of %d), will retry: %s",
                                msg.id, msg.recipient, msg.attempts, self.settings.send_attempts, exc)
                continue
            except ModemError:
                # The link went away mid-send: back in the queue, not counted against
                # the message, since the message was not at fault.
                outbox.requeue(msg, "modem connection lost while sending")
                raise
            outbox.mark_sent(msg, result, report_requested=self.settings.delivery_reports)
            if self._pause:
                log.info("sending works again")
                self._pause = 0.0
            sent += 1
            log.info("sent message %d to %s (%d part(s), reference %s)", msg.id, msg.recipient,
                     result.parts, msg.modem_reference)
            if self.modem.poll_events():
                # Residents are waiting: read what just arrived before sending more.
                self.receive()
        if sent:
            self._count(sent=sent)
        return sent

    def _next_due(self) -> OutboundMessage | None:
        if self.peers is None:  # the only modem: everything is its own
            batch = outbox.due(limit=1)
            return batch[0] if batch else None
        operators = self.peers()
        operators[self.name] = self.operator or operators.get(self.name)
        return outbox.for_modem(outbox.due(limit=50), self.name, operators)

    @staticmethod
    def _store_hint() -> str:
        from barriosms.store.database import describe

        where = describe()
        if where.startswith("postgresql://"):
            return f"check that the PostgreSQL server {where} runs, accepts writes and has free space"
        folder = os.path.dirname(where) or "."
        return f"check free space (df -h {folder}) and that the database file is writable"

    # -- health ------------------------------------------------------------------------------

    def _health(self) -> ModemHealth:
        row = ModemHealth.get_or_none(ModemHealth.name == self.name)
        if row is None:
            row = ModemHealth.create(name=self.name)
        return row

    def _count(self, *, received: int = 0, sent: int = 0) -> None:
        with write_tx():
            now = utcnow()
            (ModemHealth.update(received_count=ModemHealth.received_count + received,
                                sent_count=ModemHealth.sent_count + sent, last_contact_at=now, updated_at=now)
             .where(ModemHealth.name == self.name).execute())

    def record_connected(self, manufacturer: str, model: str, imei: str, imsi: str = "", device: str = "") -> None:
        with write_tx():
            row = self._health()
            now = utcnow()
            if not row.connected:
                events.record("modem.up", now, modem=self.name)
            row.connected, row.since, row.last_contact_at, row.updated_at = True, now, now, now
            row.manufacturer, row.model, row.imei, row.imsi, row.device = manufacturer, model, imei, imsi, device
            row.pid, row.host = os.getpid(), health.this_host()
            row.save()

    def record_disconnected(self, error: str) -> None:
        with write_tx():
            row = self._health()
            now = utcnow()
            if row.connected or row.since is None:
                row.since = now
                events.record("modem.down", now, modem=self.name, problem=error)
            row.connected, row.last_error, row.last_error_at = False, error, now
            row.updated_at, row.pid, row.host = now, os.getpid(), health.this_host()
            row.save()

    def record_status(self, status: ModemStatus) -> None:
        """Write a heartbeat with what the modem reports (see GammuModem.status)."""
        with write_tx():
            row = self._health()
            now = utcnow()
            row.updated_at = row.last_contact_at = now
            row.signal_percent, row.signal_dbm = status.signal_percent, status.signal_dbm
            row.network_state, row.operator = status.network_state, status.operator
            row.sim_used, row.sim_total = status.sim_used, status.sim_total
            row.pid, row.host = os.getpid(), health.this_host()
            row.save()

    def heartbeat_only(self, now: dt.datetime | None = None) -> None:
        with write_tx():
            row = self._health()
            row.updated_at = now or utcnow()
            row.pid, row.host = os.getpid(), health.this_host()
            row.save()


def _sim_key(sms: ReceivedSms) -> tuple:
    """The same SMS on the SIM read again, without trusting any of its fields to be well formed."""
    return (sms.location, repr(sms.sender), repr(sms.text)[:2000], repr(sms.smsc_time))
