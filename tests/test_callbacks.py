"""Missed-call callbacks: the service on a real SQLite file, the modem thread with the in-memory modem,
and `barriosms callbacks` (tests/test_callbacks_e2e.py runs the real daemon on the simulated modem)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time

import pytest
from fakemodem import FakeModem

from barriosms import config
from barriosms.cases import callbacks, events
from barriosms.config import ServiceSettings
from barriosms.daemon.modem_thread import ModemThread
from barriosms.store.models import AuditEntry, Callback, Event, OutboundMessage, PhoneState
from barriosms.templates.loader import load_categories, load_templates
from barriosms.templates.rules import IntakeRules

PHONE = "+59171234567"
T0 = dt.datetime(2026, 11, 24, 14, 0)
TEXT = "Recibimos su llamada. La Alcaldia lo llamara pronto."


@pytest.fixture
def rules() -> IntakeRules:
    return IntakeRules(templates=load_templates(), categories=load_categories(None), region="BO")


def call(rules: IntakeRules, number: str = PHONE, at: dt.datetime = T0, **kwargs) -> callbacks.CallOutcome:
    return callbacks.record_call(number, at, rules, now=at, **kwargs)


def with_service(rules: IntakeRules, **changes) -> IntakeRules:
    return dataclasses.replace(rules, service=dataclasses.replace(rules.service, **changes))


def test_a_call_is_a_request_with_one_sms_and_an_event(db, rules):
    done = call(rules, "71234567", modem="entel")  # the number as a national one: stored in E.164
    assert done.new and done.sms == "queued"
    row = Callback.get()
    assert (row.phone, row.calls, row.status, row.first_call_at, row.last_call_at) == (PHONE, 1, "pending", T0, T0)
    sms = OutboundMessage.get()
    assert (sms.recipient, sms.text, sms.kind, sms.urgent, sms.modem) == (PHONE, TEXT, "reply", True, "entel")
    assert row.sms.id == sms.id
    [event] = Event.select().where(Event.kind == "callback.requested")
    assert events.as_json(event)["data"] == {"id": row.id, "phone": PHONE, "calls": 1}
    assert event.at == T0


def test_the_sms_is_one_gsm7_sms(rules):
    from barriosms.domain.gsm import SMS_SEPTETS, is_gsm7, septet_count

    text = rules.templates.render(callbacks.TEMPLATE)
    assert text == TEXT and is_gsm7(text) and (septet_count(text) or 999) <= SMS_SEPTETS


def test_calls_again_within_the_window_stay_one_request_without_a_second_sms(db, rules):
    first = call(rules)
    again = call(rules, "+591 7123 4567", T0 + dt.timedelta(minutes=5))
    third = call(rules, PHONE, T0 + dt.timedelta(hours=23, minutes=59))  # 24 h after the second: still in
    assert not again.new and not third.new and again.sms == third.sms == ""
    assert Callback.select().count() == 1 and OutboundMessage.select().count() == 1
    row = Callback.get()
    assert (row.calls, row.first_call_at, row.last_call_at) == (3, T0, T0 + dt.timedelta(hours=23, minutes=59))
    assert first.callback.id == again.callback.id == third.callback.id
    calls = [events.as_json(e)["data"]["calls"] for e in Event.select().where(Event.kind == "callback.requested")
             .order_by(Event.id)]
    assert calls == [1, 2, 3]  # each call is heard by other systems, on the one request


def test_the_window_counts_from_the_last_call_and_a_later_call_is_a_new_request(db, rules):
    call(rules)
    short = with_service(rules, callback_window_hours=2)
    assert not call(short, at=T0 + dt.timedelta(hours=2)).new  # exactly the window: still in
    later = call(short, at=T0 + dt.timedelta(hours=4, seconds=1))
    assert later.new and later.sms == "queued"
    assert [c.calls for c in Callback.select().order_by(Callback.id)] == [2, 1]
    assert OutboundMessage.select().count() == 2


def test_a_request_done_is_not_counted_on_a_new_call_opens_another(db, rules):
    first = call(rules)
    callbacks.mark_done(first.callback.id, actor="ana", now=T0 + dt.timedelta(minutes=10))
    again = call(rules, at=T0 + dt.timedelta(minutes=30))
    assert again.new and again.callback.id != first.callback.id and again.sms == "queued"


def test_other_phones_have_their_own_requests(db, rules):
    call(rules)
    other = call(rules, "+59176543210", T0 + dt.timedelta(minutes=1))
    assert other.new and Callback.select().count() == 2 and OutboundMessage.select().count() == 2


def test_an_opted_out_phone_gets_a_request_and_no_sms(db, rules):
    PhoneState.create(phone=PHONE, opted_out=True)
    done = call(rules)
    assert done.new and done.sms == callbacks.OPTED_OUT and done.callback.sms is None
    assert OutboundMessage.select().count() == 0 and Callback.get().phone == PHONE


def test_a_phone_silenced_as_a_machine_gets_no_sms(db, rules):
    PhoneState.create(phone=PHONE, muted_until=T0 + dt.timedelta(hours=1), mute_reason="loop_fast")
    assert call(rules).sms == callbacks.MUTED and OutboundMessage.select().count() == 0


def test_the_phones_reply_budget_applies(db, rules):
    tight = with_service(rules, replies_per_hour=2, replies_per_day=2)
    for minutes in (0, 10):
        OutboundMessage.create(recipient=PHONE, text="respuesta", created_at=T0 - dt.timedelta(minutes=30 - minutes))
    done = call(tight)
    assert done.new and done.sms == callbacks.PHONE_BUDGET and OutboundMessage.select().count() == 2
    # A day later the budget has room again; the request of yesterday is out of the window.
    assert call(tight, at=T0 + dt.timedelta(days=1, hours=1)).sms == "queued"


def test_a_withheld_number_gets_a_request_without_sms_and_each_call_is_its_own(db, rules):
    first = call(rules, "")
    second = call(rules, "  ", T0 + dt.timedelta(minutes=1))
    assert first.new and second.new and first.sms == second.sms == callbacks.WITHHELD
    assert [c.phone for c in Callback.select()] == ["", ""] and OutboundMessage.select().count() == 0
    [data, _] = [events.as_json(e)["data"] for e in Event.select().order_by(Event.id)]
    assert data["phone"] is None


def test_a_sender_that_is_no_phone_is_never_answered(db, rules):
    done = call(rules, "222")
    assert done.sms == callbacks.NOT_A_PHONE and Callback.get().phone == "222"
    assert OutboundMessage.select().count() == 0


def test_done_links_a_case_and_keeps_note_and_who(db, report, rules):
    case = report(PHONE, "B12 hay un bache grande en la calle 3")
    done = call(rules)
    row = callbacks.mark_done(done.callback.id, actor="ana", note="  quiere  reclamar  ", tracking=case.tracking,
                              now=T0 + dt.timedelta(hours=1))
    row = Callback.get_by_id(row.id)
    assert (row.status, row.done_by, row.note, row.case.id, row.done_at) == (
        "done", "ana", "quiere reclamar", case.id, T0 + dt.timedelta(hours=1))
    assert callbacks.list_callbacks(pending=True) == []
    with pytest.raises(callbacks.CallbackError, match="already done"):
        callbacks.mark_done(row.id, actor="ana")
    with pytest.raises(callbacks.CallbackError, match="no callback request 99"):
        callbacks.mark_done(99, actor="ana")
    other = call(rules, "+59176543210")
    with pytest.raises(callbacks.CallbackError, match="no case with tracking number 1234567"):
        callbacks.mark_done(other.callback.id, actor="ana", tracking="1234567")
    assert Callback.get_by_id(other.callback.id).status == "pending"  # a refused change changes nothing


def test_the_window_key_is_read_and_checked(tmp_path):
    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\npath = {tmp_path / 'b.db'}\n[modem]\ndevice = /dev/x\n[service]\n"
                   "callback_window_hours = 6\n")
    assert config.load(ini).service.callback_window_hours == 6
    assert ServiceSettings().callback_window_hours == 24
    ini.write_text(ini.read_text().replace("= 6", "= 0"))
    with pytest.raises(config.ConfigError, match="callback_window_hours"):
        config.load(ini)


# -- the modem thread: hang up at once, then record ---------------------------------------------

@pytest.fixture
def settings(db, tmp_path):
    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/fake\n[gateway]\npoll_seconds = 60\n")
    return config.load(ini)


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_the_modem_thread_hangs_up_records_and_sends_one_sms(settings):
    modem = FakeModem()
    stop = threading.Event()
    thread = ModemThread(settings, stop, modem_factory=lambda s: modem)
    thread.start()
    try:
        assert wait_until(lambda: modem.connected)
        modem.ring("71234567")
        assert wait_until(lambda: modem.sent == [(PHONE, TEXT)]), modem.sent
        assert modem.hangups == ["71234567"] and modem.ringing is None
        modem.ring("71234567")  # again, a minute later: one request, no second SMS
        assert wait_until(lambda: len(modem.hangups) == 2)
        assert wait_until(lambda: Callback.get().calls == 2)
        time.sleep(0.3)
        assert len(modem.sent) == 1 and Callback.select().count() == 1
        modem.ring("")
        assert wait_until(lambda: Callback.select().count() == 2) and len(modem.hangups) == 3
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and thread.failed is None


def test_calls_wait_while_the_clock_is_not_believable(settings):
    modem = FakeModem()
    stop = threading.Event()
    thread = ModemThread(settings, stop, modem_factory=lambda s: modem)
    thread.clock_trust.problem = "the system clock is in 1970"
    thread.clock_trust.is_sane = lambda: False  # type: ignore[method-assign]
    thread.start()
    try:
        assert wait_until(lambda: modem.connected)
        modem.ring(PHONE)
        assert wait_until(lambda: modem.hangups == [PHONE])  # hung up at once all the same
        time.sleep(0.3)
        assert Callback.select().count() == 0 and modem.sent == []
        thread.clock_trust.is_sane = lambda: True  # type: ignore[method-assign]
        thread.requests.wake()
        assert wait_until(lambda: Callback.select().count() == 1)
    finally:
        stop.set()
        thread.join(5)


# -- the CLI -------------------------------------------------------------------------------------

def test_callbacks_list_and_done_with_the_audit_trail(ready, report, rules, monkeypatch):
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("USER", "tecnico")
    assert "no missed call yet" in ready("callbacks", "list").output
    case = report(PHONE, "B12 hay un bache grande en la calle 3")  # (the fixture empties the outbox)
    first = call(rules).callback
    call(rules, at=T0 + dt.timedelta(minutes=3))
    withheld = call(rules, "", T0 + dt.timedelta(minutes=4)).callback
    listed = json.loads(ready("callbacks", "list", "--json").output)
    assert [(c["id"], c["phone"], c["calls"], c["status"]) for c in listed] == [
        (withheld.id, None, 1, "pending"), (first.id, PHONE, 2, "pending")]
    assert listed[1]["sms"]["text"] == TEXT and listed[1]["sms"]["status"] == "queued" and listed[0]["sms"] is None
    table = ready("callbacks", "list", "--wide").output
    assert "withheld" in table and PHONE in table and "queued" in table

    out = ready("callbacks", "done", str(first.id), "--note", "reclamo tomado por telefono", "--case", case.tracking)
    assert f"callback request {first.id} ({PHONE}) done, linked to case {case.tracking}" in out.output
    [entry] = AuditEntry.select().where(AuditEntry.action == "callbacks.done")
    assert (entry.actor, entry.source, entry.target) == ("tecnico", "cli", f"{first.id} {PHONE}")
    assert entry.detail == f"case {case.tracking}; reclamo tomado por telefono"
    pending = json.loads(ready("callbacks", "list", "--pending", "--json").output)
    assert [c["id"] for c in pending] == [withheld.id]
    done = json.loads(ready("callbacks", "list", "--json").output)[1]
    assert (done["status"], done["done_by"], done["case"], done["note"]) == (
        "done", "tecnico", case.tracking, "reclamo tomado por telefono")

    assert ready("callbacks", "done", str(first.id), code=1).output.strip().endswith("nothing changed")
    assert "no callback request 999" in ready("callbacks", "done", "999", code=1).output
    assert "no case with tracking number 7654321" in ready("callbacks", "done", str(withheld.id), "--case", "7654321",
                                                          code=1).output
    assert AuditEntry.select().where(AuditEntry.action == "callbacks.done").count() == 1  # refusals record nothing
    as_json = json.loads(ready("callbacks", "done", str(withheld.id), "--json").output)
    assert as_json["status"] == "done" and as_json["phone"] is None
    assert "no callback request is pending" in ready("callbacks", "list", "--pending").output


def test_a_viewer_may_list_but_not_mark_done(ready, rules):
    password = "correct horse 42"
    ready("staff", "add", "vera", "--name", "Vera", "--role", "viewer", "--password-stdin", input=password + "\n")
    done = call(rules).callback
    assert json.loads(ready("--as", "vera", "callbacks", "list", "--json").output)[0]["id"] == done.id
    refused = ready("--as", "vera", "callbacks", "done", str(done.id), code=1).output
    assert "may not do callbacks.done" in refused and Callback.get().status == "pending"
