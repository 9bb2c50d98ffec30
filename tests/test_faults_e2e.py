"""Every fault profile of the simulated modem against the real daemon and real Gammu: the daemon
stays up, recovers within a stated time once the fault clears, loses no message and creates no
duplicate case or reply."""

from __future__ import annotations

import collections
import itertools
import signal
import time

import pytest
from conftest import SAMPLE_CSV, started_rig

from barriosms.sim import control
from barriosms.sim.rig import Rig, wait_for

pytestmark = pytest.mark.slow

# Stated recovery times, from the fault being cleared to every message answered.
RECOVERY = {"default": 30, "hang": 45, "cmgl_hang": 45, "vanish": 45}
_numbers = itertools.count(1)


def residents(n: int) -> list[str]:
    return [f"+5916{next(_numbers):07d}" for _ in range(n)]


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    yield from started_rig(tmp_path_factory.mktemp("faults"), poll_seconds=2,
            gateway_options={"retry_base_seconds": 1, "retry_max_seconds": 4, "send_attempts": 8,
                             "modem_timeout": 15})


@pytest.fixture(autouse=True)
def clean_faults(request):
    yield
    if "rig" in request.fixturenames:
        control.clear_fault(str(request.getfixturevalue("rig").control))


def report(rig: Rig, numbers: list[str]) -> None:
    for i, number in enumerate(numbers):
        rig.text(number, f"B{(i % 15) + 1:02d} problema de prueba {number}")


def answered(rig: Rig, numbers: list[str], timeout: float) -> None:
    """Each number got exactly one reply, one case and one stored message; the daemon is alive."""
    wait_for(lambda: set(numbers) <= {m["to"] for m in rig.sent()}, timeout, f"replies to {numbers}")
    time.sleep(1)  # a duplicate would show up right after
    replies = collections.Counter(m["to"] for m in rig.sent() if m["to"] in numbers)
    assert all(n == 1 for n in replies.values()), replies
    for number in numbers:
        assert rig.query('SELECT COUNT(*) FROM "case" WHERE phone = ?', (number,)) == [(1,)], number
        assert rig.query("SELECT COUNT(*) FROM inbound_message WHERE phone = ?", (number,)) == [(1,)], number
    assert rig.daemon_proc.poll() is None


def fault_then_recover(rig: Rig, name: str, seconds: float, **args) -> list[str]:
    control.set_fault(str(rig.control), name, **args)
    numbers = residents(2)
    report(rig, numbers)
    time.sleep(seconds)
    control.clear_fault(str(rig.control), name)
    answered(rig, numbers, RECOVERY.get(name, RECOVERY["default"]))
    return numbers


def test_flood_of_unsolicited_lines(rig):
    control.set_fault(str(rig.control), "flood", interval=0.05)
    numbers = residents(3)
    report(rig, numbers)
    answered(rig, numbers, 20)  # answered while the flood goes on


def test_cmgl_error_falls_back_to_reading_each_slot(rig):
    control.set_fault(str(rig.control), "cmgl_error")
    numbers = residents(3)
    report(rig, numbers)
    answered(rig, numbers, 20)


def test_no_notifications_are_covered_by_polling(rig):
    control.set_fault(str(rig.control), "no_cmti")
    numbers = residents(2)
    report(rig, numbers)
    answered(rig, numbers, 15)  # poll_seconds = 2


def test_failed_delete_never_duplicates(rig):
    control.set_fault(str(rig.control), "cmgd_fail")
    numbers = residents(2)
    report(rig, numbers)
    answered(rig, numbers, 20)
    time.sleep(5)  # the messages are read again at every poll while deletion fails
    answered(rig, numbers, 1)
    control.clear_fault(str(rig.control), "cmgd_fail")
    wait_for(lambda: rig.sim_status()["used"] == 0, 20, "the SIM to be emptied once deleting works")


def test_slow_sends(rig):
    control.set_fault(str(rig.control), "slow_send", seconds=2)
    numbers = residents(2)
    report(rig, numbers)
    answered(rig, numbers, 30)


def test_transient_send_error_is_retried(rig):
    control.set_fault(str(rig.control), "send_error", code=38, count=2)
    [number] = residents(1)
    report(rig, [number])
    answered(rig, [number], 30)
    [(status, attempts)] = rig.query("SELECT status, attempts FROM outbound_message WHERE recipient = ?", (number,))
    # A network-level cause pauses sending instead of using up the message's attempts.
    assert status == "sent" and attempts == 1
    assert "sending paused" in rig.daemon_log.read_text()


def test_permanent_send_error_fails_at_once_with_the_reason(rig):
    control.set_fault(str(rig.control), "send_error", code=1)
    [number] = residents(1)
    report(rig, [number])
    wait_for(lambda: rig.query("SELECT status FROM outbound_message WHERE recipient = ?", (number,)) == [("failed",)],
             20, "the reply marked failed")
    [(attempts, error)] = rig.query("SELECT attempts, last_error FROM outbound_message WHERE recipient = ?", (number,))
    assert attempts == 1 and "+CMS ERROR 1" in error and "permanent" in error
    assert rig.query('SELECT COUNT(*) FROM "case" WHERE phone = ?', (number,)) == [(1,)]


def test_not_registered_then_registered(rig):
    fault_then_recover(rig, "unregistered", 6)


def test_hung_modem(rig):
    fault_then_recover(rig, "hang", 8)


def test_cmgl_never_answering(rig):
    fault_then_recover(rig, "cmgl_hang", 8)


def test_device_vanishes_and_comes_back(rig):
    fault_then_recover(rig, "vanish", 6)
    assert "is back" in rig.daemon_log.read_text() or "modem connected" in rig.daemon_log.read_text()


def test_delivery_reports_are_matched(rig):
    control.set_fault(str(rig.control), "delivery_reports", delay=0.5)
    [number] = residents(1)
    report(rig, [number])
    answered(rig, [number], 20)
    wait_for(lambda: rig.query("SELECT delivery FROM outbound_message WHERE recipient = ?", (number,))
             == [("delivered",)], 20, "the delivery report")
    listed = [m for m in rig.cli_json("outbox", "list") if m["to"] == number]
    assert listed[0]["delivery"] == "delivered" and listed[0]["delivered_at"]


def test_empty_smsc_is_explained_then_fixed_by_config_and_reload(tmp_path):
    with Rig(tmp_path / "smsc", poll_seconds=2, gateway_options={"retry_base_seconds": 1, "retry_max_seconds": 2,
                                                                  "send_attempts": 30}) as rig:
        rig.setup(SAMPLE_CSV)
        rig.start_sim("--fault", "empty_smsc")
        rig.start_daemon()
        [number] = residents(1)
        report(rig, [number])
        wait_for(lambda: "[modem] smsc" in "".join(
            e for (e,) in rig.query("SELECT last_error FROM outbound_message WHERE recipient = ?", (number,))),
            30, "the reason in the outbox")
        rig.config.write_text(rig.config.read_text().replace("connection = at", "connection = at\nsmsc = +59170000000"))
        rig.daemon_proc.send_signal(signal.SIGHUP)
        answered(rig, [number], 40)
        assert rig.stop()["daemon"] == 0


def test_sim_pin_from_the_config(tmp_path):
    with Rig(tmp_path / "pin", poll_seconds=2) as rig:
        rig.setup(SAMPLE_CSV)
        rig.config.write_text(rig.config.read_text().replace("connection = at", "connection = at\npin = 1234"))
        rig.start_sim("--fault", "pin:pin=1234")
        rig.start_daemon()
        [number] = residents(1)
        report(rig, [number])
        answered(rig, [number], 20)
        assert "unlocked with the PIN" in rig.daemon_log.read_text()
        assert rig.stop()["daemon"] == 0


def test_modem_status_and_ussd_through_the_daemon(rig):
    status = rig.cli("modem", "status", "--json")
    import json
    data = json.loads(status.stdout)
    assert data["state"] == "ok" and data["manufacturer"] == "barriosms" and data["imsi"] == "736020123456789"
    assert rig.cli("modem", "ussd", "*105#").stdout.strip() == "Su saldo es Bs 12.50. Vigencia 30/12/2026"


@pytest.mark.gammu_cli
@pytest.mark.skipif(__import__("shutil").which("gammu") is None, reason="Debian's gammu command is not installed")
def test_sigusr1_lends_the_modem_to_the_gammu_command_and_sigusr2_takes_it_back(rig, tmp_path):
    import json
    import subprocess

    rig.daemon_proc.send_signal(signal.SIGUSR1)
    wait_for(lambda: json.loads(rig.cli("modem", "status", "--json", check=False).stdout)["state"] == "modem_down",
             20, "the daemon to let go of the modem")
    gammurc = tmp_path / "gammurc"
    gammurc.write_text(f"[gammu]\ndevice = {rig.device}\nconnection = at\nmodel = at\n")
    numbers = residents(1)
    report(rig, numbers)  # arrives while the technician has the modem: waits on the SIM
    out = subprocess.run(["gammu", "-c", str(gammurc), "identify"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "barriosms" in out.stdout, out.stdout + out.stderr
    rig.daemon_proc.send_signal(signal.SIGUSR2)
    answered(rig, numbers, 30)
