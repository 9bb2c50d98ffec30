"""`barriosms doctor`: every check both ways with injected paths and clocks, then the command."""

from __future__ import annotations

import datetime as dt
import json
from collections import namedtuple
from importlib.resources import files

import pytest

from barriosms import config
from barriosms.operations import backup, doctor, runlock
from barriosms.store import database as store
from barriosms.store.migrations import LATEST_VERSION
from barriosms.store.models import InboundMessage, ModemHealth, utcnow

NOW = dt.datetime(2026, 11, 24, 12, 0, 0)
Usage = namedtuple("Usage", "total used free")
GB = 10**9


def settings_for(tmp_path, extra=""):
    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\npath = {tmp_path / 'barriosms.db'}\n[modem]\ndevice = /dev/x\n{extra}")
    return config.load(ini)


def health_row(**values) -> ModemHealth:
    defaults = dict(updated_at=NOW, connected=True, since=NOW, last_error="", sim_used=2, sim_total=30,
                    signal_percent=60, operator="Entel", device="/dev/ttyUSB0", pid=4242)
    defaults.update(values)
    return ModemHealth(**defaults)


def test_config_problems_are_one_check_each_with_their_fix(tmp_path):
    ini = tmp_path / "b.ini"
    ini.write_text("[database]\npath = b.db\n[modem]\ndevice = /dev/x\n[backup]\nkeep = 0\n[gateway]\npoll_seconds = x\n")
    checks, settings = doctor.check_config(str(ini))
    assert settings is None and [c.ok for c in checks] == [False, False]
    assert checks[0].message == f"{ini}: [gateway] poll_seconds: 'x' is not a number"
    assert checks[0].fix == "write a number from 0.5 to 3600 seconds (at least 0.5, at most 3600), e.g. poll_seconds = 5"
    assert checks[1].message == f"{ini}: [backup] keep: 0 is below the minimum 1"
    ini.write_text("[database]\npath = b.db\n[modem]\ndevice = /dev/x\n")
    [ok], settings = doctor.check_config(str(ini))
    assert ok.ok and ok.message == f"{ini} loads" and settings is not None


def test_templates_both_ways(tmp_path):
    assert doctor.check_templates(settings_for(tmp_path)).ok
    replies = tmp_path / "replies.ini"
    default = files("barriosms.templates").joinpath("replies.es.ini").read_text(encoding="utf-8")
    replies.write_text(default.replace("Numero: {tracking}", "Numero: {trackin}", 1), encoding="utf-8")
    check = doctor.check_templates(settings_for(tmp_path, f"[gateway]\nreplies = {replies}\n"))
    assert not check.ok and str(replies) in check.message and "config check" in check.fix


def test_templates_check_names_the_files_in_use(tmp_path):
    package = files("barriosms.templates")
    check = doctor.check_templates(settings_for(tmp_path))
    assert check.ok
    assert [(f["kind"], f["path"], f["edited"]) for f in check.as_dict()["files"]] == [
        ("replies", str(package.joinpath("replies.es.ini")), False),
        ("categories", str(package.joinpath("categories.es.ini")), False)]
    copy = tmp_path / "categories.es.ini"
    copy.write_text(package.joinpath("categories.es.ini").read_text(encoding="utf-8"), encoding="utf-8")
    check = doctor.check_templates(settings_for(tmp_path, "[gateway]\ncategories = categories.es.ini\n"))
    assert check.ok
    assert [(f["kind"], f["path"], f["edited"]) for f in check.as_dict()["files"]] == [
        ("replies", str(package.joinpath("replies.es.ini")), False), ("categories", str(copy), True)]
    # A broken copy: the problem, and still which files were read.
    copy.write_text("[categories]\n", encoding="utf-8")
    check = doctor.check_templates(settings_for(tmp_path, "[gateway]\ncategories = categories.es.ini\n"))
    assert not check.ok and str(copy) in check.message and check.as_dict()["files"][1]["path"] == str(copy)


def test_database_missing_sound_big_and_damaged(db, hoods, tmp_path):
    missing = doctor.check_database(tmp_path / "nothing.db")
    assert not missing.ok and missing.message == f"no database at {tmp_path / 'nothing.db'}"
    assert "barriosms db migrate" in missing.fix
    ok = doctor.check_database(db)
    assert ok.ok and ok.message.endswith("integrity_check ok")
    quick = doctor.check_database(db, big=1000)
    assert quick.ok and "quick_check ok (over 0.0 MB, so the quicker quick_check ran" in quick.message
    store.close()
    from test_backup import corrupt

    corrupt(db)
    damaged = doctor.check_database(db)
    assert not damaged.ok and damaged.message.startswith(f"{db} is damaged: integrity_check says ")
    assert "barriosms restore FILE" in damaged.fix
    (tmp_path / "text.db").write_text("hello\n" * 100)
    assert "is not an SQLite database" in doctor.check_database(tmp_path / "text.db").message


def test_schema_both_ways(db):
    assert doctor.schema_version(db) == LATEST_VERSION
    assert doctor.check_schema(LATEST_VERSION).ok
    old = doctor.check_schema(LATEST_VERSION - 1)
    assert not old.ok and "barriosms db migrate" in old.fix
    new = doctor.check_schema(LATEST_VERSION + 1)
    assert not new.ok and "newer than this barriosms" in new.message


def test_daemon_by_the_run_lock(tmp_path):
    db = tmp_path / "b.db"
    down = doctor.check_daemon(db)
    assert not down.ok and down.message == f"the daemon is not running (nothing holds {db}.lock)"
    assert "systemctl start barriosms" in down.fix
    with runlock.hold(db):
        import os
        assert doctor.check_daemon(db).message == f"the daemon runs (pid {os.getpid()})"
    assert doctor.check_daemon(db, holder=lambda p: 0).ok


def test_heartbeat_fresh_stale_and_never(db):
    assert doctor.check_heartbeat(health_row(), 30, NOW).message == "heartbeat 0 s ago (daemon pid 4242)"
    stale = doctor.check_heartbeat(health_row(updated_at=NOW - dt.timedelta(minutes=10)), 30, NOW)
    assert not stale.ok
    assert stale.message == "no heartbeat for 600 s (expected every 30 s): the daemon is stopped or stuck"
    never = doctor.check_heartbeat(None, 30, NOW)
    assert not never.ok and never.message == "the daemon has never written a heartbeat to this database"


def test_modem_connected_down_and_warnings(db):
    [ok] = doctor.check_modem(health_row(), 30, NOW)
    assert ok.ok and ok.message == "the modem is connected on /dev/ttyUSB0 (Entel, signal 60%)"
    [down] = doctor.check_modem(health_row(connected=False, last_error="cannot initialise the modem"), 30, NOW)
    assert not down.ok and down.message == "the modem is not connected: cannot initialise the modem"
    assert "barriosms modem detect" in down.fix
    ok, weak = doctor.check_modem(health_row(signal_percent=5), 30, NOW)
    assert ok.ok and not weak.ok and weak.message.startswith("very weak signal (5%)")
    [unknown] = doctor.check_modem(health_row(updated_at=NOW - dt.timedelta(hours=1)), 30, NOW)
    assert unknown.note and unknown.ok


@pytest.mark.parametrize("usage, ok", [
    (Usage(32 * GB, 10 * GB, 22 * GB), True),
    (Usage(32 * GB, 32 * GB - 150 * 10**6, 150 * 10**6), False),  # below 200 MB
    (Usage(500 * GB, 480 * GB, 20 * GB), False),  # 20 GB, but below 5 %
])
def test_disk_space(tmp_path, usage, ok):
    check = doctor.check_disk(tmp_path / "data" / "b.db", disk_usage=lambda path: usage)
    assert check.ok is ok
    if not ok:
        assert check.message.startswith("only ") and f"on the filesystem of {tmp_path}" in check.message
        assert "journalctl --vacuum-size" in check.fix


def test_clock_in_the_past_before_the_newest_message_and_sane():
    old = doctor.check_clock(dt.datetime(1970, 1, 1, 0, 5), None)
    assert not old.ok and old.message == "the clock says 1970-01-01 00:05 UTC, before this release (2026-11-01)"
    assert "timedatectl" in old.fix and "NTP" in old.fix
    behind = doctor.check_clock(NOW, NOW + dt.timedelta(days=3))
    assert not behind.ok and "more than a day before the newest message" in behind.message
    assert doctor.check_clock(NOW, NOW + dt.timedelta(hours=20)).ok
    assert doctor.check_clock(NOW, None).ok


def test_newest_received_is_read_from_the_database(db):
    assert doctor.newest_received(db) is None
    InboundMessage.create(dedupe_key="k", sender="+59171234567", phone="+59171234567", text="hola",
                          received_at=NOW, parts=1, incomplete=False, coding="gsm", intent="help", needs_staff=False)
    assert doctor.newest_received(db) == NOW


def test_journald_only_under_systemd(tmp_path):
    runtime, socket = tmp_path / "system", tmp_path / "socket"
    note = doctor.check_journald(socket, runtime)
    assert note.ok and note.note and note.message.startswith("not running under systemd")
    runtime.mkdir()
    missing = doctor.check_journald(socket, runtime)
    assert not missing.ok and "systemctl restart systemd-journald" in missing.fix
    socket.touch()
    assert doctor.check_journald(socket, runtime).ok


def test_backups_none_old_and_fresh(db, tmp_path):
    folder = tmp_path / "backups"
    none = doctor.check_backups(folder, NOW)
    assert not none.ok and none.message == f"no backup in {folder}" and "barriosms-backup.timer" in none.fix
    backup.make(db, folder, keep=5, now=NOW - dt.timedelta(days=3))
    old = doctor.check_backups(folder, NOW)
    assert not old.ok and "is 3.0 days old (barriosms-20261121-120000.db)" in old.message
    backup.make(db, folder, keep=5, now=NOW - dt.timedelta(hours=5))
    fresh = doctor.check_backups(folder, NOW)
    assert fresh.ok and fresh.message == f"newest backup barriosms-20261124-070000.db, 5 h old (2 in {folder})"


# -- the command ----------------------------------------------------------------------------------

@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A roomy disk and systemd with journald, whatever the machine running the tests has."""
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(32 * GB, 10 * GB, 22 * GB))
    (tmp_path / "systemd").mkdir()
    (tmp_path / "journal-socket").touch()
    monkeypatch.setattr(doctor, "SYSTEMD_RUNTIME", tmp_path / "systemd")
    monkeypatch.setattr(doctor, "JOURNAL_SOCKET", tmp_path / "journal-socket")


def test_doctor_exits_0_on_a_healthy_gateway(ready, tmp_path, machine):
    ready("backup")
    ModemHealth.create(id=1, updated_at=utcnow(), connected=True, since=utcnow(), device="/dev/ttyUSB0",
                       operator="Entel", signal_percent=70, sim_used=1, sim_total=30, pid=4242)
    with runlock.hold(tmp_path / "b.db"):  # as the daemon does
        result = ready("doctor")
        data = json.loads(ready("doctor", "--json").output)
    assert "PROBLEM" not in result.output and "all checks passed" in result.output
    assert data["ok"] and data["problems"] == 0
    names = [c["name"] for c in data["checks"]]
    assert names == ["config", "templates", "database", "schema", "daemon", "heartbeat", "modem", "disk", "clock",
                     "journald", "backups"]
    # Which SMS texts and categories run, in both forms (here the package's own files).
    replies = str(files("barriosms.templates").joinpath("replies.es.ini"))
    assert f"OK       templates  SMS texts and categories (es) load\n{'':<20}SMS texts:  {replies} (built into the package" \
        in result.output
    [templates] = [c for c in data["checks"] if c["name"] == "templates"]
    assert templates["files"][0] == {"kind": "replies", "path": replies, "edited": False, "key": "[gateway] replies"}
    assert all("files" not in c for c in data["checks"] if c["name"] != "templates")


def test_doctor_exits_1_and_says_the_fix(ready, tmp_path, machine):
    result = ready("doctor", code=1)
    assert "PROBLEM  daemon     the daemon is not running" in result.output
    assert "fix: start it: `sudo systemctl start barriosms`" in result.output
    assert "PROBLEM  backups    no backup in" in result.output and "problem(s) to fix" in result.output
    data = json.loads(ready("doctor", "--json", code=1).output)
    assert not data["ok"] and {c["name"] for c in data["checks"] if not c["ok"]} == {"daemon", "heartbeat", "backups"}


def test_doctor_with_a_broken_config_still_reports(invoke, ini):
    ini.write_text(ini.read_text() + "[backup]\nkep = 3\n")
    result = invoke("doctor", code=1)
    assert "PROBLEM  config" in result.output and "[backup] kep: unknown key" in result.output
    assert "skipped until the configuration loads" in result.output


def test_doctor_names_the_stick_that_is_down(ready, ini, tmp_path, machine):
    text = ini.read_text().replace("[modem]\ndevice = /dev/ttyUSB0\n",
                                   "[modem entel]\ndevice = /dev/ttyUSB0\n[modem tigo]\ndevice = /dev/ttyUSB2\n")
    ini.write_text(text)
    ready("backup")
    ModemHealth.create(name="entel", updated_at=utcnow(), connected=True, since=utcnow(), device="/dev/ttyUSB0",
                       operator="Entel", signal_percent=70, pid=4242)
    ModemHealth.create(name="tigo", updated_at=utcnow(), connected=False, since=utcnow(), device="/dev/ttyUSB2",
                       last_error="No such file or directory", pid=4242)
    with runlock.hold(tmp_path / "b.db"):
        data = json.loads(ready("doctor", "--json", code=1).output)
    modem = [c for c in data["checks"] if c["name"] == "modem"]
    assert [c["ok"] for c in modem] == [True, False]
    assert modem[0]["message"].startswith("[entel] the modem is connected")
    assert modem[1]["message"] == "[tigo] the modem is not connected: No such file or directory"
