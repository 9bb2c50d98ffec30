"""The simulated modem's AT interpreter (barriosms.sim.atmodem), byte for byte: no pty, no process.

What Gammu and real clients rely on: echo, one final result per command line, error formats,
+CMTI held while a command runs, SIM slots and the pending queue, AT+CMGS in PDU and text mode.
"""

from __future__ import annotations

import datetime as dt

import gammu
import pytest

from barriosms.domain.gsm import gsm_decode, gsm_encode
from barriosms.sim.atmodem import ATModem

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
SENDER = "+59171234567"

# Traced from Gammu against this simulator (barriosms sim serve --trace): what each Init sends.
INIT_145 = ["AT", "ATE1", "ATE1", "AT+MODE=2", "AT+CMEE=1", "AT+CSCS?", "AT+CSCS=?", "AT+CGMM", "AT+CGMI",
            "AT+CPROT=?", "AT+SYNCML=?", "AT$TSSPCSW=?", "AT+CHUP=?", "AT+CGMR", "AT+CFUN=1"]
INIT_142_IDENTIFY = ["AT", "ATE1", "AT+MODE=2", "AT+CMEE=1", "AT+CSCS?", "AT+CSCS=?", "AT+CGMM", "AT+CGMI",
                     "AT+CPROT=?", "AT+SYNCML=?", "AT$TSSPCSW=?", "AT+CHUP=?", "AT+CGMR", "AT+CFUN=1",
                     "AT+CGMI", "AT+CGMM", "AT+CGMR", "AT+CGSN", "AT+CIMI"]
# Commands this modem does not have: a real stick answers ERROR and Gammu carries on.
EXPECTED_ERROR = {"AT+MODE=2", "AT+CPROT=?", "AT+SYNCML=?", "AT$TSSPCSW=?"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def modem(clock) -> ATModem:
    return ATModem(slots=3, clock=clock)


def at(modem: ATModem, line: str) -> str:
    modem.feed(line.encode() + b"\r")
    return modem.take_output().decode("ascii")


def quiet(modem: ATModem) -> ATModem:
    """Echo off, numeric errors on: answers are easier to compare."""
    at(modem, "ATE0")
    at(modem, "AT+CMEE=1")
    return modem


def submit_pdus(text: str, number: str = SENDER, unicode: bool = False) -> list[bytes]:
    """SMS-SUBMIT PDUs as python-gammu encodes them: an empty SMSC field (01 81: a type, no
    digits) then the TPDU."""
    parts = gammu.EncodeSMS({"Class": -1, "Unicode": unicode,
                             "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}]})
    pdus = []
    for part in parts:
        part["Number"], part["SMSC"] = number, {"Number": ""}
        pdus.append(gammu.EncodePDU(part, Layout="Submit"))
    return pdus


def send_pdu(modem: ATModem, pdu: bytes, length: int | None = None) -> str:
    tpdu = len(pdu) - pdu[0] - 1
    prompt = at(modem, f"AT+CMGS={tpdu if length is None else length}")
    assert prompt.endswith("\r\n> "), prompt
    modem.feed(pdu.hex().upper().encode() + b"\x1a")
    return modem.take_output().decode("ascii")


def final_results(output: str) -> list[str]:
    finals = ("OK", "ERROR", "+CME ERROR", "+CMS ERROR")
    return [line for line in output.split("\r\n") if line.startswith(finals)]


# -- echo, framing, errors ----------------------------------------------------------------------

def test_echo_is_on_by_default_and_ate0_really_turns_it_off(modem):
    assert at(modem, "AT") == "AT\r\r\nOK\r\n"
    assert at(modem, "ATE0") == "ATE0\r\r\nOK\r\n"  # echoed before it takes effect
    assert at(modem, "AT") == "\r\nOK\r\n"
    assert at(modem, "ATE1") == "\r\nOK\r\n"
    assert at(modem, "AT") == "AT\r\r\nOK\r\n"


def test_atz_resets_settings(modem):
    for line in ("ATE0", "AT+CMGF=1", "AT+CNMI=2,1,0,2,0", "AT+CMEE=1", 'AT+CSCS="UCS2"'):
        at(modem, line)
    assert at(modem, "ATZ") == "\r\nOK\r\n"
    assert at(modem, "AT+CMGF?") == "AT+CMGF?\r\r\n+CMGF: 0\r\n\r\nOK\r\n"
    assert "+CNMI: 0,0,0,0,0" in at(modem, "AT+CNMI?")
    assert '+CSCS: "GSM"' in at(modem, "AT+CSCS?")


def test_unknown_commands_answer_error_never_silence(modem):
    quiet(modem)
    for line in ("AT+NOPE", "AT+MODE=2", "AT$TSSPCSW=?", "AT^SYSINFO", "ATW9", "HELLO", "AT+CPROT=?"):
        assert at(modem, line) == "\r\nERROR\r\n", line


@pytest.mark.parametrize("init", [INIT_145, INIT_142_IDENTIFY], ids=["gammu-1.45", "gammu-1.42-identify"])
def test_gammu_init_gets_one_final_result_per_command(modem, init):
    modem.feed(b"\x1b\r")  # Gammu starts with ESC (leaves any > prompt) and a bare CR
    modem.take_output()
    for line in init:
        out = at(modem, line)
        assert out.startswith(line + "\r"), (line, out)  # echo: Gammu fails Init without it
        expected = "ERROR" if line in EXPECTED_ERROR else "OK"
        assert final_results(out) == [expected], (line, out)


def test_line_endings_esc_and_backspace(modem):
    quiet(modem)
    modem.feed(b"AT+CMGF?\n")  # LF alone ends a line too
    assert modem.take_output() == b"\r\n+CMGF: 0\r\n\r\nOK\r\n"
    modem.feed(b"AT\r\n")  # the LF of CR LF does not make a second command
    assert modem.take_output() == b"\r\nOK\r\n"
    modem.feed(b"AT+CMGD=1\x1bAT\r")  # ESC throws away the half-typed line
    assert modem.take_output() == b"\r\nOK\r\n"
    assert modem.commands[-1][1] == "AT"
    modem.feed(b"AT+CSQX\x08\r")  # backspace, as typed on a terminal
    assert modem.take_output() == b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"


def test_commands_chained_with_semicolons(modem):
    quiet(modem)
    assert at(modem, "AT+CMGF=1;+CMGF?") == "\r\n+CMGF: 1\r\n\r\nOK\r\n"
    # The line stops at the first failing command: its error is the line's only result.
    assert at(modem, "AT+CMGF=0;+NOPE;+CMGF=1") == "\r\nERROR\r\n"
    assert "+CMGF: 0" in at(modem, "AT+CMGF?")
    assert at(modem, 'AT+CSCA="+59170000001";+CSCA?') == '\r\n+CSCA: "+59170000001",145\r\n\r\nOK\r\n'


def test_extended_errors_follow_cmee(modem):
    at(modem, "ATE0")
    assert at(modem, "AT+CMGR=99") == "\r\nERROR\r\n"
    at(modem, "AT+CMEE=1")
    assert at(modem, "AT+CMGR=99") == "\r\n+CMS ERROR: 321\r\n"  # invalid memory index
    assert at(modem, "AT+CMGF=5") == "\r\n+CMS ERROR: 304\r\n"
    assert at(modem, "AT+CREG=x") == "\r\n+CME ERROR: 4\r\n"


# -- identity, SIM, network ---------------------------------------------------------------------

def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def info(modem: ATModem, line: str) -> str:
    out = at(modem, line)
    assert out.endswith("\r\nOK\r\n"), out
    return out.removesuffix("\r\n\r\nOK\r\n").removeprefix("\r\n")


def test_identity(modem):
    quiet(modem)
    assert info(modem, "AT+CGMI") == "barriosms"
    assert info(modem, "AT+CGMM") == "SIMULATED-AT"
    assert info(modem, "AT+CGMR")
    imei = info(modem, "AT+CGSN")
    assert len(imei) == 15 and imei.isdigit() and luhn_ok(imei)
    imsi = info(modem, "AT+CIMI")
    assert imsi.startswith("736") and len(imsi) == 15  # MCC 736: Bolivia
    assert "barriosms" in info(modem, "ATI")


def test_sim_and_network(clock):
    modem = quiet(ATModem(slots=3, clock=clock, signal_rssi=12))
    assert info(modem, "AT+CPIN?") == "+CPIN: READY"
    assert info(modem, "AT+CSQ") == "+CSQ: 12,99"
    assert info(modem, "AT+CREG?") == "+CREG: 0,1"
    at(modem, "AT+CREG=2")  # Gammu asks for location area and cell
    assert info(modem, "AT+CREG?").startswith("+CREG: 2,1,")
    assert info(modem, "AT+CGREG?") == "+CGREG: 0,1"
    assert info(modem, "AT+COPS?") == '+COPS: 0,0,"Entel",0'
    at(modem, "AT+COPS=3,2")
    assert info(modem, "AT+COPS?") == '+COPS: 0,2,"73602",0'


def test_smsc_address(modem):
    quiet(modem)
    assert info(modem, "AT+CSCA?") == '+CSCA: "+59170000000",145'
    assert at(modem, 'AT+CSCA="+59170000009",145') == "\r\nOK\r\n"
    assert info(modem, "AT+CSCA?") == '+CSCA: "+59170000009",145'
    assert at(modem, 'AT+CSCA="hola"') == "\r\n+CME ERROR: 4\r\n"


# -- SIM storage --------------------------------------------------------------------------------

def test_cpms_counts(modem):
    quiet(modem)
    assert info(modem, "AT+CPMS=?") == '+CPMS: ("SM"),("SM"),("SM")'
    assert info(modem, "AT+CPMS?") == '+CPMS: "SM",0,3,"SM",0,3,"SM",0,3'
    modem.deliver_sms(SENDER, "uno")
    modem.deliver_sms(SENDER, "dos")
    assert info(modem, "AT+CPMS?") == '+CPMS: "SM",2,3,"SM",2,3,"SM",2,3'
    assert info(modem, 'AT+CPMS="SM","SM","SM"') == "+CPMS: 2,3,2,3,2,3"
    assert at(modem, 'AT+CPMS="ME"') == "\r\n+CMS ERROR: 302\r\n"  # a SIM-only modem


def test_pdu_listing_reads_back_with_gammu_and_marks_read(modem):
    quiet(modem)
    modem.deliver_sms(SENDER, "B12 hay un bache")
    modem.deliver_sms("+59171234568", "AYUDA")
    listing = info(modem, "AT+CMGL=0").split("\r\n")
    assert [line.split(",")[:2] for line in listing[::2]] == [["+CMGL: 1", "0"], ["+CMGL: 2", "0"]]
    raw = bytes.fromhex(listing[1])
    assert int(listing[0].split(",")[3]) == len(raw) - raw[0] - 1  # length without the SMSC field
    sms = gammu.DecodePDU(raw, SMSC=True)
    assert (sms["Type"], sms["Number"], sms["Text"]) == ("Deliver", SENDER, "B12 hay un bache")
    # The injected clock. python-gammu before 3.3 (Debian's 3.2.4 on a 32-bit Pi) gives a naive time in
    # the PDU's zone (+00 here); later ones an aware time. barriosms.modem takes both (_smsc_time).
    got = sms["DateTime"]
    assert (got if got.tzinfo else got.replace(tzinfo=dt.UTC)) == dt.datetime.fromtimestamp(T0, dt.UTC)
    assert at(modem, "AT+CMGL=0") == "\r\nOK\r\n"  # listing marked them read
    assert info(modem, "AT+CMGL=1").count("+CMGL:") == 2
    assert info(modem, "AT+CMGR=2").startswith("+CMGR: 1,,")
    assert at(modem, "AT+CMGR=3") == "\r\nOK\r\n"  # an empty slot: Gammu reads it as empty
    assert at(modem, "AT+CMGR=4") == "\r\n+CMS ERROR: 321\r\n"
    assert at(modem, "AT+CMGL=9") == "\r\n+CMS ERROR: 304\r\n"


def test_cmgr_marks_one_message_read(modem):
    quiet(modem)
    modem.deliver_sms(SENDER, "uno")
    modem.deliver_sms(SENDER, "dos")
    assert info(modem, "AT+CMGR=1").startswith("+CMGR: 0,,")  # unread when read the first time
    assert info(modem, "AT+CMGL=0").startswith("+CMGL: 2,0,")


def test_cmgd_index_and_delflags(modem):
    quiet(modem)
    for text in ("uno", "dos", "tres"):
        modem.deliver_sms(SENDER, text)
    info(modem, "AT+CMGR=1")  # read
    assert at(modem, "AT+CMGD=2") == "\r\nOK\r\n"
    assert modem.used == 2
    assert at(modem, "AT+CMGD=1,1") == "\r\nOK\r\n"  # delflag 1: every read message
    assert [s is not None for s in modem.slots] == [False, False, True]
    assert at(modem, "AT+CMGD=1,4") == "\r\nOK\r\n"  # delflag 4: everything
    assert modem.used == 0
    assert at(modem, "AT+CMGD=9") == "\r\n+CMS ERROR: 321\r\n"
    assert at(modem, "AT+CMGD=1,7") == "\r\n+CMS ERROR: 304\r\n"


def test_full_sim_keeps_messages_pending_until_slots_free(modem):
    quiet(modem)
    at(modem, "AT+CNMI=2,1,0,2,0")
    results = [modem.deliver_sms(SENDER, f"mensaje {i}") for i in range(5)]
    assert [r["slots"] for r in results] == [[1], [2], [3], [], []]
    assert results[-1]["pending"] == 2 and modem.status()["pending"] == 2
    modem.take_output()
    assert info(modem, "AT+CPMS?").startswith('+CPMS: "SM",3,3')
    # Deleting frees a slot: the oldest waiting message takes it, announced after the OK.
    assert at(modem, "AT+CMGD=2") == '\r\nOK\r\n\r\n+CMTI: "SM",2\r\n'
    assert at(modem, "AT+CMGD=1") == '\r\nOK\r\n\r\n+CMTI: "SM",1\r\n'
    assert modem.status()["pending"] == 0
    at(modem, "AT+CMGF=1")
    texts = [line for line in info(modem, 'AT+CMGL="ALL"').split("\r\n") if not line.startswith("+CMGL")]
    assert texts == ["mensaje 4", "mensaje 3", "mensaje 2"]


# -- new-message notifications ------------------------------------------------------------------

def test_cmti_only_when_cnmi_asks_for_it(modem):
    quiet(modem)
    assert info(modem, "AT+CNMI=?") == "+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)"
    modem.deliver_sms(SENDER, "sin aviso")
    assert modem.take_output() == b""
    at(modem, "AT+CNMI=2,0,0,2,0")  # mt=0: stored without notice
    modem.deliver_sms(SENDER, "tampoco")
    assert modem.take_output() == b""
    at(modem, "AT+CNMI=2,1,0,2,0")
    modem.deliver_sms(SENDER, "con aviso")
    assert modem.take_output() == b'\r\n+CMTI: "SM",3\r\n'
    assert at(modem, "AT+CNMI=7,1") == "\r\n+CMS ERROR: 304\r\n"


def test_several_arrivals_give_several_cmti(modem):
    quiet(modem)
    at(modem, "AT+CNMI=2,1,0,2,0")
    assert modem.deliver_sms(SENDER, "á" * 150)["parts"] == 3
    assert modem.take_output() == b'\r\n+CMTI: "SM",1\r\n\r\n+CMTI: "SM",2\r\n\r\n+CMTI: "SM",3\r\n'


def test_urcs_are_held_during_the_cmgs_prompt_and_flushed_after_the_result(modem):
    quiet(modem)
    at(modem, "AT+CNMI=2,1,0,2,0")
    [pdu] = submit_pdus("Su numero de reclamo es 2408917")
    assert at(modem, f"AT+CMGS={len(pdu) - pdu[0] - 1}") == "\r\n> "
    modem.deliver_sms("+59171234568", "llega durante el envio")
    modem.deliver_sms("+59171234569", "y otro")
    modem.feed(pdu.hex().upper().encode()[:20])
    assert b"+CMTI" not in modem.take_output()
    modem.feed(pdu.hex().upper().encode()[20:] + b"\x1a")
    assert modem.take_output() == b'\r\n+CMGS: 1\r\n\r\nOK\r\n\r\n+CMTI: "SM",1\r\n\r\n+CMTI: "SM",2\r\n'


def test_esc_cancels_the_send_and_releases_held_urcs(modem):
    quiet(modem)
    at(modem, "AT+CNMI=2,1,0,2,0")
    at(modem, "AT+CMGS=20")
    modem.deliver_sms(SENDER, "durante")
    modem.feed(b"0011\x1b")
    assert modem.take_output() == b'\r\nOK\r\n\r\n+CMTI: "SM",1\r\n'
    assert modem.sent == []


# -- sending ------------------------------------------------------------------------------------

def test_cmgs_with_and_without_smsc_field(modem, clock):
    quiet(modem)
    [pdu] = submit_pdus("hola vecino")
    assert send_pdu(modem, pdu) == "\r\n+CMGS: 1\r\n\r\nOK\r\n"  # with an (empty) SMSC field first
    clock.now += 1.5
    tpdu = pdu[pdu[0] + 1:]
    modem.feed(f"AT+CMGS={len(tpdu)}\r".encode())
    modem.take_output()
    modem.feed(tpdu.hex().encode() + b"\x1a")  # no SMSC field at all; lower-case hex
    assert modem.take_output() == b"\r\n+CMGS: 2\r\n\r\nOK\r\n"
    assert [(m["to"], m["text"], m["parts"]) for m in modem.sent_messages()] == [(SENDER, "hola vecino", 1)] * 2
    assert modem.sent_messages()[1]["at_epoch"] == T0 + 1.5


def test_sent_report_tells_when_the_pdu_finished_arriving_apart_from_the_cmgs_line(modem, clock):
    """A benchmark needs both: the AT+CMGS line starts the send, the Ctrl-Z ends the sender's part."""
    quiet(modem)
    first, second = submit_pdus("Su reclamo B12 fue registrado. " * 6)
    started = clock.now
    for pdu in (first, second):
        tpdu = len(pdu) - pdu[0] - 1
        assert at(modem, f"AT+CMGS={tpdu}").endswith("> ")
        clock.now += 0.25  # the sender writes the PDU slowly
        modem.feed(pdu.hex().upper().encode() + b"\x1a")
        assert "+CMGS:" in modem.take_output().decode("ascii")
        clock.now += 0.5
    [message] = modem.sent_messages()
    assert message["at_epoch"] == started
    assert message["received_epoch"] == started + 1.0  # the second part's Ctrl-Z


def test_cmgs_refuses_a_length_that_does_not_match_and_garbage(modem):
    quiet(modem)
    [pdu] = submit_pdus("hola")
    assert send_pdu(modem, pdu, length=len(pdu) + 3) == "\r\n+CMS ERROR: 304\r\n"
    assert at(modem, "AT+CMGS=20") == "\r\n> "
    modem.feed(b"NOTHEX\x1a")
    assert modem.take_output() == b"\r\n+CMS ERROR: 304\r\n"
    assert at(modem, "AT+CMGS=3") == "\r\n+CMS ERROR: 304\r\n"  # shorter than any SMS-SUBMIT
    assert modem.sent == []


def test_message_references_increment_and_wrap_at_256(modem):
    quiet(modem)
    [pdu] = submit_pdus("x")
    refs = [int(send_pdu(modem, pdu).split("+CMGS: ")[1].split("\r")[0]) for _ in range(257)]
    assert refs[:3] == [1, 2, 3] and refs[254:] == [255, 0, 1]


def test_sent_report_joins_parts_in_order_and_keeps_incomplete_groups(modem, clock):
    quiet(modem)
    text = "Su reclamo B12 fue registrado. " * 6  # 186 GSM-7 characters: two parts
    first, second = submit_pdus(text)
    single, = submit_pdus("otro {mensaje} con € y [corchetes]", number="+59171234568")
    started = clock.now
    send_pdu(modem, second)  # parts may leave out of order
    clock.now += 1
    send_pdu(modem, single)
    assert [(m["text"], m["parts"], m["expected_parts"]) for m in modem.sent_messages()] == [
        (text[153:], 1, 2), ("otro {mensaje} con € y [corchetes]", 1, 1)]  # incomplete: what it has
    send_pdu(modem, first)
    joined, other = modem.sent_messages()
    assert (joined["to"], joined["text"], joined["parts"]) == (SENDER, text, 2)
    assert joined["at_epoch"] == started
    assert joined["at"] == "2027-01-15T08:00:00.000000+00:00"
    assert other["text"] == "otro {mensaje} con € y [corchetes]"  # Gammu's NUL padding stripped


def test_multipart_unicode_send_is_joined(modem):
    quiet(modem)
    for pdu in submit_pdus("¿Cuándo arreglarán el camión de basura? " * 4, unicode=True):
        assert "+CMGS:" in send_pdu(modem, pdu)
    [message] = modem.sent_messages()
    assert message["text"] == "¿Cuándo arreglarán el camión de basura? " * 4 and message["parts"] == 3


# -- text mode ----------------------------------------------------------------------------------

def test_text_mode_listing_headers_and_gsm_charset(modem):
    quiet(modem)
    modem.deliver_sms(SENDER, "Señor, el baño está roto")  # á: UCS-2
    modem.deliver_sms("+59171234568", "Año nuevo, ¿qué tal?")  # GSM-7 (ñ, ¿, é are in it)
    at(modem, "AT+CMGF=1")
    out = modem_bytes(modem, 'AT+CMGL="ALL"')
    lines = out.split(b"\r\n")
    assert lines[1] == b'+CMGL: 1,"REC UNREAD","+59171234567",,"27/01/15,08:00:00+00"'
    assert lines[2] == "Señor, el baño está roto".encode("utf-16-be").hex().upper().encode()  # UCS-2: hex
    assert lines[3] == b'+CMGL: 2,"REC UNREAD","+59171234568",,"27/01/15,08:00:00+00"'
    assert lines[4] == gsm_encode("Año nuevo, ¿qué tal?") and gsm_decode(lines[4]) == "Año nuevo, ¿qué tal?"
    assert max(out) < 0x80  # a client can always decode what it reads
    header = modem_bytes(modem, "AT+CMGR=2").split(b"\r\n")[1]
    assert header == b'+CMGR: "REC READ","+59171234568",,"27/01/15,08:00:00+00"'


def modem_bytes(modem: ATModem, line: str) -> bytes:
    modem.feed(line.encode() + b"\r")
    return modem.take_output()


def test_text_mode_ucs2_charset(modem):
    quiet(modem)
    modem.deliver_sms(SENDER, "hola")
    at(modem, "AT+CMGF=1")
    at(modem, 'AT+CSCS="UCS2"')
    out = info(modem, "AT+CMGR=1").split("\r\n")
    assert out[0].startswith('+CMGR: "REC UNREAD","' + SENDER.encode("utf-16-be").hex().upper() + '"')
    assert out[1] == "hola".encode("utf-16-be").hex().upper()
    number = "+59171234568".encode("utf-16-be").hex()
    assert at(modem, f'AT+CMGS="{number}"') == "\r\n> "
    modem.feed("Atención: ¡gracias!".encode("utf-16-be").hex().encode() + b"\x1a")
    assert "+CMGS: 1" in modem.take_output().decode()
    assert modem.sent_messages()[0]["to"] == "+59171234568"
    assert modem.sent_messages()[0]["text"] == "Atención: ¡gracias!"


def test_text_mode_send_in_gsm_charset_with_line_breaks(modem):
    at(modem, "AT+CMGF=1")
    assert at(modem, 'AT+CMGS="+59171234567"').endswith('"\r\r\n> ')
    modem.feed(gsm_encode("Reclamo Nº 12") + b"\r")  # º is not GSM: goes as '?'
    assert modem.take_output().endswith(b"\r\n> ")  # a CR is a line break: a new prompt
    modem.feed(gsm_encode("Señora: ok @ 5$") + b"\x1a")
    assert "+CMGS: 1" in modem.take_output().decode("ascii")
    assert modem.sent_messages()[0]["text"] == "Reclamo N? 12\nSeñora: ok @ 5$"
    # In the GSM character set an extension character starts with ESC, which cancels the send
    # (27.005), as on real modems: text mode cannot send { } [ ] € in GSM; PDU mode can.
    at(modem, 'AT+CMGS="+59171234567"')
    modem.feed(gsm_encode("{") + b"\x1a")
    assert b"\r\nOK\r\n" in modem.take_output() and len(modem.sent) == 1
    assert at(modem, "") == "\r\r\nERROR\r\n"  # the "(" after ESC was typed as a command
    assert at(modem, "AT") == "AT\r\r\nOK\r\n"


# -- arrivals -----------------------------------------------------------------------------------

def test_long_spanish_text_with_accent_becomes_three_ucs2_parts(modem):
    text = ("Buenos días, en la zona de Villa Fátima hay un bache enorme frente al mercado, "
            "ya hubo dos accidentes esta semana, envíen a alguien muy pronto gracias")
    assert len(text) == 150 and "á" in text
    result = modem.deliver_sms(SENDER, text)
    assert result["unicode"] and result["parts"] == 3 and result["slots"] == [1, 2, 3]
    parts = [gammu.DecodePDU(s.pdu, SMSC=True) for s in modem.slots]
    assert [p["Coding"] for p in parts] == ["Unicode_No_Compression"] * 3
    [linked] = gammu.LinkSMS([[p] for p in parts])
    assert gammu.DecodeSMS(linked)["Entries"][0]["Buffer"] == text


def test_each_multipart_message_gets_its_own_reference(clock):
    # Gammu's EncodeSMS takes the reference from the clock: two messages encoded in the same
    # second would share it and a client would mix their parts.
    modem = ATModem(slots=6, clock=clock)
    modem.deliver_sms(SENDER, "a" * 200)
    modem.deliver_sms(SENDER, "b" * 200)
    udhs = [gammu.DecodePDU(s.pdu, SMSC=True)["UDH"] for s in modem.slots[:4]]
    assert [(u["PartNumber"], u["AllParts"]) for u in udhs] == [(1, 2), (2, 2), (1, 2), (2, 2)]
    assert udhs[0]["ID8bit"] == udhs[1]["ID8bit"] != udhs[2]["ID8bit"] == udhs[3]["ID8bit"]
    texts = [gammu.DecodeSMS(group)["Entries"][0]["Buffer"]
             for group in gammu.LinkSMS([[gammu.DecodePDU(s.pdu, SMSC=True)] for s in modem.slots[:4]])]
    assert sorted(texts) == ["a" * 200, "b" * 200]


def test_extension_characters_and_alphanumeric_senders(modem):
    modem.deliver_sms("TIGO", "Recarga {doble} con € 10 ^ [promo]")
    sms = gammu.DecodePDU(modem.slots[0].pdu, SMSC=True)
    assert sms["Number"] == "TIGO" and sms["Coding"] == "Default_No_Compression"
    assert sms["Text"].rstrip("\x00") == "Recarga {doble} con € 10 ^ [promo]"
    with pytest.raises(ValueError):
        modem.deliver_sms(SENDER, "")


def test_power_cycle_keeps_the_sim_and_forgets_settings(modem):
    at(modem, "ATE0")
    at(modem, "AT+CNMI=2,1,0,2,0")
    modem.deliver_sms(SENDER, "guardado")
    modem.feed(b"AT+CMG")
    modem.power_cycle()
    assert at(modem, "AT") == "AT\r\r\nOK\r\n"
    assert "+CNMI: 0,0,0,0,0" in at(modem, "AT+CNMI?") and modem.used == 1


def test_everything_said_is_ascii(modem):
    at(modem, "AT+CNMI=2,1,0,2,0")
    modem.deliver_sms(SENDER, "Ñandú, ¿señal? € [x]")
    out = modem.take_output()
    for line in ("AT+CMGL=4", "AT+CMGF=1", 'AT+CMGL="ALL"', "AT+CMGR=1", 'AT+CSCS="IRA"', "AT+CMGR=1", "ATI"):
        out += modem_bytes(modem, line)
    assert out and max(out) < 0x80


def test_an_autoresponder_can_vary_its_text_or_echo_what_it_gets(modem, clock):
    quiet(modem)
    modem.set_autoresponder(SENDER, "respuesta {n}", delay=0.5)
    for text in ("primero", "segundo"):
        [pdu] = submit_pdus(text)
        send_pdu(modem, pdu)
    clock.now += 1
    modem.tick()
    assert sorted(s.text for s in modem.slots if s is not None) == ["respuesta 1", "respuesta 2"]
    modem.set_autoresponder(SENDER, "{echo}", delay=0)
    [pdu] = submit_pdus("Recibimos su mensaje")
    send_pdu(modem, pdu)
    modem.tick()
    assert "Recibimos su mensaje" in [s.text for s in modem.slots if s is not None]


# -- incoming calls (27.007 RING, +CRING, +CLIP; ATH, AT+CHUP) ------------------------------------

def test_a_call_rings_again_and_again_with_the_callers_number_once_clip_is_on(modem, clock):
    quiet(modem)
    assert at(modem, "AT+CLIP=1") == "\r\nOK\r\n"
    assert at(modem, "AT+CLIP?") == "\r\n+CLIP: 1,1\r\n\r\nOK\r\n"
    call = modem.ring(SENDER, ring_seconds=30, interval=3)
    assert call["state"] == "ringing" and call["rings"] == 1 and not call["withheld"]
    assert modem.take_output() == b'\r\nRING\r\n\r\n+CLIP: "+59171234567",145\r\n'
    clock.now += 3
    modem.tick()
    assert modem.take_output() == b'\r\nRING\r\n\r\n+CLIP: "+59171234567",145\r\n'
    assert at(modem, "ATH") == "\r\nOK\r\n"
    [ended] = modem.status()["calls"]
    assert ended["state"] == "ended" and ended["ended_by"] == "modem" and ended["rings"] == 2
    assert ended["ended_epoch"] == T0 + 3
    clock.now += 60
    modem.tick()
    assert modem.take_output() == b""  # no more rings, and no NO CARRIER: the client ended it


def test_without_clip_only_ring_and_with_crc_the_extended_ring(modem):
    quiet(modem)
    modem.ring(SENDER)
    assert modem.take_output() == b"\r\nRING\r\n"
    at(modem, "AT+CHUP")
    at(modem, "AT+CRC=1")
    at(modem, "AT+CLIP=1")
    modem.ring("71234567")  # a national number: type 129
    assert modem.take_output() == b'\r\n+CRING: VOICE\r\n\r\n+CLIP: "71234567",129\r\n'
    assert at(modem, "AT+CHUP") == "\r\nOK\r\n"
    assert [c["ended_by"] for c in modem.status()["calls"]] == ["modem", "modem"]


def test_a_withheld_number_and_the_ucs2_character_set(modem):
    quiet(modem)
    at(modem, "AT+CLIP=1")
    modem.ring("")
    assert modem.take_output() == b'\r\nRING\r\n\r\n+CLIP: "",128,,,,1\r\n'  # CLI validity 1: withheld
    assert modem.status()["calls"][0]["withheld"]
    at(modem, "ATH0")
    at(modem, 'AT+CSCS="UCS2"')
    modem.ring("+5917")
    assert modem.take_output() == b'\r\nRING\r\n\r\n+CLIP: "002B0035003900310037",145\r\n'


def test_the_caller_gives_up_with_no_carrier(modem, clock):
    quiet(modem)
    modem.ring(SENDER, ring_seconds=10, interval=4)
    for _ in range(5):
        clock.now += 2
        modem.tick()
    out = modem.take_output()
    assert out.count(b"RING") == 3 and out.endswith(b"\r\nNO CARRIER\r\n")  # at 0, 4 and 8 s
    [call] = modem.status()["calls"]
    assert call["state"] == "ended" and call["ended_by"] == "caller"
    assert at(modem, "ATH") == "\r\nOK\r\n"  # nothing rings: a hang-up is still OK, as on a stick
    assert modem.status()["calls"][0]["ended_by"] == "caller"


def test_rings_are_held_while_a_command_runs(modem):
    quiet(modem)
    at(modem, "AT+CLIP=1")
    [pdu] = submit_pdus("hola")
    assert at(modem, f"AT+CMGS={len(pdu) - pdu[0] - 1}").endswith("> ")
    modem.ring(SENDER)
    assert modem.take_output() == b""  # the `> ` phase: nothing may interleave with the PDU
    modem.feed(pdu.hex().upper().encode() + b"\x1a")
    out = modem.take_output().decode("ascii")
    assert out.index("OK") < out.index("RING") < out.index("+CLIP")


def test_one_line_one_call_and_bad_calls_are_refused(modem):
    modem.ring(SENDER)
    with pytest.raises(ValueError, match="already ringing"):
        modem.ring("+59176543210")
    at(modem, "ATH")
    modem.ring("+59176543210")
    for number, args in (("TIGO", {}), (SENDER, {"interval": 0}), (SENDER, {"ring_seconds": 601})):
        with pytest.raises(ValueError):
            modem.ring(number, **args)
    modem.take_output()
    assert at(modem, "ATH1") == "ATH1\r\r\nERROR\r\n"


def test_a_reset_ends_the_ringing_call_and_clip_and_crc_go_back_to_off(modem):
    at(modem, "AT+CLIP=1;+CRC=1")
    modem.ring(SENDER)
    modem.power_cycle()
    status = modem.status()
    assert status["calls"][0]["ended_by"] == "reset" and status["clip"] == 0 and status["crc"] == 0
    assert at(modem, "AT+CHUP=?") == "AT+CHUP=?\r\r\nOK\r\n" and final_results(at(modem, "AT+CHUP?")) == ["ERROR"]


def test_the_control_socket_makes_the_modem_ring(tmp_path):
    from barriosms.sim.server import SimServer

    server = SimServer(ATModem(), str(tmp_path / "modem"), str(tmp_path / "control"))
    answer = server.handle(b'{"cmd": "call", "from": "+59171234567", "ring_seconds": 5, "interval": 1}')
    assert answer["ok"] and answer["call"]["state"] == "ringing"
    assert server.handle(b'{"cmd": "call", "from": "+59171234567"}') == {
        "ok": False, "error": "the modem is already ringing (a call from +59171234567); one line, one call: wait until "
                             "it ends"}
    assert server.handle(b'{"cmd": "status"}')["calls"][0]["number"] == "+59171234567"
