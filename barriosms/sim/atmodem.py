"""A GSM modem's AT command interpreter with SIM storage, without any I/O.

Bytes go in with `feed()`, bytes come out with `take_output()`; the server puts it on a pty. It
behaves as 3GPP TS 27.005/27.007 say and as real USB sticks do where Gammu depends on it:
commands are echoed (ATE1) until ATE0, unknown commands answer ERROR (never silence), PDUs are
encoded and decoded by python-gammu (no hand-written codec), and unsolicited result codes (+CMTI)
are held while a command runs, including the `> ` phase of AT+CMGS, and flushed after its final
result.

Incoming voice calls (27.007): `ring()` makes the modem announce a call with RING (or `+CRING:
VOICE` after AT+CRC=1) every few seconds, each followed by `+CLIP: "<number>",<type>` once AT+CLIP=1
asked for the caller's number (an empty number with CLI validity 1 when the caller withholds it).
ATH or AT+CHUP ends the call; a call nobody ends stops when the caller gives up, with NO CARRIER.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import gammu

from barriosms.domain.gsm import gsm_decode, gsm_encode, is_gsm7, trim_decoder_padding
from barriosms.sim.faults import normalise

log = logging.getLogger(__name__)

CTRL_Z = 0x1A
ESC = 0x1B

STAT_PDU = {0: "REC UNREAD", 1: "REC READ", 2: "STO UNSENT", 3: "STO SENT"}
STAT_TEXT = {v: k for k, v in STAT_PDU.items()}
# Character sets offered by AT+CSCS: only those whose text the modem can write as ASCII bytes
# (GSM codes are 0x00-0x7F, UCS2 is hex), so a client can always decode what it reads.
CHARSETS = ("GSM", "IRA", "UCS2")
# AT+CMGD=<index>,<delflag>: which <stat>s each flag deletes (0: only the message at <index>).
DELFLAG_STATS = {0: frozenset(), 1: frozenset({1}), 2: frozenset({1, 3}), 3: frozenset({1, 2, 3}),
                 4: frozenset({0, 1, 2, 3})}
# What AT+CNMI=? offers: <mode>,<mt>,<bm>,<ds>,<bfr>.
CNMI_RANGES = (range(0, 3), range(0, 4), (0, 2), range(0, 3), range(0, 2))
# An incoming call: how often the modem says RING (real networks: every 3 to 6 s) and how long a
# caller lets it ring before giving up, unless the control request says otherwise.
RING_INTERVAL = 3.0
RING_SECONDS = 30.0
# Who ended a call, as `status()` reports it.
ENDED_BY_MODEM = "modem"  # the client hung up (ATH, AT+CHUP)
ENDED_BY_CALLER = "caller"  # the caller gave up before anyone answered
ENDED_BY_RESET = "reset"  # the modem was unplugged or reset while it rang



@dataclass
class Stored:
    """One SMS part in a SIM slot: its DELIVER PDU (with the SMSC prefix) and read state."""

    pdu: bytes
    stat: int = 0
    sender: str = ""
    text: str = ""
    when: dt.datetime | None = None
    unicode: bool = False  # UCS-2 data: text mode shows it as hex

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
    # When the PDU's last byte (Ctrl-Z) arrived: at_epoch is the AT+CMGS line, so the difference
    # is the sender's time to write the message, which a benchmark must not leave out.
    received_epoch: float = 0.0


@dataclass
class Call:
    """One incoming voice call: who calls ("" withheld), and how it went."""

    number: str
    started: float
    interval: float
    ring_seconds: float
    rings: int = 0
    ended: float | None = None
    ended_by: str = ""

    @property
    def ringing(self) -> bool:
        return self.ended is None

    def as_dict(self) -> dict:
        return {"number": self.number, "withheld": not self.number, "state": "ringing" if self.ringing else "ended",
                "rings": self.rings, "started_epoch": self.started, "ended_epoch": self.ended,
                "ended_by": self.ended_by or None}


@dataclass
class Identity:
    manufacturer: str = "barriosms"
    model: str = "SIMULATED-AT"
    revision: str = "1.0"
    imei: str = "356938035643809"  # passes the Luhn check
    imsi: str = "736020123456789"  # MCC 736: Bolivia; MNC 02: Entel (01 is Viva, 03 Tigo)
    operator: str = "Entel"
    operator_code: str = "73602"
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
    clip: int = 0  # AT+CLIP: 1 shows the caller's number after each RING
    crc: int = 0  # AT+CRC: 1 says +CRING: VOICE instead of RING


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
        self._swallow_ok = False  # a `;` chain is running and this command is not its last
        self._swallowed = False
        self.commands: list[tuple[float, str]] = []  # every command line, for benchmarks and tests
        self.faults: dict[str, dict] = {}
        self._timers: list[tuple[float, Callable[[], object]]] = []
        self.autoresponders: dict[str, dict] = {}  # number -> text, delay, answered
        self._next_flood = 0.0
        self._flood_count = 0
        self._pin_locked = False
        self.ussd_answers: dict[str, str] = {"*105#": "Su saldo es Bs 12.50. Vigencia 30/12/2026"}
        self.calls: list[Call] = []  # every incoming call, oldest first; at most the last one rings

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

    def _later(self, seconds: float, action: Callable[[], object]) -> None:
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
        # Everything the modem says is ASCII (GSM codes are below 0x80); anything else is a bug here.
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
        if byte < 0x20:
            return  # other control characters (a stray Ctrl-Z after a cancelled send) are ignored
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
        if byte == ord("\r") and self.settings.cmgf == 1:
            # Text mode: a CR is a line break in the message and the modem prompts again.
            data.append(ord("\n"))
            self._write("\n> ")
        elif byte not in (ord("\r"), ord("\n")):
            data.append(byte)

    # -- results -----------------------------------------------------------------------------

    def _info(self, text: str) -> None:
        self._write(f"\r\n{text}\r\n")

    def _final(self, result: str) -> None:
        if self._swallow_ok and result == "OK":
            # A command in the middle of a `;` chain succeeded: only the last one's result is shown.
            self._swallow_ok = False
            self._swallowed = True
            return
        self._swallow_ok = False
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
        if not line.upper().startswith("AT"):
            self._final("ERROR")
            return
        self._busy = True
        commands = _split_commands(line[2:])
        if not commands:
            self._final("OK")
            return
        # V.250: `AT+CMGF=0;+CMGL=4` runs each command in turn; the line stops at the first one
        # that fails (its error is the line's result) and only the last one's OK is shown.
        for i, command in enumerate(commands):
            last = i == len(commands) - 1
            self._swallow_ok, self._swallowed = not last, False
            self._run_command(command)
            if not last and not self._swallowed:
                break  # it failed (already answered), or has not finished (AT+CMGS prompt)
        self._swallow_ok = False

    def _run_command(self, command: str) -> None:
        if command[0] in "+$^%*#":
            self._extended(command)
        else:
            self._basic(command.upper())

    def _basic(self, body: str) -> None:
        # A run of basic commands such as "E1", "Z", "V1Q0", "&F", "I", "S0=0", "S7?".
        commands = re.findall(r"(&?[A-Z])(\d*(?:=\d*|\?)?)", body)
        if "".join(c + a for c, a in commands) != body:
            self._final("ERROR")
            return
        for cmd, arg in commands:
            if cmd == "E":
                self.settings.echo = arg not in ("", "0")  # V.250: a missing value means 0
            elif cmd in ("Z", "&F"):
                self._reset()
            elif cmd == "H":
                if arg not in ("", "0"):
                    self._final("ERROR")
                    return
                self._end_call(ENDED_BY_MODEM)
            elif cmd == "I":
                self._info(f"{self.identity.manufacturer}\r\n{self.identity.model}\r\nRevision: {self.identity.revision}")
            elif cmd == "S" and arg.endswith("?"):
                self._info("000")
            elif cmd not in ("V", "Q", "X", "&C", "&D", "&K", "&W", "S"):
                self._final("ERROR")
                return
        self._final("OK")

    def _reset(self) -> None:
        self.settings = Settings()

    def power_cycle(self) -> None:
        """The stick was unplugged and plugged back: settings and half-typed input are gone, the
        SIM keeps its messages (and the network still holds those waiting for a slot)."""
        self._reset()
        self._line.clear()
        self._cmgs = None
        self._held.clear()
        self._busy = self._swallow_ok = False
        self._end_call(ENDED_BY_RESET)
        self.take_output()

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
        sms = name.startswith("+CM") or name == "+CPMS" or name == "+CNMI"
        try:
            handler(mode, args)
        except (ValueError, IndexError):
            # Invalid parameter: +CMS ERROR 304/305 (PDU/text mode) for SMS commands, +CME ERROR 4.
            self._error(cme=None if sms else 4, cms=(305 if self.settings.cmgf else 304) if sms else None)
        except Exception:  # noqa: BLE001 - a simulator bug must not kill the modem: answer, log
            log.exception("AT%s%s failed inside the simulator", name, suffix)
            self._final("ERROR")

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
            if charset not in CHARSETS:
                raise ValueError(charset)
            self.settings.cscs = charset
        elif mode == "read":
            self._info(f'+CSCS: "{self.settings.cscs}"')
        elif mode == "test":
            self._info("+CSCS: (" + ",".join(f'"{c}"' for c in CHARSETS) + ")")
        self._final("OK")

    def _cmd_cfun(self, mode, args):
        if mode == "read":
            self._info("+CFUN: 1")
        elif mode == "test":
            self._info("+CFUN: (0,1,4),(0,1)")
        self._final("OK")

    def _cmd_chup(self, mode, args):
        # 27.007: AT+CHUP hangs up the call; AT+CHUP=? says the modem has it (Gammu then prefers it to ATH).
        if mode == "exec":
            self._end_call(ENDED_BY_MODEM)
        elif mode != "test":
            self._final("ERROR")
            return
        self._final("OK")

    def _cmd_clip(self, mode, args):
        if mode == "set":
            value = int(args or 0)
            if value not in (0, 1):
                raise ValueError(value)
            self.settings.clip = value
        elif mode == "read":
            self._info(f"+CLIP: {self.settings.clip},1")  # <m> 1: the network provides the caller's number
        elif mode == "test":
            self._info("+CLIP: (0,1)")
        self._final("OK")

    def _cmd_crc(self, mode, args):
        if mode == "set":
            value = int(args or 0)
            if value not in (0, 1):
                raise ValueError(value)
            self.settings.crc = value
        elif mode == "read":
            self._info(f"+CRC: {self.settings.crc}")
        elif mode == "test":
            self._info("+CRC: (0,1)")
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
        if self.settings.cscs == "GSM":
            return gsm_decode(text.encode("latin-1", "replace"))
        return text

    def _string_out(self, text: str) -> str:
        """A string parameter (a number, an operator name) in the current character set."""
        return text.encode("utf-16-be").hex().upper() if self.settings.cscs == "UCS2" else text

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
            number = self._text_in(args.split(",")[0].strip().strip('"'))
            if not re.fullmatch(r"\+?\d{1,20}", number):
                raise ValueError(number)
            self.smsc = number
        elif mode == "read":
            if "empty_smsc" in self.faults:
                self._info('+CSCA: "",129')
            else:
                kind = 145 if self.smsc.startswith("+") else 129
                self._info(f'+CSCA: "{self._string_out(self.smsc)}",{kind}')
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
            if len(values) > 5 or any(v not in ok for v, ok in zip(values, CNMI_RANGES)):
                raise ValueError(args)
            self.settings.cnmi = tuple((values + [0] * 5)[:5])
        elif mode == "read":
            self._info("+CNMI: " + ",".join(map(str, self.settings.cnmi)))
        elif mode == "test":
            self._info("+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)")  # keep in step with CNMI_RANGES
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
        # The PDU carries the SMSC time in UTC (zone 00): the text-mode header says the same.
        when = (stored.when or dt.datetime.fromtimestamp(self.clock(), dt.UTC)).astimezone(dt.UTC)
        stamp = f"{when:%y/%m/%d,%H:%M:%S}+00"
        # 27.005: UCS-2 (and 8-bit) message data is shown as hex whatever AT+CSCS says.
        body = stored.text.encode("utf-16-be").hex().upper() if stored.unicode else self._text_out(stored.text)
        return f'{prefix}: {where}"{STAT_PDU[stored.stat]}","{self._string_out(stored.sender)}",,"{stamp}"\r\n{body}'

    def _text_out(self, text: str) -> str:
        """Text in the current character set, as bytes below 0x80 (decoded as latin-1 for _write)."""
        if self.settings.cscs == "UCS2":
            return text.encode("utf-16-be").hex().upper()
        if self.settings.cscs == "GSM":
            return gsm_encode(text).decode("latin-1")
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
        elif wanted in ("0", "1", "2", "3"):
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
        if flag not in DELFLAG_STATS:
            raise ValueError(flag)
        if flag:
            # 27.005: with a <delflag> the index is ignored and every message of those kinds goes.
            stats = DELFLAG_STATS[flag]
            self.slots = [s if s is None or s.stat not in stats else None for s in self.slots]
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
            if not 7 <= length <= 164:  # the shortest SMS-SUBMIT TPDU; 27.005's maximum
                raise ValueError(length)
            number = ""
        else:
            length = 0
            number = self._text_in(args.split(",")[0].strip().strip('"'))
            if not number:
                raise ValueError("no number")
        self._cmgs = (length, bytearray(), self.clock(), number)
        self._write("\r\n> ")

    def _submit(self, length: int, data: bytes, started: float, number: str) -> None:
        if self.settings.cmgf == 1:
            self._submit_text(data, started, number)
            return
        try:
            pdu = bytes.fromhex(data.decode("ascii"))
            has_smsc = _has_smsc_field(pdu, length)
            sms = gammu.DecodePDU(pdu, SMSC=has_smsc)
        except (ValueError, gammu.GSMError) as exc:
            log.warning("AT+CMGS=%d: refused PDU %r (%s)", length, bytes(data[:400]), exc)
            self._error(cms=304)  # invalid PDU mode parameter
            return
        # An SMSC field of length 0, or of length 1 (only the number type, no digits), is empty.
        refused = self._refuse_send(pdu_smsc_empty=not has_smsc or pdu[0] <= 1)
        if refused is not None:
            self._error(cms=refused)
            return
        udh = sms.get("UDH") or {}
        concat = None
        if str(udh.get("Type", "")).startswith("Concatenated") and udh.get("AllParts", 0) > 1:
            ref = udh["ID16bit"] if str(udh["Type"]).endswith("16bit") else udh["ID8bit"]
            concat = (ref, udh["PartNumber"], udh["AllParts"])
        text = trim_decoder_padding(sms.get("Text") or "")
        self._record(SentPart(sms.get("Number", ""), text, self._next_mr(), started, concat,
                              str(sms.get("Coding", "")), self.clock()))
        reference = self.sent[-1].reference
        full = pdu if has_smsc else b"\x00" + pdu
        if full[full[0] + 1] & 0x20 and "delivery_reports" in self.faults:
            report = self.faults["delivery_reports"]
            self._later(report["delay"], lambda: self._status_report(reference, sms.get("Number", ""), report["status"]))
        slow = self.faults.get("slow_send")
        if slow:
            # The answer comes late; the modem stays busy (URCs held) until then.
            def answer() -> None:
                self._info(f"+CMGS: {reference}")
                self._final("OK")
            self._later(slow["seconds"], answer)
            return
        self._info(f"+CMGS: {reference}")
        self._final("OK")

    def _submit_text(self, data: bytes, started: float, number: str) -> None:
        """Text mode: the message text in the AT+CSCS character set, sent as one SMS."""
        try:
            if self.settings.cscs == "UCS2":
                text = bytes.fromhex(data.decode("ascii")).decode("utf-16-be")
            elif self.settings.cscs == "GSM":
                text = gsm_decode(data)
            else:
                text = data.decode("ascii", "replace")
        except ValueError:
            self._error(cms=305)  # invalid text mode parameter
            return
        refused = self._refuse_send(pdu_smsc_empty=True)
        if refused is not None:
            self._error(cms=refused)
            return
        self._record(SentPart(number, text, self._next_mr(), started, None, "", self.clock()))
        self._info(f"+CMGS: {self.sent[-1].reference}")
        self._final("OK")

    def _next_mr(self) -> int:
        # TP-Message-Reference is one octet: it wraps after 255, as on a real SIM.
        return next(self._refs) % 256

    def _refuse_send(self, pdu_smsc_empty: bool) -> int | None:
        """The +CMS ERROR code a faulty network or SIM gives this send, if any.

        `pdu_smsc_empty`: the message names no SMSC itself (text mode, or a PDU whose SMSC field
        is empty), so the modem needs the one stored on the SIM.
        """
        if "unregistered" in self.faults:
            return 331  # no network service
        if pdu_smsc_empty and ("empty_smsc" in self.faults or not self.smsc):
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
                                   "Type": "Deliver", "DateTime": dt.datetime.fromtimestamp(self.clock(), dt.UTC)},
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
        responder = self.autoresponders.get(part.to)
        last_part = part.concat is None or part.concat[1] == part.concat[2]
        if responder is not None and last_part:
            # Another machine (an "out of office" phone, a gateway) answering whatever it receives.
            responder["answered"] += 1
            text = responder["text"].replace("{n}", str(responder["answered"])).replace("{echo}", part.text)
            self._later(responder["delay"], lambda: self.deliver_sms(part.to, text))

    def set_autoresponder(self, number: str, text: str | None, delay: float = 1.0) -> dict:
        """Make `number` answer every SMS sent to it with `text` after `delay` s (text None: stop).

        In `text`, {n} becomes the number of the answer (1, 2, ...: a machine whose texts vary) and
        {echo} the SMS it answers (a machine that sends back what it gets).
        """
        if text is None:
            self.autoresponders.pop(number, None)
        else:
            if not text or delay < 0:
                raise ValueError("an auto-responder needs a text and a delay >= 0")
            self.autoresponders[number] = {"text": text, "delay": float(delay), "answered": 0}
        return {n: dict(r) for n, r in self.autoresponders.items()}

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
            messages[group["index"]] = self._message(sorted(group["parts"], key=lambda p: cast("tuple[int, int, int]", p.concat)[1]))
        return messages

    @staticmethod
    def _message(parts: list[SentPart]) -> dict:
        first = min(parts, key=lambda p: p.at_epoch)
        return {
            "to": parts[0].to,
            "text": "".join(p.text for p in parts),
            "parts": len(parts),
            "expected_parts": parts[0].concat[2] if parts[0].concat else 1,
            "at": dt.datetime.fromtimestamp(first.at_epoch, dt.UTC).isoformat(timespec="microseconds"),
            "at_epoch": first.at_epoch,
            "received_epoch": max(p.received_epoch or p.at_epoch for p in parts),
            "references": [p.reference for p in parts],
        }

    # arrivals --------------------------------------------------------------------------------

    def deliver_sms(self, sender: str, text: str, smsc_time: dt.datetime | None = None) -> dict:
        """A resident's SMS reaches the modem: split into parts as a phone would, stored in free slots.

        Text outside GSM-7 goes as UCS-2, as phones do. Parts that find no free slot wait in
        `pending` (the SMSC retries) and are stored, with their +CMTI, when AT+CMGD frees one.
        Returns parts, slots (those stored now), pending, unicode and at_epoch.
        """
        if not sender or not text:
            raise ValueError("an SMS needs a sender and some text")
        smsc_time = smsc_time or dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        unicode = not _gsm_encodable(text)
        parts = gammu.EncodeSMS({"Class": -1, "Unicode": unicode,
                                 "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}]})
        if len(parts) > 1:
            self._renumber(parts)
        slots: list[int] = []
        for part in parts:
            part.update(Number=sender, SMSC={"Number": self.smsc}, DateTime=smsc_time, Type="Deliver")
            try:
                pdu = gammu.EncodePDU(part, Layout="Deliver")
            except gammu.GSMError as exc:
                raise ValueError(f"Gammu cannot encode an SMS from {sender!r}: {exc}") from None
            stored = Stored(pdu=pdu, sender=sender, text=part.get("Text", ""), when=smsc_time, unicode=unicode)
            slot = self._store(stored)
            if slot is not None:
                slots.append(slot)
        return {"parts": len(parts), "slots": slots, "pending": len(self.pending),
                "unicode": unicode, "at_epoch": self.clock()}

    def _renumber(self, parts: list[dict]) -> None:
        """Give this concatenated message its own reference, as a phone numbers each one it sends.

        Gammu's EncodeSMS takes the reference from the clock, so two messages encoded in the same
        moment share it and a client would join their parts. EncodePDU writes the UDH bytes as
        given, so the reference octet of the concatenation element (00 03 ref total seq) is set
        there, and ID8bit kept in step.
        """
        ref = next(self._concat_refs) % 256
        for part in parts:
            udh = part["UDH"]
            header = bytearray(udh["Text"])
            if udh["Type"] == "ConcatenatedMessages" and header[1:3] == b"\x00\x03":
                header[3] = ref
                udh["Text"], udh["ID8bit"] = bytes(header), ref

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

    # incoming calls --------------------------------------------------------------------------

    def ring(self, number: str, ring_seconds: float = RING_SECONDS, interval: float = RING_INTERVAL) -> dict:
        """A resident calls the modem's number ("" withholds the caller's number).

        The modem rings at once and every `interval` s until the client hangs up (ATH, AT+CHUP) or
        the caller gives up after `ring_seconds`. One line: a second call while one rings is refused
        (the caller would hear "busy"). Returns the call as `status()` shows it.
        """
        if not 0 < interval <= 60 or not 0 < ring_seconds <= 600:
            raise ValueError("a call rings every 0-60 s (interval) for 0-600 s (ring_seconds)")
        number = number.strip()
        if number and not re.fullmatch(r"\+?\d{1,20}", number):
            raise ValueError(f"{number!r} is not a phone number (digits, a leading +; empty: withheld)")
        current = self._ringing()
        if current is not None:
            raise ValueError(f"the modem is already ringing (a call from {current.number or 'a withheld number'}); "
                             "one line, one call: wait until it ends")
        call = Call(number=number, started=self.clock(), interval=float(interval), ring_seconds=float(ring_seconds))
        self.calls.append(call)
        self._ring(call)
        self._later(call.ring_seconds, lambda: self._caller_gives_up(call))
        return call.as_dict()

    def _ringing(self) -> Call | None:
        return self.calls[-1] if self.calls and self.calls[-1].ringing else None

    def _ring(self, call: Call) -> None:
        if not call.ringing:
            return
        self._later(call.interval, lambda: self._ring(call))
        if "hang" in self.faults:
            return  # a hung modem says nothing, the network still rings
        call.rings += 1
        self._urc("+CRING: VOICE" if self.settings.crc else "RING")
        if self.settings.clip:
            if call.number:
                kind = 145 if call.number.startswith("+") else 129
                self._urc(f'+CLIP: "{self._string_out(call.number)}",{kind}')
            else:
                self._urc('+CLIP: "",128,,,,1')  # <CLI validity> 1: withheld by the caller

    def _caller_gives_up(self, call: Call) -> None:
        if call.ringing:
            call.ended, call.ended_by = self.clock(), ENDED_BY_CALLER
            self._urc("NO CARRIER")

    def _end_call(self, by: str) -> None:
        """End the ringing call, if one rings (a hang-up without a call is harmless, as on a stick)."""
        call = self._ringing()
        if call is not None:
            call.ended, call.ended_by = self.clock(), by
            log.info("call from %s ended by the %s after %d ring(s)", call.number or "a withheld number", by, call.rings)

    def status(self) -> dict:
        return {"used": self.used, "total": len(self.slots), "pending": len(self.pending),
                "cnmi": list(self.settings.cnmi), "echo": self.settings.echo, "sent": len(self.sent),
                "smsc": self.smsc, "faults": dict(self.faults), "clip": self.settings.clip, "crc": self.settings.crc,
                "calls": [c.as_dict() for c in self.calls]}


_EMPTY_SMS = gammu.EncodeSMS({"Class": -1, "Unicode": False, "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": ""}]})[0]


def _gsm_encodable(text: str) -> bool:
    # The same rule the gateway uses for its replies: one GSM-7 alphabet, defined once.
    return is_gsm7(text)


def _has_smsc_field(pdu: bytes, length: int) -> bool:
    """Whether a PDU given to AT+CMGS=<length> starts with an SMSC field.

    27.005: <length> counts the TPDU only, so the PDU is either exactly <length> octets (no SMSC
    field) or an SMSC field (its first octet is its length, usually 00: use the stored AT+CSCA)
    followed by <length> octets. Anything else is a client bug: refused, as real modems do.
    """
    if len(pdu) == length:
        return False
    if pdu and len(pdu) == pdu[0] + 1 + length:
        return True
    raise ValueError(f"{len(pdu)} octets do not match AT+CMGS={length}")


def _split_commands(body: str) -> list[str]:
    """The commands of one line after "AT", split at `;` outside quoted strings."""
    commands: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in body:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            commands.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    commands.append("".join(current).strip())
    return [c for c in commands if c]
