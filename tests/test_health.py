"""Judging the modem's recorded health, and `barriosms modem status` reading it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from barriosms.cli import cli
from barriosms.modem.interface import ModemStatus
from barriosms.operations import health
from barriosms.pipeline.gateway import Gateway
from barriosms.store import database as store
from barriosms.store.models import ModemHealth, utcnow

NOW = dt.datetime(2026, 11, 24, 12, 0, 0)


def row(**values) -> ModemHealth:
    defaults = dict(updated_at=NOW, connected=True, since=NOW, last_error="", sim_used=2, sim_total=30,
                    signal_percent=60)
    defaults.update(values)
    return ModemHealth(**defaults)


@pytest.mark.parametrize("health_row, state, code, problem", [
    (None, "never_started", health.NO_DAEMON, "never run"),
    (row(), "ok", health.OK, None),
    (row(updated_at=NOW - dt.timedelta(seconds=121)), "no_daemon", health.NO_DAEMON, "no heartbeat for 121 s"),
    (row(connected=False, last_error="cannot initialise the modem on /dev/ttyUSB0"), "modem_down", health.MODEM_DOWN,
     "cannot initialise"),
    (row(sim_used=30), "ok", health.OK, "the SIM is full (30/30)"),
    (row(signal_percent=5), "ok", health.OK, "very weak signal"),
])
def test_assess(health_row, state, code, problem):
    verdict = health.assess(health_row, heartbeat_seconds=30, now=NOW)
    assert (verdict.state, verdict.exit_code) == (state, code)
    if problem:
        assert any(problem in p for p in verdict.problems), verdict.problems
    else:
        assert verdict.problems == ()


def test_stale_limit_follows_the_heartbeat_setting():
    assert health.stale_after(30) == 120 and health.stale_after(300) == 900


@pytest.fixture
def status_cli(db, tmp_path):
    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/ttyUSB0\n")

    def run(code: int):
        result = CliRunner().invoke(cli, ["--config", str(ini), "modem", "status", "--json"], catch_exceptions=False)
        assert result.exit_code == code, result.output
        store.open_database(db)  # the command re-pointed the shared database; point it back for the test
        return json.loads(result.stdout)
    return run


def test_modem_status_reports_what_the_daemon_wrote(status_cli):
    assert status_cli(health.NO_DAEMON)["state"] == "never_started"
    g = Gateway(modem=None, intake=None, settings=None)  # only the health writers are used here
    g.record_connected("barriosms", "SIMULATED-AT", "356938035643809", "736020123456789", "/dev/ttyUSB0")
    g.record_status(ModemStatus(signal_percent=60, signal_dbm=-73, network_state="HomeNetwork", operator="Entel",
                                sim_used=3, sim_total=30))
    data = status_cli(health.OK)
    assert data["connected"] and data["ok"] and data["imsi"] == "736020123456789"
    assert (data["operator"], data["signal_dbm"], data["sim_used"], data["sim_total"]) == ("Entel", -73, 3, 30)
    g.record_disconnected("the modem stopped answering")
    data = status_cli(health.MODEM_DOWN)
    assert data["state"] == "modem_down" and data["last_error"] == "the modem stopped answering"
    assert data["last_error_at"] is not None
    ModemHealth.update(updated_at=utcnow() - dt.timedelta(hours=1)).execute()
    assert status_cli(health.NO_DAEMON)["state"] == "no_daemon"
