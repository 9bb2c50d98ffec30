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


def test_a_name_another_machine_uses_stops_the_gateway_and_its_own_never_does(db):
    ModemHealth.create(name="norte", updated_at=NOW, host="pi-norte (3f2a9c1b)", pid=812)
    ModemHealth.create(name="old", updated_at=NOW, host="", pid=5)  # before hosts were recorded
    why = health.name_taken(["norte"], 30, host="pi-sur (77aa01ff)", now=NOW + dt.timedelta(seconds=40))
    assert "'norte' is in use on this database by the gateway on pi-norte (3f2a9c1b)" in why
    assert "[gateway] name" in why
    # Its own machine (a restart after a power cut), a silent one, or an unknown one: it starts.
    assert health.name_taken(["norte"], 30, host="pi-norte (3f2a9c1b)", now=NOW) is None
    assert health.name_taken(["norte"], 30, host="pi-sur (77aa01ff)", now=NOW + dt.timedelta(seconds=121)) is None
    assert health.name_taken(["old", "sur"], 30, host="pi-sur (77aa01ff)", now=NOW) is None


def test_this_host_is_stable_and_names_the_machine():
    import socket

    assert health.this_host() == health.this_host()
    assert health.this_host().startswith(socket.gethostname())


def test_two_pis_with_the_same_host_name_are_told_apart_by_their_machine_id(tmp_path):
    first, second, empty, binary = (tmp_path / n for n in ("a", "b", "empty", "binary"))
    first.write_text("4f1c2d3e5a6b7c8d9e0f11223344556\n")
    second.write_text("9a8b7c6d5e4f30211223344556677889\n")
    empty.write_text("\n")
    binary.write_bytes(b"\xff\xfe")
    pi_a = health.this_host("raspberrypi", (str(first),))
    pi_b = health.this_host("raspberrypi", (str(second),))
    assert (pi_a, pi_b) == ("raspberrypi (4f1c2d3e)", "raspberrypi (9a8b7c6d)")
    # The same machine after a reboot (same id) is the same gateway.
    assert health.this_host("raspberrypi", (str(first),)) == pi_a
    # An unreadable, empty or missing first file: the next one is read; none at all: the name alone.
    for unusable in (empty, binary, tmp_path / "missing"):
        assert health.this_host("raspberrypi", (str(unusable), str(second))) == pi_b
    assert health.this_host("raspberrypi", (str(tmp_path / "missing"),)) == "raspberrypi"
    assert health.this_host("", (str(tmp_path / "missing"),)) == "localhost"


def test_modem_status_on_a_shared_database_shows_every_gateway(pg_db, tmp_path):
    url = pg_db
    store.open_database(url)
    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\nurl = {url}\n[gateway]\nname = norte\n[modem]\ndevice = /dev/ttyUSB0\n")
    here = Gateway(modem=None, intake=None, settings=None, name="norte")
    here.record_connected("barriosms", "SIMULATED-AT", "356938035643809", "736020123456789", "/dev/ttyUSB0")
    ModemHealth.create(name="sur", updated_at=utcnow() - dt.timedelta(hours=2), connected=True, host="pi-sur", pid=9)

    def status(*args: str, code: int = 0):
        result = CliRunner().invoke(cli, ["--config", str(ini), "modem", *args], catch_exceptions=False)
        store.open_database(url)
        assert result.exit_code == code, result.output
        return result

    data = json.loads(status("status", "--json", code=health.NO_DAEMON).stdout)
    gateways = {m["name"]: (m["state"], m["this_gateway"], m["host"]) for m in data["modems"]}
    assert gateways == {"norte": ("ok", True, health.this_host()), "sur": ("no_daemon", False, "pi-sur")}
    assert "[modem sur] (another gateway, on pi-sur)" in status("status", code=health.NO_DAEMON).output
    # A gateway gone for good is forgotten; one still beating is not.
    assert "forgot the modem sur" in status("forget", "sur").output
    assert "stop its daemon first" in status("forget", "norte", code=1).output
    assert json.loads(status("status", "--json").stdout)["ok"]
