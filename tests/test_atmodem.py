"""The simulated modem's AT interpreter, byte for byte, without a pty."""

from __future__ import annotations

import gammu
import pytest

from barriosms.sim.atmodem import ATModem


def at(modem: ATModem, line: str) -> str:
    modem.feed(line.encode() + b"\r")
    return modem.take_output().decode()


@pytest.fixture
def modem():
    return ATModem(slots=3, clock=lambda: 1_800_000_000.0)


def test_echo_on_by_default_and_ate0_turns_it_off(modem):
    assert at(modem, "AT") == "AT\r\r\nOK\r\n"
    assert at(modem, "ATE0") == "ATE0\r\r\nOK\r\n"  # echoed before it takes effect
    assert at(modem, "AT") == "\r\nOK\r\n"
    assert at(modem, "ATZ") == "\r\nOK\r\n"
    assert at(modem, "AT") == "AT\r\r\nOK\r\n"  # ATZ restored the defaults


def test_unknown_commands_answer_error_never_silence(modem):
    for line in ("AT+NOPE", "AT$TSSPCSW=?", "AT^SYSINFO", "ATW9", "HELLO"):
        assert at(modem, line).endswith("\r\nERROR\r\n"), line


def test_extended_errors_follow_cmee(modem):
    assert at(modem, "AT+CMGR=99").endswith("\r\nERROR\r\n")
    at(modem, "AT+CMEE=1")
    assert at(modem, "AT+CMGR=99").endswith("\r\n+CMS ERROR: 321\r\n")


def test_identity_and_network(modem):
    assert "+CPIN: READY" in at(modem, "AT+CPIN?")
    assert "+CSQ: 20,99" in at(modem, "AT+CSQ")
    assert '+CSCA: "+59170000000",145' in at(modem, "AT+CSCA?")
    assert "+CREG: 0,1" in at(modem, "AT+CREG?")
    at(modem, "AT+COPS=3,2")
    assert '+COPS: 0,2,"73601"' in at(modem, "AT+COPS?")
    assert "356938035643809" in at(modem, "AT+CGSN")


def test_cpms_counts_and_full_sim_keeps_messages_pending(modem):
    assert '"SM",0,3' in at(modem, "AT+CPMS?")
    for i in range(5):
        modem.deliver_sms("+59171234567", f"mensaje {i}")
    assert '"SM",3,3' in at(modem, "AT+CPMS?")
    assert modem.status()["pending"] == 2
    at(modem, "AT+CMGD=1")
    at(modem, "AT+CMGD=2")
    assert modem.status() | {} and modem.status()["pending"] == 0
    at(modem, "AT+CMGF=1")
    listing = at(modem, 'AT+CMGL="ALL"')
    assert [t for t in ("mensaje 2", "mensaje 3", "mensaje 4") if t in listing] == ["mensaje 2", "mensaje 3", "mensaje 4"]


def test_cmti_only_when_asked_and_held_during_a_command(modem):
    modem.deliver_sms("+59171234567", "sin aviso")
    assert modem.take_output() == b""  # CNMI not set: no notification
    at(modem, "AT+CNMI=2,1,0,2,0")
    modem.deliver_sms("+59171234567", "con aviso")
    assert modem.take_output() == b'\r\n+CMTI: "SM",2\r\n'
    # A message that arrives in the middle of AT+CMGS waits until the final result.
    modem.feed(b"AT+CMGS=20\r")
    assert modem.take_output().endswith(b"\r\n> ")
    modem.deliver_sms("+59171234568", "durante el envio")
    assert b"+CMTI" not in modem.take_output()
    modem.feed(b"\x1b")  # ESC cancels the send
    out = modem.take_output()
    assert out.index(b"OK") < out.index(b'+CMTI: "SM",3')


def test_pdu_listing_reads_back_with_gammu(modem):
    modem.deliver_sms("+59171234567", "B12 hay un bache")
    at(modem, "AT+CMGF=0")
    out = at(modem, "AT+CMGL=4")
    header, pdu = out.split("\r\n")[1:3]
    index, stat, _, length = header.removeprefix("+CMGL: ").split(",")
    raw = bytes.fromhex(pdu)
    assert (index, stat) == ("1", "0") and int(length) == len(raw) - raw[0] - 1
    decoded = gammu.DecodePDU(raw, SMSC=True)
    assert (decoded["Type"], decoded["Number"], decoded["Text"]) == ("Deliver", "+59171234567", "B12 hay un bache")
    assert at(modem, "AT+CMGL=0") == "AT+CMGL=0\r\r\nOK\r\n"  # read now: no longer unread
    assert "+CMGR: 1," in at(modem, "AT+CMGR=1")
    assert at(modem, "AT+CMGR=2") == "AT+CMGR=2\r\r\nOK\r\n"  # empty slot


def test_cmgs_decodes_with_gammu_and_joins_parts(modem):
    parts = gammu.EncodeSMS({"Class": -1, "Unicode": False,
                             "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": "x" * 200}]})
    for part in parts:
        part["Number"] = "+59171234567"
        part["SMSC"] = {"Number": ""}
        pdu = gammu.EncodePDU(part, Layout="Submit")
        tpdu_length = len(pdu) - pdu[0] - 1
        assert at(modem, f"AT+CMGS={tpdu_length}").endswith("\r\n> ")
        modem.feed(pdu.hex().upper().encode() + b"\x1a")
        assert "+CMGS: " in modem.take_output().decode()
    [message] = modem.sent_messages()
    assert (message["to"], message["text"], message["parts"]) == ("+59171234567", "x" * 200, 2)


def test_text_mode_send(modem):
    at(modem, "AT+CMGF=1")
    assert at(modem, 'AT+CMGS="+59171234567"').endswith("> ")
    modem.feed(b"hola vecino\x1a")
    assert "+CMGS: 1" in modem.take_output().decode()
    assert modem.sent_messages()[0]["text"] == "hola vecino"


def test_long_unicode_text_is_split_into_ucs2_parts(modem):
    result = modem.deliver_sms("+59171234567", "á" * 150)
    assert result["unicode"] and result["parts"] == 3 and result["slots"] == [1, 2, 3]
