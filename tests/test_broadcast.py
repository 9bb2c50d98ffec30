"""Notices to a neighbourhood: who gets them, what they cost, and queuing one SMS per resident."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from barriosms.cases import casework, subscribers
from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.staff import broadcast
from barriosms.store.models import Broadcast, Case, OutboundMessage
from barriosms.templates.loader import load_categories, load_templates

LA_PAZ = ZoneInfo("America/La_Paz")
T0 = dt.datetime(2026, 11, 24, 16, 0)  # 12:00 in La Paz
ANA, BETO, CARLA, DORA = "+59171111111", "+59172222222", "+59173333333", "+59174444444"
NOTICE = "Corte de agua el martes de 8 a 14 en todo el barrio"


@pytest.fixture
def residents(hoods):
    """Reports in B12 by Ana (twice), Beto and Carla (who then opted out), one by Dora in B02,
    and an operator's short code attached to a B12 case; the replies to them are already sent."""
    intake = Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(1))
    reports = [(ANA, "B12 no hay luz en la calle 5"), (ANA, "B12 bache en la avenida"),
               (BETO, "B12 la calle 5 esta sin luz"), (CARLA, "B12 basura en la plaza"),
               (DORA, "B02 bache frente al mercado")]
    for n, (phone, text) in enumerate(reports, start=1):
        at = T0 - dt.timedelta(days=1, minutes=n)
        intake.store(ReceivedSms(location=n, sender=phone, text=text, smsc_time=at), now=at)
    subscribers.set_opted_out(CARLA, True, T0)
    casework.add_reporter(Case.get(Case.phone == BETO), "TIGO", "merged", now=T0)
    OutboundMessage.update(status="sent", parts=1, sent_at=T0 - dt.timedelta(days=1)).execute()


def make_plan(text: str = NOTICE, code: str = "b-12", budget: int = 0, now: dt.datetime = T0) -> broadcast.Plan:
    return broadcast.plan(code, text, region="BO", daily_budget=budget, zone=LA_PAZ, now=now)


def test_recipients_are_the_reporters_who_can_and_want_to_hear(residents):
    p = make_plan()
    assert p.neighborhood.code == "B12"
    assert p.recipients == (ANA, BETO)  # once each, sorted
    assert (p.opted_out, p.not_replyable) == (1, 1)
    assert (p.parts, p.cost, p.budget_left, p.over_budget) == (1, 2, None, 0)
    assert p.text == NOTICE


def test_text_is_cleaned_to_gsm7(residents):
    p = make_plan("  Corte   de agua:\n mañana, también, todo el día  ")
    assert p.text == "Corte de agua: mañana, también, todo el dia"  # é and ñ are GSM-7, í is not


@pytest.mark.parametrize("length, parts", [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3)])
def test_parts_per_recipient(residents, length, parts):
    p = make_plan("a" * length)
    assert p.parts == parts and p.cost == 2 * parts


def test_extension_characters_count_twice(residents):
    assert make_plan("€" * 80).parts == 1
    assert make_plan("€" * 81).parts == 2


def test_refuses_too_long_empty_and_unknown(residents):
    with pytest.raises(broadcast.BroadcastError, match="the notice is 460 characters, 4 SMS per resident; "
                                                       "keep it to 459 characters at most"):
        make_plan("a" * 460)
    with pytest.raises(broadcast.BroadcastError, match="the notice is empty"):
        make_plan(" \n ")
    with pytest.raises(broadcast.BroadcastError, match="no neighbourhood with code 'Z99'"):
        make_plan(code="Z99")


def test_budget_left_counts_sent_today_and_still_queued(residents):
    today = T0 - dt.timedelta(hours=1)
    for parts in (2, 3):
        OutboundMessage.create(recipient=DORA, text="x", kind="reply", status="sent", parts=parts,
                               created_at=today, sent_at=today)
    OutboundMessage.create(recipient=DORA, text="x", kind="note", created_at=today)  # queued: counts one
    p = make_plan("a" * 200, budget=10)  # 2 recipients x 2 parts
    assert (p.budget_left, p.cost, p.over_budget) == (4, 4, 0)
    p = make_plan("a" * 400, budget=10)  # 2 x 3 parts
    assert (p.budget_left, p.cost, p.over_budget) == (4, 6, 2)
    assert make_plan(budget=5).budget_left == 0
    # Yesterday's SMS (local day) are not counted.
    assert make_plan(budget=10, now=T0 + dt.timedelta(days=1)).budget_left == 9


def test_send_queues_one_sms_per_recipient(residents):
    OutboundMessage.delete().execute()
    p = make_plan()
    b = broadcast.send(p, actor="ana", now=T0)
    stored = Broadcast.get()
    assert b.id == stored.id
    assert (stored.neighborhood.code, stored.text, stored.recipients, stored.parts, stored.urgent, stored.actor,
            stored.created_at) == ("B12", NOTICE, 2, 1, False, "ana", T0)
    rows = list(OutboundMessage.select().order_by(OutboundMessage.recipient))
    assert [(m.recipient, m.text, m.kind, m.urgent, m.status, m.broadcast_id, m.case_id, m.next_attempt_at)
            for m in rows] == [(phone, NOTICE, "broadcast", False, "queued", b.id, None, T0) for phone in (ANA, BETO)]


def test_urgent_notice(residents):
    OutboundMessage.delete().execute()
    b = broadcast.send(make_plan(), urgent=True, now=T0)
    assert b.urgent and {m.urgent for m in OutboundMessage.select()} == {True}


def test_send_refuses_a_plan_without_recipients(residents):
    subscribers.set_opted_out(ANA, True, T0)
    subscribers.set_opted_out(BETO, True, T0)
    p = make_plan()
    assert p.recipients == () and p.opted_out == 3
    before = OutboundMessage.select().count()
    with pytest.raises(broadcast.BroadcastError, match="nobody to tell in B12"):
        broadcast.send(p, now=T0)
    assert Broadcast.select().count() == 0 and OutboundMessage.select().count() == before


def test_a_neighbourhood_nobody_reported_in(residents):
    p = make_plan(code="B15")
    assert (p.recipients, p.opted_out, p.not_replyable) == ((), 0, 0)
