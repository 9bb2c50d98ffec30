"""The frozen migrations must produce exactly the schema the models describe."""

from __future__ import annotations

import sqlite3

import pytest
from peewee import SqliteDatabase

from barriosms.store import database as store
from barriosms.store.migrations import LATEST_VERSION, MIGRATIONS, current_version, migrate
from barriosms.store.models import ALL_MODELS, database


def _columns(conn: sqlite3.Connection, table: str) -> dict[str, tuple[str, bool]]:
    return {r[1]: (r[2].upper(), bool(r[3])) for r in conn.execute(f'PRAGMA table_info("{table}")')}


def _unique_indexes(conn: sqlite3.Connection, table: str) -> list[tuple[str, ...]]:
    return sorted(tuple(x[2] for x in conn.execute(f'PRAGMA index_info("{r[1]}")'))
                  for r in conn.execute(f'PRAGMA index_list("{table}")') if r[2])


def test_migrations_match_models(tmp_path):
    migrated = tmp_path / "migrated.db"
    store.migrate_database(migrated)
    store.close()
    modelled = tmp_path / "models.db"
    database.initialize(SqliteDatabase(str(modelled)))
    database.connect()
    database.create_tables(ALL_MODELS)
    database.close()
    a, b = sqlite3.connect(migrated), sqlite3.connect(modelled)
    for model in ALL_MODELS:
        table = model._meta.table_name
        assert _columns(a, table) == _columns(b, table), table
        # Unique indexes carry the guarantees (one case per message, one row per SMS): compare them.
        assert _unique_indexes(a, table) == _unique_indexes(b, table), table


def test_migrate_is_idempotent_and_recorded(db):
    assert current_version(database) == LATEST_VERSION
    assert migrate(database) == []
    rows = database.execute_sql('SELECT version, name FROM schema_migration').fetchall()
    assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]


def test_pragmas_make_commits_durable(db):
    assert database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_outdated_schema_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()  # an empty file: schema version 0
    with pytest.raises(store.StoreError, match=r"schema version 0.*barriosms db migrate"):
        store.open_database(path)
    store.close()


def test_missing_database_is_not_created_silently(tmp_path):
    path = tmp_path / "typo.db"
    with pytest.raises(store.StoreError, match="barriosms db migrate"):
        store.open_database(path)
    assert not path.exists()


def test_newer_schema_is_refused(db):
    database.execute_sql("INSERT INTO schema_migration VALUES (999, 'future', '2030-01-01')")
    with pytest.raises(store.StoreError, match="upgrade barriosms"):
        store.require_current()


def test_migration_5_makes_every_existing_reporter_a_case_reporter(tmp_path):
    from barriosms.store.migrations import MIGRATIONS

    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE "schema_migration" ("version" INTEGER NOT NULL PRIMARY KEY, '
                 '"name" VARCHAR(255) NOT NULL, "applied_at" DATETIME NOT NULL)')
    for m in MIGRATIONS[:4]:  # a database as version 4 left it, with one case and one reply
        for sql in m.statements:
            conn.execute(sql)
        conn.execute("INSERT INTO schema_migration VALUES (?, ?, '2026-11-01')", (m.version, m.name))
    conn.execute("INSERT INTO neighborhood VALUES (1, 'B12', 'Villa San Antonio', '', NULL, NULL, '2026-11-01')")
    conn.execute("INSERT INTO inbound_message (id, dedupe_key, sender, phone, text, received_at, parts, incomplete, "
                 "coding, intent, needs_staff) VALUES (7, 'k', '71234567', '+59171234567', 'B12 bache', "
                 "'2026-11-01', 1, 0, '', 'report', 0)")
    conn.execute('INSERT INTO "case" VALUES (3, \'2408917\', 1, \'vias\', \'bache\', \'+59171234567\', \'received\', '
                 "'2026-11-01 10:00:00', '2026-11-01', 7)")
    conn.execute("INSERT INTO outbound_message (recipient, text, status, kind, attempts, next_attempt_at, last_error, "
                 "modem_reference, parts, created_at) VALUES ('+59171234567', 'x', 'sent', 'reply', 1, "
                 "'2026-11-01', '', '', 1, '2026-11-01')")
    conn.commit()
    conn.close()
    store.migrate_database(path)
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT case_id, phone, message_id, how, joined_at FROM case_reporter").fetchall() == [
        (3, "+59171234567", 7, "reported", "2026-11-01 10:00:00")]
    assert conn.execute("SELECT urgent, hold_reason FROM outbound_message").fetchall() == [(1, "")]
    assert conn.execute("SELECT aliases FROM neighborhood").fetchall() == [("",)]


def test_migration_12_adds_accounts_and_the_audit_trail_to_a_version_11_database(tmp_path):
    from barriosms.staff import accounts, audit
    from barriosms.store.migrations import MIGRATIONS

    path = tmp_path / "v11.db"
    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE "schema_migration" ("version" INTEGER NOT NULL PRIMARY KEY, '
                 '"name" VARCHAR(255) NOT NULL, "applied_at" DATETIME NOT NULL)')
    for m in MIGRATIONS[:11]:  # a database as version 11 left it, with a neighbourhood
        for sql in m.statements:
            conn.execute(sql)
        conn.execute("INSERT INTO schema_migration VALUES (?, ?, '2026-11-01')", (m.version, m.name))
    conn.execute("INSERT INTO neighborhood (id, code, name, district, created_at) "
                 "VALUES (1, 'B12', 'Villa San Antonio', '', '2026-11-01')")
    conn.commit()
    conn.close()
    assert store.migrate_database(path)[:1] == [12]
    store.close()
    store.open_database(path)
    try:
        assert current_version(database) == LATEST_VERSION
        accounts.add("Ana", "Ana Quispe", "admin", "correct horse 42", actor="root")
        with pytest.raises(accounts.AccountError, match="already exists"):
            accounts.add("ANA", "Ana", "viewer", "correct horse 42", actor="root")
        assert [e.action for e in audit.entries()] == ["staff.add"]
    finally:
        store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT code FROM neighborhood").fetchall() == [("B12",)]
    with pytest.raises(sqlite3.IntegrityError):  # the database itself keeps usernames unique
        conn.execute("INSERT INTO staff_account (username, full_name, role, password_hash, disabled, created_at, "
                     "updated_at) VALUES ('ana', '', 'viewer', 'x', 0, '2026-12-01', '2026-12-01')")


def _database_at_version(path, version: int) -> sqlite3.Connection:
    """A database file as the first `version` frozen migrations left it (open, not committed)."""
    from barriosms.store.migrations import MIGRATIONS

    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE "schema_migration" ("version" INTEGER NOT NULL PRIMARY KEY, '
                 '"name" VARCHAR(255) NOT NULL, "applied_at" DATETIME NOT NULL)')
    for m in MIGRATIONS[:version]:
        for sql in m.statements:
            conn.execute(sql)
        conn.execute("INSERT INTO schema_migration VALUES (?, ?, '2026-11-01')", (m.version, m.name))
    return conn


def test_migration_13_adds_sessions_to_a_version_12_database_and_they_go_with_their_account(tmp_path):

    path = tmp_path / "v12.db"
    conn = _database_at_version(path, 12)
    conn.execute("INSERT INTO staff_account (id, username, full_name, role, password_hash, disabled, created_at, "
                 "updated_at) VALUES (4, 'ana', 'Ana', 'staff', 'x', 0, '2026-12-01', '2026-12-01')")
    conn.commit()
    conn.close()
    assert store.migrate_database(path)[:1] == [13]
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("INSERT INTO staff_session VALUES ('h', 4, 'c', '2026-12-06', '2026-12-06', '2026-12-06 01:00', '')")
    conn.execute("INSERT INTO login_throttle VALUES ('user:ana', 1, '2026-12-06', '2026-12-06', NULL)")
    with pytest.raises(sqlite3.IntegrityError):  # a session belongs to an account that exists
        conn.execute("INSERT INTO staff_session VALUES ('i', 99, 'c', '2026-12-06', '2026-12-06', '2026-12-06', '')")
    conn.execute("DELETE FROM staff_account WHERE id = 4")
    assert conn.execute("SELECT COUNT(*) FROM staff_session").fetchone() == (0,)
    assert conn.execute("SELECT username FROM staff_account").fetchall() == []


def test_migration_14_adds_crews_callbacks_and_events_to_a_version_13_database(tmp_path):
    from barriosms.store.migrations import MIGRATIONS

    path = tmp_path / "v13.db"
    conn = _database_at_version(path, 13)
    conn.commit()
    conn.close()
    assert store.migrate_database(path) == [m.version for m in MIGRATIONS[13:]]
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO crew VALUES (1, '+59171000001', 'Cuadrilla 3', 'h', '2026-12-06', 0, NULL)")
    with pytest.raises(sqlite3.IntegrityError):  # one crew per phone
        conn.execute("INSERT INTO crew VALUES (2, '+59171000001', 'Cuadrilla 4', 'h', '2026-12-06', 0, NULL)")
    conn.execute("INSERT INTO event VALUES (1, 'case.opened', '2026-12-06', '{}')")
    conn.execute("INSERT INTO event_cursor (target, last_event_id, attempts, next_attempt_at, last_error, "
                 "failing_since) VALUES ('webhook', 0, 0, NULL, '', NULL)")
    conn.execute("INSERT INTO callback VALUES (1, '+59171000002', '2026-12-06', '2026-12-06', 1, 'pending', NULL, "
                 "NULL, '', '', NULL)")
    assert conn.execute("SELECT COUNT(*) FROM callback WHERE status = 'pending'").fetchone() == (1,)


def test_migration_15_counts_the_tracking_numbers_already_given(tmp_path):
    from barriosms.store.migrations import MIGRATIONS

    path = tmp_path / "v14.db"
    conn = _database_at_version(path, 14)
    conn.execute("INSERT INTO neighborhood (id, code, name, district, created_at) VALUES (1, 'B01', 'Centro', 'Centro', '2026-11-01')")
    for i, tracking in enumerate(["1000009", "2408917", "5724000"], start=1):
        conn.execute('INSERT INTO "case" (id, tracking, neighborhood_id, category, text, phone, status, '
                     "created_at, updated_at) VALUES (?, ?, 1, 'otros', 't', '+59171000001', 'received', "
                     "'2026-11-01', '2026-11-01')", (i, tracking))
    conn.execute("INSERT INTO practice_case (id, tracking, phone, neighborhood_id, category, text, status, created_at)"
                 " VALUES (1, '3000003', '+59171000001', 1, 'otros', 't', 'received', '2026-11-01')")
    conn.commit()
    conn.close()
    assert store.migrate_database(path) == [m.version for m in MIGRATIONS[14:]]
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT length, used FROM tracking_fill").fetchall() == [(7, 4)]
    conn.close()


def test_migration_16_names_hosts_and_event_holders_on_a_version_15_database(tmp_path):
    from barriosms.store.migrations import MIGRATIONS

    path = tmp_path / "v15.db"
    conn = _database_at_version(path, 15)
    conn.execute("INSERT INTO modem_health (name, updated_at, connected, received_count, sent_count, manufacturer, "
                 "model, imei, operator, network_state, last_error, imsi, device, balance_text) VALUES ('default', "
                 "'2026-12-06', 1, 3, 4, '', '', '', '', '', '', '', '', '')")
    conn.execute("INSERT INTO event_cursor (target, last_event_id, attempts, last_error) VALUES ('webhook', 7, 0, '')")
    conn.commit()
    conn.close()
    assert store.migrate_database(path) == [m.version for m in MIGRATIONS[15:]]
    store.close()
    conn = sqlite3.connect(path)
    # Rows from before keep everything; a modem's host and a receiver's holder start empty.
    assert conn.execute("SELECT name, received_count, host FROM modem_health").fetchall() == [("default", 3, "")]
    assert conn.execute("SELECT last_event_id, held_by, held_until FROM event_cursor").fetchall() == [(7, "", None)]
    assert [c[1] for c in conn.execute("PRAGMA table_info(ussd_request)")][-1] == "modem"


def test_migration_19_counts_reporters_and_files_questions_on_a_version_18_database(tmp_path):
    from barriosms.store.migrations import MIGRATIONS

    path = tmp_path / "v18.db"
    conn = _database_at_version(path, 18)
    conn.execute("INSERT INTO neighborhood (id, code, name, district, created_at) VALUES (1, 'B01', 'Centro', "
                 "'Macrodistrito Centro', '2026-11-01')")
    for i in (1, 2):
        conn.execute('INSERT INTO "case" (id, tracking, neighborhood_id, category, text, phone, status, '
                     "created_at, updated_at) VALUES (?, ?, 1, ?, 't', '+59171000001', 'resolved', '2026-11-01', "
                     "'2026-11-01')", (i, str(2000000 + i), ("agua", "vias")[i - 1]))
    for phone in ("+59171000001", "+59171000002", "+59171000003"):
        conn.execute("INSERT INTO case_reporter (case_id, phone, how, joined_at) VALUES (1, ?, 'reported', "
                     "'2026-11-01')", (phone,))
    conn.execute("INSERT INTO case_question (case_id, phone, kind, text, actor, asked_at, expires_at, status, "
                 "answered_at, answer) VALUES (1, '+59171000001', 'survey', '?', '', '2026-11-02 10:00:00', "
                 "'2026-11-09 10:00:00', 'answered', '2026-11-02 11:30:00', 'yes')")
    conn.execute("INSERT INTO case_question (case_id, phone, kind, text, actor, asked_at, expires_at, status, "
                 "answered_at, answer) VALUES (2, '+59171000001', 'survey', '?', '', '2026-11-02 10:00:00', "
                 "'2026-11-09 10:00:00', 'open', NULL, '')")
    conn.commit()
    conn.close()
    assert store.migrate_database(path) == [m.version for m in MIGRATIONS[18:]]
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute('SELECT id, reporter_count FROM "case" ORDER BY id').fetchall() == [(1, 3), (2, 0)]
    rows = conn.execute("SELECT case_id, category, district, answer_seconds, case_created_at FROM case_question "
                        "ORDER BY case_id")
    assert [(c, cat, d, None if s is None else round(s, 3), at) for c, cat, d, s, at in rows] == [
        (1, "agua", "Macrodistrito Centro", 5400.0, "2026-11-01"), (2, "vias", "Macrodistrito Centro", None, "2026-11-01")]
    conn.close()
