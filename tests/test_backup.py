"""Backups, their rotation and restore, on real SQLite files; the [backup] settings."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections import namedtuple
from pathlib import Path

import pytest

from barriosms import config
from barriosms.operations import backup, runlock
from barriosms.store import database as store
from barriosms.store import migrations
from barriosms.store.migrations import LATEST_VERSION

T0 = dt.datetime(2026, 11, 20, 3, 0, 0)
Usage = namedtuple("Usage", "total used free")


def open_case(text: str, sender: str) -> str:
    from barriosms.modem.interface import ReceivedSms
    from barriosms.pipeline.intake import Intake, IntakeRules
    from barriosms.store.models import Case
    from barriosms.templates.loader import load_categories, load_templates

    Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(7)).store(
        ReceivedSms(location=1, sender=sender, text=text))
    return Case.select().order_by(Case.id.desc()).get().tracking


def count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def corrupt(path: Path) -> None:
    """Scribble over the cell pointers of an index page: integrity_check finds it, reading may not."""
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'neighborhood_code'").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute("PRAGMA journal_mode=DELETE").fetchall()  # everything in the main file
    conn.close()
    with open(path, "r+b") as fh:
        fh.seek((root - 1) * size + 8)
        fh.write(b"\x07" * 40)


# -- backup ---------------------------------------------------------------------------------------

def test_backup_is_one_verified_self_contained_file(db, hoods, tmp_path):
    folder = tmp_path / "backups"
    made = backup.make(db, folder, keep=14, now=T0)
    assert made.path == folder / "barriosms-20261120-030000.db"
    assert made.size == made.path.stat().st_size and made.removed == ()
    assert made.schema_version == LATEST_VERSION
    assert os.listdir(folder) == [made.path.name]  # no -wal, -journal or temporary beside it
    assert backup.integrity(made.path) == ["ok"]
    assert count(made.path, "SELECT COUNT(*) FROM neighborhood") == len(hoods)
    assert count(made.path, "PRAGMA journal_mode") == "delete"
    assert made.path.stat().st_mode & 0o777 == backup.FILE_MODE


def test_backup_while_another_connection_writes_is_a_consistent_snapshot(db, tmp_path):
    stop = threading.Event()
    written = []

    def writer():
        conn = sqlite3.connect(db, timeout=30)
        i = 0
        while not stop.is_set():
            with conn:  # two rows per transaction: a consistent copy always holds an even number
                for half in "ab":
                    conn.execute("INSERT INTO neighborhood (code, name, district, created_at, aliases) "
                                 "VALUES (?, ?, '', '2026-11-20 00:00:00', '')", (f"W{i}{half}", f"w {i}"))
            i += 1
            written.append(i)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        made = []
        for n in range(5):
            while len(written) < 20 * (n + 1):
                pass
            made.append(backup.make(db, tmp_path / "backups", keep=14, now=T0 + dt.timedelta(seconds=n)))
    finally:
        stop.set()
        thread.join(10)
    counts = [count(m.path, "SELECT COUNT(*) FROM neighborhood WHERE code LIKE 'W%'") for m in made]
    assert all(c % 2 == 0 for c in counts) and counts == sorted(counts) and counts[-1] > 0
    assert all(backup.integrity(m.path) == ["ok"] for m in made)


def test_rotation_keeps_the_newest_and_never_touches_other_files(db, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    others = ["notes.txt", "barriosms-old.db", "barriosms-20261399-000000.db", "mine.db"]
    for name in others:
        (folder / name).write_text("not a backup")
    for n in range(6):
        made = backup.make(db, folder, keep=3, now=T0 + dt.timedelta(days=n))
    assert [b.taken_at.day for b in backup.list_backups(folder)] == [23, 24, 25]
    assert [p.name for p in made.removed] == ["barriosms-20261122-030000.db"]
    # A clock gone back (a Pi without RTC before NTP): the new backup is the "oldest", and still kept.
    past = backup.make(db, folder, keep=3, now=dt.datetime(1970, 1, 1))
    assert past.path.exists() and len(backup.list_backups(folder)) == 3
    assert sorted(p.name for p in folder.iterdir() if p.name in others) == sorted(others)


def test_a_target_that_cannot_be_a_folder_leaves_nothing(db, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(backup.BackupError, match="cannot create the backup folder"):
        backup.make(db, blocker / "backups", keep=3)
    assert blocker.read_text() == "x"


def test_not_enough_free_space_is_said_before_writing(db, tmp_path):
    folder = tmp_path / "backups"
    with pytest.raises(backup.BackupError, match="not enough free space") as refused:
        backup.make(db, folder, keep=3, disk_usage=lambda p: Usage(10**9, 10**9 - 1000, 1000))
    assert "--to FOLDER" in str(refused.value)
    assert list(folder.iterdir()) == []


def test_a_disk_that_fills_up_while_writing_leaves_no_half_file(db, tmp_path):
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany("INSERT INTO neighborhood (code, name, district, created_at, aliases) "
                         "VALUES (?, ?, '', '2026-11-20 00:00:00', '')", [(f"F{i}", "x" * 500) for i in range(2000)])
    conn.close()
    folder = tmp_path / "backups"
    folder.mkdir()
    # A file size limit makes the kernel refuse writes past 64 kB, as a full disk would.
    script = textwrap.dedent("""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        from barriosms.operations import backup
        try:
            backup.make(sys.argv[1], sys.argv[2], 3)
        except backup.BackupError as exc:
            print(exc)
            sys.exit(3)
    """)
    done = subprocess.run([sys.executable, "-c", script, str(db), str(folder)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 3, done.stderr
    assert "the backup into" in done.stdout and "Nothing was left behind" in done.stdout
    assert list(folder.iterdir()) == []


def test_cli_backup_prints_path_size_and_time_and_fails_clearly(ready, tmp_path):
    out = ready("backup").output
    assert str(tmp_path / "backups" / "barriosms-") in out and " MB in " in out and "integrity ok" in out
    data = json.loads(ready("backup", "--to", str(tmp_path / "usb"), "--json").output)
    assert data["integrity"] == "ok" and data["size"] > 0 and data["seconds"] >= 0
    assert Path(data["path"]).parent == tmp_path / "usb"
    (tmp_path / "afile").write_text("x")
    failed = ready("backup", "--to", str(tmp_path / "afile" / "sub"), code=1)
    assert "Error: cannot create the backup folder" in failed.output


def test_backup_to_another_folder_deletes_nothing_there_unless_told(ready, tmp_path):
    """`--to` names a folder of the person's (a USB stick with an archive of copies): rotation by name
    used to delete all but [backup] keep of the backups there, even ones copied in by hand."""
    archive = [f"barriosms-202601{day:02d}-030000.db" for day in range(1, 21)]  # more than keep (14)
    usb, rotated = tmp_path / "usb", tmp_path / "rotated"
    for folder in (usb, rotated):
        folder.mkdir()
        for name in archive:
            (folder / name).write_text("a copy kept on purpose")
    data = json.loads(ready("backup", "--to", str(usb), "--json").output)
    assert data["removed"] == []
    assert all((usb / name).read_text() == "a copy kept on purpose" for name in archive)
    assert len(backup.list_backups(usb)) == 21
    # Asked for, rotation there is what it is in the backups folder: the newest N, the new one among them.
    data = json.loads(ready("backup", "--to", str(rotated), "--keep", "3", "--json").output)
    assert len(data["removed"]) == 18 and len(backup.list_backups(rotated)) == 3
    assert Path(data["path"]).exists()


def test_backup_to_standard_output_is_refused_clearly(ready, tmp_path, monkeypatch):
    """A backup is a verified SQLite file in a folder: `--to -` made a folder named `-`."""
    monkeypatch.chdir(tmp_path)
    result = ready("backup", "--to", "-", code=1)
    assert "standard output" in result.output and "--to FOLDER" in result.output
    assert not (tmp_path / "-").exists()


# -- restore --------------------------------------------------------------------------------------

def test_restore_round_trip_keeps_the_old_database(ready, tmp_path):
    first = open_case("B12 hay un bache grande en la calle 3", "+59171234567")
    made = json.loads(ready("backup", "--json").output)
    second = open_case("B02 no hay luz en la plaza", "+59171111111")
    database = tmp_path / "b.db"

    done = json.loads(ready("restore", made["path"], "--yes", "--json").output)
    assert done["database"] == str(database) and done["cases"] == 1 and done["migrations"] == []
    assert [c["tracking"] for c in json.loads(ready("cases", "list", "--json").output)] == [first]
    kept = Path(done["kept"])
    assert kept.name.startswith("b.db.before-restore-") and done["kept_how"] == "backup API"
    assert count(kept, 'SELECT COUNT(*) FROM "case"') == 2
    assert count(kept, "SELECT tracking FROM \"case\" ORDER BY id DESC") == second
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert runlock.holder(database) is None  # the lock taken for the restore is given back


def test_restore_is_refused_while_the_daemon_holds_the_lock(db, hoods, tmp_path):
    made = backup.make(db, tmp_path / "backups", keep=3, now=T0)
    store.close()
    before = db.read_bytes()
    with runlock.hold(db):  # another open file description: what a running daemon has
        with pytest.raises(backup.BackupError, match=f"the daemon is running \\(pid {os.getpid()}\\)") as refused:
            backup.restore(db, made.path)
    assert "systemctl stop barriosms" in str(refused.value)
    assert db.read_bytes() == before and not list(tmp_path.glob("*before-restore*"))


@pytest.mark.parametrize("make_bad, expected", [
    (lambda p: p.write_text("just some text\n" * 100), "is not an SQLite database"),
    (lambda p: sqlite3.connect(p).execute("CREATE TABLE t (x)").connection.close(), "not a barriosms one"),
    (corrupt, "is damaged"),
], ids=["text", "other-sqlite", "corrupt"])
def test_restore_refuses_a_file_that_is_no_sound_barriosms_database(db, hoods, tmp_path, make_bad, expected):
    bad = tmp_path / "bad.db"
    if make_bad is corrupt:
        backup.make(db, tmp_path / "backups", keep=3, now=T0)
        shutil.copy(backup.list_backups(tmp_path / "backups")[0].path, bad)
    make_bad(bad)
    store.close()
    before = db.read_bytes()
    with pytest.raises(backup.BackupError, match=expected) as refused:
        backup.restore(db, bad)
    assert str(refused.value).startswith("not restored:")
    assert db.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if "restore" in p.name or p.name.endswith(".tmp")]


def test_restore_refuses_a_newer_schema_and_cli_says_so(ready, tmp_path):
    made = Path(json.loads(ready("backup", "--json").output)["path"])
    conn = sqlite3.connect(made)
    with conn:
        conn.execute("INSERT INTO schema_migration VALUES (?, 'from the future', '2027-01-01')", (LATEST_VERSION + 1,))
    conn.close()
    failed = ready("restore", str(made), "--yes", code=1)
    assert f"newer than this barriosms ({LATEST_VERSION}): upgrade barriosms first" in failed.output
    assert ready("restore", str(tmp_path / "nowhere.db"), "--yes", code=1).output.count("does not exist") == 1


def test_an_older_backup_is_migrated_after_restore(tmp_path, monkeypatch):
    old = tmp_path / "old.db"
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:-1])
    store.migrate_database(old)
    store.close()
    monkeypatch.undo()
    database = tmp_path / "data" / "b.db"  # nothing there yet: a new SD card
    done = backup.restore(database, old)
    assert done.kept is None and done.migrations == (LATEST_VERSION,)
    assert count(database, 'SELECT MAX("version") FROM schema_migration') == LATEST_VERSION


def test_saying_no_changes_nothing(db, hoods, tmp_path):
    made = backup.make(db, tmp_path / "backups", keep=3, now=T0)
    open_case("B12 hay un bache grande en la calle 3", "+59171234567")
    store.close()
    before = db.read_bytes()
    plans = []
    with pytest.raises(backup.RestoreCancelled):
        backup.restore(db, made.path, confirm=lambda plan: plans.append(plan) or False)
    assert plans[0].current_cases == 1 and plans[0].source.cases == 0
    assert db.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if "restore" in p.name]


def test_a_damaged_current_database_is_kept_raw(db, hoods, tmp_path):
    made = backup.make(db, tmp_path / "backups", keep=3, now=T0)
    store.close()
    corrupt(db)
    done = backup.restore(db, made.path)
    assert done.kept_how.startswith("raw copy") and done.kept.read_bytes()[:16] == b"SQLite format 3\x00"
    assert backup.integrity(db) == ["ok"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files away")
def test_run_with_sudo_the_files_stay_the_daemon_users(db, hoods, tmp_path):
    store.close()
    for path in (tmp_path, db, tmp_path / "barriosms.db-wal", tmp_path / "barriosms.db-shm"):
        if path.exists():
            os.chown(path, 12345, 12345)  # as /var/lib/barriosms belongs to the barriosms user
    made = backup.make(db, tmp_path / "backups", keep=3, now=T0)
    done = backup.restore(db, made.path)
    for path in (made.path.parent, made.path, db, tmp_path / "barriosms.db.lock", done.kept):
        assert (path.stat().st_uid, path.stat().st_gid) == (12345, 12345), path


# -- [backup] settings ----------------------------------------------------------------------------

def write_ini(tmp_path: Path, extra: str = "") -> Path:
    p = tmp_path / "barriosms.ini"
    p.write_text(f"[database]\npath = data/b.db\n[modem]\ndevice = /dev/x\n{extra}", encoding="utf-8")
    return p


def test_backup_settings_default_beside_the_database(tmp_path):
    s = config.load(write_ini(tmp_path))
    assert s.backup == config.BackupSettings(tmp_path / "data" / "backups", 14)
    s = config.load(write_ini(tmp_path, "[backup]\nfolder = /media/usb/copies\nkeep = 30\n"))
    assert s.backup == config.BackupSettings(Path("/media/usb/copies"), 30)
    assert config.load(write_ini(tmp_path, "[backup]\nfolder = copies\n")).backup.folder == tmp_path / "copies"


def test_backup_settings_problems_name_file_key_and_fix(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(config.ConfigError) as err:
        config.load(write_ini(tmp_path, "[backup]\nkeep = 0\nfolder = afile\nkeeep = 3\n"))
    text = str(err.value)
    assert "[backup] keep: 0 is below the minimum 1" in text
    assert "[backup] folder: " in text and "is a file, not a folder" in text
    assert "[backup] keeep: unknown key" in text and "did you mean 'keep'" in text
    assert str(tmp_path / "barriosms.ini") in text
