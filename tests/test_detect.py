"""`barriosms modem detect` against the simulated modem's pty (pyserial, real AT exchange)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import serial
from click.testing import CliRunner

from barriosms.cli import cli
from barriosms.modem import detect
from barriosms.pipeline.gateway import Gateway
from barriosms.store import database as store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim_port(tmp_path_factory):
    folder = tmp_path_factory.mktemp("detect")
    device = folder / "modem"
    proc = subprocess.Popen([sys.executable, "-m", "barriosms", "sim", "serve", "--device", str(device),
                             "--control", str(folder / "control")], stdout=subprocess.PIPE, text=True)
    assert "simulated modem on" in proc.stdout.readline()
    yield str(device)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


def run_detect(*args: str, config: str = "/nonexistent.ini", code: int = 0):
    result = CliRunner().invoke(cli, ["--config", config, "modem", "detect", *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_probe_finds_the_modem_and_prints_config_lines(sim_port):
    answers, note = detect.probe(sim_port)
    assert answers is True and note == "barriosms SIMULATED-AT"
    out = run_detect("--port", sim_port)
    assert "yes" in out and f"device = {sim_port}" in out and "connection = at" in out
    [port] = [p for p in json.loads(run_detect("--port", sim_port, "--json")) if p["device"] == sim_port]
    assert port["answers"] is True


def test_a_port_that_does_not_answer(tmp_path):
    silent = tmp_path / "not-a-modem"
    silent.write_text("")
    answers, note = detect.probe(str(silent), timeout=0.2)
    assert answers is False and note
    assert "no" in run_detect("--port", str(silent), "--timeout", "0.2", code=1)


def test_a_locked_port_is_not_probed(sim_port):
    # Gammu locks the port it owns the same way (flock): a second opener must back off.
    with serial.Serial(sim_port, 115200, exclusive=True):
        answers, note = detect.probe(sim_port)
    assert answers is None and "in use" in note


def test_refuses_the_port_of_the_running_daemon(sim_port, tmp_path):
    db = tmp_path / "b.db"
    store.migrate_database(db)
    Gateway(modem=None, intake=None, settings=None).record_connected("x", "y", "z", "", sim_port)
    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = {sim_port}\n")
    out = run_detect("--port", sim_port, config=str(ini))
    assert "used by the running barriosms daemon: not probed" in out
    store.close()


def test_refuses_the_ports_of_every_modem_of_the_running_daemon(sim_port, tmp_path):
    """With several [modem NAME] sections, the daemon holds each one's port: none is probed."""
    other = tmp_path / "ttyUSB-tigo"
    other.write_text("")
    db = tmp_path / "b.db"
    store.migrate_database(db)
    for name, device in (("entel", sim_port), ("tigo", str(other))):
        Gateway(modem=None, intake=None, settings=None, name=name).record_connected("x", "y", "z", "", device)
    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem entel]\ndevice = {sim_port}\n"
                   f"[modem tigo]\ndevice = {other}\n")
    found = json.loads(run_detect("--port", sim_port, "--port", str(other), "--timeout", "0.2", "--json",
                                  config=str(ini)))
    notes = {p["device"]: (p["answers"], p["note"]) for p in found}
    held = (None, "used by the running barriosms daemon: not probed")
    assert notes[sim_port] == held and notes[str(other)] == held
    store.close()

def test_best_prefers_a_known_modem_maker():
    ports = [detect.Port("/dev/ttyACM0", vid=0x2341, answers=True),
             detect.Port("/dev/ttyUSB2", vid=0x12D1, answers=True),
             detect.Port("/dev/ttyUSB0", vid=0x12D1, answers=False)]
    assert detect.best(ports).device == "/dev/ttyUSB2"
    assert detect.best([detect.Port("/dev/ttyUSB0", answers=False)]) is None
