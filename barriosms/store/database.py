"""Opening the store and checking that its schema is the one this code expects.

The store is one SQLite file, or a PostgreSQL database (`[database] url = postgresql://...`)
when several gateways and tools share it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from peewee import SQL, ColumnBase, SqliteDatabase, fn

from barriosms.store.migrations import LATEST_VERSION, current_version, migrate
from barriosms.store.models import PRAGMAS, database

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The database cannot be used as it is; the message says what to run."""


def is_url(target: str | os.PathLike[str]) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


def seconds_between(start: ColumnBase, end: ColumnBase) -> ColumnBase:
    """`end - start` in seconds, computed by the database, SQLite or PostgreSQL: an aggregate over a
    million cases then sends numbers, not a million pairs of times to parse. Keep it in step with
    migrations.for_dialect, which writes the same expression into indexes."""
    from peewee import PostgresqlDatabase

    if isinstance(database.obj, PostgresqlDatabase):
        return fn.date_part("epoch", end - start)
    # 86400 written into the SQL, not a parameter: the expression then is the one the indexes of
    # migration 17 hold, and SQLite reads it from them.
    return (fn.julianday(end) - fn.julianday(start)) * SQL("86400")


def open_database(path: str | os.PathLike[str], *, check_schema: bool = True, cache_kib: int | None = None) -> None:
    """Point the shared peewee database at `path` (a file, or a postgresql:// URL) and connect this thread.

    The file must exist (only `barriosms db migrate` creates one), so a typo in the config does not
    silently start an empty database. `cache_kib`: SQLite's page cache of each connection, in KiB,
    instead of SQLite's default of about 2,000 (the daemon keeps its own small); not for PostgreSQL.
    """
    if is_url(path):
        _connect_url(str(path))
        if check_schema:
            require_current()
        return
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no database at {path}: create it with `barriosms db migrate`")
    _connect(path, cache_kib)
    if check_schema:
        require_current()


def create_or_open(path: str | os.PathLike[str]) -> None:
    """Like open_database, but create the file (and its folder) when missing; no schema check."""
    if is_url(path):
        _connect_url(str(path))
        return
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder for the database {path}: {exc.strerror}") from exc
    _connect(path)


def _connect(path: Path, cache_kib: int | None = None) -> None:
    close()
    pragmas = PRAGMAS if cache_kib is None else {**PRAGMAS, "cache_size": -cache_kib}  # negative: KiB
    database.initialize(SqliteDatabase(str(path), pragmas=pragmas, timeout=10, autoconnect=False))
    try:
        database.connect()
    except Exception as exc:  # peewee wraps sqlite3 errors in its own classes
        raise StoreError(f"cannot open the database {path}: {exc}") from exc


def _connect_url(url: str) -> None:
    from playhouse.db_url import parse

    close()
    try:
        import psycopg2  # noqa: F401 - peewee's PostgreSQL driver
    except ImportError:
        raise StoreError("a postgresql:// database needs psycopg2: pip install 'barriosms[postgresql]' "
                         "(or apt-get install python3-psycopg2 on 32-bit Raspberry Pi OS)") from None
    from peewee import PostgresqlDatabase

    options = parse(url)
    name = options.pop("database")
    # Fail fast when the server is away, rather than hang a start-up for minutes.
    options.setdefault("connect_timeout", 10)
    database.initialize(PostgresqlDatabase(name, autoconnect=False, **options))
    try:
        database.connect()
    except Exception as exc:  # peewee wraps psycopg2 errors in its own classes
        raise StoreError(f"cannot connect to the database {_safe(url)}: {str(exc).strip()}") from exc


def _safe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def describe_url(url: str) -> str:
    """A database URL for messages and logs: without its password."""
    return _safe(url)


def describe() -> str:
    """Where the store is, for messages: the file, or the server without the password."""
    obj = database.obj
    if obj is None:
        return "(not opened)"
    if isinstance(obj, SqliteDatabase):
        return str(obj.database)
    host = obj.connect_params.get("host", "localhost")
    port = obj.connect_params.get("port", 5432)
    return f"postgresql://{host}:{port}/{obj.database}"


def require_current() -> None:
    version = current_version(database)
    if version < LATEST_VERSION:
        raise StoreError(
            f"the database {describe()} has schema version {version}, this barriosms needs "
            f"{LATEST_VERSION}: run `barriosms db migrate`")
    if version > LATEST_VERSION:
        raise StoreError(
            f"the database {describe()} has schema version {version}, newer than this barriosms "
            f"({LATEST_VERSION}): upgrade barriosms")


def migrate_database(path: str | os.PathLike[str]) -> list[int]:
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
