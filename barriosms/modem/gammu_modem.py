"""The USB GSM modem, through python-gammu's StateMachine and Gammu's AT driver.

This module and the simulator are the only code that imports gammu. A GammuModem must be used from
one thread only (the daemon's modem thread): Gammu's state machine is not thread-safe, and calling
Gammu from inside its own callback is forbidden, so the callback only records that something came.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import re
import tempfile
import threading
import time
from pathlib import Path

import gammu

from barriosms.domain import cms
from barriosms.domain.gsm import is_gsm7, trim_decoder_padding
from barriosms.modem.interface import (
    IncomingCall,
    ModemError,
    ModemIdentity,
    ModemSendError,
    ModemStatus,
    ReceivedSms,
    SendResult,
)
from barriosms.modem.settings import ModemSettings

log = logging.getLogger(__name__)

# Gammu errors after which the connection is gone and must be rebuilt, rather than the one
# operation having failed.
CONNECTION_ERRORS = tuple(
    getattr(gammu, name) for name in (
        "ERR_DEVICENOTEXIST", "ERR_DEVICEOPENERROR", "ERR_DEVICELOCKED", "ERR_DEVICEREADERROR",
        "ERR_DEVICEWRITEERROR", "ERR_DEVICEBUSY", "ERR_DEVICENOPERMISSION", "ERR_NOTCONNECTED",
        "ERR_TIMEOUT", "ERR_DEVICENODRIVER", "ERR_PHONEOFF", "ERR_ABORTED",
    ) if hasattr(gammu, name))

# A call rings every few seconds and each ring brings the caller's number (+CLIP) again: Gammu reports
# each one as an incoming call. Announcements of the same number this close together are one call
# (many modems say nothing when a caller gives up, so the end of a call is not waited for).
SAME_CALL_SECONDS = 15.0
# What Gammu's "Call" notifications say when a call is over (ours hung up, or the caller's).
CALL_ENDED = frozenset({"CallLocalEnd", "CallRemoteEnd", "CallEnd"})


def describe(exc: BaseException) -> str:
    """One readable line from a gammu.GSMError (whose args hold a dict)."""
    if isinstance(exc, gammu.GSMError) and exc.args and isinstance(exc.args[0], dict):
        info = exc.args[0]
        return f"{info.get('Text', '')} ({info.get('Where', '')}, code {info.get('Code', '?')})"
    return str(exc)


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, CONNECTION_ERRORS)


def write_gammurc(settings: ModemSettings, folder: Path) -> Path:
    """Gammu reads its config from a file: SetIncomingSMS only works when loaded by ReadConfig.

    connection = none selects Gammu's dummy driver (device is then a folder): a modem made of
    files, for trying barriosms and for tests, with no hardware.
    """
    model = "dummy" if settings.connection == "none" else "at"
    lines = ["[gammu]", f"device = {settings.device}", f"connection = {settings.connection}", f"model = {model}"]
    lines += [f"{k} = {v}" for k, v in settings.gammu_options.items()]
    path = folder / "gammurc"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _smsc_time(sms: dict) -> dt.datetime | None:
    value = sms.get("DateTime")
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    # Gammu gives naive times already in the sender's zone offset it dropped; keep them as they are
    # (they are only used to recognise the same SMS read twice and shown as information).
    return value


def operator_name(network: dict) -> str:
    """The network's name: as the modem gives it (Gammu 1.45 asks), else from Gammu's table of
    network codes (Debian's Gammu 1.42, on every 32-bit Pi, does not ask), else the code itself."""
    code = str(network.get("NetworkCode") or "")
    return str(network.get("NetworkName") or gammu.GSMNetworks.get(code) or code)


def to_received(sms: dict) -> ReceivedSms:
    """A Gammu SMS dict (one location) in our own terms."""
    udh = sms.get("UDH") or {}
    ref: int | None = None
    part, total = 1, 1
    if str(udh.get("Type", "")).startswith("Concatenated") and udh.get("AllParts", -1) > 1:
        ref = udh["ID16bit"] if udh.get("ID16bit", -1) not in (-1, None) else udh.get("ID8bit", -1)
        part, total = int(udh.get("PartNumber", 1)), int(udh.get("AllParts", 1))
    coding = str(sms.get("Coding", ""))
    raw_text = sms.get("Text") or ""
    binary = coding.startswith("8bit") or isinstance(raw_text, (bytes, bytearray))
    if isinstance(raw_text, (bytes, bytearray)):
        text = raw_text.hex()
    else:
        text = trim_decoder_padding(raw_text)
    smsc = (sms.get("SMSC") or {}).get("Number") or ""
    report = sms.get("Type") == "Status_Report"
    return ReceivedSms(location=int(sms["Location"]), folder=int(sms.get("Folder", 0)), sender=sms.get("Number") or "",
                       text=text, smsc_time=_smsc_time(sms), coding=coding,
                       concat_ref=ref, part_number=part, total_parts=total, smsc=smsc,
                       kind="status_report" if report else "deliver",
                       reference=int(sms.get("MessageReference", 0)) if report else None,
                       delivery_status=int(sms.get("DeliveryStatus", 0)) if report else None,
                       binary=binary, message_class=int(sms.get("Class", -1)))


class GammuModem:
    """A connection to one modem. Not thread-safe by design: one thread owns it."""

    def __init__(self, settings: ModemSettings):
        self.settings = settings
        self._sm: gammu.StateMachine | None = None
        self._dir: Path | None = None
        self._incoming = threading.Event()  # set by Gammu's callback, read by the owner thread
        # What Gammu is doing right now and since when (monotonic): read by the daemon's watchdog,
        # which may call abort() from its own thread.
        self.busy: tuple[str, float] | None = None
        self._ussd_answers: list[dict] = []
        # Gammu's "Call" notifications as its callback recorded them, then the calls made of them
        # (taken by calls()), and the call being announced: its number and last announcement (monotonic).
        self._call_events: list[dict] = []
        self._calls: list[IncomingCall] = []
        self._ringing: tuple[str, float] | None = None
        self._trace: Path | None = None
        self._own_trace = False
        self._trace_names = itertools.count(1)

    def _enter(self, what: str) -> None:
        self.busy = (what, time.monotonic())

    def _leave(self) -> None:
        self.busy = None

    def abort(self) -> None:
        """Ask Gammu to give up the call in progress (GSM_AbortOperation is thread-safe)."""
        sm = self._sm
        if sm is not None:
            try:
                sm.Abort()
            except gammu.GSMError as exc:
                log.debug("abort: %s", describe(exc))

    def soft_reset(self) -> None:
        """Ask the modem to restart itself (AT+CFUN=1,1 or the like, as Gammu knows the model)."""
        self._call("resetting the modem", "Reset", Hard=False)
    @property
    def connected(self) -> bool:
        return self._sm is not None

    def connect(self) -> ModemIdentity:
        """Open the port, initialise, unlock the SIM and ask for new-message and incoming-call notifications."""
        self.disconnect()
        self._dir = Path(tempfile.mkdtemp(prefix="barriosms-gammu-"))
        rc = write_gammurc(self.settings, self._dir)
        sm = gammu.StateMachine()
        self._sm = sm  # visible to abort() while Init runs
        self._enter("initialising the modem")
        try:
            sm.ReadConfig(Filename=str(rc))
            sm.Init()
        except gammu.GSMError as exc:
            self._sm = None
            self._cleanup_dir()
            raise ModemError(f"cannot initialise the modem on {self.settings.device}: {describe(exc)}",
                             reconnect=True) from exc
        finally:
            self._leave()
        try:
            self._start_trace()
            self._unlock_sim()
            identity = ModemIdentity(self._safe(sm.GetManufacturer), self._model(), self._safe(sm.GetIMEI),
                                     self._safe(sm.GetSIMIMSI))
            sm.SetIncomingCallback(self._on_incoming)
            try:
                sm.SetIncomingSMS()
            except gammu.GSMError as exc:
                # Polling still finds every message; notifications only make replies faster.
                log.warning("the modem refused new-message notifications (%s); relying on polling", describe(exc))
            try:
                # The AT driver sends AT+CLIP=1 (the caller's number after each RING), AT+CRC=1 and
                # AT+CCWA=1; each +CLIP then reaches the callback as a "Call" with Status IncomingCall.
                sm.SetIncomingCall()
            except gammu.GSMError as exc:
                log.warning("the modem refused incoming-call notifications (%s); missed calls are not seen and "
                            "get no callback request", describe(exc))
        except Exception:
            self.disconnect()
            raise
        return identity

    # -- Gammu's trace: where the +CMS ERROR code of a failed send can be read ------------------

    def _start_trace(self) -> None:
        """Gammu reports most +CMS ERRORs as ERR_UNKNOWN and logs the code: keep a trace to read it."""
        assert self._sm is not None and self._dir is not None
        configured = self.settings.gammu_options.get("logfile")
        if configured:
            # The technician's own Gammu log: read it, never rotate or replace it.
            self._trace, self._own_trace = Path(configured), False
            return
        self._trace, self._own_trace = self._dir / f"gammu-{next(self._trace_names)}.log", True
        self._sm.SetDebugFile(str(self._trace))
        self._sm.SetDebugLevel("text")

    def _trace_offset(self) -> int:
        try:
            return self._trace.stat().st_size if self._trace else 0
        except OSError:
            return 0

    def _cms_error_since(self, offset: int) -> int | None:
        if self._trace is None:
            return None
        try:
            with open(self._trace, "rb") as fh:
                fh.seek(offset)
                found = re.findall(rb"CMS Error (\d+)", fh.read())
        except OSError:
            return None
        return int(found[-1]) if found else None

    def _rotate_trace(self, limit: int = 2_000_000) -> None:
        # Gammu writes its log without O_APPEND, so it cannot be truncated under it: switch files.
        if not self._own_trace or self._sm is None or self._dir is None or self._trace_offset() < limit:
            return
        old, self._trace = self._trace, self._dir / f"gammu-{next(self._trace_names)}.log"
        self._sm.SetDebugFile(str(self._trace))
        if old is not None:
            old.unlink(missing_ok=True)

    def _unlock_sim(self) -> None:
        assert self._sm is not None
        try:
            needed = self._sm.GetSecurityStatus()
        except gammu.GSMError as exc:
            log.debug("cannot ask the SIM's PIN state (%s); assuming unlocked", describe(exc))
            return
        if not needed:
            return
        if needed == "PIN" and self.settings.pin:
            try:
                self._sm.EnterSecurityCode("PIN", self.settings.pin)
                log.info("SIM unlocked with the PIN from the configuration")
                return
            except gammu.GSMError as exc:
                raise ModemError(f"the SIM refused the PIN in [modem] pin ({describe(exc)}); check it "
                                 "(three wrong PINs lock the SIM and need the PUK)") from exc
        raise ModemError(f"the SIM asks for its {needed}: set [modem] pin in the configuration"
                         if needed == "PIN" else
                         f"the SIM asks for its {needed}: unlock it in a phone, then put it back")

    def _safe(self, call) -> str:
        try:
            return str(call())
        except gammu.GSMError:
            return ""

    def _model(self) -> str:
        assert self._sm is not None
        try:
            model = self._sm.GetModel()
        except gammu.GSMError:
            return ""
        if isinstance(model, (tuple, list)):
            # Gammu answers (its own name for the model, what the modem said); "unknown" says nothing.
            return " ".join(m for m in model if m and m != "unknown")
        return str(model)

    def _on_incoming(self, sm, kind, data) -> None:
        # Runs inside Gammu: never call Gammu from here. A notification only says "something came":
        # python-gammu queues at most 10 and drops the rest of a burst ("Incoming SMS queue
        # overflow!", see gammu_output.py), and the SIM is read whole whichever of them arrives.
        if kind == "SMS":
            self._incoming.set()
        elif kind == "USSD":
            self._ussd_answers.append(data)
        elif kind == "Call":
            self._call_events.append(dict(data))

    def disconnect(self) -> None:
        # Calls already made of notifications stay for calls(): they happened. A call still ringing
        # is announced afresh to the next connection.
        self._take_call_events()
        self._ringing = None
        sm, self._sm = self._sm, None
        if sm is not None:
            try:
                sm.Terminate()
            except gammu.GSMError as exc:
                log.debug("closing the modem: %s", describe(exc))
        self._cleanup_dir()

    def _cleanup_dir(self) -> None:
        if self._dir is not None:
            for f in self._dir.iterdir():
                f.unlink(missing_ok=True)
            self._dir.rmdir()
            self._dir = None

    def _call(self, what: str, method: str, **kwargs):
        """Call a StateMachine method, turning Gammu's errors into ModemError."""
        if self._sm is None:
            raise ModemError("the modem is not connected", reconnect=True)
        self._enter(what)
        try:
            return getattr(self._sm, method)(**kwargs)
        except gammu.GSMError as exc:
            raise ModemError(f"{what} failed: {describe(exc)}", reconnect=_is_connection_error(exc)) from exc
        finally:
            self._leave()

    def poll_events(self) -> bool:
        """Let Gammu read what the modem sent unasked; True if a new SMS was announced (calls: `calls()`)."""
        self._call("reading the modem", "ReadDevice")
        self._take_call_events()
        if self._incoming.is_set():
            self._incoming.clear()
            return True
        return False

    def _take_call_events(self) -> None:
        """Turn the "Call" notifications recorded since last time into calls (here, outside Gammu)."""
        events, self._call_events = self._call_events, []
        now = time.monotonic()
        for data in events:
            status = str(data.get("Status", ""))
            if status in CALL_ENDED:
                self._ringing = None
                continue
            if status != "IncomingCall":
                continue
            number = str(data.get("Number") or "").strip()
            same = self._ringing is not None and self._ringing[0] == number and now - self._ringing[1] <= SAME_CALL_SECONDS
            self._ringing = (number, now)
            if not same:
                self._calls.append(IncomingCall(number, dt.datetime.now(dt.UTC).replace(tzinfo=None)))
                log.info("incoming call from %s", number or "a withheld number")

    def calls(self) -> list[IncomingCall]:
        """The calls announced since the last time, oldest first (each once, however often it rang)."""
        calls, self._calls = self._calls, []
        return calls

    def hang_up(self) -> None:
        """End the ringing call unanswered: Gammu's CancelCall (AT+CHUP, or ATH without it).

        If the modem refuses (ERROR), Gammu's AT driver (atgen.c: CancellingCall) believes a hang-up
        is still under way and skips the next ones until a call ends with NO CARRIER or the modem is
        opened again; those callers hear it ring until they give up, which costs them nothing either.
        """
        self._call("hanging up the incoming call", "CancelCall", ID=0, All=True)

    def read_all(self) -> list[ReceivedSms]:
        """Every SMS on the SIM (each part of a concatenated one separately)."""
        found: list[ReceivedSms] = []
        start, location = True, 0
        while True:
            args = {"Start": True} if start else {"Location": location}
            try:
                batch = self._call("reading SMS from the SIM", "GetNextSMS", Folder=0, **args)
            except ModemError as exc:
                if isinstance(exc.__cause__, gammu.ERR_EMPTY):
                    break
                raise
            start = False
            for sms in batch:
                location = sms["Location"]
                found.append(to_received(sms))
        return found

    def delete(self, sms: ReceivedSms) -> None:
        self._call(f"deleting SMS at SIM location {sms.location}", "DeleteSMS",
                   Folder=sms.folder, Location=sms.location)

    def send(self, number: str, text: str, report: bool = False) -> SendResult:
        """Send one text, split into as many parts as it needs (UCS-2 only when it must).

        With `report`, each part asks the network for a status report (TP-SRR): in Gammu a
        submitted SMS whose type is Status_Report is one that requests a report.
        """
        parts = gammu.EncodeSMS({
            "Class": -1,
            "Unicode": not is_gsm7(text),
            "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}],
        })
        refs: list[int] = []
        for part in parts:
            part["Number"] = number
            if report:
                part["Type"] = "Status_Report"
            part["SMSC"] = {"Number": self.settings.smsc} if self.settings.smsc else {"Location": 1}
            if self._sm is None:
                raise ModemError("the modem is not connected", reconnect=True)
            self._enter(f"sending to {number}")
            offset = self._trace_offset()
            try:
                refs.append(int(self._sm.SendSMS(part)))
            except gammu.GSMError as exc:
                if _is_connection_error(exc):
                    raise ModemError(f"sending to {number} failed: {describe(exc)}", reconnect=True) from exc
                raise self._send_error(number, exc, self._cms_error_since(offset)) from exc
            finally:
                self._leave()
        self._rotate_trace()
        return SendResult(tuple(refs))

    def _send_error(self, number: str, exc: gammu.GSMError, code: int | None) -> ModemSendError:
        if isinstance(exc, (gammu.ERR_EMPTYSMSC, gammu.ERR_GETTING_SMSC)) or code == 330:
            return ModemSendError(
                "the SIM has no SMS centre number: set [modem] smsc = +591... (ask the operator), reload "
                "(systemctl reload barriosms) and, for messages already failed, run `barriosms outbox retry "
                "--failed`", permanent=False, network=True)
        if code is not None:
            cause = cms.classify(code)
            kind = "permanent" if cause.permanent else "temporary"
            return ModemSendError(f"sending to {number} failed: +CMS ERROR {code} ({cause.description}, {kind})",
                                  permanent=cause.permanent, network=cause.network)
        return ModemSendError(f"sending to {number} failed: {describe(exc)}", permanent=_is_permanent(exc))

    def ussd(self, code: str, timeout: float = 30.0) -> str:
        """Dial a USSD code (a balance check) and return the network's answer."""
        self._ussd_answers.clear()
        self._call("enabling USSD answers", "SetIncomingUSSD", Enable=True)
        self._call(f"dialling {code}", "DialService", Number=code)
        deadline = time.monotonic() + timeout
        while not self._ussd_answers:
            if time.monotonic() > deadline:
                raise ModemError(f"no answer to {code} within {timeout:.0f} s (the operator may be slow: try again)")
            self._call("waiting for the USSD answer", "ReadDevice")
            time.sleep(0.05)
        answer = self._ussd_answers.pop(0)
        return str(answer.get("Text", "")).strip()

    def status(self) -> ModemStatus:
        """Signal, network and SIM use; a field Gammu cannot get stays empty."""
        sm = self._sm
        if sm is None:
            raise ModemError("the modem is not connected", reconnect=True)
        signal = self._try(sm.GetSignalQuality) or {}
        network = self._try(sm.GetNetworkInfo) or {}
        sms = self._try(sm.GetSMSStatus) or {}
        return ModemStatus(
            signal_percent=signal.get("SignalPercent"),
            signal_dbm=signal.get("SignalStrength"),
            network_state=str(network.get("State", "")),
            operator=operator_name(network),
            sim_used=sms.get("SIMUsed"),
            sim_total=sms.get("SIMSize"),
        )

    def _try(self, fn):
        self._enter(f"asking the modem ({getattr(fn, '__name__', 'status')})")
        try:
            return fn()
        except gammu.GSMError as exc:
            if _is_connection_error(exc):
                raise ModemError(f"the modem stopped answering: {describe(exc)}", reconnect=True) from exc
            log.debug("%s: %s", getattr(fn, "__name__", "modem call"), describe(exc))
            return None
        finally:
            self._leave()


def _is_permanent(exc: gammu.GSMError) -> bool:
    # Gammu folds most +CMS ERRORs into a few codes; issue-3 work classifies them finely. What is
    # clearly about the message itself will not get better by trying again.
    return isinstance(exc, tuple(getattr(gammu, n) for n in ("ERR_INVALIDDATA", "ERR_NOTSUPPORTED",
                                                              "ERR_NOTIMPLEMENTED") if hasattr(gammu, n)))


def device_present(device: str) -> bool:
    return os.path.exists(device)
