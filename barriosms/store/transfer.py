"""Copying a whole SQLite store into a new PostgreSQL database: the move to several gateways.

Every table, every row, the same ids, in one PostgreSQL transaction: a copy that fails leaves the
new database empty, to be tried again. The SQLite file is only read. Foreign keys that point
forward in the copy order (a message's case, a case merged into another) are written empty
first and filled in at the end, so the database's own checks hold all along; the id counters
are set past the copied rows, so the next case gets the next id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from peewee import AutoField, Model, sort_models  # type: ignore[attr-defined]

from barriosms.store.database import StoreError, close, is_url, migrate_database
from barriosms.store.migrations import LATEST_VERSION
from barriosms.store.models import ALL_MODELS

BATCH = 5000  # rows per INSERT; a million cases move without holding them in memory


def _source_version(conn: sqlite3.Connection) -> int:
    try:
        row = conn.execute('SELECT MAX("version") FROM "schema_migration"').fetchone()
    except sqlite3.DatabaseError:
        return 0
    return int(row[0] or 0)


def copy_sqlite_to_postgresql(source: Path, url: str,
                              progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy the SQLite store `source` into the PostgreSQL database `url` (created by `db migrate`
    or migrated here; it must hold no rows yet). Returns the rows copied, by table."""
    if not is_url(url):
        raise StoreError(f"{url!r} is not a postgresql:// URL")
    if not source.exists():
        raise StoreError(f"no database at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        version = _source_version(src)
        if version != LATEST_VERSION:
            raise StoreError(f"the database {source} has schema version {version}, this barriosms copies version "
                             f"{LATEST_VERSION}: run `barriosms db migrate` on it first")
        migrate_database(url)
        close()
        return _copy(src, url, progress or (lambda table, rows: None))
    finally:
        src.close()


def _copy(src: sqlite3.Connection, url: str, progress: Callable[[str, int], None]) -> dict[str, int]:
    import psycopg2
    from psycopg2.extras import execute_batch, execute_values

    try:
        dst = psycopg2.connect(url, connect_timeout=10)
    except psycopg2.Error as exc:
        raise StoreError(f"cannot connect to the new database: {str(exc).strip()}") from exc
    copied: dict[str, int] = {}
    try:
        with dst, dst.cursor() as cur:
            models = sort_models(list(ALL_MODELS))
            for model in models:
                table = model._meta.table_name
                cur.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")')
                if cur.fetchone()[0]:
                    raise StoreError(f"the new database already holds data (table {table}): copy only into a new, "
                                     "empty database (createdb), never over one in use")
            done: set[type[Model]] = set()
            later: list[tuple[str, str]] = []  # (table, column) filled in at the end
            for model in models:
                table = model._meta.table_name
                columns = [f.column_name for f in model._meta.sorted_fields]
                forward = {f.column_name for f in model._meta.refs if f.rel_model not in done or f.rel_model is model}
                later += [(table, c) for c in sorted(forward)]
                select = ", ".join(f'"{c}"' for c in columns)
                reading = src.execute(f'SELECT {select} FROM "{table}"')
                insert = f'INSERT INTO "{table}" ({select}) VALUES %s'
                keep = [i for i, c in enumerate(columns) if c in forward]
                count = 0
                while rows := reading.fetchmany(BATCH):
                    if keep:
                        rows = [tuple(None if i in keep else v for i, v in enumerate(r)) for r in rows]
                    execute_values(cur, insert, rows, page_size=BATCH)
                    count += len(rows)
                done.add(model)
                copied[table] = count
                progress(table, count)
            for table, column in later:
                reading = src.execute(f'SELECT "{column}", "id" FROM "{table}" WHERE "{column}" IS NOT NULL')
                while rows := reading.fetchmany(BATCH):
                    execute_batch(cur, f'UPDATE "{table}" SET "{column}" = %s WHERE "id" = %s', rows, page_size=BATCH)
            for model in models:
                if isinstance(model._meta.primary_key, AutoField):
                    table = model._meta.table_name
                    # The next id after the copied ones (1 on an empty table: is_called false).
                    cur.execute(f"""SELECT setval(pg_get_serial_sequence('"{table}"', 'id'),
                                    COALESCE(MAX("id"), 1), MAX("id") IS NOT NULL) FROM "{table}\"""")
    except psycopg2.Error as exc:
        raise StoreError(f"the copy failed and was undone (the new database is as it was): {str(exc).strip()}") from exc
    finally:
        dst.close()
    return copied
