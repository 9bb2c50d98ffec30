"""`barriosms sim serve` as a process on a pty, driven by real Gammu: python-gammu's StateMachine
(Gammu 1.45 in the wheel, the library the daemon uses) and Debian's `gammu` command (1.42).

Gammu's Init takes about 4 s on connection=at, so each simulated modem gets one StateMachine per
module. The gammu command needs the port for itself (Gammu locks it), so it talks to a second
simulated modem, the small one (3 slots) that the full-SIM test also uses.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import gammu
import pytest

from barriosms.domain.gsm import trim_decoder_padding
from barriosms.sim import control

pytestmark = pytest.mark.slow

GAMMU = shutil.which("gammu")
# (1, 45, 1) for the python-gammu wheel's Gammu, (1, 42, 0) for Debian's (./scripts/test-debian-gammu).
GAMMU_VERSION = tuple(int(p) for p in gammu.Version()[0].split(".")[:3])
RESIDENT = "+59171234567"
# 150 characters of Spanish with "á": UCS-2, 67 characters a part, so three parts.
LONG_UCS2 = ("Buenos días, en la zona de Villa Fátima hay un bache enorme frente al mercado, "
             "ya hubo dos accidentes esta semana, envíen a alguien muy pronto gracias")
EXTENSION = "B12 {calle 3} [esquina] con ~ ^ | \\ y €"


def sim_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`barriosms sim ...` as a process, the way staff and scripts run it."""
    proc = subprocess.run([sys.executable, "-m", "barriosms.sim.cli", *args], capture_output=True, text=True,
                          timeout=30)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


class Sim:
    """One `barriosms sim serve` process, its paths and its gammurc."""

    def __init__(self, folder: Path, *extra: str) -> None:
        self.folder = folder
        self.device = folder / "modem"
        self.control = str(folder / "modem.control")
        self.trace = folder / "at-trace.log"
        self.log = folder / "sim.log"
        self.rc = folder / "gammurc"
        self.rc.write_text(f"[gammu]\ndevice = {self.device}\nconnection = at\nmodel = at\n")
        with open(self.log, "wb") as log:  # stderr to a file: a pipe nobody reads would fill up
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "barriosms.sim.cli", "serve", "--device", str(self.device),
                 "--control", self.control, "--trace", str(self.trace), *extra],
                stdout=subprocess.PIPE, stderr=log, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        self.ready_line = self.proc.stdout.readline() if ready else ""
        assert "simulated modem on /dev/pts/" in self.ready_line, self.ready_line + self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=10)
        finally:
            self.proc.stdout.close()

    def status(self) -> dict:
        return json.loads(sim_cli("status", "--control", self.control, "--json").stdout)

    def sent(self) -> list[dict]:
        return json.loads(sim_cli("sent", "--control", self.control, "--json").stdout)


def init_gammu(sim: Sim) -> tuple[gammu.StateMachine, float]:
    machine = gammu.StateMachine()
    machine.ReadConfig(Filename=str(sim.rc))  # SetIncomingSMS needs ReadConfig, not SetConfig
    started = time.monotonic()
    machine.Init()
    return machine, time.monotonic() - started


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    s = Sim(tmp_path_factory.mktemp("sim"), "--slots", "30")
    yield s
    assert s.stop() == 0, s.log.read_text()


@pytest.fixture(scope="module")
def sm(sim):
    machine, seconds = init_gammu(sim)
    print(f"\nGammu {gammu.Version()[0]} (python-gammu {gammu.Version()[1]}) Init on the simulated modem: "
          f"{seconds:.2f} s")
    yield machine
    machine.Terminate()


@pytest.fixture(scope="module")
def small_sim(tmp_path_factory):
    s = Sim(tmp_path_factory.mktemp("small-sim"), "--slots", "3")
    yield s
    assert s.stop() == 0, s.log.read_text()


def read_all(machine: gammu.StateMachine) -> list[dict]:
    found: list[dict] = []
    try:
        batch = machine.GetNextSMS(Folder=0, Start=True)
        while True:
            found += batch
            batch = machine.GetNextSMS(Folder=0, Location=batch[0]["Location"])
    except gammu.ERR_EMPTY:
        return found


def delete_all(machine: gammu.StateMachine) -> None:
    for sms in read_all(machine):
        machine.DeleteSMS(Folder=0, Location=sms["Location"])


def wait_until(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


# -- the server process -------------------------------------------------------------------------

def test_serve_links_the_pty_and_traces_at_commands(sim, sm):
    pts = os.readlink(sim.device)
    assert pts.startswith("/dev/pts/") and pts in sim.ready_line
    assert str(sim.device) in sim.ready_line and sim.control in sim.ready_line
    trace = sim.trace.read_text().splitlines()
    first = trace[0].split(" ", 2)
    float(first[0])  # a timestamp, a direction, the bytes' repr
    assert first[1] in ("in", "out") and first[2].lstrip().startswith("b")
    assert any("AT+CFUN=1" in line for line in trace if " in " in line)


def test_sigterm_and_sigint_stop_cleanly(tmp_path):
    for sig in (signal.SIGTERM, signal.SIGINT):
        folder = tmp_path / sig.name
        folder.mkdir()
        s = Sim(folder)
        assert s.device.is_symlink() and Path(s.control).is_socket()
        assert s.stop(sig) == 0, s.log.read_text()
        assert not s.device.is_symlink() and not Path(s.control).exists()  # both removed


def test_serve_refuses_to_replace_a_real_file(tmp_path):
    device = tmp_path / "not-a-link"
    device.write_text("keep me")
    proc = sim_cli("serve", "--device", str(device), "--control", str(tmp_path / "c"), check=False)
    assert proc.returncode != 0 and "not a symlink" in proc.stderr
    assert device.read_text() == "keep me"


def test_control_errors_are_clear(tmp_path, sim):
    proc = sim_cli("status", "--control", str(tmp_path / "nothing"), check=False)
    assert proc.returncode != 0
    assert "cannot reach the simulated modem" in proc.stderr and "barriosms sim serve" in proc.stderr
    with pytest.raises(control.SimControlError, match="unknown command 'explode'"):
        control.send_request(sim.control, {"cmd": "explode"})
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:  # JSON lines, by hand
        raw.settimeout(10)
        raw.connect(sim.control)
        raw.sendall(b'not json\n{"cmd": "status"}\n')
        reader = raw.makefile()  # one reader: a second one would find the first had buffered both lines
        answers = reader.readline(), reader.readline()
    assert json.loads(answers[0])["ok"] is False
    assert json.loads(answers[1])["ok"] is True, "a bad line does not spoil the next request"
    proc = sim_cli("text", "--control", sim.control, "--from", RESIDENT, "", check=False)
    assert proc.returncode != 0 and "sender and some text" in proc.stderr


# -- python-gammu (Gammu 1.45) ------------------------------------------------------------------

def test_identity_signal_network_and_sms_status(sm):
    assert sm.GetManufacturer() == "barriosms"
    assert sm.GetModel()[1] == "SIMULATED-AT"
    imei = sm.GetIMEI()
    assert len(imei) == 15 and imei.isdigit()
    assert sm.GetSignalQuality()["SignalPercent"] > 0
    network = sm.GetNetworkInfo()
    assert (network["State"], network["NetworkCode"]) == ("HomeNetwork", "736 02")
    # Gammu 1.45 reads the operator's name from the modem (AT+COPS with a long name); Debian's 1.42
    # (every 32-bit Pi) leaves it empty, and GammuModem.status then names it from Gammu's table.
    assert network["NetworkName"] == ("Entel" if GAMMU_VERSION >= (1, 45) else "")
    assert gammu.GSMNetworks["736 02"] == "Entel"
    status = sm.GetSMSStatus()
    assert (status["SIMSize"], status["SIMUsed"]) == (30, 0)


def test_read_single_concatenated_ucs2_and_extension_messages(sm, sim):
    delete_all(sm)
    out = sim_cli("text", "--control", sim.control, "--from", RESIDENT, "B12 hay un bache en la calle 3").stdout
    assert "1 part(s)" in out and "slots [1]" in out
    injected = json.loads(sim_cli("text", "--control", sim.control, "--from", "+59171234568", LONG_UCS2,
                                  "--json").stdout)
    assert (injected["parts"], injected["slots"], injected["pending"], injected["unicode"]) == (3, [2, 3, 4], 0, True)
    control.inject_text(sim.control, "+59171234569", EXTENSION)

    found = read_all(sm)
    assert [s["Number"] for s in found] == [RESIDENT] + ["+59171234568"] * 3 + ["+59171234569"]
    assert found[0]["Text"] == "B12 hay un bache en la calle 3"
    assert [s["Coding"] for s in found[1:4]] == ["Unicode_No_Compression"] * 3
    [joined] = gammu.LinkSMS([[s] for s in found[1:4]])
    assert len(joined) == joined[0]["UDH"]["AllParts"] == 3
    assert gammu.DecodeSMS(joined)["Entries"][0]["Buffer"] == LONG_UCS2
    # Gammu pads decoded GSM-7 text by one character per extension character: a NUL, then
    # leftovers of an earlier message (seen here: "€\x00semana, "), so a plain rstrip is not enough.
    assert trim_decoder_padding(found[4]["Text"]) == EXTENSION
    assert sm.GetSMSStatus()["SIMUsed"] == 5
    for sms in found:
        sm.DeleteSMS(Folder=0, Location=sms["Location"])
    assert sm.GetSMSStatus()["SIMUsed"] == 0
    assert sim.status()["used"] == 0


def test_send_single_and_multipart_and_the_sent_report(sm, sim):
    before = len(sim.sent())
    started = time.time()
    messages = [("Su numero de reclamo es 2408917. Gracias!", False),
                ("Reclamo B12 registrado: " + "atencion en 48 horas, " * 8, False),
                ("¿Cuándo pasará el camión? " * 5, True)]
    for text, unicode in messages:
        for part in gammu.EncodeSMS({"Class": -1, "Unicode": unicode,
                                     "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}]}):
            part["Number"] = RESIDENT
            part["SMSC"] = {"Location": 1}  # the SIM's SMSC, from AT+CSCA?
            assert 0 <= sm.SendSMS(part) <= 255
    sent = sim.sent()[before:]
    assert [(m["to"], m["text"], m["parts"]) for m in sent] == [
        (RESIDENT, messages[0][0], 1), (RESIDENT, messages[1][0], 2), (RESIDENT, messages[2][0], 2)]
    for m in sent:
        assert started <= m["at_epoch"] <= time.time()
        at = dt.datetime.fromisoformat(m["at"])
        assert at.utcoffset() == dt.timedelta(0) and abs(at.timestamp() - m["at_epoch"]) < 1e-6
    table = sim_cli("sent", "--control", sim.control).stdout
    assert "TO" in table.splitlines()[0] and messages[1][0].strip() in table


def test_new_message_notification_reaches_the_callback(sm, sim):
    delete_all(sm)
    events: list[tuple[str, dict]] = []
    sm.SetIncomingCallback(lambda machine, kind, data: events.append((kind, data)))
    sm.SetIncomingSMS()
    assert sim.status()["cnmi"][:2] == [2, 1]
    try:
        [slot] = control.inject_text(sim.control, RESIDENT, "AYUDA")["slots"]

        def notified():
            sm.ReadDevice()  # Gammu reads the +CMTI line and calls back; never call Gammu from there
            return events
        started = time.monotonic()
        wait_until(notified, 5, "+CMTI to reach Gammu's callback")
        print(f"\n+CMTI reached the callback in {time.monotonic() - started:.3f} s")
        kind, data = events[0]
        assert kind == "SMS" and data["Location"] == slot
    finally:
        sm.SetIncomingSMS(Enable=False)
    delete_all(sm)


# -- a full SIM ---------------------------------------------------------------------------------

def test_full_sim_keeps_two_pending_and_delivers_them_after_deletions(small_sim):
    results = [control.inject_text(small_sim.control, f"+5917000000{i}", f"mensaje {i}") for i in range(5)]
    assert [r["slots"] for r in results] == [[1], [2], [3], [], []]
    assert results[-1]["pending"] == 2
    assert (small_sim.status()["used"], small_sim.status()["pending"]) == (3, 2)
    machine, _ = init_gammu(small_sim)
    try:
        assert machine.GetSMSStatus()["SIMUsed"] == 3
        first = read_all(machine)
        assert [s["Text"] for s in first] == ["mensaje 0", "mensaje 1", "mensaje 2"]
        for sms in first[:2]:
            machine.DeleteSMS(Folder=0, Location=sms["Location"])
        assert small_sim.status()["pending"] == 0
        assert sorted(s["Text"] for s in read_all(machine)) == ["mensaje 2", "mensaje 3", "mensaje 4"]
        delete_all(machine)
        assert small_sim.status()["used"] == 0
    finally:
        machine.Terminate()  # the gammu command tests need the port


# -- Debian's gammu command (Gammu 1.42) --------------------------------------------------------

needs_gammu_cli = pytest.mark.skipif(GAMMU is None, reason="the gammu command is not installed "
                                     "(Debian: apt-get install gammu)")


def gammu_cli(sim: Sim, *args: str) -> str:
    proc = subprocess.run([GAMMU, "-c", str(sim.rc), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.gammu_cli
@needs_gammu_cli
def test_gammu_cli_identify(small_sim):
    out = gammu_cli(small_sim, "identify")
    assert "barriosms" in out and "SIMULATED-AT" in out and "356938035643809" in out and "736020123456789" in out


@pytest.mark.gammu_cli
@needs_gammu_cli
def test_gammu_cli_getallsms(small_sim):
    control.inject_text(small_sim.control, RESIDENT, "B12 hola desde el gammu de Debian")
    control.inject_text(small_sim.control, "+59171234568", "Señora, ¿cuándo vienen?")
    out = gammu_cli(small_sim, "getallsms")
    assert "B12 hola desde el gammu de Debian" in out and RESIDENT in out
    assert "Señora, ¿cuándo vienen?" in out
    gammu_cli(small_sim, "deleteallsms", "1")
    assert small_sim.status()["used"] == 0


@pytest.mark.gammu_cli
@needs_gammu_cli
def test_gammu_cli_sendsms(small_sim):
    before = len(small_sim.sent())
    out = gammu_cli(small_sim, "sendsms", "TEXT", RESIDENT, "-text", "hola")
    assert "OK, message reference=" in out
    [sent] = small_sim.sent()[before:]
    assert (sent["to"], sent["text"], sent["parts"]) == (RESIDENT, "hola", 1)
