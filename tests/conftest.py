"""Shared fixtures: a real SQLite file per test, migrated the way `barriosms db migrate` does it."""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from barriosms.store import database as store
from barriosms.store.models import Neighborhood

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CSV = ROOT / "config" / "neighborhoods-lapaz.csv"

# Property-based tests (hypothesis): no deadline (a real SQLite file and real Gammu are slower on a
# Raspberry Pi or a busy CI machine than on a laptop, and a deadline would make them flaky), a fixed
# derandomised run in CI so a red run can be repeated. Fast tests keep their own small example
# counts; the `slow` variants ask for thousands with `@settings(max_examples=BIG)`.
settings.register_profile("barriosms", deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("barriosms"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "barriosms")
# The example count of the slow suite's property-based tests (see above).
BIG = 2000


# Residents in the end-to-end tests are scripts: they answer our SMS within milliseconds, faster
# than any person, and the loop guard would rightly take them for machines. Tests of other things
# turn its pace checks off; tests/test_guard_e2e.py runs the shipped settings against both paces.
SCRIPT_PACE = {"loop_fast_seconds": 0, "loop_typing_chars_per_second": 0}


def started_rig(folder, **options):
    """For a module's `rig` fixture (`yield from started_rig(...)`): a whole gateway (the sample
    neighbourhoods, the simulated modem, the real daemon) in `folder`; stopped afterwards, and the
    daemon must then exit 0. Without `service_options` the residents' pace is not checked
    (SCRIPT_PACE)."""
    from barriosms.sim.rig import Rig

    options.setdefault("service_options", SCRIPT_PACE)
    rig = Rig(folder, **options)
    rig.setup(SAMPLE_CSV)
    rig.start_sim()
    rig.start_daemon()
    yield rig
    codes = rig.stop()
    assert codes["daemon"] == 0, rig.daemon_log.read_text(errors="replace")[-3000:]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "barriosms.db"
    store.migrate_database(path)
    yield path
    store.close()


@pytest.fixture
def hoods(db):
    from barriosms.staff.neighborhoods import import_csv

    import_csv(SAMPLE_CSV)
    return {n.code: n for n in Neighborhood.select()}


# When the reports of `report` arrive: one a minute from then on.
T0 = dt.datetime(2026, 11, 24, 12, 0)


@pytest.fixture
def report(hoods):
    """Opens a case for each report given (phone, text), as the intake does, and drops the replies."""
    from barriosms.modem.interface import ReceivedSms
    from barriosms.pipeline.intake import Intake, IntakeRules
    from barriosms.store.models import Case, OutboundMessage
    from barriosms.templates.loader import load_categories, load_templates

    intake = Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(5))
    count = iter(range(1, 1000))

    def opened(phone: str, text: str) -> Case:
        n = next(count)
        at = T0 + dt.timedelta(minutes=n)
        intake.store(ReceivedSms(location=n, sender=phone, text=text, smsc_time=at), now=at)
        OutboundMessage.delete().execute()
        return Case.select().order_by(Case.id.desc()).get()

    return opened


@pytest.fixture
def unmatched(hoods):
    """Stores an SMS that names no neighbourhood, as the intake does: it waits for staff."""
    from barriosms.modem.interface import ReceivedSms
    from barriosms.pipeline.intake import Intake, IntakeRules
    from barriosms.store.models import InboundMessage, OutboundMessage
    from barriosms.templates.loader import load_categories, load_templates

    intake = Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(7))

    def stored(phone: str, text: str) -> InboundMessage:
        at = dt.datetime(2026, 11, 24, 11, 0)
        intake.store(ReceivedSms(location=900, sender=phone, text=text, smsc_time=at), now=at)
        OutboundMessage.delete().execute()
        return InboundMessage.get(InboundMessage.phone == phone)

    return stored


# The staff CLI through click's runner, against a config in tmp_path (shared by the CLI tests).
@pytest.fixture
def ini(tmp_path):
    p = tmp_path / "barriosms.ini"
    p.write_text(f"[database]\npath = {tmp_path / 'b.db'}\n[modem]\ndevice = /dev/ttyUSB0\n")
    return p


@pytest.fixture
def invoke(ini):
    from click.testing import CliRunner

    from barriosms.cli import cli

    runner = CliRunner()

    def run(*args: str, code: int = 0, input: str | None = None):
        result = runner.invoke(cli, ["--config", str(ini), *args], catch_exceptions=False, input=input)
        assert result.exit_code == code, result.output
        return result
    yield run
    store.close()


@pytest.fixture
def ready(invoke):
    invoke("db", "migrate")
    invoke("neighborhoods", "import", str(SAMPLE_CSV))
    return invoke


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server on a loopback port (skips, saying why, where none can be started)."""
    from pgserver import Server, Unavailable

    try:
        server = Server()
        server.start()
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_db(pg_server, request):
    """A fresh PostgreSQL database, migrated the way `barriosms db migrate` does it; its URL."""
    import re

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50]
    url = pg_server.create_database(name)
    store.migrate_database(url)
    yield url
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def either_db(request):
    """The migrated store on SQLite, then on a throwaway PostgreSQL (skipped where none starts)."""
    return request.getfixturevalue("db" if request.param == "sqlite" else "pg_db")


def pytest_report_header(config):
    """Which python-gammu and Gammu the suites run against (the wheel's, or Debian's on a 32-bit Pi)."""
    try:
        import gammu
    except ImportError:
        return "python-gammu: not installed"
    gammu_version, python_gammu, _ = gammu.Version()
    return f"python-gammu {python_gammu} with Gammu {gammu_version} ({gammu.__file__})"
