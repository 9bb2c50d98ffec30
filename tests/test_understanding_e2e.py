"""End to end (issue 13): the real daemon on the simulated modem reads residents' messages as they
write them: a code glued to the next word, "V." for Villa, a street word beside the problem, a
greeting alone (the instructions), a thumbs-up (stored, not answered)."""

from __future__ import annotations

import re

import pytest
from conftest import started_rig

from barriosms.sim.rig import wait_for
from barriosms.templates.loader import load_templates

pytestmark = pytest.mark.slow

TRACKING = re.compile(r"\b\d{7}\b")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    yield from started_rig(tmp_path_factory.mktemp("understanding"), poll_seconds=5)


def case_of(rig, phone: str) -> dict:
    [reply] = rig.sent_to(phone, 1)
    return rig.cli_json("cases", "show", TRACKING.search(reply["text"]).group())


def test_a_code_glued_to_the_next_word_opens_the_case_there(rig):
    rig.text("+59171000301", "b05hay un hueco en media calle")
    case = case_of(rig, "+59171000301")
    assert (case["neighborhood"], case["category"]) == ("B05", "vias")


def test_an_abbreviated_villa_is_the_villa(rig):
    rig.text("+59171000302", "V. Copacabana no pasa el carro basurero hace una semana")
    case = case_of(rig, "+59171000302")
    assert (case["neighborhood"], case["category"]) == ("B10", "residuos")


def test_the_street_word_does_not_decide_the_category(rig):
    rig.text("+59171000303", "B12 en la calle 3 esquina avenida las luminarias estan apagadas")
    case = case_of(rig, "+59171000303")
    assert (case["neighborhood"], case["category"]) == ("B12", "alumbrado")


def test_a_greeting_gets_the_instructions_and_thanks_get_nothing(rig):
    rig.text("+59171000304", "Hola buenas tardes, es el numero de la alcaldia?")
    [reply] = rig.sent_to("+59171000304", 1)
    assert reply["text"] == load_templates().render("help")
    rig.text("+59171000304", "👍 gracias")
    intents = wait_for(lambda: (rows := rig.query("SELECT intent FROM inbound_message WHERE phone = ? ORDER BY id",
                                                  ("+59171000304",)))[1:] and rows, 30, "the thanks stored")
    assert intents == [("help",), ("courtesy",)]
    assert len(rig.settled("+59171000304")) == 1  # the thanks is stored, not answered
