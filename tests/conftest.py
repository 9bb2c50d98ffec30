"""Shared fixtures: a real SQLite file per test, migrated the way `barriosms db migrate` does it."""

from __future__ import annotations

from pathlib import Path

import pytest

from barriosms.store import database as store
from barriosms.store.models import Neighborhood

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CSV = ROOT / "config" / "neighborhoods-lapaz.csv"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "barriosms.db"
    store.migrate_database(path)
    yield path
    store.close()


@pytest.fixture
def hoods(db):
    from barriosms.neighborhoods import import_csv

    import_csv(SAMPLE_CSV)
    return {n.code: n for n in Neighborhood.select()}
