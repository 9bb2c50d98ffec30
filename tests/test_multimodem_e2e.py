"""Two USB sticks in one gateway, end to end: the real daemon with [modem entel] and [modem tigo],
each a simulated modem process on its own pseudo-terminal, real Gammu for both."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import SAMPLE_CSV

from barriosms.sim import control
from barriosms.sim.rig import Rig, wait_for

pytestmark = pytest.mark.slow

TIGO_RESIDENT = "+59176543210"  # a Tigo number (76...)


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    folder = tmp_path_factory.mktemp("twomodems")
    # modem_timeout 15: an unplugged stick is noticed when its hung Gammu call is aborted.
    r = Rig(folder, poll_seconds=2, gateway_options={"heartbeat_seconds": 2, "modem_timeout": 15})
    r.setup(SAMPLE_CSV)
    tigo_device, tigo_control = folder / "modem-tigo", folder / "modem-tigo.control"
    # The rig's own simulated modem is the Entel stick; a second process is the Tigo one.
    gateway = "".join(f"{k} = {v}\n" for k, v in r.gateway_options.items())
    r.config.write_text(
        f"[database]\npath = {r.database}\n\n"
        f"[modem entel]\ndevice = {r.device}\nconnection = at\noperator = Entel\n\n"
        f"[modem tigo]\ndevice = {tigo_device}\nconnection = at\noperator = Tigo\n\n"
        f"[gateway]\n{gateway}\n[logging]\nlevel = INFO\n", encoding="utf-8")
    r.start_sim()
    with open(folder / "sim-tigo.log", "ab") as log:
        tigo = subprocess.Popen([sys.executable, "-m", "barriosms", "sim", "serve", "--device", str(tigo_device),
                                 "--control", str(tigo_control)], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    wait_for(lambda: _answers(tigo_control), 20, "the Tigo simulated modem to start")
    r.start_daemon(wait_connected=False)
    wait_for(lambda: r.query("SELECT COUNT(*) FROM modem_health WHERE connected = 1 AND pid = ?",
                             (r.daemon_proc.pid,)) == [(2,)], 60, "both modems connected")
    r.tigo_control = str(tigo_control)
    yield r
    codes = r.stop()
    tigo.terminate()
    tigo.wait(30)
    assert codes["daemon"] == 0, r.daemon_log.read_text()[-3000:]


def _answers(path) -> bool:
    try:
        return bool(control.send_request(str(path), {"cmd": "status"}, timeout=1).get("ok"))
    except control.SimControlError:
        return False


def sent_by_tigo(rig: Rig, count: int, timeout: float = 30) -> list[dict]:
    return wait_for(lambda: (lambda s: s if len(s) >= count else None)(control.sent_messages(rig.tigo_control)),
                    timeout, f"{count} SMS from the Tigo modem")


def test_each_modem_has_its_health(rig):
    status = rig.cli_json("modem", "status")
    assert [(m["name"], m["state"]) for m in status["modems"]] == [("entel", "ok"), ("tigo", "ok")]
    assert status["ok"] is True


def test_reply_through_the_modem_it_came_in_on_and_updates_by_operator_with_fall_back(rig):
    rig.text(TIGO_RESIDENT, "B12 hay un bache grande en la calle 3")  # arrives on the Entel SIM
    [reply] = rig.sent_to(TIGO_RESIDENT, 1)
    tracking = reply["text"].split("Numero: ")[1][:7]
    assert control.sent_messages(rig.tigo_control) == []

    rig.cli("cases", "status", tracking, "in_progress")
    [update] = sent_by_tigo(rig, 1)  # the resident's operator
    assert update["to"] == TIGO_RESIDENT and tracking in update["text"]
    assert len(rig.sent()) == 1, "the Entel modem sent only the reply"

    control.set_fault(rig.tigo_control, "vanish")  # the Tigo stick is unplugged
    try:
        wait_for(lambda: rig.query("SELECT connected FROM modem_health WHERE name = 'tigo'") == [(0,)], 45,
                 "the daemon to notice the Tigo stick is gone")
        rig.cli("cases", "status", tracking, "resolved")
        fallback = rig.sent_to(TIGO_RESIDENT, 2)[1]
        assert tracking in fallback["text"], "the Entel modem sent it instead"
        assert len(control.sent_messages(rig.tigo_control)) == 1
    finally:
        control.clear_fault(rig.tigo_control, "vanish")  # plugged back
    wait_for(lambda: rig.query("SELECT connected FROM modem_health WHERE name = 'tigo'") == [(1,)], 60,
             "the Tigo stick to be reopened")
