"""Events for other systems (cases/events.py): written with the change they tell of, by every
service that makes one, against a real SQLite file."""

from __future__ import annotations

import json

import pytest

from barriosms.cases import casework, events, outbox
from barriosms.modem.interface import SendResult
from barriosms.store.models import Event, database, write_tx
from barriosms.templates.loader import load_templates


def kinds() -> list[str]:
    return [e.kind for e in Event.select().order_by(Event.id)]


def data(kind: str) -> dict:
    return json.loads(Event.select().where(Event.kind == kind).order_by(Event.id.desc()).get().payload)


def test_an_event_is_written_with_its_change_or_not_at_all(db):
    with pytest.raises(RuntimeError):
        with write_tx():
            events.record("modem.up", modem="default")
            raise RuntimeError("the change failed")
    assert Event.select().count() == 0
    with database.atomic():
        events.record("modem.up", modem="default")
    assert kinds() == ["modem.up"]


def test_an_unknown_kind_is_a_programming_error(db):
    with pytest.raises(ValueError, match="unknown event kind"):
        events.record("case.exploded")


def test_a_report_tells_of_the_message_and_the_case(report):
    case = report("+59171234567", "B12 hay un bache grande en la calle 3")
    assert kinds() == ["message.received", "case.opened"]
    assert data("message.received")["phone"] == "+59171234567"
    opened = data("case.opened")
    assert (opened["tracking"], opened["neighborhood"], opened["channel"]) == (case.tracking, "B12", "sms")


def test_staff_changes_tell_of_status_note_and_merge(report):
    t = load_templates()
    a = report("+59171234567", "B12 hay un bache grande en la calle 3")
    b = report("+59171234568", "B12 el mismo bache")
    casework.change_status(a.tracking, "in_progress", t, note="Vamos el lunes", actor="ana", region="BO")
    casework.add_note(a.tracking, "material pedido", t, public=False, actor="ana", region="BO")
    casework.merge(b.tracking, a.tracking, t, actor="ana", region="BO")
    statuses = [json.loads(e.payload) for e in Event.select().where(Event.kind == "case.status").order_by(Event.id)]
    assert [(s["tracking"], s["from"], s["to"], s["by"]) for s in statuses] == [
        (a.tracking, "received", "in_progress", "ana"), (b.tracking, "received", "closed", "ana")]
    assert data("case.note") == {"tracking": a.tracking, "note": "material pedido", "public": False, "by": "ana"}


def test_sms_sent_failed_and_delivered(report):
    case = report("+59171234567", "B12 hay un bache grande en la calle 3")
    sent = outbox.queue("+59171234567", "hola", kind="status_update", case=case)
    outbox.mark_sent(sent, SendResult(references=(7,)), report_requested=True)
    assert data("sms.sent") == {"id": sent.id, "to": "+59171234567", "kind": "status_update",
                                "tracking": case.tracking, "parts": 1}
    with write_tx():
        outbox.apply_status_report(7, 0x00)
    assert data("sms.delivered")["delivery"] == "delivered"
    lost = outbox.queue("+59171234567", "otra", kind="reply")
    outbox.mark_failed_attempt(lost, "the SIM refused it", permanent=True, max_attempts=3, base_seconds=1,
                               max_seconds=2)
    assert data("sms.failed") == {"id": lost.id, "to": "+59171234567", "kind": "reply", "tracking": None,
                                  "error": "the SIM refused it"}
    # A retryable failure is not an event: the SMS is still on its way.
    again = outbox.queue("+59171234567", "tercera", kind="reply")
    outbox.mark_failed_attempt(again, "busy", permanent=False, max_attempts=3, base_seconds=1, max_seconds=2)
    assert [k for k in kinds() if k == "sms.failed"] == ["sms.failed"]


def test_every_kind_recorded_anywhere_is_listed():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "barriosms"
    used = set()
    for path in root.rglob("*.py"):
        used |= set(re.findall(r'events\.record\(\s*"([a-z.]+)"', path.read_text(encoding="utf-8")))
    assert used and used <= set(events.KINDS), used - set(events.KINDS)


def test_events_list_and_retry_from_the_cli(db, report, tmp_path):
    import sys

    from click.testing import CliRunner

    from barriosms.cli import cli
    from barriosms.config import load
    from barriosms.operations.eventdelivery import Deliverer

    ini = tmp_path / "events.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n[events]\ncommand = {sys.executable} -c "
                   "\"import sys; print('sin red', file=sys.stderr); sys.exit(2)\"\n")

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--config", str(ini), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    deliverer = Deliverer(load(ini).events)
    deliverer.deliver()
    report("+59171234567", "B12 hay un bache grande en la calle 3")
    deliverer.deliver()
    data = json.loads(run("events", "list", "--failed", "--json"))
    [receiver] = data["receivers"]
    assert receiver["target"] == "command" and receiver["error"] == "the command exited with status 2: sin red"
    assert receiver["waiting"] == 2 and [e["kind"] for e in data["events"]] == ["case.opened", "message.received"]
    assert data["events"][1]["receivers"] == {"command": "failing: the command exited with status 2: sin red"}
    assert data["events"][0]["receivers"] == {"command": "waiting"}
    table = run("events", "list")
    assert "command: 2 waiting; failing since" in table and "case.opened" in table
    assert "1 receiver(s) will be tried again" in run("events", "retry")


def test_a_crews_pin_never_reaches_an_event(report):
    from barriosms.cases import crews
    from barriosms.modem.interface import ReceivedSms
    from barriosms.pipeline.intake import Intake, IntakeRules
    from barriosms.templates.loader import load_categories

    case = report("+59171234567", "B12 hay un bache grande en la calle 3")
    crews.add("+59171000777", "Cuadrilla 3", pin="4821", actor="root")
    intake = Intake(IntakeRules(load_templates(), load_categories(), region="BO"))
    assert intake.store(ReceivedSms(location=5, sender="+59171000777", text=f"4821 {case.tracking} RESUELTO se tapo"))
    received = data("message.received")
    assert received["phone"] == "+59171000777" and received["text"] == f"**** {case.tracking} RESUELTO se tapo"
    assert data("case.status")["to"] == "resolved"  # the crew's command did act
    assert all("4821" not in e.payload for e in Event.select())


def test_listing_events_writes_nothing_and_names_a_receiver_not_started(db, report, tmp_path):
    from click.testing import CliRunner

    from barriosms.cli import cli
    from barriosms.store.models import EventCursor

    ini = tmp_path / "events.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n[events]\n"
                   "webhook_url = http://127.0.0.1:9/eventos\nwebhook_secret = un secreto bastante largo\n")
    report("+59171234567", "B12 hay un bache grande en la calle 3")
    result = CliRunner().invoke(cli, ["--config", str(ini), "events", "list"], catch_exceptions=False)
    assert result.exit_code == 0 and "webhook: not started yet" in result.output and "case.opened" in result.output
    data = json.loads(CliRunner().invoke(cli, ["--config", str(ini), "events", "list", "--json"]).output)
    assert data["not_started"] == ["webhook"] and data["receivers"] == []
    assert EventCursor.select().count() == 0
