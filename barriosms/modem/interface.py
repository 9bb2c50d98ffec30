"""The modem as the rest of barriosms sees it: the SMS types and the Modem protocol, free of Gammu."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ReceivedSms:
    """One SMS (or one part of a concatenated SMS) as read from the SIM."""

    location: int  # where it sits on the SIM, to delete it once stored
    sender: str
    text: str
    smsc_time: dt.datetime | None = None  # naive UTC
    coding: str = ""
    concat_ref: int | None = None  # None: not part of a concatenated message
    part_number: int = 1
    total_parts: int = 1
    folder: int = 0
    smsc: str = ""
    # "deliver" (someone's SMS) or "status_report" (the network telling us an SMS we sent arrived).
    kind: str = "deliver"
    reference: int | None = None  # of the SMS we sent, in a status report
    delivery_status: int | None = None  # TP-Status of a status report (0x00-0x1F delivered)
    binary: bool = False  # 8-bit data (a WAP push, a SIM toolkit message): kept, never parsed
    message_class: int = -1  # 0: a flash SMS, shown on the screen and not stored by phones

    @property
    def is_part(self) -> bool:
        return self.concat_ref is not None and self.total_parts > 1

    def dedupe_key(self) -> str:
        """Equal for the same SMS read twice (a failed delete, a crash before it), different otherwise.

        The SIM location is left out on purpose: a message re-read after a restart may sit elsewhere.
        """
        stamp = self.smsc_time.isoformat() if self.smsc_time else ""
        concat = f"{self.concat_ref}/{self.part_number}/{self.total_parts}" if self.is_part else ""
        report = f"{self.kind}/{self.reference}/{self.delivery_status}" if self.kind != "deliver" else ""
        raw = "\x1f".join((self.sender, stamp, concat, self.text, report))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IncomingCall:
    """A voice call to the modem's number, as the modem announced it (RING and +CLIP)."""

    number: str  # as the network gave it; "" when the caller withholds it (or CLIP is unavailable)
    at: dt.datetime  # naive UTC, when the modem announced it


@dataclass(frozen=True)
class SendResult:
    references: tuple[int, ...] = field(default_factory=tuple)

    @property
    def parts(self) -> int:
        return len(self.references)


class ModemSendError(Exception):
    """Sending failed; `permanent` says whether trying again can help."""

    def __init__(self, message: str, *, permanent: bool = False, network: bool = False):
        super().__init__(message)
        self.permanent = permanent
        # True when no message could be sent right now (no coverage, no SMS centre): sending pauses.
        self.network = network


class ModemError(Exception):
    """The modem could not do what was asked; `reconnect` says whether the link is gone."""

    def __init__(self, message: str, *, reconnect: bool = False):
        super().__init__(message)
        self.reconnect = reconnect


@dataclass(frozen=True)
class ModemIdentity:
    manufacturer: str = ""
    model: str = ""
    imei: str = ""
    imsi: str = ""


@dataclass(frozen=True)
class ModemStatus:
    signal_percent: int | None = None
    signal_dbm: int | None = None
    network_state: str = ""
    operator: str = ""
    sim_used: int | None = None
    sim_total: int | None = None


class Modem(Protocol):
    """Everything the daemon and the gateway ask of a modem (GammuModem, tests' FakeModem).

    Used from one thread (the daemon's modem thread), except `busy` and `abort()`, which the
    scheduler's watchdog job reads and calls from its own thread.
    """

    # What the modem is doing right now and since when (time.monotonic()), None when idle.
    busy: tuple[str, float] | None

    @property
    def connected(self) -> bool: ...

    def connect(self) -> ModemIdentity:
        """Open and initialise the modem; ModemError(reconnect=True) when it cannot."""
        ...

    def disconnect(self) -> None:
        """Let go of the modem (harmless when not connected)."""
        ...

    def poll_events(self) -> bool:
        """Let the modem report unsolicited events; True when a new SMS was announced."""
        ...

    def calls(self) -> list[IncomingCall]:
        """The calls announced since the last time this was asked (by poll_events), oldest first;
        a call that rings several times is one call."""
        ...

    def hang_up(self) -> None:
        """End the call ringing now, unanswered (harmless when none rings)."""
        ...

    def read_all(self) -> list[ReceivedSms]: ...

    def delete(self, sms: ReceivedSms) -> None: ...

    def send(self, number: str, text: str, report: bool = False) -> SendResult: ...

    def ussd(self, code: str, timeout: float = 30.0) -> str:
        """Dial a USSD code and return the network's answer; ModemError when there is none."""
        ...

    def status(self) -> ModemStatus | None:
        """Signal, network and SIM use; None when the modem cannot tell (only a heartbeat is written)."""
        ...

    def soft_reset(self) -> None:
        """Ask the modem to restart itself (a stalled stick); a no-op where that means nothing."""
        ...

    def abort(self) -> None:
        """From another thread: make the call in progress give up (a no-op where calls cannot hang)."""
        ...
