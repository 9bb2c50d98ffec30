"""Incoming calls through real Gammu (python-gammu's AT driver) on the simulated modem, a process on a pty.

What Gammu does with a call (read in its source, libgammu/phone/at/atgen.c, and checked here):
SetIncomingCall sends AT+CLIP=1, AT+CRC=1 and AT+CCWA=1; a RING (or +CRING) alone is ignored
("waiting for caller ID"), each +CLIP becomes a "Call" notification with Status IncomingCall and
the Number, so a call that rings three times is announced three times; CancelCall sends AT+CHUP
(ATH when AT+CHUP=? failed at Init) and reports CallLocalEnd; NO CARRIER reports CallRemoteEnd.
Gammu's Init takes about 4 s: one connection per module.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from barriosms.config import ModemSettings
from barriosms.modem.gammu_modem import GammuModem
from barriosms.modem.interface import IncomingCall
from barriosms.sim import control
from barriosms.sim.rig import Rig, wait_for

pytestmark = pytest.mark.slow

RESIDENT = "+59171234567"


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    rig = Rig(tmp_path_factory.mktemp("calls"))
    rig.start_sim()
    yield rig
    rig.stop()


@pytest.fixture(scope="module")
def modem(rig):
    m = GammuModem(ModemSettings(device=str(rig.device)))
    m.connect()  # as the daemon does: new-message and incoming-call notifications
    yield m
    m.disconnect()


def announced(m: GammuModem, seconds: float = 5.0) -> list[IncomingCall]:
    """Turn the modem thread's loop (ReadDevice every 0.1 s) until a call is announced."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        m.poll_events()
        calls = m.calls()
        if calls:
            return calls
        time.sleep(0.1)
    return []


def last_call(rig: Rig) -> dict:
    return rig.calls()[-1]


def test_connect_turns_caller_id_on(rig, modem):
    status = rig.sim_status()
    assert status["clip"] == 1 and status["crc"] == 1
    lines = [c["line"] for c in control.send_request(str(rig.control), {"cmd": "commands"})["commands"]]
    assert {"AT+CLIP=1", "AT+CRC=1", "AT+CCWA=1"} <= set(lines)


def test_a_call_is_announced_with_its_number_and_hung_up_with_chup(rig, modem):
    started = time.monotonic()
    rig.call(RESIDENT)
    [call] = announced(modem)
    print(f"\nthe call reached calls() in {time.monotonic() - started:.3f} s")
    assert call.number == RESIDENT and call.at.tzinfo is None
    modem.hang_up()
    ended = last_call(rig)
    assert ended["state"] == "ended" and ended["ended_by"] == "modem" and ended["rings"] == 1
    lines = [c["line"] for c in control.send_request(str(rig.control), {"cmd": "commands"})["commands"]]
    assert lines[-1] == "AT+CHUP"  # the simulator answers AT+CHUP=? at Init, so Gammu prefers it to ATH
    time.sleep(0.3)
    assert announced(modem, 0.5) == []  # Gammu's CallLocalEnd is no call


def test_the_caller_giving_up_ends_the_call_and_the_next_one_is_new(rig, modem):
    rig.call(RESIDENT.replace("+591", ""), ring_seconds=1.5)  # a national number (+CLIP type 129)
    calls = announced(modem)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # the caller gives up after 1.5 s: NO CARRIER
        modem.poll_events()
        calls += modem.calls()
        time.sleep(0.1)
    assert [c.number for c in calls] == ["71234567"]
    assert last_call(rig)["ended_by"] == "caller"
    # The same number again at once is a new call: Gammu reported the end (CallRemoteEnd).
    rig.call("71234567")
    assert [c.number for c in announced(modem)] == ["71234567"]
    modem.hang_up()


def test_repeated_rings_of_one_call(rig, modem):
    control.send_request(str(rig.control), {"cmd": "call", "from": RESIDENT, "interval": 0.3, "ring_seconds": 30})
    calls = announced(modem)
    wait_for(lambda: last_call(rig)["rings"] >= 4, 10, "four rings")
    for _ in range(5):
        modem.poll_events()
        calls += modem.calls()
        time.sleep(0.1)
    assert [c.number for c in calls] == [RESIDENT]  # four +CLIP lines, one call
    modem.hang_up()
    assert last_call(rig)["ended_by"] == "modem"


def test_a_withheld_number_is_a_call_without_number(rig, modem):
    rig.call("")
    [call] = announced(modem)
    assert call.number == ""
    modem.hang_up()
    assert last_call(rig)["withheld"] and last_call(rig)["ended_by"] == "modem"


def test_sim_call_and_sim_status_from_the_command_line(rig, modem):
    def sim(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "barriosms", "sim", *args, "--control", str(rig.control)],
                              capture_output=True, text=True, timeout=30)

    out = sim("call", "--from", "+59176543210", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["state"] == "ringing"
    ringing = sim("status").stdout
    assert "from +59176543210: ringing" in ringing and "caller ID (CLIP) on" in ringing
    refused = sim("call", "--from", "+59170000001")
    assert refused.returncode == 1 and "already ringing" in refused.stderr
    assert sim("call").returncode == 2  # neither --from nor --withheld
    [call] = announced(modem)
    assert call.number == "+59176543210"
    modem.hang_up()
    assert "from +59176543210: ended after" in sim("status").stdout
    assert "hung up by the client" in sim("status").stdout
