from __future__ import annotations

import datetime as dt
import random

import pytest
from conftest import T0

from barriosms.cases import casework, subscribers
from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.store.models import Case, CaseEvent, InboundMessage, OutboundMessage
from barriosms.templates.loader import load_categories, load_templates


@pytest.fixture
def templates():
    return load_templates()


@pytest.fixture
def case(hoods, templates):
    intake = Intake(IntakeRules(templates, load_categories(), region="BO"), rng=random.Random(3))
    intake.store(ReceivedSms(location=1, sender="+59171234567", text="B12 no hay luz en la calle 5"))
    OutboundMessage.delete().execute()
    return Case.get()


def test_status_change_records_event_and_queues_sms(case, templates):
    change = casework.change_status(case.tracking, "in_progress", templates, note="Cuadrilla   el lunes", actor="ana", region="BO")
    assert change.case.status == "in_progress"
    ev = CaseEvent.select().where(CaseEvent.kind == "status").get()
    assert (ev.old_status, ev.new_status, ev.note, ev.actor) == ("received", "in_progress", "Cuadrilla el lunes", "ana")
    sms = OutboundMessage.get()
    assert sms.recipient == "+59171234567" and sms.kind == "status_update" and sms.status == "queued"
    assert case.tracking in sms.text and "Cuadrilla el lunes" in sms.text


def test_same_status_without_note_is_refused(case, templates):
    with pytest.raises(casework.CaseError, match="already received"):
        casework.change_status(case.tracking, "received", templates, region="BO")
    assert OutboundMessage.select().count() == 0


def test_unknown_case_and_status(case, templates):
    with pytest.raises(casework.CaseError, match="no case with tracking number 1111111"):
        casework.change_status("1111111", "resolved", templates, region="BO")
    with pytest.raises(casework.CaseError, match="unknown status 'done'"):
        casework.change_status(case.tracking, "done", templates, region="BO")


def test_listing_filters(case):
    assert [c.tracking for c in casework.list_cases(neighborhood="b-12")] == [case.tracking]
    assert casework.list_cases(category="vias") == []
    assert [c.category for c in casework.list_cases(category="alumbrado")] == ["alumbrado"]
    assert casework.list_cases(status="closed") == []


# -- transitions, notes, assignment, merging and who is told ------------------------------------

ANA, BETO, CARLA = "+59171111111", "+59172222222", "+59173333333"


def outbox_rows() -> list[tuple[str, str, str]]:
    return [(m.recipient, m.kind, m.text) for m in OutboundMessage.select().order_by(OutboundMessage.id)]


def test_a_forbidden_transition_says_what_is_allowed(case, templates):
    with pytest.raises(casework.CaseError) as caught:
        casework.change_status(case.tracking, "closed", templates, now=T0, region="BO")
    message = str(caught.value)
    assert case.tracking in message and "cannot go to closed" in message
    assert "can go to: reviewing, in_progress, resolved, rejected" in message
    assert Case.get().status == "received" and OutboundMessage.select().count() == 0
    assert not CaseEvent.select().where(CaseEvent.kind == "status").exists()


def test_resolving_records_when(case, templates):
    casework.change_status(case.tracking, "in_progress", templates, now=T0, region="BO")
    assert Case.get().resolved_at is None
    change = casework.change_status(case.tracking, "resolved", templates, now=T0 + dt.timedelta(days=1), region="BO")
    stored = Case.get()
    assert (stored.status, stored.resolved_at, stored.updated_at) == ("resolved", T0 + dt.timedelta(days=1),
                                                                       T0 + dt.timedelta(days=1))
    assert "resuelto" in change.notifications[0].text
    casework.change_status(case.tracking, "closed", templates, now=T0 + dt.timedelta(days=2), region="BO")
    assert Case.get().resolved_at == T0 + dt.timedelta(days=1)  # closing keeps the resolution time


def test_internal_note_of_a_status_change_is_never_sent(case, templates):
    change = casework.change_status(case.tracking, "reviewing", templates, internal_note="vecino   conflictivo",
                                    actor="ana", now=T0, region="BO")
    [sms] = change.notifications
    assert "conflictivo" not in sms.text
    note = CaseEvent.select().where(CaseEvent.kind == "note").get()
    assert (note.note, note.public, note.actor) == ("vecino conflictivo", False, "ana")


def test_internal_notes_stay_in_the_office_public_ones_are_sent(case, templates):
    internal = casework.add_note(case.tracking, "llamar al   dirigente", templates, public=False, actor="ana", now=T0, region="BO")
    assert internal.notifications == [] and OutboundMessage.select().count() == 0
    assert (internal.event.kind, internal.event.public, internal.event.note) == ("note", False, "llamar al dirigente")
    public = casework.add_note(case.tracking, "La cuadrilla va el lunes", templates, public=True, now=T0, region="BO")
    assert outbox_rows() == [("+59171234567", "note", public.notifications[0].text)]
    assert case.tracking in public.notifications[0].text and "La cuadrilla va el lunes" in public.notifications[0].text
    assert public.notifications[0].urgent is False
    assert Case.get().updated_at == T0
    with pytest.raises(casework.CaseError, match="the note is empty"):
        casework.add_note(case.tracking, "   ", templates, public=True, region="BO")


def test_every_reporter_is_told_except_those_who_opted_out(report, templates):
    keep = report(ANA, "B12 no hay luz en la calle 5")
    dup = report(BETO, "B12 la calle 5 esta sin luz")
    quiet = report(CARLA, "B12 sin luz en la calle 5 desde ayer")
    casework.merge(dup.tracking, keep.tracking, templates, now=T0 + dt.timedelta(hours=1), region="BO")
    casework.merge(quiet.tracking, keep.tracking, templates, now=T0 + dt.timedelta(hours=1), region="BO")
    subscribers.set_opted_out(CARLA, True, T0)
    OutboundMessage.delete().execute()

    change = casework.change_status(keep.tracking, "in_progress", templates, note="Cuadrilla el lunes",
                                    now=T0 + dt.timedelta(hours=2), region="BO")
    assert sorted(m.recipient for m in change.notifications) == [ANA, BETO]
    assert change.skipped == {CARLA: "opted out (BAJA)"}
    assert {(to, kind) for to, kind, _ in outbox_rows()} == {(ANA, "status_update"), (BETO, "status_update")}
    assert all(keep.tracking in text and "Cuadrilla el lunes" in text for _, _, text in outbox_rows())
    assert all(m.case_id == keep.id and not m.urgent for m in OutboundMessage.select())


def test_a_phone_that_is_no_phone_number_is_skipped(case, templates):
    casework.add_reporter(case, "TIGO", "merged", now=T0)
    change = casework.add_note(case.tracking, "Vamos el lunes", templates, public=True, now=T0, region="BO")
    assert [m.recipient for m in change.notifications] == ["+59171234567"]
    assert change.skipped == {"TIGO": "not a phone number"}


def test_assign_is_recorded_for_staff_only(case):
    change = casework.assign(case.tracking, "  cuadrilla   norte ", actor="ana", now=T0)
    stored = Case.get()
    assert (stored.assignee, stored.updated_at) == ("cuadrilla norte", T0)
    event = CaseEvent.select().where(CaseEvent.kind == "assign").get()
    assert (event.note, event.public, event.actor, event.old_status, event.new_status) == (
        "cuadrilla norte", False, "ana", "received", "received")
    assert change.notifications == [] and OutboundMessage.select().count() == 0
    with pytest.raises(casework.CaseError, match="already assigned to cuadrilla norte"):
        casework.assign(case.tracking, "cuadrilla norte")
    casework.assign(case.tracking, "", now=T0)
    assert Case.get().assignee == ""


def test_merge_moves_reporters_messages_and_earlier_merges(report, templates):
    keep = report(ANA, "B12 no hay luz en la calle 5")
    dup = report(BETO, "B12 la calle 5 esta sin luz")
    older = report(CARLA, "B12 sin luz en la calle 5 desde ayer")
    at = T0 + dt.timedelta(hours=1)
    casework.merge(older.tracking, dup.tracking, templates, now=at, region="BO")
    OutboundMessage.delete().execute()

    change = casework.merge(dup.tracking, keep.tracking, templates, actor="ana", now=at, region="BO")
    assert {(r.phone, r.how) for r in casework.reporters(Case.get_by_id(keep.id))} == {
        (ANA, "reported"), (BETO, "merged"), (CARLA, "merged")}
    stored_dup, stored_older = Case.get_by_id(dup.id), Case.get_by_id(older.id)
    assert (stored_dup.status, stored_dup.merged_into_id) == ("closed", keep.id)
    assert stored_older.merged_into_id == keep.id  # re-pointed: no chain through the duplicate
    assert {m.case_id for m in InboundMessage.select()} == {keep.id}
    assert (change.event.kind, change.event.old_status, change.event.new_status) == ("merge", "received", "closed")
    assert CaseEvent.select().where((CaseEvent.case == keep) & (CaseEvent.kind == "merged_from")).get().public is False
    # Only the reporters who moved are told, with both numbers.
    assert sorted(m.recipient for m in change.notifications) == [BETO, CARLA]
    assert all(dup.tracking in m.text and keep.tracking in m.text and m.kind == "merged"
               for m in change.notifications)


def test_merge_refuses_itself_a_closed_case_and_a_merged_duplicate(report, templates):
    keep = report(ANA, "B12 no hay luz en la calle 5")
    dup = report(BETO, "B12 la calle 5 esta sin luz")
    other = report(CARLA, "B02 bache en la avenida")
    with pytest.raises(casework.CaseError, match="cannot be merged into itself"):
        casework.merge(keep.tracking, keep.tracking, templates, region="BO")
    casework.change_status(other.tracking, "rejected", templates, now=T0, region="BO")
    with pytest.raises(casework.CaseError, match=f"case {other.tracking} is rejected: merge into an open case"):
        casework.merge(dup.tracking, other.tracking, templates, region="BO")
    assert Case.get_by_id(dup.id).merged_into_id is None

    casework.merge(dup.tracking, keep.tracking, templates, now=T0, region="BO")
    pointer = f"case {dup.tracking} was merged into {keep.tracking}; work on that case"
    with pytest.raises(casework.CaseError, match=pointer):
        casework.change_status(dup.tracking, "reviewing", templates, region="BO")
    with pytest.raises(casework.CaseError, match=pointer):
        casework.add_note(dup.tracking, "hola", templates, public=True, region="BO")
    with pytest.raises(casework.CaseError, match=pointer):
        casework.assign(dup.tracking, "cuadrilla")
    with pytest.raises(casework.CaseError, match=pointer):
        casework.merge(dup.tracking, other.tracking, templates, region="BO")
    with pytest.raises(casework.CaseError, match=pointer):
        casework.merge(other.tracking, dup.tracking, templates, region="BO")


def test_merge_refuses_a_closed_case(report, templates):
    keep = report(ANA, "B12 no hay luz en la calle 5")
    dup = report(BETO, "B12 la calle 5 esta sin luz")
    casework.change_status(keep.tracking, "resolved", templates, now=T0, region="BO")
    casework.change_status(keep.tracking, "closed", templates, now=T0, region="BO")
    with pytest.raises(casework.CaseError, match="is closed: merge into an open case, or reopen it first"):
        casework.merge(dup.tracking, keep.tracking, templates, region="BO")
