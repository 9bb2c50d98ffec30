"""End to end, staff correct a case: the real daemon on the simulated modem, the resident's SMS through
the modem, `barriosms cases edit --notify` as a process, the resident told of the new neighbourhood,
and the history and the hotspots following at once; category corrections teach the daemon a new word."""

from __future__ import annotations

import re

import pytest
from conftest import started_rig

pytestmark = pytest.mark.slow

TRACKING = re.compile(r"\b\d{7}\b")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    yield from started_rig(tmp_path_factory.mktemp("editing"), poll_seconds=5)


def test_a_case_moved_to_another_neighbourhood_tells_the_resident(rig):
    phone = "+59171000201"
    rig.text(phone, "B12 hay un bache grande en la calle 3")
    tracking = TRACKING.search(rig.sent_to(phone, 1)[0]["text"]).group()
    assert [(h["neighborhood"], h["category"], h["open"]) for h in rig.cli_json("report", "hotspots")] == [
        ("B12", "vias", 1)]

    edited = rig.cli_json("cases", "edit", tracking, "--neighborhood", "B03", "--note", "Es en Miraflores",
                          "--notify")
    assert (edited["tracking"], edited["changed"], edited["sms_queued"]) == (
        tracking, {"neighborhood": {"from": "B12", "to": "B03"}}, 1)

    told = rig.sent_to(phone, 2)[1]
    assert told["text"] == (f"La Alcaldia corrigio el barrio de su reclamo {tracking}: ahora es Miraflores (B03). "
                            f"Para saber como va, envie {tracking}")
    assert told["parts"] == 1

    shown = rig.cli_json("cases", "show", tracking)
    assert (shown["tracking"], shown["neighborhood"], shown["neighborhood_name"]) == (tracking, "B03", "Miraflores")
    [entry] = [h for h in shown["history"] if h["kind"] == "correction"]
    assert (entry["note"], entry["public"]) == ("neighbourhood: B12 → B03; Es en Miraflores", False)
    assert entry["by"]  # who ran the command
    assert [(h["neighborhood"], h["category"], h["open"]) for h in rig.cli_json("report", "hotspots")] == [
        ("B03", "vias", 1)]
    # The resident's status query answers for the same number.
    rig.text(phone, tracking)
    assert rig.sent_to(phone, 3)[2]["text"] == f"Su reclamo {tracking} esta recibido."


def test_staff_correct_a_word_the_gateway_never_knew_and_the_next_report_is_filed_right(rig):
    # "zanja" (an open trench) is in no keyword list: three reports land in "otros", staff file them
    # under agua, the daemon relearns (SIGHUP; it also does every night), and the next one is agua.
    texts = ["hay una zanja abierta", "zanja enorme frente al mercado", "la zanja se lleno otra vez"]
    for n, text in enumerate(texts):
        phone = f"+5917100030{n}"
        rig.text(phone, f"B05 {text}")
        tracking = TRACKING.search(rig.sent_to(phone, 1)[0]["text"]).group()
        assert rig.cli_json("cases", "show", tracking)["category"] == "otros"
        rig.cli_json("cases", "edit", tracking, "--category", "agua")
    learnt = rig.cli_json("categories", "learned")
    assert [(w["word"], w["category"], w["cases"]) for w in learnt] == [("zanja", "agua", 3)]

    rig.reload()
    phone = "+59171000309"
    rig.text(phone, "B05 otra zanja sin tapar en la esquina")
    tracking = TRACKING.search(rig.sent_to(phone, 1)[0]["text"]).group()
    assert rig.cli_json("cases", "show", tracking)["category"] == "agua"
