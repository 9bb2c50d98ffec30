"""When a queued SMS may leave: quiet hours for what is not urgent, and the daily SMS budget."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from barriosms.cases import outbox
from barriosms.config import QuietHours, ServiceSettings
from barriosms.pipeline.sendpolicy import Hold, SendPolicy
from barriosms.store.models import OutboundMessage

LA_PAZ = ZoneInfo("America/La_Paz")  # UTC-4 all year
QUIET = QuietHours(dt.time(21, 0), dt.time(7, 0))
NIGHT = dt.datetime(2026, 11, 25, 3, 0)  # 23:00 on the 24th in La Paz
NOON = dt.datetime(2026, 11, 24, 16, 0)  # 12:00 in La Paz
LOCAL_MIDNIGHT = dt.datetime(2026, 11, 24, 4, 0)  # 00:00 of the 24th in La Paz
PHONE = "+59171234567"


def policy(**service) -> SendPolicy:
    return SendPolicy(ServiceSettings(**service), LA_PAZ)


def queued(kind: str = "status_update", *, urgent: bool | None = None, at: dt.datetime = NOON) -> OutboundMessage:
    return outbox.queue(PHONE, "Su reclamo esta en proceso", kind=kind, urgent=urgent, now=at)


def sent(parts: int, at: dt.datetime, status: str = "sent") -> OutboundMessage:
    return OutboundMessage.create(recipient=PHONE, text="x" * 10, kind="reply", status=status, parts=parts,
                                  created_at=at, next_attempt_at=at, sent_at=at)


def test_not_urgent_sms_waits_out_the_quiet_hours(db):
    hold = policy(quiet_hours=QUIET).hold(queued(), NIGHT)
    assert hold == Hold(dt.datetime(2026, 11, 25, 11, 0), "quiet hours (21:00-07:00) until 07:00")


@pytest.mark.parametrize("now, until", [
    (dt.datetime(2026, 11, 25, 1, 0), dt.datetime(2026, 11, 25, 11, 0)),  # 21:00, the start is quiet
    (dt.datetime(2026, 11, 25, 10, 59), dt.datetime(2026, 11, 25, 11, 0)),  # 06:59 the next morning
    (dt.datetime(2026, 11, 25, 11, 0), None),  # 07:00, the end is not quiet
    (dt.datetime(2026, 11, 25, 0, 59), None),  # 20:59
])
def test_quiet_hours_edges(db, now, until):
    hold = policy(quiet_hours=QUIET).hold(queued(), now)
    assert (hold.until if hold else None) == until


def test_urgent_sms_and_replies_ignore_quiet_hours(db):
    p = policy(quiet_hours=QUIET)
    assert p.hold(queued(urgent=True), NIGHT) is None
    reply = queued("reply")
    assert reply.urgent is True and p.hold(reply, NIGHT) is None


def test_without_quiet_hours_nothing_waits_at_night(db):
    assert policy().hold(queued(), NIGHT) is None


def test_daily_budget_holds_everything_until_the_next_local_midnight(db):
    p = policy(daily_sms_budget=5)
    sent(2, LOCAL_MIDNIGHT - dt.timedelta(minutes=1))  # yesterday in La Paz: does not count
    sent(2, LOCAL_MIDNIGHT)
    sent(2, NOON - dt.timedelta(hours=1))
    OutboundMessage.create(recipient=PHONE, text="x", kind="reply", status="failed", parts=3,
                           sent_at=NOON - dt.timedelta(hours=1))  # failed: never counted
    assert outbox.sent_parts_since(LOCAL_MIDNIGHT) == 4
    assert p.hold(queued(), NOON) is None and p.hold(queued(urgent=True), NOON) is None

    sent(1, NOON - dt.timedelta(minutes=1))  # 5 of 5
    tomorrow = dt.datetime(2026, 11, 25, 4, 0)
    for msg in (queued(), queued(urgent=True), queued("reply")):
        hold = p.hold(msg, NOON)
        assert hold.until == tomorrow
        assert hold.reason == "daily SMS budget of 5 used up; waits until 2026-11-25 00:00"
    # The next local day starts afresh.
    assert p.hold(queued(), tomorrow) is None


def test_budget_zero_means_no_limit(db):
    sent(10_000, NOON - dt.timedelta(hours=1))
    assert policy(daily_sms_budget=0).hold(queued(), NOON) is None


def test_quiet_hours_come_before_the_budget_for_what_is_not_urgent(db):
    sent(5, NIGHT - dt.timedelta(hours=1))
    p = policy(quiet_hours=QUIET, daily_sms_budget=5)
    assert p.hold(queued(), NIGHT).reason.startswith("quiet hours")
    assert p.hold(queued(urgent=True), NIGHT).reason.startswith("daily SMS budget of 5")


def test_held_sms_are_released_by_release_held(db):
    p = policy(quiet_hours=QUIET)
    waiting = queued(at=NIGHT)
    hold = p.hold(waiting, NIGHT)
    outbox.hold(waiting, hold.until, hold.reason)
    stored = OutboundMessage.get_by_id(waiting.id)
    assert (stored.next_attempt_at, stored.hold_reason) == (hold.until, hold.reason)
    assert outbox.due(now=NIGHT) == []

    free = queued(at=NIGHT)  # never held: untouched
    done = sent(1, NIGHT)
    done.hold_reason = "quiet hours"
    done.save()  # sent: stays as it is
    later = NIGHT + dt.timedelta(minutes=5)
    assert outbox.release_held(now=later) == 1
    stored = OutboundMessage.get_by_id(waiting.id)
    assert (stored.next_attempt_at, stored.hold_reason, stored.status) == (later, "", "queued")
    assert OutboundMessage.get_by_id(free.id).next_attempt_at == NIGHT
    assert OutboundMessage.get_by_id(done.id).hold_reason == "quiet hours"
    assert [m.id for m in outbox.due(now=later)] == [waiting.id, free.id]
    assert outbox.release_held(now=later) == 0


def test_queue_marks_replies_urgent_and_the_rest_not(db):
    assert queued("reply").urgent is True
    assert queued("status_update").urgent is False
    assert queued("broadcast").urgent is False
    assert queued("broadcast", urgent=True).urgent is True
    assert queued("reply", urgent=False).urgent is False
