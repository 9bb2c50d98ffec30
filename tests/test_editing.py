"""Staff correct a case's category and neighbourhood (cases/editing.py and `barriosms cases edit`)."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from conftest import T0

from barriosms.cases import casework, editing, subscribers
from barriosms.domain.gsm import SMS_SEPTETS, is_gsm7, septet_count
from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.reporting import reports
from barriosms.store.models import Case, CaseCorrection, Neighborhood, OutboundMessage, utcnow
from barriosms.templates.loader import load_categories, load_templates

ANA, BETO, CARLA = "+59171111111", "+59172222222", "+59173333333"


@pytest.fixture
def templates():
    return load_templates()


@pytest.fixture
def rules():
    return load_categories()


@pytest.fixture
def edit(templates, rules):
    def run(tracking: str, **options) -> editing.CaseEdit:
        options.setdefault("region", "BO")
        options.setdefault("now", T0 + dt.timedelta(hours=1))
        return editing.edit_case(tracking, templates, rules, **options)
    return run


def corrections() -> list[tuple[str, str, str, str, str]]:
    return [(c.field, c.before, c.after, c.note, c.actor) for c in CaseCorrection.select().order_by(CaseCorrection.id)]


def correction_events(case: Case) -> list[tuple[str, bool, str]]:
    return [(e.note, e.public, e.actor) for e in casework.history(case) if e.kind == "correction"]


def test_a_move_keeps_the_number_and_is_recorded_twice(report, edit):
    case = report(ANA, "B12 hay un bache grande en la calle 3")
    done = edit(case.tracking, neighborhood="b-03", note="Es en   Miraflores", actor="ana")
    stored = Case.get_by_id(case.id)
    assert (stored.tracking, stored.neighborhood.code, stored.category) == (case.tracking, "B03", "vias")
    assert stored.updated_at == T0 + dt.timedelta(hours=1)
    assert done.changes == (editing.FieldChange("neighborhood", "B12", "B03"),) and done.changed
    assert corrections() == [("neighborhood", "B12", "B03", "Es en Miraflores", "ana")]
    assert CaseCorrection.get().at == T0 + dt.timedelta(hours=1)
    assert correction_events(case) == [("neighbourhood: B12 → B03; Es en Miraflores", False, "ana")]
    # Without --notify nobody is told.
    assert done.notifications == [] and OutboundMessage.select().count() == 0


def test_a_category_is_never_sent_even_with_notify(report, edit):
    case = report(ANA, "B12 hay un bache grande en la calle 3")
    done = edit(case.tracking, category=" Agua ", notify=True, actor="beto")
    assert Case.get_by_id(case.id).category == "agua"
    assert corrections() == [("category", "vias", "agua", "", "beto")]
    assert correction_events(case) == [("category: vias → agua", False, "beto")]
    assert done.notifications == [] and OutboundMessage.select().count() == 0


def test_both_at_once_and_the_reporters_told_of_the_move(report, edit, templates):
    keep = report(ANA, "B12 hay un bache grande en la calle 3")
    dup = report(BETO, "B12 bache en la calle 3")
    quiet = report(CARLA, "B12 un bache en la calle 3 desde ayer")
    casework.merge(dup.tracking, keep.tracking, templates, now=T0, region="BO")
    casework.merge(quiet.tracking, keep.tracking, templates, now=T0, region="BO")
    casework.add_reporter(keep, "TIGO", "merged", now=T0)
    subscribers.set_opted_out(CARLA, True, T0)
    OutboundMessage.delete().execute()

    done = edit(keep.tracking, category="agua", neighborhood="B10", notify=True)
    assert [c.field for c in done.changes] == ["category", "neighborhood"]
    assert len(done.events) == 2 and [f for f, *_ in corrections()] == ["category", "neighborhood"]
    expected = templates.render("neighborhood_changed", tracking=keep.tracking, barrio="Villa Copacabana", code="B10")
    assert expected == (f"La Alcaldia corrigio el barrio de su reclamo {keep.tracking}: ahora es Villa Copacabana "
                        f"(B10). Para saber como va, envie {keep.tracking}")
    assert sorted(m.recipient for m in done.notifications) == [ANA, BETO]
    assert done.skipped == {CARLA: "opted out (BAJA)", "TIGO": "not a phone number"}
    assert all((m.text, m.kind, m.case_id, m.urgent, m.status) == (expected, "correction", keep.id, False, "queued")
               for m in OutboundMessage.select())


def test_the_sms_fits_one_message_with_a_long_name(report, edit, templates):
    case = report(ANA, "B12 hay un bache grande en la calle 3")
    Neighborhood.create(code="B99", name="Señor de Mayo Ñuñoa Pampahasi Alto Sánchez Bajo")
    [sms] = edit(case.tracking, neighborhood="B99", notify=True).notifications
    assert is_gsm7(sms.text) and (septet_count(sms.text) or 999) <= SMS_SEPTETS
    assert sms.text.count(case.tracking) == 2 and "(B99)" in sms.text
    # The shipped names fit whole, with room to spare.
    text = templates.render("neighborhood_changed", tracking="2408917", barrio="Villa San Antonio", code="B12")
    assert "Villa San Antonio (B12)" in text and (septet_count(text) or 999) <= 140


def test_what_cannot_be_corrected_says_why(report, edit, templates):
    keep = report(ANA, "B12 hay un bache grande en la calle 3")
    dup = report(BETO, "B12 bache en la calle 3")
    casework.merge(dup.tracking, keep.tracking, templates, now=T0, region="BO")
    OutboundMessage.delete().execute()
    with pytest.raises(editing.EditError, match="no case with tracking number 1111111") as caught:
        edit("1111111", category="agua")
    assert caught.value.field == "tracking"
    with pytest.raises(editing.EditError, match=f"case {dup.tracking} was merged into {keep.tracking}; correct that"):
        edit(dup.tracking, neighborhood="B03")
    with pytest.raises(editing.EditError) as caught:
        edit(keep.tracking, category="baches")
    assert str(caught.value) == ("unknown category 'baches'; use one of: riesgos, agua, alumbrado, residuos, vias, "
                                 "otros (see `barriosms categories list`)")
    assert caught.value.field == "category"
    with pytest.raises(editing.EditError, match=r"unknown neighbourhood code 'B77' \(see `barriosms neighborhoods"):
        edit(keep.tracking, neighborhood="B77")
    # A name is not a code: a correction is never guessed.
    with pytest.raises(editing.EditError, match="unknown neighbourhood code 'Miraflores'") as caught:
        edit(keep.tracking, neighborhood="Miraflores")
    assert caught.value.field == "neighborhood"
    with pytest.raises(editing.EditError, match="nothing to change: give a new category or neighbourhood"):
        edit(keep.tracking, note="solo una nota")
    # A bad value refuses the whole edit: the good one is not applied either.
    with pytest.raises(editing.EditError):
        edit(keep.tracking, category="agua", neighborhood="B77")
    assert isinstance(caught.value, casework.CaseError)  # the CLI's and the web's one error type
    assert (Case.get_by_id(keep.id).category, corrections(), OutboundMessage.select().count()) == ("vias", [], 0)


def test_the_same_values_change_nothing(report, edit):
    case = report(ANA, "B12 hay un bache grande en la calle 3")
    done = edit(case.tracking, category="vias", neighborhood="B12", notify=True)
    assert (done.changed, done.changes, done.unchanged) == (False, (), ("category", "neighborhood"))
    assert corrections() == [] and correction_events(case) == [] and OutboundMessage.select().count() == 0
    assert Case.get_by_id(case.id).updated_at != T0 + dt.timedelta(hours=1)
    # Half the same: the other half is done, and no SMS without a move.
    done = edit(case.tracking, category="agua", neighborhood="B12", notify=True)
    assert ([c.field for c in done.changes], done.unchanged, done.notifications) == (["category"], ("neighborhood",), [])


def test_closed_cases_can_be_corrected(report, edit, templates):
    case = report(ANA, "B12 hay un bache grande en la calle 3")
    casework.change_status(case.tracking, "resolved", templates, now=T0, region="BO")
    casework.change_status(case.tracking, "closed", templates, now=T0, region="BO")
    edit(case.tracking, category="riesgos", neighborhood="B06")
    stored = Case.get_by_id(case.id)
    assert (stored.status, stored.category, stored.neighborhood.code) == ("closed", "riesgos", "B06")


def test_hotspots_and_statistics_follow_at_once(report, edit):
    moved = report(ANA, "B12 hay un bache grande en la calle 3")
    report(BETO, "B03 hay un bache en la plaza")
    now = T0 + dt.timedelta(days=1)
    assert sorted((s.code, s.category, s.open) for s in reports.hotspots(now)) == [("B03", "vias", 1), ("B12", "vias", 1)]
    edit(moved.tracking, neighborhood="B03")
    assert [(s.code, s.category, s.open) for s in reports.hotspots(now)] == [("B03", "vias", 2)]
    edit(moved.tracking, category="agua")
    assert sorted((s.code, s.category, s.open) for s in reports.hotspots(now)) == [("B03", "agua", 1), ("B03", "vias", 1)]
    assert reports.stats(now=now).by_category == {"agua": 1, "vias": 1}


# -- the command ---------------------------------------------------------------------------------

def open_case(text: str, sender: str = "+59171234567") -> str:
    intake = Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(11))
    intake.store(ReceivedSms(location=1, sender=sender, text=text))
    return Case.select().order_by(Case.id.desc()).get().tracking


def test_cases_edit_command(ready, monkeypatch):
    monkeypatch.setenv("USER", "ana")
    monkeypatch.delenv("SUDO_USER", raising=False)
    ready("cases", "list")  # opens the database of the config
    tracking = open_case("B12 hay un bache grande en la calle 3")
    hotspots = json.loads(ready("report", "hotspots", "--json").output)
    assert [(h["neighborhood"], h["category"]) for h in hotspots] == [("B12", "vias")]

    data = json.loads(ready("cases", "edit", tracking, "--neighborhood", "B03", "--category", "agua",
                            "--note", "Es en Miraflores", "--notify", "--json").output)
    assert data == {"tracking": tracking,
                    "changed": {"category": {"from": "vias", "to": "agua"}, "neighborhood": {"from": "B12", "to": "B03"}},
                    "unchanged": [], "sms_queued": 1, "notifications": data["notifications"], "not_notified": []}
    assert data["notifications"][0]["to"] == "+59171234567" and "Miraflores (B03)" in data["notifications"][0]["text"]
    hotspots = json.loads(ready("report", "hotspots", "--json").output)
    assert [(h["neighborhood"], h["category"]) for h in hotspots] == [("B03", "agua")]

    shown = json.loads(ready("cases", "show", tracking, "--json").output)
    assert [(h["note"], h["public"], h["by"]) for h in shown["history"] if h["kind"] == "correction"] == [
        ("category: vias → agua; Es en Miraflores", False, "ana"),
        ("neighbourhood: B12 → B03; Es en Miraflores", False, "ana")]
    human = ready("cases", "show", tracking).output
    assert "correction  ana  \"neighbourhood: B12 → B03; Es en Miraflores\"  (internal)" in human

    out = ready("cases", "edit", tracking, "--neighborhood", "B05").output
    assert out.splitlines() == [f"case {tracking}: neighbourhood: B03 → B05",
                                "no SMS: residents are told of a new neighbourhood only with --notify"]
    out = ready("cases", "edit", tracking, "--category", "vias", "--notify").output
    assert out.splitlines() == [f"case {tracking}: category: agua → vias", "no SMS: a category is not sent to residents"]
    # The same value again: nothing to do, and exit 0 (a script may repeat itself).
    out = ready("cases", "edit", tracking, "--category", "vias", "--neighborhood", "b05").output
    assert out.splitlines() == [f"case {tracking}: category is already vias; nothing to change",
                                f"case {tracking}: neighbourhood is already B05; nothing to change"]

    assert "Error: nothing to change" in ready("cases", "edit", tracking, code=1).output
    assert "Error: unknown category 'baches'; use one of: riesgos," in ready(
        "cases", "edit", tracking, "--category", "baches", code=1).output
    assert "Error: unknown neighbourhood code 'B77'" in ready("cases", "edit", tracking, "--neighborhood", "B77",
                                                              code=1).output
    assert "Error: no case with tracking number 1111111" in ready("cases", "edit", "1111111", "--category", "agua",
                                                                  code=1).output
    assert CaseCorrection.select().count() == 4
    assert utcnow() - CaseCorrection.select().order_by(CaseCorrection.id.desc()).get().at < dt.timedelta(minutes=5)
