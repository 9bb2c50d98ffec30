"""End to end, the satisfaction question: the real daemon on the simulated modem, staff through the
CLI, residents answering 1 or 2 by SMS, and `stats` counting what they said."""

from __future__ import annotations

import re

import pytest
from conftest import started_rig

from barriosms.sim.rig import Rig

pytestmark = pytest.mark.slow

TRACKING = re.compile(r"\b\d{7}\b")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    yield from started_rig(tmp_path_factory.mktemp("survey"), poll_seconds=5)


def reported(rig: Rig, phone: str, text: str) -> str:
    rig.text(phone, text)
    return TRACKING.search(rig.sent_to(phone, 1)[0]["text"]).group()


def resolved_and_asked(rig: Rig, phone: str, tracking: str) -> None:
    change = rig.cli_json("cases", "status", tracking, "resolved")
    assert change["survey_asked"] == [phone]
    question = rig.sent_to(phone, 2)[1]["text"]
    assert question == (f"Aviso de la Alcaldia: su reclamo {tracking} ahora esta resuelto. "
                        "¿Se arreglo de verdad? Responda 1 si, 2 no")


def satisfaction(rig: Rig) -> dict:
    return rig.cli_json("stats")["satisfaction"]


def test_a_no_reopens_the_case_with_the_residents_words(rig):
    phone = "+59171000201"
    tracking = reported(rig, phone, "B10 hay un bache profundo en la calle 5")
    resolved_and_asked(rig, phone, tracking)

    rig.text(phone, "2 sigue el bache")
    assert rig.sent_to(phone, 3)[2]["text"] == (f"Su reclamo {tracking} fue reabierto. La Alcaldia lo revisara "
                                                f"otra vez. Para saber como va, envie {tracking}")
    # Staff have not looked yet (`cases show` may count it as seen).
    assert rig.query('SELECT unseen_replies FROM "case" WHERE tracking = ?', (tracking,)) == [(1,)]
    case = rig.cli_json("cases", "show", tracking)
    assert case["status"] == "reviewing"
    last = case["history"][-1]
    assert (last["kind"], last["from"], last["to"], last["note"], last["by"]) == (
        "reopen", "resolved", "reviewing", "2 sigue el bache", phone)
    assert f"case {tracking} reopened: the resident {phone} says it is not fixed" in rig.daemon_log.read_text()
    sat = satisfaction(rig)
    assert (sat["asked"], sat["answered"], sat["no"]) == (1, 1, 1)
    assert sat["by_category"]["vias"]["no"] == 1


def test_a_yes_keeps_it_resolved_and_counts(rig):
    phone = "+59171000202"
    tracking = reported(rig, phone, "B03 no hay luz en la plaza principal")
    resolved_and_asked(rig, phone, tracking)

    rig.text(phone, "1")
    assert rig.sent_to(phone, 3)[2]["text"] == f"Gracias por confirmar que se arreglo su reclamo {tracking}."
    assert rig.cli_json("cases", "show", tracking)["status"] == "resolved"
    sat = satisfaction(rig)
    assert (sat["asked"], sat["answered"], sat["yes"], sat["no"]) == (2, 2, 1, 1)
    assert sat["confirmed_share"] == 0.5 and sat["median_seconds_to_confirm"] is not None
    assert sat["by_category"]["alumbrado"]["confirmed_share"] == 1.0
    assert "fixes confirmed by residents: 1 of 2 answer(s) (50%), 1 not fixed" in rig.cli("stats").stdout
