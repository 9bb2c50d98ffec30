"""The gateway loop with a small in-memory modem: what is stored, deleted, sent and retried."""

from __future__ import annotations

import random

import pytest
from fakemodem import FakeModem

from barriosms.cases import outbox
from barriosms.config import GatewaySettings
from barriosms.modem.interface import ModemError, ModemSendError
from barriosms.pipeline.gateway import Gateway
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.store.models import Case, InboundMessage, ModemHealth, OutboundMessage, utcnow
from barriosms.templates.loader import load_categories, load_templates


@pytest.fixture
def modem():
    m = FakeModem()
    m.connect()
    return m


@pytest.fixture
def gateway(hoods, modem):
    intake = Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(1))
    settings = GatewaySettings(send_attempts=3, retry_base_seconds=10, retry_max_seconds=25)
    g = Gateway(modem, intake, settings)
    g.record_connected("Fake", "In-memory", "0")
    return g


def test_receive_stores_then_deletes_and_replies_in_order(gateway, modem):
    for i in range(5):
        modem.arrive(f"+5917000000{i}", f"B12 bache {i}")
    assert gateway.receive() == 5
    assert modem.sim == {}
    assert Case.select().count() == 5
    assert gateway.send_due() == 5
    assert [to for to, _ in modem.sent] == [f"+5917000000{i}" for i in range(5)]
    assert {m.status for m in OutboundMessage.select()} == {"sent"}
    health = ModemHealth.get()
    assert (health.received_count, health.sent_count) == (5, 5)


def test_failed_delete_keeps_message_and_never_duplicates(gateway, modem):
    modem.arrive("+59170000001", "B12 poste caido")
    modem.fail_delete = True
    gateway.receive()
    gateway.receive()  # the SMS is still on the SIM and read again
    assert len(modem.sim) == 1
    modem.fail_delete = False
    gateway.receive()
    assert modem.sim == {}
    assert Case.select().count() == 1 and InboundMessage.select().count() == 1
    gateway.send_due()
    assert len(modem.sent) == 1


def test_transient_send_error_retries_with_backoff_then_fails(gateway, modem):
    outbox.queue("+59170000001", "hola")
    modem.send_errors = [ModemSendError("network out of order")] * 3
    gateway.send_due()
    msg = OutboundMessage.get()
    assert (msg.status, msg.attempts) == ("queued", 1)
    first_delay = (msg.next_attempt_at - utcnow()).total_seconds()
    assert 8 < first_delay <= 10
    assert gateway.send_due() == 0  # not due yet
    OutboundMessage.update(next_attempt_at=utcnow()).execute()
    gateway.send_due()
    msg = OutboundMessage.get()
    assert msg.attempts == 2 and 18 < (msg.next_attempt_at - utcnow()).total_seconds() <= 20
    OutboundMessage.update(next_attempt_at=utcnow()).execute()
    gateway.send_due()
    msg = OutboundMessage.get()
    assert (msg.status, msg.attempts, msg.last_error) == ("failed", 3, "network out of order")
    assert modem.sent == []


def test_permanent_send_error_fails_at_once_with_reason(gateway, modem):
    outbox.queue("+59170000001", "hola")
    modem.send_errors = [ModemSendError("invalid destination", permanent=True)]
    gateway.send_due()
    msg = OutboundMessage.get()
    assert (msg.status, msg.attempts, msg.last_error) == ("failed", 1, "invalid destination")


def test_lost_link_mid_send_requeues_without_counting_an_attempt(gateway, modem):
    outbox.queue("+59170000001", "hola")
    modem.send_errors = [ModemError("port vanished", reconnect=True)]
    with pytest.raises(ModemError):
        gateway.send_due()
    msg = OutboundMessage.get()
    assert (msg.status, msg.attempts) == ("queued", 0)
    gateway.send_due()
    assert modem.sent == [("+59170000001", "hola")]


def test_interrupted_send_is_recovered_as_queued(gateway, modem):
    msg = outbox.queue("+59170000001", "hola")
    outbox.mark_sending(msg)
    assert outbox.recover_interrupted() == 1
    assert OutboundMessage.get().status == "queued"
    gateway.send_due()
    assert len(modem.sent) == 1


def test_messages_arriving_during_sends_are_read_before_more_sends(gateway, modem):
    for i in range(3):
        outbox.queue(f"+5917000000{i}", f"msg {i}")
    original_send = modem.send

    def send_and_receive(number, text, report=False):
        result = original_send(number, text, report)
        if number.endswith("0"):
            modem.arrive("+59171111111", "B12 hay un bache, llego durante el envio")
        return result

    modem.send = send_and_receive
    gateway.send_due()
    assert modem.sim == {}
    assert Case.select().count() == 1
    # the reply to the new report was queued after the three and went out in the same turn
    assert [to for to, _ in modem.sent][-1] == "+59171111111"


def test_retry_delay_is_capped():
    from barriosms.domain.retry import retry_delay

    assert [retry_delay(n, 30, 1800) for n in range(0, 9)] == [0, 30, 60, 120, 240, 480, 960, 1800, 1800]
    assert retry_delay(10_000, 30, 1800) == 1800


def test_delivery_reports_mark_messages_delivered_or_undelivered(gateway, modem):
    from barriosms.modem.interface import ReceivedSms

    for i in range(3):
        outbox.queue(f"+5917000000{i}", f"msg {i}")
    gateway.send_due()
    refs = {m.recipient: int(m.modem_reference) for m in OutboundMessage.select()}
    assert {m.delivery for m in OutboundMessage.select()} == {"pending"}

    def report(to, status, loc):
        modem.sim[loc] = ReceivedSms(location=loc, sender=to, text="", kind="status_report",
                                     reference=refs[to], delivery_status=status)

    report("+59170000000", 0x00, 101)  # delivered
    report("+59170000001", 0x21, 102)  # the centre is still trying
    report("+59170000002", 0x45, 103)  # gave up
    gateway.receive()
    assert modem.sim == {}  # reports are deleted from the SIM like any message
    got = {m.recipient: (m.delivery, m.last_error) for m in OutboundMessage.select()}
    assert got["+59170000000"] == ("delivered", "")
    assert got["+59170000001"] == ("pending", "")
    assert got["+59170000002"][0] == "undelivered" and "0x45" in got["+59170000002"][1]
    assert InboundMessage.select().count() == 0  # a report is not a resident's message


def test_binary_and_flash_messages_are_kept_and_never_answered(gateway, modem):
    from barriosms.modem.interface import ReceivedSms

    modem.sim[1] = ReceivedSms(location=1, sender="+59171234567", text="0605040b8423f0", binary=True, coding="8bit")
    modem.sim[2] = ReceivedSms(location=2, sender="+59171234567", text="B12 bache", message_class=0)
    gateway.receive()
    assert sorted(m.intent for m in InboundMessage.select()) == ["binary", "flash"]
    assert OutboundMessage.select().count() == 0 and Case.select().count() == 0


def test_multipart_message_is_delivered_when_every_part_is(gateway):
    from barriosms.modem.interface import SendResult

    msg = outbox.queue("+59170000001", "x" * 200)
    outbox.mark_sending(msg)
    outbox.mark_sent(msg, SendResult((5, 6)), report_requested=True)
    outbox.apply_status_report(6, 0x00)
    assert OutboundMessage.get().delivery == "pending"
    outbox.apply_status_report(5, 0x00)
    assert OutboundMessage.get().delivery == "delivered" and OutboundMessage.get().delivered_at is not None
    assert outbox.apply_status_report(5, 0x00) is None  # a repeated report changes nothing


def test_database_full_keeps_messages_on_the_sim(gateway, modem):
    from barriosms.pipeline.gateway import StoreUnavailable
    from barriosms.store.models import database

    senders = []
    # SQLite's own limit makes a write fail with "database or disk is full", as a full disk would.
    pages = database.execute_sql("PRAGMA page_count").fetchone()[0]
    database.execute_sql(f"PRAGMA max_page_count = {pages + 2}")
    try:
        with pytest.raises(StoreUnavailable, match="stays on the SIM.*df -h"):
            for i in range(200):  # a few writes still fit in the last free pages
                senders.append(f"+591700001{i:02d}")
                modem.arrive(senders[-1], "B12 " + "x" * 2000)
                gateway.receive()
        assert modem.sim, "the message that could not be stored must still be on the SIM"
    finally:
        database.execute_sql("PRAGMA max_page_count = 1073741823")
    gateway.receive()  # room again: what stayed on the SIM is stored now
    assert modem.sim == {}
    stored = [m.phone for m in InboundMessage.select()]
    assert sorted(stored) == sorted(senders)  # every message once: none lost, none twice


def test_network_outage_pauses_sending_without_using_up_attempts(gateway, modem):
    for i in range(3):
        outbox.queue(f"+5917000000{i}", f"msg {i}")
    modem.send_errors = [ModemSendError("+CMS ERROR 331 (no network service)", network=True)]
    assert gateway.send_due() == 0
    assert [(m.status, m.attempts) for m in OutboundMessage.select()] == [("queued", 0)] * 3
    assert gateway.send_due() == 0 and modem.sent == []  # paused: not even tried
    gateway.paused_until = 0  # the pause is over
    assert gateway.send_due() == 3
    assert {m.status for m in OutboundMessage.select()} == {"sent"}


def test_an_sms_that_cannot_be_stored_is_tried_again_then_set_aside_and_the_rest_go_on(gateway, modem, caplog):
    from barriosms.modem.interface import ReceivedSms
    from barriosms.pipeline.gateway import SET_ASIDE_AFTER

    # What a broken modem layer might hand over: fields of the wrong type make storing fail
    # before anything is written (not the database's fault, so not a StoreUnavailable).
    poison = ReceivedSms(location=99, sender=None, text=None)  # type: ignore[arg-type]
    modem.sim[99] = poison
    modem.arrive("+59170000001", "B12 poste caido")
    for turn in range(1, SET_ASIDE_AFTER):
        gateway.receive()
        assert 99 in modem.sim, f"kept on the SIM after {turn} failure(s)"
    assert Case.select().count() == 1, "the good SMS was stored on the first turn"
    gateway.receive()
    assert modem.sim == {}, "set aside after a few tries, then deleted"
    [kept] = InboundMessage.select().where(InboundMessage.intent == "error")
    assert kept.needs_staff and kept.triage.startswith("error: ")
    assert sum("could not store the SMS at SIM location 99" in r.getMessage() for r in caplog.records) == \
        SET_ASIDE_AFTER - 1
    gateway.receive()
    assert InboundMessage.select().count() == 2, "never stored twice"
