"""A small in-memory modem for fast tests of the gateway loop (beside, not instead of, the tests
that drive real Gammu against the simulated AT modem)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

from barriosms.modem.interface import (
    IncomingCall,
    ModemError,
    ModemIdentity,
    ModemSendError,
    ModemStatus,
    ReceivedSms,
    SendResult,
)


@dataclass
class FakeModem:
    sim: dict[int, ReceivedSms] = field(default_factory=dict)
    sent: list[tuple[str, str]] = field(default_factory=list)
    connected: bool = False
    announced: bool = False
    fail_delete: bool = False
    send_errors: list[Exception] = field(default_factory=list)  # raised by the next sends, in order
    ussd_answers: dict[str, str] = field(default_factory=dict)
    reads: int = 0  # how many times the SIM was read (a test waits for the start-up sweep)
    busy: tuple[str, float] | None = None  # never inside a call that could hang (subclasses set it)
    announced_calls: list[IncomingCall] = field(default_factory=list)  # rang, not yet taken by calls()
    ringing: str | None = None  # the number of the call ringing now ("" withheld), None when none rings
    hangups: list[str | None] = field(default_factory=list)  # what rang at each hang_up() (None: nothing)
    _locations: itertools.count = field(default_factory=lambda: itertools.count(1))
    _refs: itertools.count = field(default_factory=lambda: itertools.count(1))
    _clock: itertools.count = field(default_factory=lambda: itertools.count())

    def connect(self) -> ModemIdentity:
        self.connected = True
        return ModemIdentity("Fake", "In-memory", "000000000000000")

    def disconnect(self) -> None:
        self.connected = False

    def arrive(self, sender: str, text: str, *, concat: tuple[int, int, int] | None = None,
               announce: bool = True) -> ReceivedSms:
        loc = next(self._locations)
        when = dt.datetime(2026, 11, 24, 12, 0, 0) + dt.timedelta(seconds=next(self._clock))
        ref, part, total = concat or (None, 1, 1)
        sms = ReceivedSms(location=loc, sender=sender, text=text, smsc_time=when,
                          concat_ref=ref, part_number=part, total_parts=total)
        self.sim[loc] = sms
        self.announced = self.announced or announce
        return sms

    def ring(self, number: str, at: dt.datetime | None = None) -> IncomingCall:
        """A resident calls ("" withheld): announced at the next poll_events, ringing until hang_up()."""
        call = IncomingCall(number, at or dt.datetime.now(dt.UTC).replace(tzinfo=None))
        self.announced_calls.append(call)
        self.ringing = number
        return call

    def calls(self) -> list[IncomingCall]:
        self._need()
        calls, self.announced_calls = self.announced_calls, []
        return calls

    def hang_up(self) -> None:
        self._need()
        self.hangups.append(self.ringing)
        self.ringing = None

    def poll_events(self) -> bool:
        self._need()
        was, self.announced = self.announced, False
        return was

    def read_all(self) -> list[ReceivedSms]:
        self._need()
        self.reads += 1
        return [self.sim[k] for k in sorted(self.sim)]

    def delete(self, sms: ReceivedSms) -> None:
        self._need()
        if self.fail_delete:
            raise ModemError(f"deleting SMS at SIM location {sms.location} failed: fake refusal")
        self.sim.pop(sms.location, None)

    def send(self, number: str, text: str, report: bool = False) -> SendResult:
        self._need()
        if self.send_errors:
            raise self.send_errors.pop(0)
        self.sent.append((number, text))
        return SendResult((next(self._refs),))

    def ussd(self, code: str, timeout: float = 30) -> str:
        self._need()
        if code not in self.ussd_answers:
            raise ModemError(f"no answer to {code} within {timeout:.0f} s")
        return self.ussd_answers[code]

    def status(self) -> ModemStatus | None:
        return None  # nothing to report: the daemon writes a bare heartbeat

    def soft_reset(self) -> None:
        pass  # nothing to restart

    def abort(self) -> None:
        pass  # its calls never hang

    def _need(self) -> None:
        if not self.connected:
            raise ModemError("not connected", reconnect=True)


__all__ = ["FakeModem", "ModemSendError"]
