"""`barriosms db copy`: a gateway's SQLite store moved, whole, into a new PostgreSQL database
(store/transfer.py), on a real SQLite file and a real PostgreSQL server (skipped, saying why,
where none can be started)."""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3

import pytest
from click.testing import CliRunner
from conftest import SAMPLE_CSV

from barriosms.cases import casework, outbox
from barriosms.cli import cli
from barriosms.config import ServiceSettings
from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.staff.neighborhoods import import_csv
from barriosms.store import database as store
from barriosms.store import transfer
from barriosms.store.models import ALL_MODELS, Case, InboundMessage, write_tx
from barriosms.templates.loader import load_categories, load_templates

T0 = dt.datetime(2026, 12, 1, 12, 0)


def seed(db) -> None:
    """A few weeks of a gateway: cases by SMS, one merged into another, replies, status changes."""
    import_csv(SAMPLE_CSV)
    intake = Intake(IntakeRules(load_templates(), load_categories(), service=ServiceSettings(), region="BO"),
                    rng=random.Random(3))
    for i in range(6):
        at = T0 + dt.timedelta(hours=i)
        sms = ReceivedSms(location=i, sender=f"+5917123456{i}", text=f"B12 hay un bache grande en la calle {i}",
                          smsc_time=at)
        assert intake.store(sms, now=at)
    first, second = Case.select().order_by(Case.id)[:2]
    casework.change_status(first.tracking, "in_progress", load_templates(), note="Manana", now=T0, region="BO")
    with write_tx():
        Case.update(merged_into=first.id).where(Case.id == second.id).execute()
        # A message whose case has a higher id than itself: a key that points forward in the copy.
        InboundMessage.update(case=Case.select(Case.id).order_by(Case.id.desc()).scalar()).where(
            InboundMessage.id == 1).execute()
    outbox.queue("+59171234560", "aviso", kind="notice", now=T0)


def counts(conn) -> dict[str, int]:
    out = {}
    for model in ALL_MODELS:
        cur = conn.cursor()
        cur.execute(f'SELECT COUNT(*) FROM "{model._meta.table_name}"')
        out[model._meta.table_name] = cur.fetchone()[0]
    return out


def test_a_whole_store_moves_with_its_ids_and_keys(db, pg_server):
    import psycopg2

    seed(db)
    store.close()
    url = pg_server.create_database("t_copy")
    copied = transfer.copy_sqlite_to_postgresql(db, url)
    src = sqlite3.connect(db)
    dst = psycopg2.connect(url)
    assert copied == counts(src) == counts(dst)
    assert copied["case"] == 6 and copied["outbound_message"] >= 7
    for table, columns in (("case", "id, tracking, status, merged_into_id, source_message_id"),
                           ("inbound_message", "id, sender, case_id"),
                           ("outbound_message", "id, recipient, text, case_id, in_reply_to_id")):
        with dst.cursor() as cur:
            cur.execute(f'SELECT {columns} FROM "{table}" ORDER BY id')
            assert cur.fetchall() == src.execute(f'SELECT {columns} FROM "{table}" ORDER BY id').fetchall(), table
    src.close()
    dst.close()
    # The gateway carries on in the new database: the next case gets the next id.
    store.open_database(url)
    intake = Intake(IntakeRules(load_templates(), load_categories(), service=ServiceSettings(), region="BO"),
                    rng=random.Random(4))
    assert intake.store(ReceivedSms(location=9, sender="+59179999999", text="B12 no hay luz", smsc_time=T0), now=T0)
    assert Case.select().order_by(Case.id.desc()).get().id == 7
    store.close()
    # Never over a database that holds data.
    with pytest.raises(store.StoreError, match=r"already holds data \(table"):
        transfer.copy_sqlite_to_postgresql(db, url)


def test_an_old_store_is_migrated_first(tmp_path, pg_server):
    old = tmp_path / "old.db"
    sqlite3.connect(old).close()
    with pytest.raises(store.StoreError, match="schema version 0.*run `barriosms db migrate` on it first"):
        transfer.copy_sqlite_to_postgresql(old, pg_server.url("nowhere"))


def test_db_copy_from_the_cli(db, pg_server, tmp_path):
    seed(db)
    store.close()
    url = pg_server.create_database("t_copy_cli")
    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/ttyUSB0\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(ini), "db", "copy", url, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rows"]["case"] == 6 and data["to"] == url  # no password to hide here
    again = CliRunner().invoke(cli, ["--config", str(ini), "db", "copy", url], catch_exceptions=False)
    assert again.exit_code == 1 and "already holds data" in again.output
    shared = tmp_path / "pg.ini"
    shared.write_text(f"[database]\nurl = {url}\n[modem]\ndevice = /dev/ttyUSB0\n", encoding="utf-8")
    refused = CliRunner().invoke(cli, ["--config", str(shared), "db", "copy", url], catch_exceptions=False)
    assert refused.exit_code == 1 and "already uses PostgreSQL" in refused.output
    store.close()
