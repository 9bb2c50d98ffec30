"""End to end, field crews by SMS: the real daemon on the simulated modem through real Gammu, the
staff CLI as a process, the crew's and the residents' SMS through the modem. Each test uses its own
phone numbers."""

from __future__ import annotations

import re

import pytest
from conftest import SCRIPT_PACE, started_rig

from barriosms.sim.rig import Rig

pytestmark = pytest.mark.slow

TRACKING = re.compile(r"\b\d{7}\b")
# A small reply budget, and the loop guard's check for the same text again and again on (the pace
# checks are off as in every rig: the test's SMS come within milliseconds): a resident sending what
# the crews send here would be silenced; a crew never is for its own commands.
SERVICE = {"replies_per_hour": 4, "replies_per_day": 30, **SCRIPT_PACE}


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    yield from started_rig(tmp_path_factory.mktemp("crews"), poll_seconds=5, service_options=SERVICE)


def report(rig: Rig, phone: str, text: str) -> str:
    """The resident reports; the tracking number of the SMS that comes back."""
    count = len([m for m in rig.sent() if m["to"] == phone])
    rig.text(phone, text)
    reply = rig.sent_to(phone, count + 1)[count]
    assert reply["text"].startswith("Gracias, su reclamo quedo registrado.")
    return TRACKING.search(reply["text"]).group()


def command(rig: Rig, phone: str, text: str) -> str:
    """The crew sends a command; the one SMS it gets back."""
    count = len([m for m in rig.sent() if m["to"] == phone])
    rig.text(phone, text)
    answer = rig.sent_to(phone, count + 1)[count]
    assert answer["parts"] == 1
    return answer["text"]


def test_a_crew_resolves_a_case_by_sms_and_the_reporter_is_told(rig):
    reporter, crew = "+59171000301", "+59170000301"
    tracking = report(rig, reporter, "B12 hay un bache grande en la calle 3")
    added = rig.cli_json("crews", "add", "7000 0301", "--name", "Cuadrilla 3", "--pin", "4821")
    assert (added["phone"], added["pin"]) == (crew, "4821")
    rig.cli("cases", "assign", tracking, "Cuadrilla 3")

    ack = command(rig, crew, f"4821 {tracking} RESUELTO se tapo el bache")
    assert ack == f"Listo: el reclamo {tracking} ahora esta resuelto. La Alcaldia avisa a los vecinos que reclamaron."
    told = rig.sent_to(reporter, 2)[1]
    assert told["text"].startswith(f"Aviso de la Alcaldia: su reclamo {tracking}")
    assert "resuelto" in told["text"] and "se tapo el bache" in told["text"] and told["parts"] == 1

    shown = rig.cli_json("cases", "show", tracking)
    assert shown["status"] == "resolved"
    assert [(h["by"], h["to"], h["note"]) for h in shown["history"] if h["kind"] == "status"] == [
        ("Cuadrilla 3", "resolved", "se tapo el bache")]
    crew_sms = [m["text"] for m in shown["messages"] if m["direction"] == "in" and m["phone"] == crew]
    assert crew_sms == [f"**** {tracking} RESUELTO se tapo el bache"]  # the PIN is never stored
    [entry] = rig.cli_json("audit", "list", "--user", "Cuadrilla 3")
    assert (entry["source"], entry["action"], entry["target"]) == ("sms", "cases.status", tracking)

    # The note, public and internal, by the same service as `cases note`.
    ack = command(rig, crew, f"4821 {tracking} nota volvemos el lunes a limpiar")
    assert ack.startswith(f"Listo: la nota quedo en el reclamo {tracking}")
    assert rig.sent_to(reporter, 3)[2]["text"] == (
        f"Aviso de la Alcaldia sobre su reclamo {tracking}: volvemos el lunes a limpiar")
    ack = command(rig, crew, f"4821 {tracking} INTERNA faltó asfalto")
    assert ack.startswith(f"Listo: la nota interna quedo en el reclamo {tracking}")
    assert len(rig.settled(reporter, seconds=3)) == 3  # the internal note is not sent


def test_a_wrong_pin_locks_the_phone_and_says_so(rig):
    reporter, crew = "+59171000302", "+59170000302"
    tracking = report(rig, reporter, "B03 no hay luz en la plaza")
    rig.cli("crews", "add", crew, "--name", "Cuadrilla 4", "--pin", "4821")

    for pin in ("9991", "9992"):
        assert command(rig, crew, f"{pin} {tracking} en proceso").startswith("PIN incorrecto.")
    assert command(rig, crew, f"9993 {tracking} en proceso") == (
        "Comandos de cuadrilla bloqueados por PIN incorrecto. Intente de nuevo en 15 minutos.")
    # Locked: the right PIN is not even checked, the case does not move.
    assert command(rig, crew, f"4821 {tracking} en proceso").startswith("Comandos de cuadrilla bloqueados")
    assert rig.cli_json("cases", "show", tracking)["status"] == "received"
    [listed] = [c for c in rig.cli_json("crews", "list") if c["phone"] == crew]
    assert listed["wrong_pins"] == 3 and listed["locked_until"]
    actions = [e["action"] for e in rig.cli_json("audit", "list", "--user", "Cuadrilla 4")]
    assert actions == ["crews.locked", "crews.wrong_pin", "crews.wrong_pin", "crews.wrong_pin"]

    # A new PIN ends the lock.
    assert rig.cli_json("crews", "pin", crew, "--pin", "5555")["pin"] == "5555"
    ack = command(rig, crew, f"5555 {tracking} en proceso")
    assert ack.startswith(f"Listo: el reclamo {tracking} ahora esta en proceso.")
    assert rig.sent_to(reporter, 2)[1]["text"].startswith(f"Aviso de la Alcaldia: su reclamo {tracking} ahora esta "
                                                          "en proceso.")


def test_lista_and_a_crew_is_never_silenced_for_its_own_commands(rig):
    crew = "+59170000303"
    first = report(rig, "+59171000303", "B12 hay un bache en la calle 9")
    second = report(rig, "+59171000304", "B04 se rompio la cañeria en la esquina")
    rig.cli("crews", "add", crew, "--name", "Cuadrilla 5", "--pin", "2468")
    assert command(rig, crew, "2468 LISTA") == "La cuadrilla no tiene reclamos abiertos asignados."
    rig.cli("cases", "assign", first, "Cuadrilla 5")
    rig.cli("cases", "assign", second, "Cuadrilla 5")

    # The same command again and again, right after each answer, more often than a resident's
    # hourly budget allows: every one is answered and the phone is not silenced.
    # (Each text differs a little: the modem stamps SMS to the second, and one phone's identical SMS
    # within a second are one SMS read twice.)
    for text in ("2468 lista", "2468 LISTA", "2468 Lista", "2468 lísta", "2468  lista", "2468 LISTA."):
        listed = command(rig, crew, text)
        assert listed.startswith("Reclamos abiertos de la cuadrilla, el mas antiguo primero: ")
        assert listed.index(first) < listed.index(second)
    assert crew not in [p["phone"] for p in rig.cli_json("phones", "list")]
    # A typo in the number: the helpful answer, never another case.
    typo = first[:6] + str((int(first[6]) + 1) % 10)
    assert command(rig, crew, f"2468 {typo} resuelto").startswith(f"El numero {typo} no es un numero de reclamo")
    assert rig.cli_json("cases", "show", first)["status"] == "received"
    # Without its PIN the crew's phone is a resident's: a report opens a case.
    assert report(rig, crew, "B12 hay un poste caido en la avenida")
