"""The store package itself (barriosms/store/__init__.py): keeping peewee from loading a PostgreSQL
driver in a process that only opens SQLite. Each case runs in a fresh interpreter, as the
driver is loaded, or not, when peewee is first imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("psycopg2")  # the case worth testing: the driver is installed


def python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[-1]


def test_skipped_before_peewee_sqlite_opens_and_no_driver_is_loaded(db):
    code = ("import sys\n"
            "from barriosms import store\n"
            "store.skip_postgresql_driver()\n"
            "import barriosms.daemon.process\n"
            "from barriosms.store import database\n"
            f"database.open_database({str(db)!r})\n"
            "from barriosms.store.models import Neighborhood\n"
            "Neighborhood.select().count()\n"
            "try:\n"
            "    database.open_database('postgresql://u@127.0.0.1:1/barriosms')\n"
            "except database.StoreError as exc:\n"
            "    print('REFUSED' if 'needs psycopg2' in str(exc) else exc)\n"
            "print('LOADED', sorted(m for m in ('psycopg2', 'psycopg') if sys.modules.get(m)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-2:] == ["REFUSED", "LOADED []"]


def test_once_peewee_is_imported_it_changes_nothing():
    code = ("import sys\n"
            "import peewee\n"
            "from barriosms import store\n"
            "store.skip_postgresql_driver()\n"
            "import psycopg2\n"
            "print('DRIVER', peewee.psycopg2 is psycopg2)\n")
    assert python(code) == "DRIVER True"
