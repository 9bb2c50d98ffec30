"""What python-gammu prints on C's stdout reaches the log in our words (barriosms/modem/gammu_output.py).

The fast tests print python-gammu's own lines with the C library's printf, as python-gammu does;
the slow one drives the real daemon and real Gammu over the simulated modem through a burst.
"""

from __future__ import annotations

import ctypes
import logging
import re

import pytest
from conftest import SAMPLE_CSV

from barriosms.modem import gammu_output
from barriosms.modem.gammu_output import QUEUE_PLACES, GammuOutput
from barriosms.sim import control
from barriosms.sim.rig import Rig, wait_for

OVERFLOW = b"python-gammu: ERROR: Incoming SMS queue overflow!\n"
LOGGER = "barriosms.modem.gammu_output"

libc = ctypes.CDLL(None)
libc.fflush.argtypes = [ctypes.c_void_p]


def c_printf(line: bytes) -> None:
    """As python-gammu's pyg_error does: C's printf, on whatever C's `stdout` is now."""
    libc.printf(b"%s", line)


def records(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def test_a_burst_of_overflow_lines_is_one_warning_with_the_count(caplog, capfd):
    caplog.set_level(logging.INFO, logger=LOGGER)
    with GammuOutput(quiet=0.2):
        for _ in range(25):
            c_printf(OVERFLOW)
        c_printf(b"python-gammu: ERROR: Discarding incoming SMS event due to conversion error!\n")
        c_printf(b"some other library talking\n")
    [other, warning] = records(caplog, logging.WARNING)  # the burst is told once it is over
    assert f"its queue of {QUEUE_PLACES} notifications was full and it dropped 25 more" in warning
    assert "No SMS is lost" in warning and "nothing to do" in warning
    assert "Incoming SMS queue overflow!" in warning  # what a technician may search for
    assert other.startswith("python-gammu dropped a new-SMS notification (conversion error). No SMS is lost")
    assert records(caplog, logging.INFO) == ["printed by a C library on standard output: some other library talking"]
    libc.fflush(None)
    assert "python-gammu" not in capfd.readouterr().out  # nothing raw on standard output


def test_bursts_apart_are_told_apart_and_stdout_is_given_back(caplog, capfd):
    caplog.set_level(logging.INFO, logger=LOGGER)
    with GammuOutput(quiet=0.2):
        for _ in range(3):
            c_printf(OVERFLOW)
        wait_for(lambda: records(caplog, logging.WARNING), 5, "the first burst to be told")
        c_printf(OVERFLOW)
    assert [re.search(r"dropped (\d+)", w).group(1) for w in records(caplog, logging.WARNING)] == ["3", "1"]
    c_printf(b"after close\n")
    libc.fflush(None)
    assert capfd.readouterr().out == "after close\n"  # C's stdout is where it was before


def test_capture_is_on_for_the_daemon_on_glibc():
    output = gammu_output.capture()
    try:
        assert output is not None  # Debian and Raspberry Pi OS are glibc, as python-gammu's wheels need
    finally:
        if output is not None:
            output.close()


@pytest.mark.slow
def test_a_burst_while_the_daemon_sends_is_stored_whole_and_logged_in_our_words(tmp_path):
    """45 SMS arrive while the modem thread is inside a slow AT+CMGS: the modem holds their +CMTI
    lines and releases them together, far more than python-gammu's queue holds."""
    burst = 45
    rig = Rig(tmp_path, slots=60)
    rig.setup(SAMPLE_CSV)
    rig.start_sim("--fault", "slow_send:seconds=3")
    try:
        rig.start_daemon()
        rig.text("+59171234567", "AYUDA")  # its reply keeps the modem thread busy for 3 s

        def sending() -> bool:
            lines = control.send_request(str(rig.control), {"cmd": "commands"})["commands"]
            return any(c["line"].upper().startswith("AT+CMGS=") for c in lines)
        wait_for(sending, 30, "the reply's AT+CMGS")
        for i in range(burst):
            # Named senders are stored and never answered: nothing else keeps the modem busy.
            rig.text(f"AVISO{i:02d}", f"aviso numero {i} del operador")
        assert rig.sim_status()["used"] >= burst  # all on the SIM, their +CMTI held by the busy modem
        wait_for(lambda: rig.query("SELECT COUNT(*) FROM inbound_message") == [(burst + 1,)], 60,
                 "every message of the burst to be stored")
        wait_for(lambda: rig.sim_status()["used"] == 0, 30, "the SIM to be emptied")
    finally:
        codes = rig.stop()
    log = rig.daemon_log.read_text(errors="replace")
    assert codes["daemon"] == 0, log[-3000:]
    assert "python-gammu: ERROR" not in log  # the raw line that reached this log before
    told = re.findall(r"WARNING barriosms\.modem\.gammu_output: the modem announced more new SMS at once than "
                      r"python-gammu can queue: its queue of 10 notifications was full and it dropped (\d+) more .*"
                      r"No SMS is lost", log)
    assert told, log[-3000:]
    assert 0 < sum(map(int, told)) <= burst - QUEUE_PLACES
