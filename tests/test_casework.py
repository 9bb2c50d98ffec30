from __future__ import annotations

import random

import pytest

from barriosms import casework
from barriosms.domain.categories import load_categories
from barriosms.domain.replies import Templates
from barriosms.intake import Intake, IntakeRules
from barriosms.sms import ReceivedSms
from barriosms.store.models import Case, CaseEvent, OutboundMessage


@pytest.fixture
def templates():
    return Templates.load()


@pytest.fixture
def case(hoods, templates):
    intake = Intake(IntakeRules(templates, load_categories()), rng=random.Random(3))
    intake.store(ReceivedSms(location=1, sender="+59171234567", text="B12 no hay luz en la calle 5"))
    OutboundMessage.delete().execute()
    return Case.get()


def test_status_change_records_event_and_queues_sms(case, templates):
    change = casework.change_status(case.tracking, "in_progress", templates, note="Cuadrilla   el lunes", actor="ana")
    assert change.case.status == "in_progress"
    ev = CaseEvent.select().where(CaseEvent.kind == "status").get()
    assert (ev.old_status, ev.new_status, ev.note, ev.actor) == ("received", "in_progress", "Cuadrilla el lunes", "ana")
    sms = OutboundMessage.get()
    assert sms.recipient == "+59171234567" and sms.kind == "status_update" and sms.status == "queued"
    assert case.tracking in sms.text and "Cuadrilla el lunes" in sms.text


def test_same_status_without_note_is_refused(case, templates):
    with pytest.raises(casework.CaseError, match="already received"):
        casework.change_status(case.tracking, "received", templates)
    assert OutboundMessage.select().count() == 0


def test_unknown_case_and_status(case, templates):
    with pytest.raises(casework.CaseError, match="no case with tracking number 1111111"):
        casework.change_status("1111111", "resolved", templates)
    with pytest.raises(casework.CaseError, match="unknown status 'done'"):
        casework.change_status(case.tracking, "done", templates)


def test_listing_filters(case):
    assert [c.tracking for c in casework.list_cases(neighborhood="b-12")] == [case.tracking]
    assert casework.list_cases(category="vias") == []
    assert [c.category for c in casework.list_cases(category="alumbrado")] == ["alumbrado"]
    assert casework.list_cases(status="closed") == []
