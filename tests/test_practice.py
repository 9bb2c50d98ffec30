"""Practice mode for workshops (PRUEBA ...): real replies, nothing in the real cases, purged later."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import random
import threading
from types import SimpleNamespace

import pytest
from conftest import ROOT, SAMPLE_CSV

from barriosms.cases import subscribers
from barriosms.config import ServiceSettings
from barriosms.daemon.process import Daemon
from barriosms.domain.replies import Templates
from barriosms.domain.tracking import is_valid_tracking
from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline import practice
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.staff.inbox import InboxError, list_messages, route
from barriosms.staff.neighborhoods import import_csv
from barriosms.store.models import (
    Case,
    InboundMessage,
    Neighborhood,
    OutboundMessage,
    PendingReport,
    PhoneState,
    PracticeCase,
    PracticeMessage,
    SmsPart,
)
from barriosms.templates.loader import load_categories, load_templates

T0 = dt.datetime(2026, 11, 24, 14, 0, 0)
TRAINEE = "+59171234567"
OTHER = "+59176543210"
RESIDENT = "+59170000001"
T = load_templates()


def make_intake(templates: Templates | None = None, service: ServiceSettings | None = None, seed: int = 7) -> Intake:
    return Intake(IntakeRules(templates or T, load_categories(), service=service or ServiceSettings(), region="BO"),
                  rng=random.Random(seed))


@pytest.fixture
def intake(hoods):
    return make_intake()


_sent = iter(range(1, 1_000_000))


def send(intake: Intake, text: str, phone: str = TRAINEE, at: dt.datetime = T0) -> InboundMessage:
    """One SMS read off the SIM at `at`; the stored message."""
    n = next(_sent)
    assert intake.store(ReceivedSms(location=n, sender=phone, text=text, smsc_time=at + dt.timedelta(microseconds=n)),
                        now=at)
    return InboundMessage.select().order_by(InboundMessage.id.desc()).get()


def replies_to(msg: InboundMessage) -> list[str]:
    return [m.text for m in OutboundMessage.select().where(OutboundMessage.in_reply_to == msg)
            .order_by(OutboundMessage.id)]


def logged(msg: InboundMessage) -> PracticeMessage:
    return PracticeMessage.get(PracticeMessage.message == msg)


# -- the keyword ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "rest"), [
    ("PRUEBA B12 hay un bache", "B12 hay un bache"),
    ("prueba B12 hay un bache", "B12 hay un bache"),
    ("Prueba: B12 hay un bache", "B12 hay un bache"),
    ("prueba, 2408917", "2408917"),
    ("PRUÉBA  #B12 basura", "#B12 basura"),
    ("  *Prueba* B12 basura ", "B12 basura"),
    ("prueba-B12 basura", "B12 basura"),
    ("PRUEBA", ""),
    ("prueba.", ""),
    ("B12 prueba de agua", None),
    ("pruebas B12 basura", None),
    ("prueba2408917", None),
    ("hola, prueba B12", None),
    ("", None),
    ("2408917", None),
])
def test_practice_text_is_what_follows_the_keyword(text, rest):
    assert practice.practice_text(text, ("prueba",)) == rest


def test_practice_text_with_several_keywords():
    assert practice.practice_text("Ensayo B12 bache", ("prueba", "ensayo")) == "B12 bache"
    assert practice.practice_text("PRUEBA B12 bache", ()) is None


# -- what a practice message gets ----------------------------------------------------------------

def test_a_practice_report_gets_a_tracking_number_and_opens_no_case(intake):
    msg = send(intake, "PRUEBA B12 hay un bache en la calle 3")
    rehearsed = PracticeCase.get()
    assert is_valid_tracking(rehearsed.tracking)
    assert replies_to(msg) == [
        f"PRUEBA (practica, no es un reclamo real). Numero: {rehearsed.tracking}. Barrio Villa San Antonio (vias). "
        f"Para saber como va, envie {rehearsed.tracking}"]
    assert (rehearsed.phone, rehearsed.neighborhood.code, rehearsed.category, rehearsed.text, rehearsed.status) == (
        TRAINEE, "B12", "vias", "hay un bache en la calle 3", "received")
    assert Case.select().count() == 0 and PendingReport.select().count() == 0
    msg = InboundMessage.get_by_id(msg.id)
    assert (msg.intent, msg.case_id, msg.needs_staff, msg.unanswered) == ("practice", None, False, "")
    entry = logged(msg)
    assert (entry.outcome, entry.well_formed, entry.practice_case_id, entry.phone, entry.text) == (
        "report", True, rehearsed.id, TRAINEE, "PRUEBA B12 hay un bache en la calle 3")
    [reply] = OutboundMessage.select()
    assert (reply.kind, reply.recipient, reply.case_id, reply.urgent) == ("practice_reply", TRAINEE, None, True)


@pytest.mark.parametrize(("text", "outcome"), [
    ("hay mucha basura en la esquina", "missing_neighborhood"),
    ("B12", "missing_description"),
    ("Z99 se rompio la tuberia", "unknown_code"),
    ("1234567", "invalid_tracking"),
    ("2408917", "unknown_tracking"),
    ("ayuda", "help"),
    ("como reporto un problema", "help"),
])
def test_a_badly_formed_practice_gets_what_the_real_message_would_get(intake, text, outcome):
    practised = send(intake, f"PRUEBA {text}", phone=TRAINEE)
    real = send(intake, text, phone=OTHER)
    assert replies_to(practised) == replies_to(real) and len(replies_to(real)) == 1
    entry = logged(practised)
    assert (entry.outcome, entry.well_formed, entry.practice_case_id) == (outcome, False, None)
    # Nothing waits for a neighbourhood from the trainee: practice has no second step.
    assert PendingReport.select().where(PendingReport.phone == TRAINEE).count() == 0
    assert not InboundMessage.get_by_id(practised.id).needs_staff
    assert PracticeCase.select().count() == 0


def test_the_keyword_alone_is_answered_with_help(intake):
    msg = send(intake, "PRUEBA")
    assert replies_to(msg) == [T.render("help")]
    assert (logged(msg).outcome, logged(msg).well_formed) == ("empty", False)


def test_an_ambiguous_name_asks_which_one(intake):
    Neighborhood.create(code="B16", name="Santa Rosa", district="Max Paredes")
    Neighborhood.create(code="B17", name="Santa Rosa", district="Periférica")
    msg = send(intake, "PRUEBA no hay agua en santa rosa")
    assert replies_to(msg) == [T.render("ambiguous", options="B16 Santa Rosa, B17 Santa Rosa")]
    assert logged(msg).outcome == "ambiguous"
    assert PendingReport.select().count() == 0


def test_thanks_in_practice_is_not_answered(intake):
    msg = send(intake, "prueba gracias")
    assert replies_to(msg) == [] and logged(msg).outcome == "courtesy"


def test_baja_and_alta_in_practice_answer_but_change_nothing(intake):
    off = send(intake, "PRUEBA BAJA")
    assert replies_to(off) == [T.render("opted_out")]
    assert not PhoneState.select().where((PhoneState.phone == TRAINEE)
                                         & (PhoneState.opted_out == True)).exists()  # noqa: E712
    on = send(intake, "prueba alta", at=T0 + dt.timedelta(minutes=1))
    assert replies_to(on) == [T.render("opted_in")]
    assert [(logged(m).outcome, logged(m).well_formed) for m in (off, on)] == [("optout", True), ("optin", True)]
    # BAJA without PRUEBA is the real command.
    send(intake, "BAJA", at=T0 + dt.timedelta(minutes=2))
    assert PhoneState.get(PhoneState.phone == TRAINEE).opted_out


def test_reabrir_in_practice_never_touches_a_real_case(intake):
    real = send(intake, "B03 no hay luz en la plaza", phone=RESIDENT)
    case = Case.get()
    case.status, case.resolved_at = "resolved", T0
    case.save()
    send(intake, "PRUEBA B12 bache", at=T0 + dt.timedelta(minutes=1))
    rehearsed = PracticeCase.get()
    own = send(intake, f"PRUEBA REABRIR {rehearsed.tracking}", at=T0 + dt.timedelta(minutes=2))
    assert replies_to(own) == [T.render("reopen_not_resolved", tracking=rehearsed.tracking, status="recibido")]
    theirs = send(intake, f"PRUEBA REABRIR {case.tracking}", phone=RESIDENT, at=T0 + dt.timedelta(minutes=3))
    assert replies_to(theirs) == [T.render("unknown_tracking", tracking=case.tracking)]
    assert Case.get().status == "resolved" and real.case_id == case.id
    assert [logged(m).outcome for m in (own, theirs)] == ["reopen", "unknown_tracking"]


# -- tracking numbers and status queries ---------------------------------------------------------

def test_tracking_numbers_never_collide_between_real_and_practice(hoods):
    # The same seed draws the same numbers: the second one must skip the number already taken.
    send(make_intake(seed=3), "B12 hay un bache", phone=RESIDENT)
    send(make_intake(seed=3), "PRUEBA B12 hay un bache")
    send(make_intake(seed=5), "PRUEBA B05 basura")
    send(make_intake(seed=5), "B05 basura", phone=RESIDENT)
    real = {c.tracking for c in Case.select()}
    rehearsed = {c.tracking for c in PracticeCase.select()}
    assert len(real) == 2 and len(rehearsed) == 2 and not real & rehearsed
    assert all(is_valid_tracking(n) for n in real | rehearsed)


def test_status_of_a_practice_case_with_and_without_prueba(intake):
    send(intake, "PRUEBA B12 hay un bache")
    number = PracticeCase.get().tracking
    expected = [f"Su reclamo {number} esta recibido."]
    bare = send(intake, number, at=T0 + dt.timedelta(minutes=1))
    assert replies_to(bare) == expected and InboundMessage.get_by_id(bare.id).intent == "practice_status"
    asked = send(intake, f"PRUEBA {number[:3]} {number[3:]}", at=T0 + dt.timedelta(minutes=2))
    worded = send(intake, f"Prueba: estado {number}", at=T0 + dt.timedelta(minutes=3))
    for msg in (asked, worded):
        assert replies_to(msg) == expected
        entry = logged(msg)
        assert (entry.outcome, entry.well_formed, entry.practice_case.tracking) == ("status", True, number)
        assert InboundMessage.get_by_id(msg.id).case_id is None


def test_prueba_with_a_real_case_number_answers_as_a_status_query_does(intake):
    send(intake, "B03 no hay luz en la plaza", phone=RESIDENT)
    case = Case.get()
    real = send(intake, case.tracking, phone=OTHER)
    practised = send(intake, f"PRUEBA {case.tracking}")
    assert replies_to(practised) == replies_to(real) == [f"Su reclamo {case.tracking} esta recibido."]
    assert (logged(practised).outcome, logged(practised).practice_case_id) == ("status", None)
    assert InboundMessage.get_by_id(practised.id).case_id is None  # not among the case's messages


def test_another_keyword_from_the_replies_file(hoods, tmp_path):
    text = (ROOT / "config" / "replies.es.ini").read_text(encoding="utf-8")
    assert "practice = prueba" in text
    path = tmp_path / "replies.es.ini"
    path.write_text(text.replace("practice = prueba", "practice = taller, ensayo"), encoding="utf-8")
    edited = make_intake(load_templates(path))
    msg = send(edited, "TALLER B12 hay un bache")
    assert "PRUEBA (practica" in replies_to(msg)[0] and PracticeCase.select().count() == 1
    send(edited, "Ensayo: B05 basura")
    assert PracticeCase.select().count() == 2
    send(edited, "PRUEBA B12 hay un bache", phone=RESIDENT)  # no keyword any more: a real report
    assert Case.select().count() == 1


# -- the guard ----------------------------------------------------------------------------------

def test_the_reply_budget_of_a_phone_does_not_stop_practice(hoods):
    intake = make_intake(service=ServiceSettings(replies_per_hour=2, replies_per_day=3))
    msgs = [send(intake, f"PRUEBA B12 bache numero {i}", at=T0 + dt.timedelta(minutes=i)) for i in range(5)]
    assert all(len(replies_to(m)) == 1 for m in msgs) and PracticeCase.select().count() == 5
    assert all(InboundMessage.get_by_id(m.id).unanswered == "" for m in msgs)
    # Practice replies are kept apart: after a workshop the phone's real report is still answered.
    real = send(intake, "B12 hay un bache de verdad", at=T0 + dt.timedelta(minutes=6))
    assert len(replies_to(real)) == 1 and InboundMessage.get_by_id(real.id).unanswered == ""
    assert {m.kind for m in OutboundMessage.select()} == {"practice_reply", "reply"}


def test_a_silenced_phone_stays_silent_in_practice(intake):
    subscribers.mute(TRAINEE, T0 + dt.timedelta(hours=1), "loop_fast", T0)
    msg = send(intake, "PRUEBA B12 hay un bache")
    assert replies_to(msg) == [] and PracticeCase.select().count() == 0
    assert InboundMessage.get_by_id(msg.id).unanswered == "muted"
    assert (logged(msg).outcome, logged(msg).well_formed) == ("report", True)
    [row] = practice.workshop_report()
    assert (row.messages, row.unanswered) == (1, 1)


def test_the_same_practice_text_again_is_no_loop(intake):
    # A workshop copies the example from the board: the same text several times is a person.
    msgs = [send(intake, "PRUEBA B12 hay un bache en la calle 3", at=T0 + dt.timedelta(minutes=i)) for i in range(4)]
    assert all(len(replies_to(m)) == 1 for m in msgs)


# -- purging ------------------------------------------------------------------------------------

def test_purge_deletes_old_practice_and_keeps_sent_replies_counted(intake):
    old = send(intake, "PRUEBA B12 hay un bache")
    number = PracticeCase.get().tracking
    bare = send(intake, number, at=T0 + dt.timedelta(minutes=1))
    unanswered = send(intake, "PRUEBA hay basura", at=T0 + dt.timedelta(minutes=2))
    # A two-part practice SMS: its parts go with it.
    for part in (1, 2):
        intake.store(ReceivedSms(location=900 + part, sender=TRAINEE, text=["PRUEBA B05 ", "basura"][part - 1],
                                 smsc_time=T0, concat_ref=9, part_number=part, total_parts=2),
                     now=T0 + dt.timedelta(minutes=3))
    real = send(intake, "B03 no hay luz", phone=RESIDENT)
    later = T0 + dt.timedelta(days=10)
    recent = send(intake, f"PRUEBA {number}", at=later)  # names the old practice case
    sent = OutboundMessage.in_reply_to.in_([old.id, bare.id])
    OutboundMessage.update(status="sent", sent_at=T0 + dt.timedelta(minutes=5), parts=1).where(sent).execute()
    assert practice.purge(T0 + dt.timedelta(days=13), 14) == 0

    done = practice.purge_counts(T0 + dt.timedelta(days=15), 14)
    assert done == practice.Purged(messages=4, cases=2, replies=2)
    assert [m.id for m in InboundMessage.select().order_by(InboundMessage.id)] == [real.id, recent.id]
    assert SmsPart.select().count() == 0
    assert [c.tracking for c in PracticeCase.select()] == []
    [kept] = PracticeMessage.select()
    assert (kept.message_id, kept.practice_case_id, kept.outcome) == (recent.id, None, "status")
    # Sent replies stay for the SMS budgets, without text or link; the unsent one is dropped.
    rows = [(o.text, o.in_reply_to_id, o.status)
            for o in OutboundMessage.select().where(OutboundMessage.recipient == TRAINEE).order_by(OutboundMessage.id)]
    assert rows[:2] == [("", None, "sent"), ("", None, "sent")]
    assert len(rows) == 3 and rows[2][1] == recent.id
    assert not OutboundMessage.select().where(OutboundMessage.in_reply_to == unanswered.id).exists()
    assert Case.select().count() == 1 and len(replies_to(real)) == 1

    assert practice.purge(T0 + dt.timedelta(days=30), 14) == 1
    assert PracticeMessage.select().count() == 0 and InboundMessage.select().count() == 1


def test_the_daemon_purges_every_hour(intake, caplog):
    send(intake, "PRUEBA B12 hay un bache", at=dt.datetime.now(dt.UTC).replace(tzinfo=None)
         - dt.timedelta(days=20))
    daemon = SimpleNamespace(settings=SimpleNamespace(service=ServiceSettings(practice_days=14)))
    result = []
    caplog.set_level(logging.INFO, logger="barriosms.daemon.process")
    # The scheduler's thread: a connection of its own.
    worker = threading.Thread(target=lambda: result.append(Daemon.purge_practice(daemon)))
    worker.start()
    worker.join()
    assert result == [1] and PracticeMessage.select().count() == 0
    assert "deleted 1 practice message(s) older than 14 days" in caplog.text


def test_the_daemon_schedules_the_purge_and_the_expiry_of_questions(db, tmp_path):
    from barriosms import config

    ini = tmp_path / "d.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/fake\n")
    daemon = Daemon(config.load(ini), modem_factory=lambda s: None)
    daemon._schedule()
    jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
    for job_id, method in (("practice", Daemon.purge_practice), ("questions", Daemon.expire_questions)):
        assert jobs[job_id].func.__func__ is method
        assert jobs[job_id].trigger.interval == dt.timedelta(hours=1)


# -- the workshop report ------------------------------------------------------------------------

def test_workshop_report_per_phone(intake):
    send(intake, "PRUEBA B12 hay un bache", at=T0)
    number = PracticeCase.get().tracking
    send(intake, number, at=T0 + dt.timedelta(minutes=1))
    send(intake, "PRUEBA hay basura", at=T0 + dt.timedelta(minutes=2))
    send(intake, "PRUEBA 1234567", phone=OTHER, at=T0 + dt.timedelta(minutes=3))
    send(intake, "PRUEBA 1234567", phone=OTHER, at=T0 + dt.timedelta(minutes=4))
    send(intake, "PRUEBA B05 basura", phone=OTHER, at=T0 + dt.timedelta(days=1))
    send(intake, "B03 no hay luz", phone=RESIDENT)  # real: not practice
    rows = practice.workshop_report()
    assert [(r.phone, r.messages, r.well_formed, r.not_well_formed, r.problems) for r in rows] == [
        (OTHER, 3, 1, 2, {"invalid_tracking": 2}),
        (TRAINEE, 3, 2, 1, {"missing_neighborhood": 1}),
    ]
    assert (rows[1].first_at, rows[1].last_at) == (T0, T0 + dt.timedelta(minutes=2))
    [later] = practice.workshop_report(since=T0 + dt.timedelta(hours=1))
    assert (later.phone, later.messages, later.well_formed) == (OTHER, 1, 1)


def cli_practice(ready, *texts: tuple[str, str]) -> None:
    ready("db", "status")  # opens the CLI's database in this process
    intake = make_intake()
    for phone, text in texts:
        send(intake, text, phone=phone)


def test_workshop_report_command(ready):
    cli_practice(ready, (TRAINEE, "PRUEBA B12 hay un bache"), (TRAINEE, "PRUEBA hay basura"),
                 (OTHER, "PRUEBA B05 basura"))
    rows = json.loads(ready("workshop", "report", "--json").output)
    assert [(r["phone"], r["display"], r["messages"], r["well_formed"], r["not_well_formed"], r["problems"])
            for r in rows] == [(TRAINEE, "71234567", 2, 1, 1, {"missing_neighborhood": 1}),
                               (OTHER, "76543210", 1, 1, 0, {})]
    assert rows[0]["first_at"].endswith("-04:00")
    out = ready("workshop", "report").output
    assert "71234567" in out and "missing_neighborhood 1" in out and TRAINEE not in out
    assert json.loads(ready("workshop", "report", "--since", "2099-01-01", "--json").output) == []
    assert "no practice messages since 2099-01-01" in ready("workshop", "report", "--since", "2099-01-01").output
    assert "bad date" in ready("workshop", "report", "--since", "ayer", code=1).output


def test_workshop_purge_command(ready):
    cli_practice(ready, (TRAINEE, "PRUEBA B12 hay un bache"), (RESIDENT, "B03 no hay luz"))
    assert "deleted 0 practice message(s) and 0 practice case(s) older than 14 day(s)" in ready(
        "workshop", "purge").output
    done = json.loads(ready("workshop", "purge", "--older-than", "0", "--json").output)
    assert (done["messages"], done["cases"], done["older_than_days"]) == (1, 1, 0)
    assert json.loads(ready("workshop", "report", "--json").output) == []
    assert len(json.loads(ready("cases", "list", "--json").output)) == 1


# -- no trace among the real cases --------------------------------------------------------------

def test_practice_leaves_no_trace_in_lists_exports_maps_and_statistics(ready, tmp_path):
    cli_practice(ready, (TRAINEE, "PRUEBA B12 hay un bache en la calle 3"), (TRAINEE, "PRUEBA hay basura"),
                 (TRAINEE, "PRUEBA B05 basura en la esquina"), (RESIDENT, "B03 no hay luz en la plaza"))
    [real] = Case.select()
    practice_numbers = {c.tracking for c in PracticeCase.select()}
    assert len(practice_numbers) == 2

    assert [c["tracking"] for c in json.loads(ready("cases", "list", "--json").output)] == [real.tracking]
    rows = list(csv.DictReader(io.StringIO(ready("cases", "export", "--format", "csv").stdout)))
    assert [r["tracking"] for r in rows] == [real.tracking]
    target = tmp_path / "casos.geojson"
    ready("cases", "export", "--format", "geojson", "-o", str(target))
    features = json.loads(target.read_text(encoding="utf-8"))["features"]
    assert [f["properties"]["tracking"] for f in features] == [real.tracking]
    stats = json.loads(ready("stats", "--json").output)
    assert stats["total"] == 1 and stats["by_status"]["received"] == 1 and sum(stats["by_category"].values()) == 1
    spots = json.loads(ready("report", "hotspots", "--json").output)
    assert [(s["neighborhood"], s["open"]) for s in spots] == [("B03", 1)]
    drawn = json.loads(ready("report", "map", "-o", str(tmp_path / "mapa.html"), "--json").output)
    assert drawn["cases"] == 1
    for number in practice_numbers:
        assert ready("cases", "show", number, code=1).exit_code == 1

    staff = json.loads(ready("inbox", "list", "--json").output)
    assert [m["phone"] for m in staff] == [RESIDENT]
    assert json.loads(ready("inbox", "list", "--unmatched", "--json").output) == []
    everything = json.loads(ready("inbox", "list", "--practice", "--json").output)
    assert [m["intent"] for m in everything].count("practice") == 3
    assert len(list_messages(practice=True)) == 4 and len(list_messages()) == 1


def test_staff_cannot_route_a_practice_message_into_a_case(intake):
    msg = send(intake, "PRUEBA hay basura en la esquina")
    with pytest.raises(InboxError, match="is practice from a workshop"):
        route(msg.id, "B05", intake.rules, rng=intake.rng, now=T0)
    assert Case.select().count() == 0


def test_practice_purge_and_report_on_postgresql(pg_db):
    import_csv(SAMPLE_CSV)
    intake = make_intake()
    send(intake, "PRUEBA B12 hay un bache")
    send(intake, PracticeCase.get().tracking, at=T0 + dt.timedelta(minutes=1))
    send(intake, "PRUEBA hay basura", at=T0 + dt.timedelta(minutes=2))
    send(intake, "B03 no hay luz", phone=RESIDENT)
    [row] = practice.workshop_report()
    assert (row.messages, row.well_formed, row.problems) == (3, 2, {"missing_neighborhood": 1})
    assert practice.purge_counts(T0 + dt.timedelta(days=15), 14) == practice.Purged(messages=3, cases=1, replies=0)
    assert InboundMessage.select().count() == 1 and Case.select().count() == 1
