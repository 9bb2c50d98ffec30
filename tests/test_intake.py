"""Intake: an SMS becomes a stored message, maybe a case, and a queued reply, in one transaction."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from barriosms.domain.categories import load_categories
from barriosms.domain.replies import Templates
from barriosms.domain.tracking import is_valid_tracking
from barriosms.intake import Intake, IntakeRules
from barriosms.sms import ReceivedSms
from barriosms.store.models import Case, CaseEvent, InboundMessage, OutboundMessage, SmsPart

T0 = dt.datetime(2026, 11, 24, 12, 0, 0)
RESIDENT = "+59171234567"


@pytest.fixture
def intake(hoods):
    return Intake(IntakeRules(Templates.load(), load_categories(), multipart_timeout=600), rng=random.Random(7))


def sms(text, sender=RESIDENT, loc=1, when=T0, concat=None):
    ref, part, total = concat or (None, 1, 1)
    return ReceivedSms(location=loc, sender=sender, text=text, smsc_time=when, concat_ref=ref,
                       part_number=part, total_parts=total)


def replies():
    return [(m.recipient, m.text) for m in OutboundMessage.select().order_by(OutboundMessage.id)]


def test_report_opens_case_and_queues_tracking_reply(intake):
    assert intake.store(sms("B12 hay un bache grande en la calle 3"), now=T0)
    case = Case.get()
    assert is_valid_tracking(case.tracking)
    assert (case.neighborhood.code, case.category, case.status, case.phone) == ("B12", "vias", "received", RESIDENT)
    assert case.text == "hay un bache grande en la calle 3"
    [(to, text)] = replies()
    assert to == RESIDENT and case.tracking in text
    assert CaseEvent.get().kind == "created"
    msg = InboundMessage.get()
    assert (msg.intent, msg.case_id, msg.needs_staff) == ("report", case.id, False)


def test_sender_is_normalised_to_e164(intake):
    intake.store(sms("B02 no hay luz", sender="71234567"))
    assert Case.get().phone == RESIDENT
    assert replies()[0][0] == RESIDENT


def test_same_sms_read_twice_is_stored_once(intake):
    first = sms("B12 basura en la esquina", loc=3)
    assert intake.store(first)
    again = sms("B12 basura en la esquina", loc=7)  # re-read after a failed delete, other slot
    assert not intake.store(again)
    assert Case.select().count() == 1 and InboundMessage.select().count() == 1 and len(replies()) == 1


def test_identical_text_sent_twice_is_two_messages(intake):
    intake.store(sms("AYUDA", when=T0))
    intake.store(sms("AYUDA", when=T0 + dt.timedelta(minutes=1)))
    assert InboundMessage.select().count() == 2


def test_status_query_answers_status_and_last_public_note_only(intake):
    intake.store(sms("B12 poste caido", sender="+59170000001"))
    case = Case.get()
    CaseEvent.create(case=case, kind="status", old_status="received", new_status="in_progress",
                     note="Cuadrilla el lunes", public=True)
    CaseEvent.create(case=case, kind="note", note="vecino conflictivo", public=False)
    case.status = "in_progress"
    case.save()
    intake.store(sms(f"ESTADO {case.tracking}", sender="+59170000002", when=T0 + dt.timedelta(hours=1)))
    to, text = replies()[-1]
    assert to == "+59170000002"
    assert case.tracking in text and "proceso" in text.lower() and "Cuadrilla el lunes" in text
    assert "conflictivo" not in text and "+59170000001" not in text and "poste" not in text


def test_mistyped_tracking_number_never_answers_another_case(intake):
    intake.store(sms("B12 poste caido"))
    good = Case.get().tracking
    wrong = good[:-2] + good[-1] + good[-2] if good[-1] != good[-2] else good[:-1] + str((int(good[-1]) + 1) % 10)
    intake.store(sms(wrong, when=T0 + dt.timedelta(minutes=5)))
    text = replies()[-1][1]
    assert good not in text and wrong in text
    assert InboundMessage.select().order_by(InboundMessage.id.desc()).get().intent == "invalid_tracking"


def test_unknown_code_gets_help_and_is_kept_for_staff(intake):
    intake.store(sms("Z99 hay un derrumbe"))
    assert Case.select().count() == 0
    msg = InboundMessage.get()
    assert (msg.intent, msg.needs_staff) == ("unroutable", True)
    assert len(replies()) == 1


def test_operator_sender_is_stored_but_never_answered(intake):
    intake.store(sms("B12 Recarga y gana", sender="TIGO"))
    intake.store(sms("Su saldo es Bs 3", sender="222"))
    assert InboundMessage.select().count() == 2
    assert {m.intent for m in InboundMessage.select()} == {"not_replyable"}
    assert replies() == [] and Case.select().count() == 0


def test_concatenated_parts_out_of_order_make_one_case(intake):
    parts = ["B12 hay un hueco enorme ", "en la avenida principal ", "cerca de la escuela"]
    assert intake.store(sms(parts[2], loc=3, concat=(42, 3, 3)))
    assert intake.store(sms(parts[0], loc=1, concat=(42, 1, 3)))
    assert Case.select().count() == 0  # still waiting for part 2
    assert intake.store(sms(parts[1], loc=2, concat=(42, 2, 3)))
    assert Case.select().count() == 1
    msg = InboundMessage.get()
    assert msg.text == "".join(parts) and msg.parts == 3 and not msg.incomplete
    assert SmsPart.select().where(SmsPart.message.is_null()).count() == 0


def test_duplicated_part_is_ignored(intake):
    intake.store(sms("B12 hola ", loc=1, concat=(9, 1, 2)))
    assert not intake.store(sms("B12 hola ", loc=5, concat=(9, 1, 2)))
    intake.store(sms("mundo bache", loc=2, concat=(9, 2, 2)))
    assert InboundMessage.select().count() == 1 and Case.select().count() == 1


def test_missing_part_is_handled_incomplete_after_timeout(intake):
    intake.store(sms("B12 se cayo un muro ", loc=1, concat=(5, 1, 3)), now=T0)
    intake.store(sms("en la calle Tumusla", loc=3, concat=(5, 3, 3)), now=T0)
    assert intake.flush_expired_parts(now=T0 + dt.timedelta(seconds=599)) == 0
    assert intake.flush_expired_parts(now=T0 + dt.timedelta(seconds=601)) == 1
    msg = InboundMessage.get()
    assert msg.incomplete and msg.parts == 2 and msg.text == "B12 se cayo un muro en la calle Tumusla"
    assert Case.get().category == "riesgos"
    assert intake.flush_expired_parts(now=T0 + dt.timedelta(hours=2)) == 0


def test_reused_reference_flushes_the_stale_group(intake):
    intake.store(sms("B12 viejo ", loc=1, concat=(7, 1, 2)), now=T0)
    intake.store(sms("B12 nuevo ", loc=2, when=T0 + dt.timedelta(hours=1), concat=(7, 1, 2)), now=T0)
    intake.store(sms("mensaje", loc=3, when=T0 + dt.timedelta(hours=1), concat=(7, 2, 2)), now=T0)
    texts = sorted(m.text for m in InboundMessage.select())
    assert texts == ["B12 nuevo mensaje", "B12 viejo "]


def test_tracking_numbers_are_unique_and_valid(intake):
    for i in range(40):
        intake.store(sms(f"B12 bache numero {i}", when=T0 + dt.timedelta(seconds=i)))
    trackings = [c.tracking for c in Case.select()]
    assert len(set(trackings)) == 40 and all(map(is_valid_tracking, trackings))


def test_code_only_asks_for_description(intake):
    intake.store(sms("B12"))
    assert Case.select().count() == 0
    assert InboundMessage.get().intent == "missing_description"
    assert "B12" in replies()[0][1]
