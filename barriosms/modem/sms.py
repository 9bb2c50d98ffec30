"""What the modem layer hands to the rest of barriosms, free of any Gammu types."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field


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
