"""The audit trail and `--as`: who changed what from the CLI, recorded once with the change."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.staff import accounts, audit
from barriosms.store.models import AuditEntry, Case, CaseEvent, InboundMessage
from barriosms.templates.loader import load_categories, load_templates

PASSWORD = "correct horse 42"


def open_case(text="B12 hay un bache grande en la calle 3", sender="+59171234567") -> str:
    intake = Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(11))
    intake.store(ReceivedSms(location=1, sender=sender, text=text))
    return Case.select().order_by(Case.id.desc()).get().tracking


@pytest.fixture
def staffed(ready, monkeypatch):
    """The CLI with accounts ana (staff) and old (disabled); the terminal's user is 'tecnico'."""
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("USER", "tecnico")
    ready("staff", "add", "ana", "--name", "Ana Quispe", "--role", "staff", "--password-stdin", input=PASSWORD + "\n")
    ready("staff", "add", "old", "--name", "Ex Empleado", "--role", "staff", "--password-stdin", input=PASSWORD + "\n")
    ready("staff", "disable", "old")
    return ready


def test_as_records_the_account_in_the_case_history_and_the_audit(staffed):
    tracking = open_case()
    out = staffed("--as", "Ana", "cases", "status", tracking, "reviewing", "--note", "Lo vemos").output
    assert "received -> reviewing" in out
    event = CaseEvent.select().where(CaseEvent.kind == "status").get()
    assert event.actor == "ana"
    shown = json.loads(staffed("cases", "show", tracking, "--json").output)
    assert [h["by"] for h in shown["history"] if h["kind"] == "status"] == ["ana"]
    assert "reviewing  ana" in staffed("cases", "show", tracking).output
    entries = json.loads(staffed("audit", "list", "--user", "ana", "--json").output)
    assert [(e["actor"], e["source"], e["action"], e["target"]) for e in entries] == [
        ("ana", "cli", "cases.status", tracking)]
    assert entries[0]["detail"] == "received -> reviewing; note: Lo vemos"
    assert "cases.status" in staffed("audit", "list", "--user", "ANA").output


@pytest.mark.parametrize(("who", "message"), [
    ("bob", "Error: --as bob: no such staff account (see `barriosms staff list`)"),
    ("old", "Error: --as old: the account is disabled (`barriosms staff enable old` enables it)"),
])
def test_as_an_unknown_or_disabled_account_fails_and_changes_nothing(staffed, who, message):
    tracking = open_case()
    before = (AuditEntry.select().count(), CaseEvent.select().count())
    out = staffed("--as", who, "cases", "status", tracking, "reviewing", code=1).output
    assert message in out
    assert message in staffed("--as", who, "cases", "list", code=1).output  # reading commands check it too
    assert message in staffed("--as", who, "staff", "add", "zoe", "--name", "Zoe", "--role", "viewer",
                              "--password-stdin", input=PASSWORD + "\n", code=1).output
    assert Case.get().status == "received"
    assert (AuditEntry.select().count(), CaseEvent.select().count()) == before
    assert accounts.find("zoe") is None


def test_as_a_viewer_may_read_but_not_change_a_case_nor_manage_accounts(staffed):
    staffed("staff", "add", "vera", "--name", "Vera Mamani", "--role", "viewer", "--password-stdin",
            input=PASSWORD + "\n")
    tracking = open_case()
    before = (AuditEntry.select().count(), CaseEvent.select().count())
    assert tracking in staffed("--as", "vera", "cases", "list").output
    out = staffed("--as", "vera", "cases", "status", tracking, "reviewing", code=1).output
    assert "Error: --as vera: a viewer account may not do cases.status" in out
    out = staffed("--as", "vera", "cases", "note", tracking, "hola", code=1).output
    assert "may not do cases.note" in out
    # A staff account acts on cases but does not manage accounts; anyone changes their own password.
    out = staffed("--as", "ana", "staff", "disable", "vera", code=1).output
    assert "Error: --as ana: a staff account may not do staff.disable" in out
    staffed("--as", "vera", "staff", "password", "vera", "--password-stdin", input="otra clave larga 7\n")
    assert accounts.verify("vera", "otra clave larga 7") is not None
    assert Case.get().status == "received"
    assert CaseEvent.select().count() == before[1]
    assert [e.action for e in AuditEntry.select().order_by(AuditEntry.id)][before[0]:] == ["staff.password"]


def test_without_as_sudo_user_then_the_login_name(staffed, monkeypatch):
    tracking = open_case()
    staffed("cases", "note", tracking, "sin sudo", "--internal")
    monkeypatch.setenv("SUDO_USER", "maria")
    staffed("cases", "assign", tracking, "Cuadrilla Sur")
    rows = [(e["actor"], e["action"]) for e in json.loads(staffed("audit", "list", "--action", "cases", "--json").output)]
    assert rows == [("maria", "cases.assign"), ("tecnico", "cases.note")]
    assert [e.actor for e in CaseEvent.select().where(CaseEvent.kind.in_(["note", "assign"])).order_by(CaseEvent.id)] == [
        "tecnico", "maria"]


def test_every_staff_change_from_the_cli_is_recorded_once(staffed, tmp_path):
    first, second = open_case(), open_case("B12 otro bache en la calle 3", "+59171234568")
    open_case("hay un bache en la calle 8", "+59171234569")  # no neighbourhood: waits for staff
    unmatched = InboundMessage.get(InboundMessage.needs_staff == True).id  # noqa: E712 (a peewee condition)
    staffed("--as", "ana", "inbox", "assign", str(unmatched), "--neighborhood", "B12")
    staffed("--as", "ana", "cases", "note", first, "El material llega el jueves")
    staffed("--as", "ana", "cases", "assign", first, "Cuadrilla vial Sur")
    staffed("--as", "ana", "cases", "ask", first, "¿Frente a la escuela?")
    staffed("--as", "ana", "cases", "message", first, "La cuadrilla pasara el lunes")
    staffed("--as", "ana", "cases", "edit", first, "--category", "agua")
    staffed("--as", "ana", "cases", "edit", first, "--category", "agua")  # already so: nothing changed
    staffed("--as", "ana", "cases", "merge", second, first)
    # Projects, broadcasts and neighbourhoods are an admin's.
    staffed("staff", "add", "rosa", "--name", "Rosa Mamani", "--role", "admin", "--password-stdin", input=PASSWORD + "\n")
    staffed("--as", "rosa", "projects", "add", "--neighborhood", "B12", "--title", "Enlosetado")
    staffed("--as", "rosa", "projects", "update", "1", "--status", "done")
    staffed("--as", "rosa", "broadcast", "--neighborhood", "B12", "Corte de agua el martes", "--yes")
    csv = tmp_path / "uno.csv"
    csv.write_text("code,name,district,lat,lon\nB99,Nuevo Barrio,Sur,-16.5,-68.1\n", encoding="utf-8")
    staffed("--as", "rosa", "neighborhoods", "import", str(csv))
    entries = [e for e in json.loads(staffed("audit", "list", "--json").output) if e["actor"] in ("ana", "rosa")]
    assert [e["action"] for e in reversed(entries)] == [
        "inbox.assign", "cases.note", "cases.assign", "cases.ask", "cases.message", "cases.edit", "cases.merge",
        "projects.add", "projects.update", "broadcast", "neighborhoods.import"]
    by_action = {e["action"]: e for e in entries}
    assert by_action["cases.merge"]["target"] == second and by_action["cases.merge"]["detail"] == f"into {first}"
    assert by_action["cases.edit"]["detail"].startswith("category")
    assert by_action["projects.update"]["detail"] == "status done"
    assert by_action["neighborhoods.import"]["detail"] == "1 added, 0 updated"
    assert by_action["inbox.assign"]["target"] == f"message {unmatched}"


def test_a_refused_change_records_nothing(staffed):
    tracking = open_case()
    before = AuditEntry.select().count()
    staffed("--as", "ana", "cases", "status", tracking, "closed", code=1)  # not a natural move
    staffed("--as", "ana", "cases", "assign", "0000000", "x", code=1)
    assert AuditEntry.select().count() == before


def test_audit_list_since_in_the_configured_zone_and_json(staffed):
    # La Paz is UTC-4: 03:00 UTC on the 30th is still the 29th there, 05:00 UTC is the 30th.
    audit.record("ana", "cli", "cases.note", "1111111", "tarde", now=dt.datetime(2026, 11, 30, 3, 0))
    audit.record("ana", "web", "login", "ana", "", now=dt.datetime(2026, 11, 30, 5, 0))
    entries = json.loads(staffed("audit", "list", "--user", "ana", "--since", "2026-11-30", "--json").output)
    assert [(e["at"], e["source"], e["action"]) for e in entries if e["at"] < "2026-12"] == [
        ("2026-11-30T01:00:00-04:00", "web", "login")]
    assert [e["action"] for e in json.loads(staffed("audit", "list", "--since", "2026-11-29", "--action", "login",
                                                    "--json").output)] == ["login"]
    assert len(json.loads(staffed("audit", "list", "--limit", "2", "--json").output)) == 2
    assert "2026-11-30 01:00" in staffed("audit", "list", "--user", "ana").output
    assert "bad date" in staffed("audit", "list", "--since", "30/11/2026", code=1).output
    assert "no audit entries match" in staffed("audit", "list", "--user", "nadie").output


def test_recorded_rolls_back_with_the_change(db):
    with pytest.raises(RuntimeError), audit.recorded("ana", "cli", "cases.note", "1234567"):
        audit.record("ana", "cli", "inner")
        raise RuntimeError("the change failed")
    assert AuditEntry.select().count() == 0
    with pytest.raises(audit.AuditError):
        audit.record("ana", "mail", "x")
