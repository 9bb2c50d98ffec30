"""`barriosms sim serve` as a process on a pty, driven by real Gammu: python-gammu's StateMachine
(the library the daemon uses, Gammu 1.45 in the wheel) and Debian's `gammu` command (1.42)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import gammu
import pytest

from barriosms.rig import wait_for
from barriosms.sim import control

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sim")
    device, ctl = folder / "modem", folder / "control"
    proc = subprocess.Popen([sys.executable, "-m", "barriosms", "sim", "serve", "--device", str(device),
                             "--control", str(ctl), "--slots", "10"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = proc.stdout.readline()
    assert "simulated modem on /dev/pts/" in ready, ready
    rc = folder / "gammurc"
    rc.write_text(f"[gammu]\ndevice = {device}\nconnection = at\nmodel = at\n")
    yield {"device": device, "control": str(ctl), "rc": rc, "proc": proc}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert not device.exists() and not ctl.exists()  # cleaned up on the way out


@pytest.fixture(scope="module")
def sm(sim):
    machine = gammu.StateMachine()
    machine.ReadConfig(Filename=str(sim["rc"]))
    started = time.monotonic()
    machine.Init()
    print(f"Gammu {gammu.Version()[0]} Init against the simulated modem: {time.monotonic() - started:.2f} s")
    yield machine
    machine.Terminate()


def read_all(sm) -> list[dict]:
    found = []
    try:
        batch = sm.GetNextSMS(Folder=0, Start=True)
        while True:
            found += batch
            batch = sm.GetNextSMS(Folder=0, Location=batch[0]["Location"])
    except gammu.ERR_EMPTY:
        return found


def clear(sm) -> None:
    for sms in read_all(sm):
        sm.DeleteSMS(Folder=0, Location=sms["Location"])


def test_identity_signal_network_and_sim(sm):
    assert sm.GetManufacturer() == "barriosms"
    assert "SIMULATED-AT" in sm.GetModel()
    assert sm.GetIMEI() == "356938035643809"
    assert sm.GetSignalQuality()["SignalPercent"] > 0
    network = sm.GetNetworkInfo()
    assert network["State"] == "HomeNetwork" and network["NetworkCode"] == "736 01"
    assert sm.GetSMSStatus()["SIMSize"] == 10


def test_read_single_multipart_and_extension_messages(sm, sim):
    clear(sm)
    control.inject_text(sim["control"], "+59171234567", "B12 hay un bache grande en la calle 3")
    long = "B07 el muro de contención se está cayendo después de la lluvia, " * 2 + "¡Ayuda!"
    assert control.inject_text(sim["control"], "+59171234568", long)["parts"] == 3
    control.inject_text(sim["control"], "+59171234569", "B12 {calle} [3] con €")
    found = read_all(sm)
    assert [s["Number"] for s in found] == ["+59171234567"] + ["+59171234568"] * 3 + ["+59171234569"]
    assert found[0]["Text"] == "B12 hay un bache grande en la calle 3"
    linked = gammu.LinkSMS([[s] for s in found[1:4]])
    assert len(linked) == 1 and gammu.DecodeSMS(linked[0])["Entries"][0]["Buffer"] == long
    from barriosms.domain.gsm import trim_decoder_padding
    assert trim_decoder_padding(found[4]["Text"]) == "B12 {calle} [3] con €"
    for sms in found:
        sm.DeleteSMS(Folder=0, Location=sms["Location"])
    assert sm.GetSMSStatus()["SIMUsed"] == 0


def test_new_message_notification_reaches_the_callback(sm, sim):
    events = []
    sm.SetIncomingCallback(lambda machine, kind, data: events.append((kind, data)))
    sm.SetIncomingSMS()
    control.inject_text(sim["control"], "+59171234567", "AYUDA")

    def notified():
        sm.ReadDevice()
        return events
    wait_for(notified, 5, "+CMTI to reach Gammu's callback")
    assert events[0][0] == "SMS"
    clear(sm)


def test_send_single_and_multipart(sm, sim):
    before = len(control.sent_messages(sim["control"]))
    for text, unicode in (("Su numero de reclamo es 2408917", False), ("á" * 100, True)):
        for part in gammu.EncodeSMS({"Class": -1, "Unicode": unicode,
                                     "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}]}):
            part["Number"] = "+59171234567"
            part["SMSC"] = {"Location": 1}
            assert sm.SendSMS(part) > 0
    sent = control.sent_messages(sim["control"])[before:]
    assert [(m["to"], m["text"], m["parts"]) for m in sent] == [
        ("+59171234567", "Su numero de reclamo es 2408917", 1), ("+59171234567", "á" * 100, 2)]


def test_full_sim_keeps_later_messages_until_a_slot_frees(sm, sim):
    clear(sm)
    results = [control.inject_text(sim["control"], f"+5917000000{i}", f"mensaje {i}") for i in range(12)]
    assert results[-1]["pending"] == 2 and results[-1]["slots"] == []
    assert sm.GetSMSStatus()["SIMUsed"] == 10
    clear(sm)  # deleting frees slots; the two waiting messages arrive
    assert sorted(s["Text"] for s in read_all(sm)) == ["mensaje 10", "mensaje 11"]
    clear(sm)


GAMMU = shutil.which("gammu")
needs_gammu_cli = pytest.mark.skipif(GAMMU is None, reason="Debian's gammu command is not installed "
                                     "(sudo apt-get install gammu; ./scripts/test installs it as root)")


def gammu_cli(sim, *args: str) -> str:
    proc = subprocess.run([GAMMU, "-c", str(sim["rc"]), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def released(sm):
    """The gammu command needs the port: Gammu locks it, so the module's StateMachine lets go first."""
    sm.Terminate()
    yield
    sm.Init()


@pytest.mark.gammu_cli
@needs_gammu_cli
def test_gammu_cli_identify_getallsms_sendsms(sim, released):
    out = gammu_cli(sim, "identify")
    assert "barriosms" in out and "356938035643809" in out and "736010123456789" in out
    control.inject_text(sim["control"], "+59171234567", "B12 hola desde el gammu de Debian")
    out = gammu_cli(sim, "getallsms")
    assert "B12 hola desde el gammu de Debian" in out and "+59171234567" in out
    before = len(control.sent_messages(sim["control"]))
    out = gammu_cli(sim, "sendsms", "TEXT", "+59171234567", "-text", "hola vecino")
    assert "OK, message reference=" in out
    [sent] = control.sent_messages(sim["control"])[before:]
    assert (sent["to"], sent["text"]) == ("+59171234567", "hola vecino")
    gammu_cli(sim, "deleteallsms", "1")
