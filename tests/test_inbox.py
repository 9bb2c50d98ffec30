"""Staff triage: the messages that wait for a neighbourhood or got no answer, and routing by hand."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from barriosms.config import ServiceSettings
from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.staff import inbox
from barriosms.store.models import Case, CaseEvent, CaseReporter, InboundMessage, OutboundMessage, PendingReport
from barriosms.templates.loader import load_categories, load_templates

T0 = dt.datetime(2026, 11, 24, 12, 0)
RESIDENT = "+59171234567"
OTHER = "+59176543210"


@pytest.fixture
def intake(hoods):
    return Intake(IntakeRules(load_templates(), load_categories(), service=ServiceSettings(replies_per_hour=1), region="BO"),
                  rng=random.Random(11))


@pytest.fixture
def receive(intake):
    slots = iter(range(1, 1000))

    def stored(text: str, sender: str = RESIDENT, minutes: int = 0) -> InboundMessage:
        n, at = next(slots), T0 + dt.timedelta(minutes=minutes)
        assert intake.store(ReceivedSms(location=n, sender=sender, text=text, smsc_time=at), now=at)
        return InboundMessage.select().order_by(InboundMessage.id.desc()).get()

    return stored


def test_list_messages_filters(receive):
    waiting = receive("hay un bache enorme frente a la escuela", sender=OTHER)
    answered = receive("B02 basura en la plaza", minutes=1)
    over_budget = receive("B12 no hay luz en la calle 5", minutes=2)  # 2nd reply in the hour: unanswered
    operator = receive("Recarga y gana", sender="TIGO", minutes=3)
    assert [m.id for m in inbox.list_messages()] == [operator.id, over_budget.id, answered.id, waiting.id]
    assert [m.id for m in inbox.list_messages(unmatched=True)] == [waiting.id]
    assert [m.id for m in inbox.list_messages(unanswered=True)] == [over_budget.id]
    assert InboundMessage.get_by_id(over_budget.id).unanswered == "phone_hour_budget"
    assert [m.id for m in inbox.list_messages(phone=OTHER)] == [waiting.id]
    assert [m.id for m in inbox.list_messages(limit=2)] == [operator.id, over_budget.id]


def test_route_opens_the_case_and_tells_the_sender(receive, intake):
    msg = receive("hay un bache enorme frente a la escuela")
    OutboundMessage.delete().execute()
    at = T0 + dt.timedelta(hours=3)
    routed = inbox.route(msg.id, "b-05", intake.rules, rng=intake.rng, category=" Agua ", actor="ana", now=at)

    case = Case.get()
    assert routed.case.id == case.id and routed.message.id == msg.id
    assert (case.neighborhood.code, case.category, case.text, case.phone, case.created_at) == (
        "B05", "agua", "hay un bache enorme frente a la escuela", RESIDENT, at)
    assert case.source_message_id == msg.id
    [reporter] = CaseReporter.select()
    assert (reporter.phone, reporter.how, reporter.message_id) == (RESIDENT, "assigned", msg.id)
    assert {(e.kind, e.actor) for e in CaseEvent.select()} == {("created", "ana"), ("note", "ana")}
    note = CaseEvent.get(CaseEvent.kind == "note")
    assert note.note == f"routed by hand from message {msg.id}" and note.public is False

    stored = InboundMessage.get_by_id(msg.id)
    assert (stored.case_id, stored.needs_staff) == (case.id, False)
    pending = PendingReport.get()
    assert (pending.outcome, pending.closed_at) == ("routed", at)
    assert inbox.list_messages(unmatched=True) == []

    [reply] = OutboundMessage.select()
    assert routed.reply.id == reply.id
    assert (reply.recipient, reply.kind, reply.urgent, reply.case_id, reply.in_reply_to_id) == (
        RESIDENT, "reply", False, case.id, msg.id)
    assert case.tracking in reply.text and "Pampahasi" in reply.text and "agua" in reply.text


def test_route_without_category_uses_the_text(receive, intake):
    msg = receive("no hay luz en toda la cuadra")
    routed = inbox.route(msg.id, "B12", intake.rules, rng=intake.rng, now=T0)
    assert routed.case.category == "alumbrado"


def test_route_keeps_an_expired_wait_expired(receive, intake):
    msg = receive("hay un bache enorme frente a la escuela")
    intake.expire_pending(now=T0 + dt.timedelta(hours=2))
    inbox.route(msg.id, "B05", intake.rules, rng=intake.rng, now=T0 + dt.timedelta(hours=3))
    assert PendingReport.get().outcome == "expired"


def test_a_message_from_no_phone_number_is_routed_without_reply(receive, intake):
    msg = receive("B12 Recarga y gana", sender="TIGO")
    routed = inbox.route(msg.id, "B12", intake.rules, rng=intake.rng, now=T0)
    assert routed.reply is None and OutboundMessage.select().count() == 0
    assert routed.case.neighborhood.code == "B12"


def test_route_refuses(receive, intake):
    msg = receive("hay un bache enorme frente a la escuela")
    with pytest.raises(inbox.InboxError, match="no neighbourhood with code 'Z99'"):
        inbox.route(msg.id, "Z99", intake.rules, rng=intake.rng, now=T0)
    with pytest.raises(inbox.InboxError, match="unknown category 'nada'; use one of: .*vias"):
        inbox.route(msg.id, "B05", intake.rules, rng=intake.rng, category="nada", now=T0)
    with pytest.raises(inbox.InboxError, match="no message 999"):
        inbox.route(999, "B05", intake.rules, rng=intake.rng, now=T0)
    assert Case.select().count() == 0 and PendingReport.get().outcome == ""

    routed = inbox.route(msg.id, "B05", intake.rules, rng=intake.rng, now=T0)
    with pytest.raises(inbox.InboxError, match=f"message {msg.id} already belongs to case {routed.case.tracking}"):
        inbox.route(msg.id, "B02", intake.rules, rng=intake.rng, now=T0)
    reported = receive("B12 poste caido", sender=OTHER, minutes=5)
    with pytest.raises(inbox.InboxError, match="already belongs to case"):
        inbox.route(reported.id, "B02", intake.rules, rng=intake.rng, now=T0)
    assert Case.select().count() == 2


def test_route_refuses_binary_data(intake):
    intake.store(ReceivedSms(location=1, sender=RESIDENT, text="\x00\x01", smsc_time=T0, binary=True), now=T0)
    msg = InboundMessage.get()
    with pytest.raises(inbox.InboxError, match="is binary data, not a report"):
        inbox.route(msg.id, "B05", intake.rules, rng=intake.rng, now=T0)


def test_inbox_list_unmatched_says_why_each_message_waits(ready):
    import json

    from barriosms.config import ServiceSettings as Service

    intake = Intake(IntakeRules(load_templates(), load_categories(),
                                service=Service(cases_per_phone_hour=1, pending_report_minutes=1), region="BO"),
                    rng=random.Random(3))
    texts = [("B12 hay un bache", RESIDENT), ("B12 otro bache mas", RESIDENT), ("hay basura", OTHER),
             ("Z99 no hay luz", "+59170000003")]
    for n, (text, sender) in enumerate(texts, start=1):
        intake.store(ReceivedSms(location=n, sender=sender, text=text, smsc_time=T0), now=T0)
    rows = json.loads(ready("inbox", "list", "--unmatched", "--json").output)
    why = {m["text"]: (m["triage"], m["triage_why"]) for m in rows}
    assert why["B12 otro bache mas"] == ("case_limit", "this phone opened [service] cases_per_phone_hour cases in "
                                                       "the last hour")
    assert why["hay basura"][0] == "no_neighborhood"
    assert why["Z99 no hay luz"][0] == "unknown_code"
    assert "B12 hay un bache" not in why, "it opened its case"
    table = ready("inbox", "list", "--unmatched")
    assert "WAITS BECAUSE" in table.output and "case_limit" in table.output
    assert "case_limit: this phone opened" in table.output  # the legend (on stderr, mixed in by the runner)
