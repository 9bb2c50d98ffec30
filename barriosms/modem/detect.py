"""Finding the port of a USB GSM modem with pyserial: list serial ports, probe each with AT.

Sticks expose several serial ports (Huawei: modem, diagnostics, PC UI) and only one or two answer
AT commands reliably; the /dev/ttyUSB numbers also change when a stick is replugged, so the stable
/dev/serial/by-id/ name is what goes into the configuration.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import serial
from serial.tools import list_ports

log = logging.getLogger(__name__)

# USB vendor ids of the makers of GSM sticks and modules seen in the field.
KNOWN_VENDORS = {
    0x12D1: "Huawei", 0x19D2: "ZTE", 0x1E0E: "SIMCom", 0x2C7C: "Quectel", 0x1199: "Sierra Wireless",
    0x1546: "u-blox", 0x1BC7: "Telit", 0x2CB7: "Fibocom", 0x1C9E: "Longcheer", 0x05C6: "Qualcomm",
    0x1410: "Novatel", 0x0AF0: "Option", 0x1BBB: "Alcatel/TCL", 0x2001: "D-Link", 0x0E8D: "MediaTek",
}
BY_ID = Path("/dev/serial/by-id")


@dataclass
class Port:
    device: str
    by_id: str = ""
    vid: int | None = None
    pid: int | None = None
    vendor: str = ""
    product: str = ""
    answers: bool | None = None  # None: not probed
    note: str = ""

    @property
    def known_vendor(self) -> bool:
        return self.vid in KNOWN_VENDORS

    def as_dict(self) -> dict:
        d = asdict(self)
        d["vid"] = f"{self.vid:04x}" if self.vid is not None else None
        d["pid"] = f"{self.pid:04x}" if self.pid is not None else None
        d["known_vendor"] = self.known_vendor
        return d


def _by_id_names() -> dict[str, str]:
    names: dict[str, str] = {}
    if BY_ID.is_dir():
        for link in sorted(BY_ID.iterdir()):
            names[os.path.realpath(link)] = str(link)
    return names


def list_serial_ports() -> list[Port]:
    by_id = _by_id_names()
    ports = []
    for info in list_ports.comports():
        if info.vid is None and info.device.startswith("/dev/ttyS"):
            continue  # the board's built-in UARTs: never a USB stick
        vendor = KNOWN_VENDORS.get(info.vid, info.manufacturer or "") if info.vid is not None else ""
        ports.append(Port(info.device, by_id.get(os.path.realpath(info.device), ""), info.vid, info.pid,
                          vendor, info.product or info.description or ""))
    return ports


def _command(ser: serial.Serial, line: str, timeout: float) -> str | None:
    """Send one AT command, return what came back up to OK/ERROR (None: no final result in time)."""
    ser.reset_input_buffer()
    ser.write(line.encode("ascii") + b"\r")
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        data += ser.read(ser.in_waiting or 1)
        text = data.decode("ascii", "replace")
        if "\r\nOK\r\n" in text or "ERROR" in text:
            return text
    return None


def _answer_line(reply: str | None, command: str) -> str:
    if not reply:
        return ""
    lines = [x.strip() for x in reply.replace("\r", "\n").split("\n")]
    return next((x for x in lines if x and x != command and x != "OK" and "ERROR" not in x), "")


def probe(device: str, timeout: float = 1.0) -> tuple[bool | None, str]:
    """Does the port answer AT? Returns (answers, note); answers is None when the port is busy."""
    try:
        ser = serial.Serial(device, 115200, timeout=0.05, write_timeout=timeout, exclusive=True)
    except serial.SerialException as exc:
        code = getattr(exc, "errno", None)
        if code in (errno.EAGAIN, errno.EBUSY, errno.EWOULDBLOCK) or "lock" in str(exc).lower():
            return None, "in use by another program (the daemon, ModemManager?): not probed"
        return False, f"cannot open: {exc}"
    try:
        reply = _command(ser, "AT", timeout)
        if reply is None or "OK" not in reply:
            return False, "no answer to AT (a diagnostics or data port?)"
        maker = _answer_line(_command(ser, "AT+CGMI", timeout), "AT+CGMI")
        model = _answer_line(_command(ser, "AT+CGMM", timeout), "AT+CGMM")
        pin = _answer_line(_command(ser, "AT+CPIN?", timeout), "AT+CPIN?")
        note = " ".join(x for x in (maker, model) if x) or "answers AT"
        if pin and "READY" not in pin:
            note += f"; SIM says {pin}: set [modem] pin"
        elif not pin:
            note += "; no SIM answer to AT+CPIN? (is a SIM inserted?)"
        return True, note
    except (serial.SerialException, OSError) as exc:
        return False, f"error while probing: {exc}"
    finally:
        ser.close()


def detect(extra_ports: Iterable[str] = (), timeout: float = 1.0, skip: Iterable[str] = ()) -> list[Port]:
    """Every serial port (and the extra ones), probed with AT except those in ``skip`` (the daemon's)."""
    ports = list_serial_ports()
    known = {os.path.realpath(p.device) for p in ports}
    for path in extra_ports:
        if os.path.realpath(path) not in known:
            ports.append(Port(path, product="given with --port"))
            known.add(os.path.realpath(path))
    skip_real = {os.path.realpath(path) for path in skip}
    for port in ports:
        if os.path.realpath(port.device) in skip_real:
            port.note = "used by the running barriosms daemon: not probed"
            continue
        port.answers, port.note = probe(port.device, timeout)
    return ports


def best(ports: list[Port]) -> Port | None:
    """The port to configure: one that answers AT, from a known modem maker if any."""
    answering = [p for p in ports if p.answers]
    answering.sort(key=lambda p: (not p.known_vendor, p.device))
    return answering[0] if answering else None
