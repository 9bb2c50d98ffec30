"""A GSM modem's AT command interpreter with SIM storage, without any I/O.

Bytes go in with `feed()`, bytes come out with `take_output()`; the server puts it on a pty. It
behaves as 3GPP TS 27.005/27.007 say and as real USB sticks do where Gammu depends on it:
commands are echoed (ATE1) until ATE0, unknown commands answer ERROR (never silence), PDUs are
encoded and decoded by python-gammu (no hand-written codec), and unsolicited result codes (+CMTI)
are held while a command runs, including the `> ` phase of AT+CMGS, and flushed after its final
result.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import gammu

from ..domain.gsm import is_gsm7, trim_decoder_padding
from .faults import normalise

log = logging.getLogger(__name__)

CTRL_Z = 0x1A
ESC = 0x1B

STAT_PDU = {0: "REC UNREAD", 1: "REC READ", 2: "STO UNSENT", 3: "STO SENT"}
STAT_TEXT = {v: k for k, v in STAT_PDU.items()}


@dataclass
class Stored:
    """One SMS part in a SIM slot: its DELIVER PDU (with the SMSC prefix) and read state."""

    pdu: bytes
    stat: int = 0
    sender: str = ""
    text: str = ""
    when: dt.datetime | None = None

    @property
    def tpdu_length(self) -> int:
        # AT+CMGL/CMGR report the length without the SMSC part.
        return len(self.pdu) - (self.pdu[0] + 1)


@dataclass
class SentPart:
    to: str
    text: str
    reference: int
    at_epoch: float
    concat: tuple[int, int, int] | None  # (reference, part, total) from the UDH
    coding: str = ""


@dataclass
class Identity:
    manufacturer: str = "barriosms"
    model: str = "SIMULATED-AT"
    revision: str = "1.0"
    imei: str = "356938035643809"  # passes the Luhn check
    imsi: str = "736010123456789"  # MCC 736: Bolivia; MNC 01: Entel
    operator: str = "Entel"
    operator_code: str = "73601"
    lac: str = "1A2B"
    cell: str = "00C3D4E5"


@dataclass
class Settings:
    echo: bool = True
    cmgf: int = 0
    cmee: int = 0
    cscs: str = "GSM"
    cnmi: tuple[int, ...] = (0, 0, 0, 0, 0)
    creg: int = 0
    cgreg: int = 0
    cops_format: int = 0


class ATModem:
    """The modem: feed it bytes from the client, take what it answers."""

    def __init__(self, slots: int = 30, smsc: str = "+59170000000", signal_rssi: int = 20,
                 identity: Identity | None = None, clock: Callable[[], float] = time.time):
        if slots < 1:
            raise ValueError("a SIM needs at least one slot")
        self.slots: list[Stored | None] = [None] * slots  # index i is AT location i + 1
        self.pending: deque[Stored] = deque()  # arrived while the SIM was full (the SMSC retries)
        self.smsc = smsc
        self.signal_rssi = signal_rssi
        self.identity = identity or Identity()
        self.clock = clock
        self.settings = Settings()
        self.sent: list[SentPart] = []
        self._refs = itertools.count(1)
        self._concat_refs = itertools.count(1)
        self._out = bytearray()
        self._line = bytearray()
        self._held: list[bytes] = []
        self._busy = False
        self._cmgs: tuple[int, bytearray, float, str] | None = None  # length, data, started, text-mode number
        self.commands: list[tuple[float, str]] = []  # every command line, for benchmarks and tests
        self.faults: dict[str, dict] = {}
        self._timers: list[tuple[float, Callable[[], None]]] = []
        self._next_flood = 0.0
        self._flood_count = 0
        self._pin_locked = False
        self.ussd_answers: dict[str, str] = {"*105#": "Su saldo es Bs 12.50. Vigencia 30/12/2026"}

    # -- faults and timers -------------------------------------------------------------------

    def set_fault(self, name: str, **args) -> dict:
        self.faults[name] = normalise(name, args)
        if name == "pin":
            self._pin_locked = True
        return dict(self.faults)

    def clear_fault(self, name: str | None = None) -> dict:
        for key in ([name] if name else list(self.faults)):
            self.faults.pop(key, None)
            if key == "pin":
                self._pin_locked = False
        return dict(self.faults)

    def _later(self, seconds: float, action: Callable[[], None]) -> None:
        self._timers.append((self.clock() + seconds, action))

    def next_timer(self) -> float | None:
        """Seconds until something is due (None: nothing scheduled), for the server's select()."""
        due = [t for t, _ in self._timers]
        if "flood" in self.faults:
            due.append(self._next_flood)
        return max(0.0, min(due) - self.clock()) if due else None

    def tick(self) -> None:
        now = self.clock()
        due = [a for t, a in self._timers if t <= now]
        self._timers = [(t, a) for t, a in self._timers if t > now]
        for action in due:
            action()
        flood = self.faults.get("flood")
        if flood and now >= self._next_flood:
            self._next_flood = now + flood["interval"]
            if not self._busy and self._cmgs is None:
                self._flood_count += 1
                lines = (f"^RSSI:{self.signal_rssi}", "^BOOT:20515219,0,0,0,72", "^MODE:5,4",
                         "^DSFLOWRPT:0000016E,00000000,00000000,0000000000031A0E,000000000001AC44,0003E800,0003E800")
                self._write(f"\r\n{lines[self._flood_count % len(lines)]}\r\n")

    # -- I/O ---------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if "hang" in self.faults:
            return  # a hung modem reads and answers nothing
        for byte in data:
            if self._cmgs is not None:
                self._feed_message(byte)
            else:
                self._feed_command(byte)

    def take_output(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def _write(self, data: bytes | str) -> None:
        self._out += data.encode("ascii", "replace") if isinstance(data, str) else data

    def _feed_command(self, byte: int) -> None:
        if byte == ESC:
            self._line.clear()
            return
        if byte == ord("\n") and not self._line:
            return  # the LF of a CR LF pair
        if self.settings.echo:
            self._out.append(byte)
        if byte in (ord("\r"), ord("\n")):
            line = self._line.decode("ascii", "replace").strip()
            self._line.clear()
            if line:
                self._run_line(line)
            return
        if byte in (0x08, 0x7F):  # backspace, as on a terminal
            if self._line:
                self._line.pop()
            return
        self._line.append(byte)

    def _feed_message(self, byte: int) -> None:
        assert self._cmgs is not None
        length, data, started, number = self._cmgs
        if byte == ESC:
            self._cmgs = None
            self._final("OK")  # 27.005: ESC cancels the send without error
            return
        if byte == CTRL_Z:
            self._cmgs = None
            self._submit(length, bytes(data), started, number)
            return
        if self.settings.echo:
            self._out.append(byte)
        if byte not in (ord("\r"), ord("\n")):
            data.append(byte)

    # -- results -----------------------------------------------------------------------------

    def _info(self, text: str) -> None:
        self._write(f"\r\n{text}\r\n")

    def _final(self, result: str) -> None:
        self._write(f"\r\n{result}\r\n")
        self._busy = False
        self._flush_urcs()

    def _error(self, cme: int | None = None, cms: int | None = None) -> None:
        if cms is not None and self.settings.cmee:
            self._final(f"+CMS ERROR: {cms}")
        elif cme is not None and self.settings.cmee:
            self._final(f"+CME ERROR: {cme}")
        else:
            self._final("ERROR")

    def _urc(self, text: str) -> None:
        line = f"\r\n{text}\r\n".encode("ascii")
        if self._busy or self._cmgs is not None:
            self._held.append(line)  # 27.005 +CNMI: buffered while a command is in progress
        else:
            self._write(line)

    def _flush_urcs(self) -> None:
        held, self._held = self._held, []
        for line in held:
            self._write(line)

    # -- commands ----------------------------------------------------------------------------

    def _run_line(self, line: str) -> None:
        self.commands.append((self.clock(), line))
        upper = line.upper()
        if not upper.startswith("AT"):
            self._final("ERROR")
            return
        self._busy = True
        body = line[2:]
        if not body:
            self._final("OK")
            return
        if body[0] in "+$^%*#":
            self._extended(body)
            return
        self._basic(body.upper())

    def _basic(self, body: str) -> None:
        # A run of basic commands such as "E1", "Z", "V1Q0", "&F", "I".
        commands = re.findall(r"(&?[A-Z])(\d*)", body)
        if "".join(c + a for c, a in commands) != body:
            self._final("ERROR")
            return
        for cmd, arg in commands:
            if cmd == "E":
                self.settings.echo = arg != "0"
            elif cmd in ("Z", "&F"):
                self._reset()
            elif cmd == "I":
                self._info(f"{self.identity.manufacturer}\r\n{self.identity.model}\r\nRevision: {self.identity.revision}")
            elif cmd not in ("V", "Q", "X", "&C", "&D", "&K", "&W", "S"):
                self._final("ERROR")
                return
        self._final("OK")

    def _reset(self) -> None:
        self.settings = Settings()

    def _extended(self, body: str) -> None:
        match = re.fullmatch(r"([+$^%*#][A-Za-z0-9]+)(=\?|\?|=(.*))?", body, re.S)
        if not match:
            self._final("ERROR")
            return
        name = match.group(1).upper()
        suffix = match.group(2) or ""
        args = match.group(3) or ""
        mode = "test" if suffix == "=?" else "read" if suffix == "?" else "set" if suffix.startswith("=") else "exec"
        handler = getattr(self, "_cmd_" + name[1:].lower(), None) if name[0] == "+" else None
        if handler is None:
            self._final("ERROR")
            return
        try:
            handler(mode, args)
        except (ValueError, IndexError):
            self._error(cme=4 if not name.startswith("+CM") else None, cms=302 if name.startswith("+CM") else None)

    # identity --------------------------------------------------------------------------------

    def _simple(self, mode: str, value: str) -> None:
        if mode == "test":
            self._final("OK")
        elif mode == "exec":
            self._info(value)
            self._final("OK")
        else:
            self._final("ERROR")

    def _cmd_cgmi(self, mode, args): self._simple(mode, self.identity.manufacturer)
    def _cmd_gmi(self, mode, args): self._simple(mode, self.identity.manufacturer)
    def _cmd_cgmm(self, mode, args): self._simple(mode, self.identity.model)
    def _cmd_gmm(self, mode, args): self._simple(mode, self.identity.model)
    def _cmd_cgmr(self, mode, args): self._simple(mode, self.identity.revision)
    def _cmd_gmr(self, mode, args): self._simple(mode, self.identity.revision)
    def _cmd_cgsn(self, mode, args): self._simple(mode, self.identity.imei)
    def _cmd_gsn(self, mode, args): self._simple(mode, self.identity.imei)
    def _cmd_cimi(self, mode, args): self._simple(mode, self.identity.imsi)

    def _cmd_cnum(self, mode, args):
        self._final("OK")  # the SIM does not know its own number, as most prepaid SIMs

    # settings --------------------------------------------------------------------------------

    def _cmd_cmee(self, mode, args):
        if mode == "set":
            self.settings.cmee = int(args or 0)
        elif mode == "read":
            self._info(f"+CMEE: {self.settings.cmee}")
        elif mode == "test":
            self._info("+CMEE: (0-2)")
        self._final("OK")

    def _cmd_cscs(self, mode, args):
        if mode == "set":
            charset = args.strip().strip('"').upper()
            if charset not in ("GSM", "IRA", "UCS2", "8859-1", "PCCP437"):
                raise ValueError(charset)
            self.settings.cscs = charset
        elif mode == "read":
            self._info(f'+CSCS: "{self.settings.cscs}"')
        elif mode == "test":
            self._info('+CSCS: ("GSM","IRA","UCS2","8859-1","PCCP437")')
        self._final("OK")

    def _cmd_cfun(self, mode, args):
        if mode == "read":
            self._info("+CFUN: 1")
        elif mode == "test":
            self._info("+CFUN: (0,1,4),(0,1)")
        self._final("OK")

    def _cmd_chup(self, mode, args):
        self._final("OK")

    def _cmd_cpin(self, mode, args):
        if mode == "read":
            self._info("+CPIN: SIM PIN" if self._pin_locked else "+CPIN: READY")
            self._final("OK")
        elif mode == "test":
            self._final("OK")
        elif not self._pin_locked:
            self._error(cme=3)  # operation not allowed: no PIN is asked
        elif args.split(",")[0].strip().strip('"') == self.faults.get("pin", {}).get("pin"):
            self._pin_locked = False
            self._final("OK")
        else:
            self._error(cme=16)  # incorrect password

    def _locked(self) -> bool:
        """SMS commands on a SIM that still wants its PIN fail, as on a real stick."""
        if self._pin_locked:
            self._error(cme=11)
            return True
        return False

    def _cmd_csq(self, mode, args):
        if mode == "test":
            self._info("+CSQ: (0-31,99),(0-7,99)")
        else:
            rssi = 99 if "unregistered" in self.faults else self.signal_rssi
            self._info(f"+CSQ: {rssi},99")
        self._final("OK")

    def _registration(self, name: str, attr: str, mode: str, args: str) -> None:
        if mode == "set":
            setattr(self.settings, attr, int(args.split(",")[0] or 0))
        elif mode == "read":
            n = getattr(self.settings, attr)
            if "unregistered" in self.faults:
                self._info(f"+{name}: {n},2")  # not registered, searching
            else:
                # n=2 asks for the location area and cell too, as Gammu does.
                self._info(f'+{name}: {n},1,"{self.identity.lac}","{self.identity.cell}"' if n == 2 else f"+{name}: {n},1")
        elif mode == "test":
            self._info(f"+{name}: (0-2)")
        self._final("OK")

    def _cmd_creg(self, mode, args): self._registration("CREG", "creg", mode, args)
    def _cmd_cgreg(self, mode, args): self._registration("CGREG", "cgreg", mode, args)

    def _cmd_cereg(self, mode, args): self._registration("CEREG", "cgreg", mode, args)

    def _cmd_cgatt(self, mode, args):
        if mode == "read":
            self._info("+CGATT: 1")
        elif mode == "test":
            self._info("+CGATT: (0,1)")
        self._final("OK")

    def _cmd_ccwa(self, mode, args): self._final("OK")

    def _cmd_cusd(self, mode, args):
        if mode == "read":
            self._info("+CUSD: 0")
        elif mode == "test":
            self._info("+CUSD: (0-2)")
        elif mode == "set":
            fields = [f.strip() for f in args.split(",")]
            if len(fields) >= 2 and fields[1]:
                code = self._text_in(fields[1].strip('"'))
                self._final("OK")
                self._later(0.2, lambda: self._ussd_answer(code))
                return
        self._final("OK")

    def _ussd_answer(self, code: str) -> None:
        answer = self.ussd_answers.get(code)
        if answer is None:
            self._urc("+CUSD: 4")  # operation not supported
        else:
            self._urc(f'+CUSD: 0,"{self._text_out(answer)}",15')

    def _text_in(self, text: str) -> str:
        """A string argument as the client wrote it in the current character set (AT+CSCS)."""
        if self.settings.cscs == "UCS2":
            try:
                return bytes.fromhex(text).decode("utf-16-be")
            except ValueError:
                return text
        return text

    def _cmd_cops(self, mode, args):
        if mode == "set":
            fields = args.split(",")
            if fields[0] == "3" and len(fields) > 1:
                self.settings.cops_format = int(fields[1])
        elif mode == "read":
            name = self.identity.operator_code if self.settings.cops_format == 2 else self.identity.operator
            self._info("+COPS: 0" if "unregistered" in self.faults else f'+COPS: 0,{self.settings.cops_format},"{name}",0')
        elif mode == "test":
            self._info(f'+COPS: (2,"{self.identity.operator}","{self.identity.operator}","{self.identity.operator_code}",0),,(0-4),(0-2)')
        self._final("OK")

    def _cmd_csca(self, mode, args):
        if mode == "set":
            self.smsc = args.split(",")[0].strip().strip('"')
        elif mode == "read":
            if "empty_smsc" in self.faults:
                self._info('+CSCA: "",129')
            else:
                kind = 145 if self.smsc.startswith("+") else 129
                self._info(f'+CSCA: "{self.smsc}",{kind}')
        self._final("OK")

    def _cmd_cclk(self, mode, args):
        if mode == "read":
            now = dt.datetime.fromtimestamp(self.clock(), dt.timezone(dt.timedelta(hours=-4)))
            self._info(f'+CCLK: "{now:%y/%m/%d,%H:%M:%S}-16"')
        self._final("OK")

    def _cmd_csms(self, mode, args):
        if mode in ("read", "set"):
            self._info("+CSMS: 0,1,1,1")
        elif mode == "test":
            self._info("+CSMS: (0,1)")
        self._final("OK")

    def _cmd_cmgf(self, mode, args):
        if mode == "set":
            value = int(args or 0)
            if value not in (0, 1):
                raise ValueError(value)
            self.settings.cmgf = value
        elif mode == "read":
            self._info(f"+CMGF: {self.settings.cmgf}")
        elif mode == "test":
            self._info("+CMGF: (0,1)")
        self._final("OK")

    def _cmd_csdh(self, mode, args): self._final("OK")
    def _cmd_csmp(self, mode, args): self._final("OK")

    def _cmd_cnmi(self, mode, args):
        if mode == "set":
            values = [int(v) if v.strip() else 0 for v in args.split(",")]
            self.settings.cnmi = tuple((values + [0] * 5)[:5])
        elif mode == "read":
            self._info("+CNMI: " + ",".join(map(str, self.settings.cnmi)))
        elif mode == "test":
            self._info("+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)")
        self._final("OK")

    # SIM storage -----------------------------------------------------------------------------

    @property
    def used(self) -> int:
        return sum(1 for s in self.slots if s is not None)

    def _cmd_cpms(self, mode, args):
        if mode != "test" and self._locked():
            return
        total = len(self.slots)
        if mode == "test":
            self._info('+CPMS: ("SM"),("SM"),("SM")')
        elif mode == "read":
            self._info(f'+CPMS: "SM",{self.used},{total},"SM",{self.used},{total},"SM",{self.used},{total}')
        else:
            memories = [m.strip().strip('"').upper() for m in args.split(",") if m.strip()]
            if any(m != "SM" for m in memories):
                self._error(cms=302)  # operation not allowed: this SIM-only modem has no ME memory
                return
            self._info(f"+CPMS: {self.used},{total},{self.used},{total},{self.used},{total}")
        self._final("OK")

    def _slot(self, args: str) -> int:
        index = int(args.split(",")[0])
        if not 1 <= index <= len(self.slots):
            raise IndexError(index)
        return index

    def _cmd_cmgr(self, mode, args):
        if mode == "test":
            self._final("OK")
            return
        if self._locked():
            return
        try:
            index = self._slot(args)
        except IndexError:
            self._error(cms=321)  # invalid memory index
            return
        stored = self.slots[index - 1]
        if stored is None:
            self._final("OK")  # an empty slot: nothing to report
            return
        self._info(self._listing("+CMGR", None, stored))
        if stored.stat == 0:
            stored.stat = 1
        self._final("OK")

    def _listing(self, prefix: str, index: int | None, stored: Stored) -> str:
        where = f"{index}," if index is not None else ""
        if self.settings.cmgf == 0:
            return f"{prefix}: {where}{stored.stat},,{stored.tpdu_length}\r\n{stored.pdu.hex().upper()}"
        when = stored.when or dt.datetime.now(dt.timezone.utc)
        stamp = f"{when:%y/%m/%d,%H:%M:%S}-16"
        return f'{prefix}: {where}"{STAT_PDU[stored.stat]}","{stored.sender}",,"{stamp}"\r\n{self._text_out(stored.text)}'

    def _text_out(self, text: str) -> str:
        if self.settings.cscs == "UCS2":
            return text.encode("utf-16-be").hex().upper()
        return text.encode("ascii", "replace").decode("ascii")

    def _cmd_cmgl(self, mode, args):
        if mode == "test":
            self._info('+CMGL: (0-4)' if self.settings.cmgf == 0 else '+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")')
            self._final("OK")
            return
        if self._locked():
            return
        if "cmgl_error" in self.faults:
            self._final("ERROR")
            return
        if "cmgl_hang" in self.faults:
            self._busy = False  # the command is lost: no answer ever comes, later ones are served
            return
        wanted = args.strip().strip('"').upper() or ("0" if self.settings.cmgf == 0 else "REC UNREAD")
        if wanted in ("4", "ALL"):
            stats = {0, 1, 2, 3}
        elif wanted.isdigit():
            stats = {int(wanted)}
        elif wanted in STAT_TEXT:
            stats = {STAT_TEXT[wanted]}
        else:
            raise ValueError(wanted)
        lines = []
        for index, stored in enumerate(self.slots, start=1):
            if stored is not None and stored.stat in stats:
                lines.append(self._listing("+CMGL", index, stored))
                if stored.stat == 0:
                    stored.stat = 1
        if lines:
            self._info("\r\n".join(lines))
        self._final("OK")

    def _cmd_cmgd(self, mode, args):
        if mode == "test":
            self._info(f"+CMGD: (1-{len(self.slots)}),(0-4)")
            self._final("OK")
            return
        if self._locked():
            return
        if "cmgd_fail" in self.faults:
            self._error(cms=500)
            return
        parts = [p.strip() for p in args.split(",")]
        flag = int(parts[1]) if len(parts) > 1 and parts[1] else 0
        if flag == 4:
            self.slots = [None] * len(self.slots)
        else:
            try:
                index = self._slot(parts[0])
            except IndexError:
                self._error(cms=321)
                return
            self.slots[index - 1] = None
        self._final("OK")
        self._deliver_pending()

    # sending ---------------------------------------------------------------------------------

    def _cmd_cmgs(self, mode, args):
        if mode == "test":
            self._final("OK")
            return
        if mode != "set":
            self._final("ERROR")
            return
        if self._locked():
            return
        if self.settings.cmgf == 0:
            length = int(args.split(",")[0])
            number = ""
        else:
            length = 0
            number = args.split(",")[0].strip().strip('"')
        self._cmgs = (length, bytearray(), self.clock(), number)
        self._write("\r\n> ")

    def _submit(self, length: int, data: bytes, started: float, number: str) -> None:
        if self.settings.cmgf == 1:
            text = data.decode("ascii", "replace")
            if self.settings.cscs == "UCS2":
                text = bytes.fromhex(text).decode("utf-16-be")
            self._record(SentPart(number, text, next(self._refs), started, None))
            self._info(f"+CMGS: {self.sent[-1].reference}")
            self._final("OK")
            return
        try:
            pdu = bytes.fromhex(data.decode("ascii"))
            # The client may or may not put an SMSC field first; AT+CMGS=<length> tells which.
            has_smsc = len(pdu) != length
            sms = gammu.DecodePDU(pdu, SMSC=has_smsc)
        except (ValueError, gammu.GSMError) as exc:
            log.warning("AT+CMGS: undecodable PDU (%s)", exc)
            self._error(cms=304)  # invalid PDU mode parameter
            return
        refused = self._refuse_send(pdu if has_smsc else b"\x00" + pdu)
        if refused is not None:
            self._error(cms=refused)
            return
        udh = sms.get("UDH") or {}
        concat = None
        if str(udh.get("Type", "")).startswith("Concatenated") and udh.get("AllParts", 0) > 1:
            ref = udh["ID16bit"] if udh.get("ID16bit", -1) not in (-1, 0) else udh.get("ID8bit", -1)
            concat = (ref, udh["PartNumber"], udh["AllParts"])
        text = trim_decoder_padding(sms.get("Text") or "")
        self._record(SentPart(sms.get("Number", ""), text, next(self._refs), started, concat,
                              str(sms.get("Coding", ""))))
        reference = self.sent[-1].reference
        full = pdu if has_smsc else b"\x00" + pdu
        if full[full[0] + 1] & 0x20 and "delivery_reports" in self.faults:
            report = self.faults["delivery_reports"]
            self._later(report["delay"], lambda: self._status_report(reference, sms.get("Number", ""), report["status"]))
        slow = self.faults.get("slow_send")
        if slow:
            # The answer comes late; the modem stays busy (URCs held) until then.
            self._later(slow["seconds"], lambda: (self._info(f"+CMGS: {reference}"), self._final("OK")))
            return
        self._info(f"+CMGS: {reference}")
        self._final("OK")

    def _refuse_send(self, pdu: bytes) -> int | None:
        """The +CMS ERROR code a faulty network or SIM gives this send, if any."""
        if "unregistered" in self.faults:
            return 331  # no network service
        # An SMSC field of length 0, or of length 1 (only the number type, no digits), is empty.
        if "empty_smsc" in self.faults and pdu[0] <= 1:
            return 330  # SMSC address unknown
        fault = self.faults.get("send_error")
        if fault:
            if fault["count"] > 0:
                fault["count"] -= 1
                if fault["count"] == 0:
                    self.faults.pop("send_error")
            return fault["code"]
        return None

    def _status_report(self, reference: int, number: str, status: int) -> None:
        """The network's SMS-STATUS-REPORT for a sent message, stored or shown per AT+CNMI's ds."""
        # Gammu cannot encode a status report, so borrow its encoding of the address and the time
        # from a DELIVER PDU and put the report's own three one-byte fields around them.
        deliver = gammu.EncodePDU({**_EMPTY_SMS, "Number": number, "SMSC": {"Number": self.smsc},
                                   "Type": "Deliver", "DateTime": dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc)},
                                  Layout="Deliver")
        smsc_part = deliver[: deliver[0] + 1]
        i = deliver[0] + 1
        address = deliver[i + 1: i + 3 + (deliver[i + 1] + 1) // 2]
        j = i + 1 + len(address) + 2  # skip PID and DCS
        stamp = deliver[j: j + 7]
        pdu = smsc_part + bytes([0x06, reference % 256]) + address + stamp + stamp + bytes([status])
        stored = Stored(pdu=pdu, sender=number, text="", when=None)
        ds = self.settings.cnmi[3] if len(self.settings.cnmi) > 3 else 0
        if ds == 1:
            self._urc(f"+CDS: {stored.tpdu_length}\r\n{pdu.hex().upper()}")
            return
        for index, slot in enumerate(self.slots, start=1):
            if slot is None:
                self.slots[index - 1] = stored
                if ds == 2:
                    self._urc(f'+CDSI: "SM",{index}')
                return
        self.pending.append(stored)

    def _record(self, part: SentPart) -> None:
        self.sent.append(part)
        log.info("sent to %s: %r", part.to, part.text)

    def sent_messages(self) -> list[dict]:
        """What was sent, concatenated parts joined (a message still missing parts shows what it has)."""
        messages: list[dict] = []
        groups: dict[tuple, dict] = {}
        for part in self.sent:
            if part.concat is None:
                messages.append(self._message([part]))
                continue
            key = (part.to, part.concat[0], part.concat[2])
            group = groups.get(key)
            if group is None or any(p.concat[1] == part.concat[1] for p in group["parts"]):
                group = {"parts": [], "index": len(messages)}
                groups[key] = group
                messages.append({})
            group["parts"].append(part)
            messages[group["index"]] = self._message(sorted(group["parts"], key=lambda p: p.concat[1]))
        return messages

    @staticmethod
    def _message(parts: list[SentPart]) -> dict:
        first = min(parts, key=lambda p: p.at_epoch)
        return {
            "to": parts[0].to,
            "text": "".join(p.text for p in parts),
            "parts": len(parts),
            "expected_parts": parts[0].concat[2] if parts[0].concat else 1,
            "at": dt.datetime.fromtimestamp(first.at_epoch, dt.timezone.utc).isoformat(timespec="microseconds"),
            "at_epoch": first.at_epoch,
            "references": [p.reference for p in parts],
        }

    # arrivals --------------------------------------------------------------------------------

    def deliver_sms(self, sender: str, text: str, when: dt.datetime | None = None) -> dict:
        """A resident's SMS reaches the modem: split into parts as a phone would, stored in free slots."""
        when = when or dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc)
        unicode = not _gsm_encodable(text)
        parts = gammu.EncodeSMS({"Class": -1, "Unicode": unicode,
                                 "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}]})
        if len(parts) > 1:
            # Each phone numbers its concatenated messages; give each injection its own reference.
            ref = next(self._concat_refs) % 256
            for p in parts:
                p["UDH"]["ID8bit"] = ref
        slots: list[int] = []
        for part in parts:
            part["Number"] = sender
            part["SMSC"] = {"Number": self.smsc}
            part["DateTime"] = when
            part["Type"] = "Deliver"
            pdu = gammu.EncodePDU(part, Layout="Deliver")
            stored = Stored(pdu=pdu, sender=sender, text=part.get("Text", ""), when=when)
            slot = self._store(stored)
            if slot is not None:
                slots.append(slot)
        return {"parts": len(parts), "slots": slots, "pending": len(self.pending),
                "unicode": unicode, "at_epoch": self.clock()}

    def _store(self, stored: Stored) -> int | None:
        for i, slot in enumerate(self.slots):
            if slot is None:
                self.slots[i] = stored
                self._announce(i + 1)
                return i + 1
        self.pending.append(stored)
        return None

    def _announce(self, index: int) -> None:
        if "no_cmti" in self.faults:
            return
        mode, mt = self.settings.cnmi[0], self.settings.cnmi[1]
        if mode > 0 and mt == 1:
            self._urc(f'+CMTI: "SM",{index}')

    def _deliver_pending(self) -> None:
        while self.pending and None in self.slots:
            self._store(self.pending.popleft())

    def status(self) -> dict:
        return {"used": self.used, "total": len(self.slots), "pending": len(self.pending),
                "cnmi": list(self.settings.cnmi), "echo": self.settings.echo, "sent": len(self.sent),
                "smsc": self.smsc, "faults": dict(self.faults)}


_EMPTY_SMS = gammu.EncodeSMS({"Class": -1, "Unicode": False, "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": ""}]})[0]


def _gsm_encodable(text: str) -> bool:
    # The same rule the gateway uses for its replies: one GSM-7 alphabet, defined once.
    return is_gsm7(text)
