"""Field crews: the PIN and its lock (cases.crews), their SMS through the intake (pipeline.crewdesk),
and `barriosms crews` (cli.crews)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random

import pytest
from werkzeug.security import check_password_hash

from barriosms.cases import casework, crews, subscribers
from barriosms.config import ServiceSettings
from barriosms.domain.crewcommands import PIN_MASK
from barriosms.domain.tracking import damm_check_digit
from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline import crewdesk
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.staff import audit
from barriosms.store.models import AuditEntry, Case, CaseEvent, Crew, InboundMessage, OutboundMessage, SmsPart
from barriosms.templates.loader import load_categories, load_templates

T0 = dt.datetime(2026, 11, 24, 12, 0)
CREW = "+59170000003"
OTHER_CREW = "+59170000004"
PIN = "4821"
TEMPLATES = load_templates()


# -- the service: PINs and the lock ---------------------------------------------------------------


def test_a_crew_is_added_with_its_pin_stored_only_as_a_hash(db):
    crew, pin = crews.add(CREW, "  Cuadrilla   3 ", PIN, actor="ana", now=T0)
    assert (crew.phone, crew.name, pin) == (CREW, "Cuadrilla 3", PIN)
    stored = Crew.get(Crew.phone == CREW)
    assert PIN not in stored.pin_hash and stored.pin_hash.startswith("scrypt:")
    assert check_password_hash(stored.pin_hash, PIN)
    assert [(e.actor, e.source, e.action, e.target) for e in audit.entries()] == [("ana", "cli", "crews.add", CREW)]


def test_a_random_pin_when_none_is_given(db):
    _, pin = crews.add(CREW, "Cuadrilla 3", actor="ana")
    assert len(pin) == crews.GENERATED_PIN_DIGITS and pin.isdigit()
    assert crews.verify(CREW, pin).ok
    pins = {crews.generate_pin() for _ in range(50)}
    assert len(pins) > 40  # secrets, not a constant


@pytest.mark.parametrize(("pin", "name", "message"), [
    ("123", "Cuadrilla 3", "4 to 8 digits"),
    ("123456789", "Cuadrilla 3", "4 to 8 digits"),
    ("12a4", "Cuadrilla 3", "4 to 8 digits"),
    ("1234", "   ", "needs a name"),
    ("1234", "x" * 81, "too long"),
])
def test_bad_pins_and_names_are_refused(db, pin, name, message):
    with pytest.raises(crews.CrewError, match=message):
        crews.add(CREW, name, pin, actor="ana")
    assert Crew.select().count() == 0 and AuditEntry.select().count() == 0


def test_a_phone_is_one_crews(db):
    crews.add(CREW, "Cuadrilla 3", PIN, actor="ana")
    with pytest.raises(crews.CrewError, match="already a crew's"):
        crews.add(CREW, "Cuadrilla 4", PIN, actor="ana")
    crews.add(OTHER_CREW, "Cuadrilla 3", "9999", actor="ana")  # two phones of one crew
    assert [(c.name, c.phone) for c in crews.crews()] == [("Cuadrilla 3", CREW), ("Cuadrilla 3", OTHER_CREW)]


def test_wrong_pins_lock_the_phone_for_longer_and_longer(db):
    crews.add(CREW, "Cuadrilla 3", PIN, actor="ana")
    now = T0
    for n in (1, 2):
        check = crews.verify(CREW, "0000", now)
        assert (check.ok, check.failures, check.locked_until) == (False, n, None)
    check = crews.verify(CREW, "0000", now)
    assert (check.ok, check.failures, check.locked_until) == (False, 3, now + dt.timedelta(minutes=15))
    assert check.minutes_left(now) == 15
    # Locked: even the right PIN is not checked.
    later = now + dt.timedelta(minutes=14)
    refused = crews.verify(CREW, PIN, later)
    assert (refused.ok, refused.was_locked, refused.minutes_left(later)) == (False, True, 1)
    # Once the lock is over, three more wrong PINs lock it twice as long.
    now += dt.timedelta(minutes=15)
    for _ in range(3):
        check = crews.verify(CREW, "0000", now)
    assert (check.failures, check.locked_until) == (6, now + dt.timedelta(minutes=30))
    now += dt.timedelta(minutes=30)
    assert crews.verify(CREW, PIN, now).ok
    assert (Crew.get().failures, Crew.get().locked_until) == (0, None)


def test_the_lock_doubles_up_to_a_day():
    assert [crews.lock_for(n) for n in (1, 2, 4, 5)] == [None] * 4
    assert [crews.lock_for(3 * k).total_seconds() / 60 for k in range(1, 10)] == [
        15, 30, 60, 120, 240, 480, 960, 1440, 1440]
    assert crews.lock_for(3 * 10_000) == crews.MAX_LOCK


def test_a_new_pin_replaces_the_old_one_and_unlocks(db):
    crews.add(CREW, "Cuadrilla 3", PIN, actor="ana", now=T0)
    for _ in range(3):
        crews.verify(CREW, "0000", T0)
    crew, pin = crews.set_pin(CREW, actor="ana", now=T0)
    assert (crew.failures, crew.locked_until) == (0, None)
    assert not crews.verify(CREW, PIN, T0).ok
    assert crews.verify(CREW, pin, T0).ok
    assert crews.remove(CREW, actor="ana", now=T0).name == "Cuadrilla 3"
    assert crews.verify(CREW, pin, T0) is None
    with pytest.raises(crews.CrewError, match="no crew has the phone"):
        crews.remove(CREW, actor="ana", now=T0)
    assert [e.action for e in audit.entries()] == ["crews.remove", "crews.pin", "crews.add"]


# -- their SMS through the intake -----------------------------------------------------------------


@dataclasses.dataclass
class Desk:
    """The intake as the daemon runs it, a clock that moves a minute per SMS, and what it sent."""

    intake: Intake
    now: dt.datetime = T0
    location: int = 0

    def text(self, phone: str, text: str, *, after: dt.timedelta = dt.timedelta(minutes=1)) -> InboundMessage:
        self.now += after
        self.location += 1
        self.intake.store(ReceivedSms(location=self.location, sender=phone, text=text, smsc_time=self.now),
                          now=self.now)
        return InboundMessage.select().order_by(InboundMessage.id.desc()).get()

    def report(self, phone: str, text: str = "B12 hay un bache grande en la calle 3") -> str:
        self.text(phone, text)
        return Case.select().order_by(Case.id.desc()).get().tracking

    @staticmethod
    def sent(phone: str) -> list[OutboundMessage]:
        return list(OutboundMessage.select().where(OutboundMessage.recipient == phone).order_by(OutboundMessage.id))

    def last(self, phone: str) -> OutboundMessage:
        return self.sent(phone)[-1]


SERVICE = ServiceSettings(satisfaction_survey=False, loop_fast_seconds=0, loop_typing_chars_per_second=0)


@pytest.fixture
def desk(hoods):
    crews.add(CREW, "Cuadrilla 3", PIN, actor="ana", now=T0)
    rules = IntakeRules(TEMPLATES, load_categories(), region="BO", service=SERVICE)
    return Desk(Intake(rules, rng=random.Random(15)))


def test_a_crew_resolves_a_case_and_the_reporters_are_told_as_when_staff_act(desk):
    by_staff = desk.report("+59171000001")
    by_crew = desk.report("+59171000002")
    for phone in ("+59171000001", "+59171000002"):
        OutboundMessage.delete().where(OutboundMessage.recipient == phone).execute()
    casework.change_status(by_staff, "resolved", TEMPLATES, note="se tapo el bache", actor="ana", region="BO",
                           now=desk.now, service=SERVICE)
    msg = desk.text(CREW, f"{PIN} {by_crew} RESUELTO se tapo el bache")

    [told_staff], [told_crew] = desk.sent("+59171000001"), desk.sent("+59171000002")
    assert told_crew.text == told_staff.text.replace(by_staff, by_crew)
    assert (told_crew.kind, told_crew.case.tracking) == ("status_update", by_crew)
    assert Case.get(Case.tracking == by_crew).status == "resolved"
    [ack] = desk.sent(CREW)
    assert ack.text == f"Listo: el reclamo {by_crew} ahora esta resuelto. La Alcaldia avisa a los vecinos que reclamaron."
    assert (ack.kind, ack.urgent, ack.in_reply_to_id, ack.case.tracking) == ("crew", True, msg.id, by_crew)
    event = CaseEvent.get((CaseEvent.kind == "status") & (CaseEvent.case == Case.get(Case.tracking == by_crew)))
    assert (event.actor, event.old_status, event.new_status, event.note) == (
        "Cuadrilla 3", "received", "resolved", "se tapo el bache")
    entry = audit.entries(actor="Cuadrilla 3")[0]
    assert (entry.source, entry.action, entry.target, entry.at) == ("sms", "cases.status", by_crew, desk.now)
    assert entry.detail == f"received -> resolved; note: se tapo el bache; by SMS from {CREW}"
    # The PIN is nowhere in what staff read.
    assert (msg.text, msg.intent, msg.case.tracking) == (f"{PIN_MASK} {by_crew} RESUELTO se tapo el bache", "crew",
                                                          by_crew)
    assert not InboundMessage.select().where(InboundMessage.text.contains(PIN)).exists()


def test_spanish_status_words_of_two_words_accents_and_case(desk):
    tracking = desk.report("+59171000001")
    desk.text(CREW, f"{PIN} {tracking} En Revisión")
    desk.text(CREW, f"{PIN} {tracking[:3]} {tracking[3:]} en-proceso: vamos el lunes")
    case = Case.get(Case.tracking == tracking)
    assert case.status == "in_progress"
    assert desk.last("+59171000001").text.endswith("ahora esta en proceso. Nota: vamos el lunes")


def test_public_and_internal_notes(desk):
    tracking = desk.report("+59171000001")
    before = len(desk.sent("+59171000001"))
    desk.text(CREW, f"{PIN} {tracking} NOTA llevamos material el jueves")
    assert desk.last("+59171000001").text == (
        f"Aviso de la Alcaldia sobre su reclamo {tracking}: llevamos material el jueves")
    assert desk.last(CREW).text == (
        f"Listo: la nota quedo en el reclamo {tracking} y se envia a los vecinos que reclamaron.")
    desk.text(CREW, f"{PIN} {tracking} interna falta una volqueta")
    assert len(desk.sent("+59171000001")) == before + 1  # the internal note is not sent
    assert desk.last(CREW).text == (
        f"Listo: la nota interna quedo en el reclamo {tracking}. No se envia a los vecinos.")
    notes = [(e.note, e.public, e.actor) for e in CaseEvent.select().where(CaseEvent.kind == "note")]
    assert notes == [("llevamos material el jueves", True, "Cuadrilla 3"), ("falta una volqueta", False, "Cuadrilla 3")]
    assert [(e.action, e.detail.split(";")[0]) for e in reversed(audit.entries(actor="Cuadrilla 3"))] == [
        ("cases.note", "public: llevamos material el jueves"), ("cases.note", "internal: falta una volqueta")]


def test_a_wrong_pin_counts_locks_and_says_so(desk):
    tracking = desk.report("+59171000001")
    for _ in range(2):
        msg = desk.text(CREW, f"9999 {tracking} resuelto")
        assert desk.last(CREW).text == TEMPLATES.render("crew_wrong_pin")
        assert (msg.intent, msg.text) == ("crew_wrong_pin", f"{PIN_MASK} {tracking} resuelto")
    desk.text(CREW, f"9999 {tracking} resuelto")
    assert desk.last(CREW).text == ("Comandos de cuadrilla bloqueados por PIN incorrecto. "
                                    "Intente de nuevo en 15 minutos.")
    # The right PIN while locked changes nothing.
    msg = desk.text(CREW, f"{PIN} {tracking} resuelto", after=dt.timedelta(minutes=5))
    assert msg.intent == "crew_locked"
    assert desk.last(CREW).text.endswith("Intente de nuevo en 10 minutos.")
    assert Case.get(Case.tracking == tracking).status == "received"
    assert [e.action for e in reversed(audit.entries(actor="Cuadrilla 3"))] == [
        "crews.wrong_pin", "crews.wrong_pin", "crews.wrong_pin", "crews.locked"]
    # After the lock, the right PIN works and the count starts again.
    desk.text(CREW, f"{PIN} {tracking} resuelto", after=dt.timedelta(minutes=10))
    assert Case.get(Case.tracking == tracking).status == "resolved"
    assert Crew.get().failures == 0


def test_wrong_pins_are_answered_and_a_locked_phone_within_a_residents_budget(hoods):
    crews.add(CREW, "Cuadrilla 3", PIN, actor="ana", now=T0)
    rules = IntakeRules(TEMPLATES, load_categories(), region="BO",
                        service=dataclasses.replace(SERVICE, replies_per_hour=2))
    desk = Desk(Intake(rules, rng=random.Random(1)))
    desk.text(CREW, "B12 hay un bache en la calle 8")  # a resident's reply: one of the two an hour
    for n in range(3):
        desk.text(CREW, f"999{n} lista")  # wrong PINs: each answered, the last one says it locked
    for n in range(3):
        desk.text(CREW, f"{PIN} lista {n}")  # while locked: as a resident, within the budget
    assert [m.kind for m in desk.sent(CREW)] == ["reply", "crew", "crew", "crew", "reply"]
    assert desk.sent(CREW)[3].text.startswith("Comandos de cuadrilla bloqueados")
    assert [m.unanswered for m in InboundMessage.select().where(InboundMessage.intent == "crew_locked")] == [
        "", "phone_hour_budget", "phone_hour_budget"]


def test_lista_the_crews_pending_cases_oldest_first_in_one_sms(desk):
    first = desk.report("+59171000001", "B12 hay un bache grande en la calle 3")
    second = desk.report("+59171000002", "B03 no hay luz en la plaza")
    done = desk.report("+59171000003", "B12 otro bache en la calle 5")
    theirs = desk.report("+59171000004", "B12 un bache mas")
    casework.assign(first, "Cuadrilla 3")
    casework.assign(second, "cuadrilla 3")  # staff's spelling may differ in case
    casework.assign(done, "Cuadrilla 3")
    casework.change_status(done, "resolved", TEMPLATES, region="BO")
    casework.assign(theirs, "Cuadrilla 4")
    desk.text(CREW, f"{PIN} LISTA")
    case = Case.get(Case.tracking == second)
    assert desk.last(CREW).text == ("Reclamos abiertos de la cuadrilla, el mas antiguo primero: "
                                    f"{first} B12 vias; {second} B03 {case.category}")
    entry = audit.entries(action="crews.list")[0]
    assert (entry.actor, entry.source, entry.detail) == ("Cuadrilla 3", "sms", "2 pending case(s)")


def test_lista_with_more_cases_than_one_sms_holds(desk):
    for n in range(12):
        casework.assign(desk.report(f"+5917100010{n:02d}"[:12], f"B12 hay un bache numero {n}"), "Cuadrilla 3")
    desk.text(CREW, f"{PIN} lista")
    text = desk.last(CREW).text
    assert len(text) <= 160 and ".." not in text
    shown = text.split(": ", 1)[1].split(" (+")[0].split("; ")
    assert text.endswith(f"(+{12 - len(shown)} mas)") and len(shown) >= 4
    assert [s.split()[0] for s in shown] == [c.tracking for c in crews.assigned_cases("Cuadrilla 3")][:len(shown)]


def test_lista_with_no_cases(desk):
    desk.text(CREW, f"{PIN} lista")
    assert desk.last(CREW).text == "La cuadrilla no tiene reclamos abiertos asignados."


def test_a_mistyped_or_unknown_number_never_touches_a_case(desk):
    tracking = desk.report("+59171000001")
    typo = tracking[:5] + tracking[6] + tracking[5] if tracking[5] != tracking[6] else tracking[:6] + str(
        (int(tracking[6]) + 1) % 10)
    desk.text(CREW, f"{PIN} {typo} resuelto")
    assert desk.last(CREW).text.startswith(f"El numero {typo} no es un numero de reclamo valido (7 cifras).")
    nobodys = "100000" + damm_check_digit("100000")
    desk.text(CREW, f"{PIN} {nobodys} resuelto")
    assert desk.last(CREW).text.startswith(f"No hay ningun reclamo con el numero {nobodys}.")
    assert Case.get(Case.tracking == tracking).status == "received"
    assert not audit.entries(actor="Cuadrilla 3")


def test_a_move_the_case_cannot_make_is_explained(desk):
    tracking = desk.report("+59171000001")
    desk.text(CREW, f"{PIN} {tracking} cerrado")
    assert desk.last(CREW).text == (f"No se cambio: el reclamo {tracking} esta recibido. Desde ahi puede pasar a: "
                                    "en revision, en proceso, resuelto, rechazado")
    assert Case.get(Case.tracking == tracking).status == "received"
    assert not audit.entries(actor="Cuadrilla 3")


def test_a_merged_case_names_the_one_to_use(desk):
    dup, keep = desk.report("+59171000001"), desk.report("+59171000002")
    casework.merge(dup, keep, TEMPLATES, region="BO")
    desk.text(CREW, f"{PIN} {dup} resuelto")
    assert desk.last(CREW).text == f"El reclamo {dup} se unio al reclamo {keep}. Envie el comando con el numero {keep}"


def test_help_and_half_commands(desk):
    tracking = desk.report("+59171000001")
    for text in (f"{PIN} ayuda", f"{PIN} {tracking}", f"{PIN} {tracking} arreglado", f"{PIN} {tracking} nota"):
        desk.text(CREW, text)
        assert desk.last(CREW).text == TEMPLATES.render("crew_help")
    assert Case.get(Case.tracking == tracking).status == "received"


def test_without_a_pin_a_crew_phone_is_a_resident(desk):
    desk.text(CREW, "B12 hay un bache en la calle 8")
    case = Case.select().order_by(Case.id.desc()).get()
    assert case.phone == CREW
    assert desk.last(CREW).text.startswith("Gracias, su reclamo quedo registrado.")
    desk.text(CREW, case.tracking)  # a status query, not a PIN
    assert desk.last(CREW).text.startswith(f"Su reclamo {case.tracking} esta recibido")
    assert Crew.get().failures == 0


def test_a_pin_command_from_another_phone_is_a_residents_message(desk):
    tracking = desk.report("+59171000001")
    msg = desk.text("+59171000009", f"{PIN} {tracking} resuelto")
    assert Case.get(Case.tracking == tracking).status == "received"
    assert not msg.intent.startswith("crew") and PIN in msg.text


def test_a_crew_phone_is_never_silenced_for_its_own_commands(desk):
    tracking = desk.report("+59171000001")
    subscribers.mute(CREW, desk.now + dt.timedelta(hours=24), "loop: test", desk.now)
    desk.text(CREW, f"{PIN} {tracking} en revision", after=dt.timedelta(seconds=1))
    assert desk.last(CREW).text.startswith("Listo: el reclamo")
    assert subscribers.unmute(CREW, desk.now)
    # Commands faster than anyone types each right after our answer, the same text again and again,
    # beyond the per-phone budget: still a crew, never a machine. The same from a resident's phone is one.
    desk.intake.rules = dataclasses.replace(desk.intake.rules, service=ServiceSettings(satisfaction_survey=False))
    for phone in (CREW, "+59171000077"):
        for _ in range(8):
            desk.text(phone, f"{PIN} lista", after=dt.timedelta(milliseconds=300))
            (OutboundMessage.update(status="sent", sent_at=desk.now + dt.timedelta(milliseconds=100))
             .where(OutboundMessage.sent_at.is_null()).execute())
    assert [m.text for m in desk.sent(CREW)][-8:] == [TEMPLATES.render("crew_list_empty")] * 8
    assert subscribers.muted_until(CREW, desk.now) is None
    assert subscribers.muted_until("+59171000077", desk.now) is not None
    assert len(desk.sent("+59171000077")) < 8


def test_the_pin_is_masked_in_the_parts_of_a_long_sms(desk):
    tracking = desk.report("+59171000001")
    note = "se tapo el bache " * 20
    text = f"{PIN} {tracking} nota {note}"
    desk.now += dt.timedelta(minutes=1)
    for n, chunk in enumerate((text[:153], text[153:]), start=1):
        desk.intake.store(ReceivedSms(location=50 + n, sender=CREW, text=chunk, smsc_time=desk.now, concat_ref=7,
                                      part_number=n, total_parts=2), now=desk.now)
    assert desk.last(CREW).text.startswith("Listo: la nota quedo")
    assert [p.text[:len(PIN_MASK) + 1] for p in SmsPart.select().order_by(SmsPart.part_number)][0] == PIN_MASK + " "
    assert not SmsPart.select().where(SmsPart.text.contains(PIN)).exists()


def test_the_list_fits_whatever_the_entries():
    entries = [f"{n}" * 7 + " B12 vias" for n in range(1, 10)]
    text = crewdesk.fit_list(TEMPLATES, entries, 30)
    assert len(text) <= 160 and text.endswith("mas)") and ".." not in text


# -- the command line ------------------------------------------------------------------------------


def test_cli_add_list_pin_remove(ready):
    added = json.loads(ready("crews", "add", "7000 0003", "--name", "Cuadrilla 3", "--pin", PIN, "--json").output)
    assert (added["phone"], added["name"], added["pin"], added["wrong_pins"]) == (CREW, "Cuadrilla 3", PIN, 0)
    out = ready("crews", "add", "+591 70000004", "--name", "Cuadrilla 4").output
    pin = out.split("PIN: ")[1].split()[0]
    assert len(pin) == 6 and pin.isdigit() and "shown only now" in out
    listed = json.loads(ready("crews", "list", "--json").output)
    assert [(c["phone"], c["name"], c["pending_cases"], c["locked_until"]) for c in listed] == [
        (CREW, "Cuadrilla 3", 0, None), (OTHER_CREW, "Cuadrilla 4", 0, None)]
    assert "pin" not in listed[0] and "pin_hash" not in listed[0]
    table = ready("crews", "list").output
    assert "Cuadrilla 3" in table and PIN not in table and pin not in table
    renewed = json.loads(ready("crews", "pin", "59170000003", "--json").output)
    assert renewed["pin"] != PIN and crews.verify(CREW, renewed["pin"]).ok
    assert "removed" in ready("crews", "remove", "70000004").output
    assert [c["phone"] for c in json.loads(ready("crews", "list", "--json").output)] == [CREW]
    actions = [e["action"] for e in json.loads(ready("audit", "list", "--json").output)]
    assert actions[:4] == ["crews.remove", "crews.pin", "crews.add", "crews.add"]


@pytest.mark.parametrize(("args", "message"), [
    (("crews", "add", "hola", "--name", "C3"), "'hola' is not a phone number"),
    (("crews", "add", "70000003", "--name", "C3", "--pin", "12"), "Error: a PIN is 4 to 8 digits (0-9)"),
    (("crews", "pin", "70000009"), "Error: no crew has the phone +59170000009"),
    (("crews", "remove", "70000009"), "Error: no crew has the phone +59170000009"),
])
def test_cli_expected_errors(ready, args, message):
    assert message in ready(*args, code=1).output


def test_cli_refuses_a_duplicate_and_a_role_that_may_not(ready, monkeypatch):
    ready("crews", "add", "70000003", "--name", "Cuadrilla 3")
    assert "already a crew's" in ready("crews", "add", "+59170000003", "--name", "Otra", code=1).output
    ready("staff", "add", "vic", "--name", "Vic", "--role", "staff", "--password-stdin", input="correct horse 42\n")
    out = ready("--as", "vic", "crews", "add", "70000004", "--name", "C4", code=1).output
    assert "a staff account may not do crews.add" in out
    assert "Cuadrilla 3" in ready("--as", "vic", "crews", "list").output  # reading is anyone's
