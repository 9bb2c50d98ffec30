"""`barriosms doctor`: look at everything a gateway needs and say, for each, OK or what to do.

Each check is a small function returning a Check, with its inputs (paths, the clock, the free-space
function, the lock holder) passed in, so tests call them one by one. `run_all` strings them
together the way the command does. A check never raises: what it cannot look at is itself the
problem it reports. docs/troubleshooting.md lists every message with its cause and fix.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from barriosms import config
from barriosms.operations import backup, health, runlock
from barriosms.operations.clock import BEHIND_TOLERANCE, EARLIEST_SANE
from barriosms.store.migrations import LATEST_VERSION
from barriosms.templates import loader as templatefiles

# No gateway of this release ran before this date: a clock earlier than it has not been set.
# The daemon's own rule (clock.py), as naive UTC for doctor's naive-UTC times.
RELEASE_DATE = EARLIEST_SANE.replace(tzinfo=None)
# The clock may lag the newest stored message by this much (fake-hwclock saves the time only now and then).
CLOCK_BEHIND_TOLERANCE = BEHIND_TOLERANCE
# Above this size the full integrity_check takes minutes on a Raspberry Pi: quick_check instead.
BIG_DATABASE_BYTES = 200 * 1000 * 1000
MIN_FREE_BYTES = 200 * 1000 * 1000
MIN_FREE_FRACTION = 0.05
BACKUP_MAX_AGE = dt.timedelta(days=2)
JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
# Exists when the machine was booted with systemd (what sd_booted() tests).
SYSTEMD_RUNTIME = Path("/run/systemd/system")

CLOCK_FIX = ("check `timedatectl` (it must say \"System clock synchronized: yes\") and NTP "
             "(`systemctl status systemd-timesyncd`): a Raspberry Pi has no battery clock and boots in the past "
             "until NTP sets the time")
RESTORE_FIX = ("stop the daemon (`sudo systemctl stop barriosms`) and put the newest good backup back with "
               "`barriosms restore FILE`")
AS_OWNER_FIX = "run doctor as the barriosms user (`sudo -u barriosms barriosms doctor`) or with sudo"
TIMER_FIX = ("enable barriosms-backup.timer: `sudo systemctl enable --now barriosms-backup.timer`, or run "
             "`barriosms backup` now; `systemctl list-timers barriosms-backup.timer` shows when it runs")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str
    fix: str = ""
    # Information only (e.g. journald is not checked outside systemd): neither OK nor a problem.
    note: bool = False
    # The templates check: which SMS texts and category files are in use (JSON "files").
    files: tuple[templatefiles.TemplateFile, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"name": self.name, "ok": self.ok, "message": self.message, "fix": self.fix,
                                 "note": self.note}
        if self.files:
            found["files"] = [f.as_dict() for f in self.files]
        return found


def _age(seconds: float) -> str:
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.1f} days"


# -- configuration --------------------------------------------------------------------------------

def check_config(config_option: str | os.PathLike | None) -> tuple[list[Check], config.Settings | None]:
    """One Check per configuration problem (or one OK), and the settings when they load."""
    try:
        path = config.locate(config_option)
        settings = config.load(path)
    except config.ConfigError as exc:
        return [Check("config", False,
                      f"{p.file}: [{p.section}]" + (f" {p.key}" if p.key else "") + f": {p.message}", p.fix)
                for p in exc.problems], None
    return [Check("config", True, f"{path} loads")], settings


def check_templates(settings: config.Settings) -> Check:
    checked = templatefiles.check(settings.gateway)
    if checked.problems:
        return Check("templates", False, checked.problems[0],
                     "correct that file (`barriosms config check` lists every problem), or remove [gateway] "
                     "replies / categories to use the built-in texts", files=checked.files)
    return Check("templates", True, f"SMS texts and categories ({settings.gateway.language}) load",
                 files=checked.files)


# -- the database ---------------------------------------------------------------------------------

def check_database(db_path: Path, big: int = BIG_DATABASE_BYTES) -> Check:
    """The file exists and PRAGMA integrity_check (quick_check above `big` bytes) says ok."""
    if not db_path.exists():
        return Check("database", False, f"no database at {db_path}",
                     "create it with `barriosms db migrate`, or put a backup back with `barriosms restore FILE`")
    size = db_path.stat().st_size
    quick = size > big
    pragma = "quick_check" if quick else "integrity_check"
    try:
        result = backup.integrity(db_path, quick=quick)
    except sqlite3.Error as exc:
        fix = AS_OWNER_FIX if isinstance(exc, sqlite3.OperationalError) else RESTORE_FIX
        return Check("database", False, backup.unreadable(db_path, exc), fix)
    if result != ["ok"]:
        return Check("database", False, f"{db_path} is damaged: {pragma} says {backup.findings(result)}", RESTORE_FIX)
    shown = f"{db_path} ({backup.megabytes(size)})"
    if quick:
        return Check("database", True, f"{shown}: quick_check ok (over {backup.megabytes(big)}, so the quicker "
                                       "quick_check ran instead of the full integrity_check)")
    return Check("database", True, f"{shown}: integrity_check ok")


def schema_version(db_path: Path) -> int:
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_migration'").fetchone():
            return 0
        return int(conn.execute('SELECT MAX("version") FROM "schema_migration"').fetchone()[0] or 0)
    finally:
        conn.close()


def check_schema(version: int, latest: int = LATEST_VERSION) -> Check:
    if version < latest:
        return Check("schema", False, f"schema version {version}, this barriosms needs {latest}",
                     "run `barriosms db migrate`, then `sudo systemctl restart barriosms`")
    if version > latest:
        return Check("schema", False, f"schema version {version} is newer than this barriosms ({latest})",
                     "upgrade barriosms to the version that wrote this database (or restore a backup this "
                     "version made)")
    return Check("schema", True, f"schema version {version} (current)")


# -- the daemon and the modem ---------------------------------------------------------------------

def check_daemon(db_path: Path, holder: Callable[[Path], int | None] = runlock.holder) -> Check:
    lock = runlock.lock_path(db_path)
    try:
        pid = holder(db_path)
    except OSError as exc:
        return Check("daemon", False, f"cannot look at {lock}: {exc.strerror}",
                     AS_OWNER_FIX)
    if pid is None:
        return Check("daemon", False, f"the daemon is not running (nothing holds {lock})",
                     "start it: `sudo systemctl start barriosms`; if it stops again, "
                     "`journalctl -u barriosms -n 50` says why")
    return Check("daemon", True, f"the daemon runs (pid {pid})" if pid else
                 f"the daemon runs (its pid could not be read from {lock})")


def check_heartbeat(row, heartbeat_seconds: float, now: dt.datetime) -> Check:
    """The modem_health row the daemon rewrites is fresh (the rule of `barriosms modem status`)."""
    verdict = health.assess(row, heartbeat_seconds, now=now)
    if verdict.state == "never_started":
        return Check("heartbeat", False, "the daemon has never written a heartbeat to this database",
                     "start it: `sudo systemctl start barriosms`")
    if verdict.state == "no_daemon":
        return Check("heartbeat", False,
                     f"no heartbeat for {verdict.heartbeat_age:.0f} s (expected every {heartbeat_seconds:.0f} s): "
                     "the daemon is stopped or stuck",
                     "`sudo systemctl restart barriosms`, then `journalctl -u barriosms -n 50` for why it stopped")
    return Check("heartbeat", True, f"heartbeat {verdict.heartbeat_age:.0f} s ago (daemon pid {row.pid})")


def check_modem(row, heartbeat_seconds: float, now: dt.datetime,
                balance_warn_below: float | None = None) -> list[Check]:
    verdict = health.assess(row, heartbeat_seconds, now=now, balance_warn_below=balance_warn_below)
    if verdict.state in ("never_started", "no_daemon"):
        return [Check("modem", True, "not known while the daemon does not run", note=True)]
    if verdict.state == "modem_down":
        return [Check("modem", False, f"the modem is not connected: {row.last_error or 'no reason recorded'}",
                      "check that the USB stick is plugged in (`lsusb`) and the SIM is in it; `barriosms modem "
                      "detect` finds the port for [modem] device; then `sudo systemctl reload barriosms`")]
    signal = f"signal {row.signal_percent}%" if row.signal_percent is not None else "signal unknown"
    checks = [Check("modem", True, f"the modem is connected on {row.device or '?'} "
                                   f"({row.operator or 'operator unknown'}, {signal})")]
    checks += [Check("modem", False, problem, "`barriosms modem status` shows the details; docs/troubleshooting.md "
                                              "has the fix") for problem in verdict.problems]
    return checks


# -- the machine ----------------------------------------------------------------------------------

def _existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_disk(db_path: Path, disk_usage: Callable[[str], Any] | None = None) -> Check:
    """Free space on the database's filesystem: a problem below 200 MB or 5 %."""
    folder = _existing(db_path.parent)
    try:
        usage = (disk_usage or shutil.disk_usage)(str(folder))
    except OSError as exc:
        return Check("disk", False, f"cannot measure the free space of {folder}: {exc.strerror}",
                     "check that the filesystem is mounted (`df -h`)")
    fraction = usage.free / usage.total if usage.total else 0.0
    text = f"{backup.megabytes(usage.free)} free ({fraction:.0%}) on the filesystem of {folder}"
    if usage.free < MIN_FREE_BYTES or fraction < MIN_FREE_FRACTION:
        return Check("disk", False, f"only {text}",
                     "free space: remove old files from the backups folder (keep the newest), "
                     "`sudo journalctl --vacuum-size=50M`, `sudo apt-get clean`; `sudo du -xh / | sort -h | tail` "
                     "shows what is big. SQLite stops storing SMS when the disk is full")
    return Check("disk", True, text)


def newest_received(db_path: Path) -> dt.datetime | None:
    """The newest received_at in the database (naive UTC), or None."""
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        value = conn.execute('SELECT MAX("received_at") FROM "inbound_message"').fetchone()[0]
    finally:
        conn.close()
    return dt.datetime.fromisoformat(value) if value else None


def check_clock(now: dt.datetime, newest: dt.datetime | None) -> Check:
    """`now` (naive UTC) is not before this release, nor more than a day before the newest message."""
    shown = f"{now:%Y-%m-%d %H:%M} UTC"
    if now < RELEASE_DATE:
        return Check("clock", False, f"the clock says {shown}, before this release ({RELEASE_DATE:%Y-%m-%d})",
                     CLOCK_FIX)
    if newest is not None and now < newest - CLOCK_BEHIND_TOLERANCE:
        return Check("clock", False, f"the clock says {shown}, more than a day before the newest message in the "
                                     f"database ({newest:%Y-%m-%d %H:%M} UTC)", CLOCK_FIX)
    return Check("clock", True, f"the clock says {shown}")


def check_journald(socket: Path | None = None, systemd_runtime: Path | None = None) -> Check:
    socket, systemd_runtime = socket or JOURNAL_SOCKET, systemd_runtime or SYSTEMD_RUNTIME
    if not systemd_runtime.exists():
        return Check("journald", True, f"not running under systemd (no {systemd_runtime}): journald not checked; "
                                       "the daemon logs to its standard error", note=True)
    if not socket.exists():
        return Check("journald", False, f"systemd runs but journald's socket {socket} is missing: the daemon's "
                                        "log lines are lost",
                     "`sudo systemctl restart systemd-journald`; `journalctl -u barriosms -n 5` must then show lines")
    return Check("journald", True, f"journald is reachable ({socket})")


def check_backups(folder: Path, now: dt.datetime, max_age: dt.timedelta = BACKUP_MAX_AGE) -> Check:
    """The backups folder has a backup younger than `max_age` (by the UTC time in its name)."""
    found = backup.list_backups(folder)
    if not found:
        return Check("backups", False, f"no backup in {folder}", TIMER_FIX)
    newest = found[-1]
    age = max((now - newest.taken_at).total_seconds(), 0.0)
    if age > max_age.total_seconds():
        return Check("backups", False, f"the newest backup in {folder} is {_age(age)} old ({newest.path.name})",
                     TIMER_FIX)
    return Check("backups", True, f"newest backup {newest.path.name}, {_age(age)} old ({len(found)} in {folder})")


# -- all of them ----------------------------------------------------------------------------------

def run_all(config_option: str | os.PathLike | None, *, now: dt.datetime | None = None,
            disk_usage: Callable[[str], Any] | None = None,
            holder: Callable[[Path], int | None] = runlock.holder,
            journal_socket: Path | None = None, systemd_runtime: Path | None = None) -> list[Check]:
    now = now or backup.utcnow()
    checks, settings = check_config(config_option)
    if settings is None:
        return checks + [Check("other checks", True, "skipped until the configuration loads", note=True)]
    checks.append(check_templates(settings))
    db_path = settings.database.path
    newest, version = None, None
    if settings.database.shared:
        # A PostgreSQL server: its integrity and backups are the server's business (pg_dump).
        shared, version = check_shared_database(settings.database.url or "")
        checks.append(shared)
        if version is not None:
            checks.append(check_schema(version))
    else:
        database = check_database(db_path)
        checks.append(database)
        if database.ok:
            version = schema_version(db_path)
            checks.append(check_schema(version))
            newest = newest_received(db_path)
    checks.append(check_daemon(db_path, holder))
    if version == LATEST_VERSION:
        try:
            names = [m.name for m in settings.all_modems]
            rows = _health_rows(settings)
        except Exception as exc:  # noqa: BLE001 - peewee and the store wrap sqlite3's errors their own way
            checks.append(Check("heartbeat", False, f"cannot read the modem_health row of {db_path}: {exc}",
                                AS_OWNER_FIX))
        else:
            g = settings.gateway
            checks.append(check_heartbeat(rows[0], g.heartbeat_seconds, now))
            for name, row in zip(names, rows):
                found = check_modem(row, g.heartbeat_seconds, now, g.balance_warn_below)
                if len(names) > 1:  # [modem NAME]: say which stick each line is about
                    found = [Check(c.name, c.ok, f"[{name}] {c.message}", c.fix, c.note) for c in found]
                checks += found
    checks.append(check_disk(db_path, disk_usage))
    checks.append(check_clock(now, newest))
    checks.append(check_journald(journal_socket, systemd_runtime))
    if settings.database.shared:
        checks.append(Check("backups", True, "the database is on a PostgreSQL server: back it up there with "
                                             "pg_dump (barriosms backup copies SQLite files only)", note=True))
    else:
        checks.append(check_backups(settings.backup.folder or backup.default_folder(db_path), now))
    return checks


def check_shared_database(url: str) -> tuple[Check, int | None]:
    """Connect to the shared PostgreSQL database and read its schema version."""
    from barriosms.store import database as store
    from barriosms.store.migrations import current_version
    from barriosms.store.models import database

    try:
        store.open_database(url, check_schema=False)
        try:
            version = current_version(database)
        finally:
            where = store.describe()
            store.close()
    except Exception as exc:  # noqa: BLE001 - StoreError, or the driver's own error
        return Check("database", False, f"cannot use the database: {exc}",
                     "check [database] url (host, port, user, password) and that the PostgreSQL server runs "
                     "and accepts this machine (pg_hba.conf)"), None
    return Check("database", True, f"{where} answers"), version


def _health_rows(settings: config.Settings):
    from barriosms.store import database as store

    store.open_database(settings.database.target, check_schema=False)
    try:
        return [row for _, row in health.configured(settings)]
    finally:
        store.close()
