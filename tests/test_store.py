"""Opening the store: keeping peewee from loading a PostgreSQL driver in a process that only opens
SQLite (barriosms/store/__init__.py; each case in a fresh interpreter, as the driver is loaded, or
not, when peewee is first imported), and the page cache the daemon asks for."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from barriosms.store import database as store
from barriosms.store.models import database

needs_psycopg2 = pytest.mark.skipif(subprocess.run([sys.executable, "-c", "import psycopg2"]).returncode != 0,
                                    reason="the case worth testing: psycopg2 installed")


def python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[-1]


@needs_psycopg2
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


@needs_psycopg2
def test_once_peewee_is_imported_it_changes_nothing():
    code = ("import sys\n"
            "import peewee\n"
            "from barriosms import store\n"
            "store.skip_postgresql_driver()\n"
            "import psycopg2\n"
            "print('DRIVER', peewee.psycopg2 is psycopg2)\n")
    assert python(code) == "DRIVER True"


def cache_size() -> int:
    return database.execute_sql("PRAGMA cache_size").fetchone()[0]


def test_the_page_cache_asked_for_applies_to_every_connection_and_the_default_is_sqlites(db):
    store.open_database(db, cache_kib=512)
    seen = []

    def other_thread():
        with database.connection_context():
            seen.append(cache_size())

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert (cache_size(), seen) == (-512, [-512])
    store.open_database(db)
    assert cache_size() == -2000  # SQLite's own default


def test_the_daemon_opens_the_database_with_its_small_page_cache(ready, ini):
    # In a fresh interpreter: `run` sets up the process's logging and Gammu's output for good.
    code = ("import sys\n"
            "from barriosms.daemon import process\n"
            "from barriosms.store.models import database\n"
            "class Stopped:\n"
            "    def __init__(self, settings, reload=None): pass\n"
            "    def run(self):\n"
            "        print('CACHE', database.execute_sql('PRAGMA cache_size').fetchone()[0])\n"
            "        return 0\n"
            "process.Daemon = Stopped\n"
            "from barriosms.cli import main\n"
            f"sys.argv = ['barriosms', '--config', {str(ini)!r}, 'run']\n"
            "main()\n")
    from barriosms.cli.run import SQLITE_CACHE_KIB

    assert python(code) == f"CACHE {-SQLITE_CACHE_KIB}"
