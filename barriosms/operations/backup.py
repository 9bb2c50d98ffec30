"""Backups of the SQLite store, their rotation, and restoring one.

A backup is made with SQLite's online backup API in one step: it reads one consistent snapshot
while the daemon goes on writing (WAL lets writers continue), where copying the file could catch a
transaction half-way. (Copying in several steps would start over at every write the daemon makes,
and might never finish on a busy gateway.) Each backup is written under a temporary name, made a
single self-contained file (journal_mode=DELETE), synced, checked with `PRAGMA integrity_check` and
its schema version, and only then renamed to `barriosms-YYYYmmdd-HHMMSS.db` (UTC): every file of
that name was verified, so rotation counts only those and a failure leaves no half file behind.

Restoring needs the daemon stopped (it takes the run lock itself, so no daemon can start
meanwhile), keeps the current database as `<db>.before-restore-<stamp>`, and swaps the file in
with a rename after removing the old file's -wal and -shm, which would otherwise be replayed into
the restored one.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from barriosms.operations import runlock
from barriosms.store.migrations import LATEST_VERSION

STAMP_FORMAT = "%Y%m%d-%H%M%S"
_NAME = re.compile(r"barriosms-(\d{8}-\d{6})\.db")
# A backup being written; one left by a killed run is removed by a later one once it is this old.
_TEMP = re.compile(r"\.barriosms-\d{8}-\d{6}\.db\.tmp")
STALE_TEMP_SECONDS = 3600
# Tables every barriosms database has (with schema_migration): how a stranger's SQLite file is told apart.
_OUR_TABLES = {"schema_migration", "case", "inbound_message", "outbound_message", "neighborhood", "modem_health"}
# Backups hold residents' phone numbers: owner and group only.
FILE_MODE = 0o640


class BackupError(Exception):
    """A backup or restore failed; the message says what to do. Nothing half-written is left."""


class RestoreCancelled(BackupError):
    """The person said no: nothing was changed."""


class Unsound(BackupError):
    """A file is no sound barriosms database (not SQLite, damaged, another schema, too new)."""


class TooNew(Unsound):
    """A barriosms database written by a newer version of barriosms."""


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: dt.datetime  # naive UTC, from the name


@dataclass(frozen=True)
class Made:
    path: Path
    size: int
    seconds: float
    schema_version: int
    cases: int
    removed: tuple[Path, ...]


@dataclass(frozen=True)
class Inspection:
    path: Path
    schema_version: int
    cases: int


@dataclass(frozen=True)
class RestorePlan:
    """What a restore is about to do, for the person to confirm."""

    database: Path
    source: Inspection
    current_cases: int | None  # None: there is no current database (or it cannot be read)


@dataclass(frozen=True)
class Restored:
    database: Path
    source: Path
    kept: Path | None
    kept_how: str  # "backup API", "raw copy (...)", or "" when there was no database
    schema_version: int
    migrations: tuple[int, ...]
    cases: int


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def default_folder(db_path: str | os.PathLike[str]) -> Path:
    return Path(db_path).parent / "backups"


def list_backups(folder: str | os.PathLike[str]) -> list[Backup]:
    """The verified backups in `folder` (by their exact name), oldest first."""
    found = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in entries:
        m = _NAME.fullmatch(entry.name)
        if m and entry.is_file(follow_symlinks=False):
            try:
                found.append(Backup(Path(entry.path), dt.datetime.strptime(m.group(1), STAMP_FORMAT)))
            except ValueError:
                continue  # a name of the right shape but no real date (20261399-...): not ours
    return sorted(found, key=lambda b: (b.taken_at, b.path.name))


# -- reading and checking a database file ---------------------------------------------------------

def _connect_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)


def integrity(path: str | os.PathLike[str], quick: bool = False) -> list[str]:
    """`PRAGMA integrity_check` (or quick_check) of the file: ["ok"] when it is sound.

    Raises sqlite3.DatabaseError when the file is no SQLite database at all.
    """
    conn = _connect_ro(Path(path))
    try:
        pragma = "quick_check" if quick else "integrity_check"
        # One finding per line, without SQLite's "*** in database main ***" heading.
        return [line for row in conn.execute(f"PRAGMA {pragma}") for line in str(row[0]).splitlines()
                if not line.startswith("***")]
    finally:
        conn.close()


def findings(result: list[str], most: int = 3) -> str:
    """The first few lines of an integrity_check that is not ok, and how many more there are."""
    return "; ".join(result[:most]) + (f" (and {len(result) - most} more)" if len(result) > most else "")


def unreadable(path: Path, exc: sqlite3.Error) -> str:
    """What an sqlite3 error on opening or checking `path` means, in words."""
    if isinstance(exc, sqlite3.OperationalError):
        return f"cannot read {path}: {exc}"
    if "not a database" in str(exc):
        return f"{path} is not an SQLite database ({exc})"
    return f"{path} is damaged ({exc})"


def verify(path: str | os.PathLike[str], *, newest_allowed: int | None = LATEST_VERSION) -> Inspection:
    """Check that `path` is a sound barriosms database (integrity_check ok, our tables, a schema
    version not newer than `newest_allowed`); raise Unsound saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise Unsound(f"{path} does not exist or is not a file")
    try:
        result = integrity(path)
    except sqlite3.Error as exc:
        raise Unsound(unreadable(path, exc)) from None
    if result != ["ok"]:
        raise Unsound(f"{path} is damaged: integrity_check says {findings(result)}")
    conn = _connect_ro(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not _OUR_TABLES <= tables:
            raise Unsound(f"{path} is an SQLite database but not a barriosms one (it lacks the tables "
                          f"{', '.join(sorted(_OUR_TABLES - tables))})")
        version = int(conn.execute('SELECT MAX("version") FROM "schema_migration"').fetchone()[0] or 0)
        cases = int(conn.execute('SELECT COUNT(*) FROM "case"').fetchone()[0])
    finally:
        conn.close()
    if newest_allowed is not None and version > newest_allowed:
        raise TooNew(f"{path} has schema version {version}, newer than this barriosms ({newest_allowed}): "
                     "upgrade barriosms first")
    return Inspection(path, version, cases)


# -- writing a copy -------------------------------------------------------------------------------

def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(source: sqlite3.Connection, target: Path) -> None:
    """The whole database behind `source`, as one consistent snapshot, into the new file `target`."""
    dest = sqlite3.connect(target)
    try:
        # pages=-1: one step, one read snapshot (see the module's docstring).
        source.backup(dest, pages=-1)
        # A single self-contained file, with no -wal beside it to lose when it is copied elsewhere.
        dest.execute("PRAGMA journal_mode=DELETE").fetchall()
    finally:
        dest.close()
    os.chmod(target, FILE_MODE)
    _fsync(target)


def _discard(temp: Path) -> None:
    temp.unlink(missing_ok=True)
    temp.with_name(temp.name + "-journal").unlink(missing_ok=True)


def _same_owner(path: Path, reference: Path) -> None:
    """Run as root (sudo), give `path` the owner of `reference`: the daemon's user must keep access."""
    if os.geteuid() == 0:
        st = reference.stat()
        os.chown(path, st.st_uid, st.st_gid)


def _write_verified(source: sqlite3.Connection, final: Path, owner: Path) -> Inspection:
    """Copy into a temporary name beside `final`, verify, rename; on any failure remove the temporary."""
    temp = final.with_name(f".{final.name}.tmp")
    if final.exists() or temp.exists():
        raise BackupError(f"{final} already exists (or another backup is writing it): wait a second and try again")
    try:
        _copy(source, temp)
        _same_owner(temp, owner)
        found = verify(temp, newest_allowed=None)
        os.rename(temp, final)
        _fsync(final.parent)
    except BaseException:
        _discard(temp)
        raise
    return Inspection(final, found.schema_version, found.cases)


def _size_estimate(source: sqlite3.Connection) -> int:
    pages = source.execute("PRAGMA page_count").fetchone()[0]
    size = source.execute("PRAGMA page_size").fetchone()[0]
    return int(pages) * int(size)


def make(db_path: str | os.PathLike[str], folder: str | os.PathLike[str], keep: int | None, *,
         now: dt.datetime | None = None,
         disk_usage: Callable[[str], Any] = shutil.disk_usage) -> Made:
    """Back up the database into `folder` and keep the newest `keep` backups there (None: delete nothing)."""
    db_path, folder = Path(db_path), Path(folder)
    started = time.monotonic()
    if not db_path.is_file():
        raise BackupError(f"no database at {db_path}: nothing to back up (check [database] path)")
    try:
        if not folder.is_dir():
            folder.mkdir(parents=True)
            _same_owner(folder, db_path)
    except OSError as exc:
        raise BackupError(f"cannot create the backup folder {folder}: {exc.strerror}. Create it (writable by the "
                          "barriosms user), or set [backup] folder, or use --to FOLDER") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupError(f"the backup folder {folder} is not writable by this user: run as the barriosms user "
                          "(sudo -u barriosms), or use --to FOLDER")
    final = folder / f"barriosms-{(now or utcnow()):{STAMP_FORMAT}}.db"
    try:
        source = sqlite3.connect(db_path, timeout=30)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the database {db_path}: {exc}") from None
    try:
        needed = _size_estimate(source)
        free = disk_usage(str(folder)).free
        if free < needed + (1 << 20):
            raise BackupError(f"not enough free space in {folder}: the backup needs about {megabytes(needed)} and "
                              f"{megabytes(free)} are free. Free some space (`df -h {folder}`), or use --to FOLDER "
                              "on another disk")
        made = _write_verified(source, final, owner=db_path)
    except Unsound as exc:
        raise BackupError(f"the new backup failed its check and was deleted: {exc}. The database itself may be "
                          "damaged: run `barriosms doctor`") from None
    except (sqlite3.Error, OSError) as exc:
        raise BackupError(f"the backup into {folder} failed: {exc}. Nothing was left behind; check free space "
                          f"(`df -h {folder}`) and that the folder is writable, or use --to FOLDER") from None
    finally:
        source.close()
    removed = rotate(folder, keep, made.path) if keep is not None else ()
    return Made(made.path, made.path.stat().st_size, time.monotonic() - started, made.schema_version, made.cases,
                removed)


def rotate(folder: Path, keep: int, just_made: Path) -> tuple[Path, ...]:
    """Delete the oldest backups beyond `keep`; never `just_made`, never a file of another name."""
    others = [b.path for b in reversed(list_backups(folder)) if b.path != just_made]
    doomed = others[max(keep - 1, 0):]
    for path in doomed:
        path.unlink(missing_ok=True)
    # A temporary left by a backup that was killed (power cut) is ours to remove, once surely dead.
    for entry in os.scandir(folder):
        if _TEMP.fullmatch(entry.name) and time.time() - entry.stat().st_mtime > STALE_TEMP_SECONDS:
            Path(entry.path).unlink(missing_ok=True)
    return tuple(doomed)


def megabytes(size: float) -> str:
    return f"{size / 1e6:.0f} MB" if size >= 10e6 else f"{size / 1e6:.1f} MB"


# -- restore --------------------------------------------------------------------------------------

def _count_cases(path: Path) -> int | None:
    if not path.is_file():
        return None
    try:
        conn = _connect_ro(path)
        try:
            return int(conn.execute('SELECT COUNT(*) FROM "case"').fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _keep_current(db_path: Path, stamp: str) -> tuple[Path, str]:
    """Copy the current database aside; a damaged one (often why one restores) is copied raw."""
    kept = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
    try:
        conn = sqlite3.connect(db_path, timeout=30)
        try:
            _write_verified(conn, kept, owner=db_path)  # reads through the WAL: the copy has it all
        finally:
            conn.close()
        return kept, "backup API"
    except (sqlite3.Error, BackupError) as exc:
        reason = str(exc)
    if kept.exists():
        raise BackupError(f"{kept} already exists: wait a second and try again")
    try:
        for suffix in ("", "-wal"):
            if Path(f"{db_path}{suffix}").exists():
                shutil.copy2(f"{db_path}{suffix}", f"{kept}{suffix}")
                _fsync(Path(f"{kept}{suffix}"))
                _same_owner(Path(f"{kept}{suffix}"), db_path)
    except OSError as exc:
        for suffix in ("", "-wal"):
            Path(f"{kept}{suffix}").unlink(missing_ok=True)
        raise BackupError(f"cannot keep a copy of the current database as {kept}: {exc}. Nothing was changed; "
                          f"free some space (`df -h {db_path.parent}`)") from None
    return kept, f"raw copy (the current database could not be read: {reason})"


def restore(db_path: str | os.PathLike[str], source: str | os.PathLike[str], *, now: dt.datetime | None = None,
            confirm: Callable[[RestorePlan], bool] = lambda plan: True) -> Restored:
    """Replace the database with the backup `source` (daemon stopped), keeping the current one aside.

    Runs pending migrations afterwards, so an older backup is brought up to this version.
    """
    from barriosms.store import database as store

    db_path, source = Path(db_path), Path(source)
    if source.resolve() == db_path.resolve():
        raise BackupError(f"{source} is the database itself: pick a backup file")
    store.close()  # this process's own connection to the old file, if any
    stamp = f"{(now or utcnow()):{STAMP_FORMAT}}"
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create the folder of the database {db_path}: {exc.strerror}") from None
    try:
        with runlock.hold(db_path):
            return _restore_locked(db_path, source, stamp, confirm)
    except runlock.AlreadyRunning as exc:
        who = f" (pid {exc.pid})" if exc.pid else ""
        raise BackupError(f"the daemon is running{who} on {db_path}: stop it first with `sudo systemctl stop "
                          "barriosms`, restore, then `sudo systemctl start barriosms`") from None
    except runlock.LockUnavailable as exc:
        raise BackupError(str(exc)) from None


def _restore_locked(db_path: Path, source: Path, stamp: str,
                    confirm: Callable[[RestorePlan], bool]) -> Restored:
    from barriosms.store import database as store

    try:
        found = verify(source)
    except TooNew as exc:
        raise TooNew(f"not restored: {exc}") from None
    except Unsound as exc:
        raise Unsound(f"not restored: {exc}. Pick a barriosms-*.db backup (`ls -l` the backups folder)") from None
    temp = db_path.with_name(f".{db_path.name}.restore-{stamp}.tmp")
    if temp.exists():
        raise BackupError(f"{temp} exists: another restore is running, or one was killed; remove it and retry")
    try:
        try:
            conn = _connect_ro(source)
            try:
                _copy(conn, temp)
            finally:
                conn.close()
            # Run with sudo, the restored file must still belong to the daemon's user.
            _same_owner(temp, db_path if db_path.exists() else db_path.parent)
        except (sqlite3.Error, OSError) as exc:
            raise BackupError(f"cannot copy {source} beside the database: {exc}. Nothing was changed; check free "
                              f"space (`df -h {db_path.parent}`)") from None
        copied = verify(temp)
        if not confirm(RestorePlan(db_path, found, _count_cases(db_path))):
            raise RestoreCancelled("not restored: nothing was changed")
        kept, how = _keep_current(db_path, stamp) if db_path.exists() else (None, "")
        # The old file's WAL and shared memory belong to it: left beside the new file, SQLite would
        # replay the old WAL into the restored database. The daemon is stopped, and what the WAL
        # held is in the copy kept above.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        os.replace(temp, db_path)
        _fsync(db_path.parent)
    finally:
        _discard(temp)
    try:
        applied = store.migrate_database(db_path)
    except Exception as exc:  # noqa: BLE001 - reported with what to do; the file is in place
        raise BackupError(f"{source} was restored to {db_path}, but migrating it failed: {exc}; run "
                          "`barriosms db migrate`") from None
    finally:
        store.close()
    return Restored(db_path, source, kept, how, copied.schema_version, tuple(applied), copied.cases)
