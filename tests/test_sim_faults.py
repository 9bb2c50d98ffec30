"""The simulated modem's fault profiles at the AT level (fast; the daemon's side is in
tests/test_faults_e2e.py)."""

from __future__ import annotations

import gammu
import pytest

from barriosms.sim.atmodem import ATModem
from barriosms.sim.faults import FAULTS, FaultError, normalise, parse_spec


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def modem(clock):
    m = ATModem(slots=3, clock=clock)
    at(m, "ATE0")
    at(m, "AT+CMEE=1")
    return m


def at(modem: ATModem, line: str) -> str:
    modem.feed(line.encode() + b"\r")
    return modem.take_output().decode()


def submit(modem: ATModem, text: str = "hola", report: bool = False) -> str:
    part = gammu.EncodeSMS({"Class": -1, "Unicode": False, "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}]})[0]
    part["Number"], part["SMSC"] = "+59171234567", {"Number": ""}
    if report:
        part["Type"] = "Status_Report"
    pdu = gammu.EncodePDU(part, Layout="Submit")
    at(modem, f"AT+CMGS={len(pdu) - pdu[0] - 1}")
    modem.feed(pdu.hex().encode() + b"\x1a")
    return modem.take_output().decode()


def test_registry_arguments_are_checked():
    assert normalise("send_error", {"code": "1"}) == {"code": 1, "count": 0}
    assert parse_spec("flood:interval=0.1") == ("flood", {"interval": "0.1"})
    with pytest.raises(FaultError, match="unknown fault 'explode'"):
        normalise("explode", {})
    with pytest.raises(FaultError, match="takes interval"):
        normalise("flood", {"speed": 1})
    with pytest.raises(FaultError, match="must be int"):
        normalise("send_error", {"code": "x"})
    assert all(f.models for f in FAULTS.values())


def test_flood_only_between_commands(modem, clock):
    modem.set_fault("flood", interval=0.5)
    modem.tick()
    assert modem.take_output().startswith(b"\r\n^")
    clock.now += 0.1
    modem.tick()
    assert modem.take_output() == b""  # not yet due
    modem.feed(b"AT+CMGS=10\r")  # in the middle of a command: no flood lines
    modem.take_output()
    clock.now += 1
    modem.tick()
    assert b"^" not in modem.take_output()


def test_hang_drops_everything_until_cleared(modem):
    modem.set_fault("hang")
    assert at(modem, "AT") == ""
    modem.clear_fault("hang")
    assert at(modem, "AT") == "\r\nOK\r\n"


def test_cmgl_error_and_hang_and_cmgd_fail(modem):
    modem.deliver_sms("+59171234567", "hola")
    modem.set_fault("cmgl_error")
    assert at(modem, "AT+CMGL=4") == "\r\nERROR\r\n"
    modem.clear_fault()
    modem.set_fault("cmgl_hang")
    assert at(modem, "AT+CMGL=4") == ""
    assert at(modem, "AT") == "\r\nOK\r\n"  # later commands are answered
    modem.clear_fault()
    modem.set_fault("cmgd_fail")
    assert at(modem, "AT+CMGD=1") == "\r\n+CMS ERROR: 500\r\n"
    assert modem.used == 1


def test_no_cmti(modem):
    at(modem, "AT+CNMI=2,1,0,2,0")
    modem.set_fault("no_cmti")
    modem.deliver_sms("+59171234567", "hola")
    assert modem.take_output() == b""


def test_send_error_counts_down_then_clears(modem):
    modem.set_fault("send_error", code=38, count=2)
    assert "+CMS ERROR: 38" in submit(modem)
    assert "+CMS ERROR: 38" in submit(modem)
    assert "+CMGS:" in submit(modem)
    assert "send_error" not in modem.faults


def test_empty_smsc_and_unregistered(modem):
    modem.set_fault("empty_smsc")
    assert '+CSCA: "",129' in at(modem, "AT+CSCA?")
    assert "+CMS ERROR: 330" in submit(modem)  # the PDU carries no SMSC either
    modem.clear_fault()
    modem.set_fault("unregistered")
    assert "+CREG: 0,2" in at(modem, "AT+CREG?") and "+CSQ: 99,99" in at(modem, "AT+CSQ")
    assert "+CMS ERROR: 331" in submit(modem)


def test_pin(modem):
    modem.set_fault("pin", pin="4321")
    assert "+CPIN: SIM PIN" in at(modem, "AT+CPIN?")
    assert at(modem, "AT+CMGL=4") == "\r\n+CME ERROR: 11\r\n"
    assert at(modem, 'AT+CPIN="1111"') == "\r\n+CME ERROR: 16\r\n"
    assert at(modem, 'AT+CPIN="4321"') == "\r\nOK\r\n"
    assert "+CPIN: READY" in at(modem, "AT+CPIN?")


def test_slow_send_answers_later(modem, clock):
    modem.set_fault("slow_send", seconds=2)
    assert "+CMGS" not in submit(modem)
    clock.now += 2.1
    modem.tick()
    assert "+CMGS: 1" in modem.take_output().decode()


def test_delivery_report_is_stored_and_announced(modem, clock):
    at(modem, "AT+CNMI=2,1,0,2,0")
    modem.set_fault("delivery_reports", delay=1, status=0)
    submit(modem, report=False)
    clock.now += 2
    modem.tick()
    assert modem.used == 0  # no report asked for, none comes
    submit(modem, report=True)
    clock.now += 2
    modem.tick()
    assert modem.take_output() == b'\r\n+CDSI: "SM",1\r\n'
    report = gammu.DecodePDU(modem.slots[0].pdu, SMSC=True)
    assert (report["Type"], report["MessageReference"], report["DeliveryStatus"]) == ("Status_Report", 2, 0)
