"""End to end, a workshop: the real daemon on the simulated modem answers practice (PRUEBA ...) as it
answers real reports, and the staff CLI shows none of it among the cases, only in `workshop report`."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from conftest import SCRIPT_PACE, started_rig

from barriosms.domain.tracking import is_valid_tracking
from barriosms.templates.loader import load_templates

pytestmark = pytest.mark.slow

TRAINEE = "+59171000201"
RESIDENT = "+59171000202"
TRACKING = re.compile(r"\b\d{7}\b")
# Two replies an hour per phone: the trainee's third one is over that budget, and is answered anyway.
SERVICE = {"replies_per_hour": 2, "replies_per_day": 10, **SCRIPT_PACE}


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    yield from started_rig(tmp_path_factory.mktemp("practice"), poll_seconds=5, service_options=SERVICE)


def test_a_workshop_gets_real_replies_and_leaves_no_trace(rig, tmp_path):
    t = load_templates()
    rig.text(TRAINEE, "PRUEBA B12 hay un bache en la calle 3")
    [received] = rig.sent_to(TRAINEE, 1)
    number = TRACKING.search(received["text"]).group()
    assert is_valid_tracking(number)
    assert received["text"] == t.render("practice_received", tracking=number, barrio="Villa San Antonio",
                                        category="vias")

    rig.text(TRAINEE, number)
    assert rig.sent_to(TRAINEE, 2)[1]["text"] == f"Su reclamo {number} esta recibido."
    rig.text(TRAINEE, "PRUEBA hay basura")
    assert rig.sent_to(TRAINEE, 3)[2]["text"] == t.render("unroutable")

    rig.text(RESIDENT, "B03 no hay luz en la plaza")
    real = TRACKING.search(rig.sent_to(RESIDENT, 1)[0]["text"]).group()
    assert real != number and rig.cli_json("cases", "show", real)["neighborhood"] == "B03"

    assert [c["tracking"] for c in rig.cli_json("cases", "list")] == [real]
    rows = list(csv.DictReader(io.StringIO(rig.cli("cases", "export", "--format", "csv").stdout)))
    assert [r["tracking"] for r in rows] == [real]
    features = json.loads(rig.cli("cases", "export", "--format", "geojson").stdout)["features"]
    assert [f["properties"]["tracking"] for f in features] == [real]
    stats = rig.cli_json("stats")
    assert stats["total"] == 1 and sum(stats["by_category"].values()) == 1
    assert [(s["neighborhood"], s["open"]) for s in rig.cli_json("report", "hotspots")] == [("B03", 1)]
    assert rig.cli_json("report", "map", "-o", str(tmp_path / "mapa.html"))["cases"] == 1
    assert TRAINEE not in [m["phone"] for m in rig.cli_json("inbox", "list")]
    assert rig.query('SELECT COUNT(*) FROM "case" WHERE phone = ?', (TRAINEE,)) == [(0,)]

    [row] = rig.cli_json("workshop", "report")
    assert (row["phone"], row["messages"], row["well_formed"], row["not_well_formed"], row["problems"]) == (
        TRAINEE, 3, 2, 1, {"missing_neighborhood": 1})

    # After the workshop: the trainer deletes the practice; the real case stays.
    done = rig.cli_json("workshop", "purge", "--older-than", "0")
    assert (done["messages"], done["cases"]) == (3, 1)
    assert rig.cli_json("workshop", "report") == []
    assert rig.query("SELECT COUNT(*) FROM inbound_message WHERE phone = ?", (TRAINEE,)) == [(0,)]
    assert [c["tracking"] for c in rig.cli_json("cases", "list")] == [real]
