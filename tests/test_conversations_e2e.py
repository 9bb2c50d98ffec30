"""End to end, staff ask and residents answer: the real daemon on the simulated modem, the staff CLI
as a process, the resident's SMS through the modem. Each test uses its own phone numbers."""

from __future__ import annotations

import re

import pytest
from conftest import SCRIPT_PACE, started_rig

from barriosms.sim.rig import Rig

pytestmark = pytest.mark.slow

TRACKING = re.compile(r"\b\d{7}\b")
# No quiet hours (the rig writes none): the questions leave at once, whatever the time of day.
# loop_fast_seconds = 0: the test answers within milliseconds of each SMS, as only a machine would.
SERVICE = {"replies_per_hour": 10, "replies_per_day": 30, "answer_window_hours": 72, **SCRIPT_PACE}


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    yield from started_rig(tmp_path_factory.mktemp("conversations"), poll_seconds=5, service_options=SERVICE)


def report(rig: Rig, phone: str, text: str) -> str:
    """The resident reports; the tracking number of the SMS that comes back."""
    count = len([m for m in rig.sent() if m["to"] == phone])
    rig.text(phone, text)
    reply = rig.sent_to(phone, count + 1)[count]
    assert reply["text"].startswith("Gracias, su reclamo quedo registrado.")
    return TRACKING.search(reply["text"]).group()


def cases_of(rig: Rig, phone: str) -> int:
    return rig.query('SELECT COUNT(*) FROM "case" WHERE phone = ?', (phone,))[0][0]


def test_a_question_and_its_answer_go_to_the_case(rig):
    phone = "+59171000201"
    tracking = report(rig, phone, "B12 hay un bache grande en la calle 3")
    asked = rig.cli_json("cases", "ask", tracking, "¿El bache esta frente a la escuela?")
    assert [q["phone"] for q in asked["questions"]] == [phone]
    question = rig.sent_to(phone, 2)[1]
    assert question["text"] == (f"Alcaldia, reclamo {tracking}: ¿El bache esta frente a la escuela? "
                                "Responda con un SMS a este numero.")
    assert question["parts"] == 1

    rig.text(phone, "si, frente a la escuela")
    answer = rig.sent_to(phone, 3)[2]
    assert answer["text"] == f"Gracias, su respuesta quedo en su reclamo {tracking}. La Alcaldia la revisara."
    assert cases_of(rig, phone) == 1

    [listed] = [c for c in rig.cli_json("cases", "list", "--has-new-replies") if c["tracking"] == tracking]
    assert (listed["unseen_replies"], listed["awaiting_resident"]) == (1, False)
    shown = rig.cli_json("cases", "show", tracking)
    assert [(h["kind"], h["note"], h["direction"]) for h in shown["history"] if h["direction"]] == [
        ("question", "¿El bache esta frente a la escuela?", "out"), ("answer", "si, frente a la escuela", "in")]
    assert "si, frente a la escuela" in [m["text"] for m in shown["messages"] if m["direction"] == "in"]
    assert shown["conversation"][0]["status"] == "answered"
    # Seen: no longer among the cases with new replies.
    assert tracking not in [c["tracking"] for c in rig.cli_json("cases", "list", "--has-new-replies")]


def test_two_waiting_cases_ask_which_one(rig):
    phone = "+59171000202"
    first = report(rig, phone, "B12 hay un bache grande en la calle 3")
    second = report(rig, phone, "B03 no hay luz en la plaza")
    rig.cli("cases", "ask", first, "¿El bache esta frente a la escuela?")
    rig.cli("cases", "ask", second, "¿Desde cuando no hay luz?")
    rig.sent_to(phone, 4)

    rig.text(phone, "frente a la plaza")
    which = rig.sent_to(phone, 5)[4]
    assert which["text"].startswith("¿De cual reclamo habla?")
    assert first in which["text"] and second in which["text"]

    rig.text(phone, f"{second} frente a la plaza")
    answer = rig.sent_to(phone, 6)[5]
    assert answer["text"] == f"Gracias, su respuesta quedo en su reclamo {second}. La Alcaldia la revisara."
    assert cases_of(rig, phone) == 2
    shown_second = rig.cli_json("cases", "show", second)
    assert [h["note"] for h in shown_second["history"] if h["kind"] == "answer"] == ["frente a la plaza"]
    shown_first = rig.cli_json("cases", "show", first)
    assert [h for h in shown_first["history"] if h["kind"] == "answer"] == []
    assert shown_first["awaiting_resident"] is True and shown_first["unseen_replies"] == 0


def test_an_answer_that_is_really_a_new_report(rig):
    phone = "+59171000203"
    tracking = report(rig, phone, "B12 hay un bache grande en la calle 3")
    rig.cli("cases", "ask", tracking, "¿El bache esta frente a la escuela?")
    rig.sent_to(phone, 2)

    new = report(rig, phone, "B12 hay otro bache en la esquina")
    assert new != tracking and cases_of(rig, phone) == 2
    assert rig.cli_json("cases", "show", new)["text"] == "hay otro bache en la esquina"
    old = rig.cli_json("cases", "show", tracking)
    assert old["awaiting_resident"] is True and [h for h in old["history"] if h["kind"] == "answer"] == []
