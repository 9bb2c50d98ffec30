"""Opening the SQLite store and checking that its schema is the one this code expects."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .migrations import LATEST_VERSION, current_version, migrate
from peewee import SqliteDatabase

from .models import PRAGMAS, database

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The database cannot be used as it is; the message says what to run."""


def open_database(path: str | os.PathLike, *, check_schema: bool = True) -> None:
    """Point the shared peewee database at `path` and connect this thread.

    The file must exist (only `barriosms db migrate` creates one), so a typo in the config does not
    silently start an empty database.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no database at {path}: create it with `barriosms db migrate`")
    _connect(path)
    if check_schema:
        require_current()


def create_or_open(path: str | os.PathLike) -> None:
    """Like open_database, but create the file (and its folder) when missing; no schema check."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder for the database {path}: {exc.strerror}") from exc
    _connect(path)


def _connect(path: Path) -> None:
    close()
    database.initialize(SqliteDatabase(str(path), pragmas=PRAGMAS, timeout=10, autoconnect=False))
    try:
        database.connect()
    except Exception as exc:  # peewee wraps sqlite3 errors in its own classes
        raise StoreError(f"cannot open the database {path}: {exc}") from exc


def require_current() -> None:
    version = current_version(database)
    if version < LATEST_VERSION:
        raise StoreError(
            f"the database {database.database} has schema version {version}, this barriosms needs "
            f"{LATEST_VERSION}: run `barriosms db migrate`")
    if version > LATEST_VERSION:
        raise StoreError(
            f"the database {database.database} has schema version {version}, newer than this barriosms "
            f"({LATEST_VERSION}): upgrade barriosms")


def migrate_database(path: str | os.PathLike) -> list[int]:
    create_or_open(path)
    return [m.version for m in migrate(database)]


@contextmanager
def thread_connection() -> Iterator[None]:
    """A connection for the calling thread (peewee keeps one per thread)."""
    with database.connection_context():
        yield


def close() -> None:
    if database.obj is not None and not database.is_closed():
        database.close()
