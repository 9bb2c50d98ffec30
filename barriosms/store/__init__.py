"""The store: peewee models, opening the database (SQLite or PostgreSQL), numbered migrations.

May import: barriosms.domain only. Never barriosms.config, a service or an interface: callers pass
the database path in.
"""

from __future__ import annotations

import sys

# The PostgreSQL drivers peewee tries at its own import (when installed), whether the process opens
# PostgreSQL or not.
POSTGRESQL_DRIVERS = ("psycopg2", "psycopg")


def skip_postgresql_driver() -> None:
    """In a process that will only ever open an SQLite file, keep peewee from loading psycopg2.

    When psycopg2 is installed (`barriosms[postgresql]`, or Debian's python3-psycopg2 in a venv with
    the system's packages), peewee imports it at its own import: about 5 MiB resident in the daemon
    (libpq with its TLS and Kerberos libraries) that SQLite never uses. Call this before anything
    imports peewee; afterwards it changes nothing. A postgresql:// URL then cannot be opened by this
    process (open_database says that psycopg2 is missing).
    """
    if "peewee" in sys.modules:
        return
    for name in POSTGRESQL_DRIVERS:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # None: `import name` raises ImportError
