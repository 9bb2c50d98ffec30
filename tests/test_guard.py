"""Pure guard rules: per-phone budgets, auto-reply loops, quiet hours and the local SMS day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from barriosms.config import QuietHours, ServiceSettings
from barriosms.domain.guard import (
    Decision,
    Limits,
    Recent,
    budget_left,
    local_day_start,
    next_budget_day,
    quiet_until,
    reply_decision,
)

T = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.timezone.utc)  # "now" of the reply tables
LIMITS = Limits(
    replies_per_hour=6,
    replies_per_day=20,
    loop_repeats=3,
    loop_window=dt.timedelta(minutes=60),
    loop_fast=dt.timedelta(seconds=10),
)
ANSWER = Decision(True, "", False)
REPEAT = Decision(False, "loop_repeat", True)
FAST = Decision(False, "loop_fast", True)
HOUR = Decision(False, "phone_hour_budget", False)
DAY = Decision(False, "phone_day_budget", False)

LA_PAZ = ZoneInfo("America/La_Paz")
SANTIAGO = ZoneInfo("America/Santiago")  # its clocks change at midnight: 2024-09-08 00:00 is skipped


def ago(*, s: float = 0, m: float = 0, h: float = 0) -> dt.datetime:
    return T - dt.timedelta(seconds=s, minutes=m, hours=h)


def texts(*pairs: tuple[dt.datetime, str]) -> Recent:
    """Earlier messages (newest first), each answered by us one second later."""
    return Recent(inbound=pairs, replies_sent=tuple(at + dt.timedelta(seconds=1) for at, _ in pairs))


def unanswered(*pairs: tuple[dt.datetime, str]) -> Recent:
    """Earlier messages (newest first) that got no reply (they piled up while the modem was down)."""
    return Recent(inbound=pairs, replies_sent=())


def replies(*times: dt.datetime) -> Recent:
    """Replies (newest first), no earlier messages."""
    return Recent(inbound=(), replies_sent=times)


def conversation(*delays: float) -> tuple[dt.datetime, Recent]:
    """A first message, then one message per delay: each arrives ``delay`` seconds after the reply
    to the message before it (replies are queued one second after each message).

    Returns the arrival of the last message (the one being decided) and the history before it."""
    arrived = T
    inbound: list[tuple[dt.datetime, str]] = []
    sent: list[dt.datetime] = []
    for i, delay in enumerate(delays):
        inbound.insert(0, (arrived, f"mensaje {i}"))
        sent.insert(0, arrived + dt.timedelta(seconds=1))
        arrived = sent[0] + dt.timedelta(seconds=delay)
    return arrived, Recent(inbound, sent)


@pytest.mark.parametrize(
    ("text", "recent", "limits", "expected"),
    [
        pytest.param("bache en la calle 3", Recent((), ()), LIMITS, ANSWER, id="first-message"),
        pytest.param("hay basura", texts((ago(m=20), "bache en la calle 3")), LIMITS, ANSWER,
                     id="human-writes-twice-in-an-hour"),
        pytest.param("hola", texts((ago(m=30), "hola")), LIMITS, ANSWER,
                     id="same-text-twice-is-not-a-loop"),
        pytest.param("hola", texts((ago(m=30), "hola"), (ago(m=50), "hola")), LIMITS, REPEAT,
                     id="third-identical-within-the-window"),
        pytest.param("hola", unanswered((ago(m=30), "hola"), (ago(m=50), "hola")), LIMITS, ANSWER,
                     id="identical-texts-we-never-answered-are-a-person-resending"),
        pytest.param("ESTOY  ocupado ", texts((ago(m=1), "Estoy ocupádo"), (ago(m=2), "estoy\nocupado")),
                     LIMITS, REPEAT, id="identical-ignoring-capitals-accents-spacing"),
        pytest.param("hola", texts((ago(m=30), "hola"), (ago(m=60, s=1), "hola")), LIMITS, ANSWER,
                     id="identical-but-one-outside-the-window"),
        pytest.param("hola", texts((ago(m=30), "hola"), (ago(m=60), "hola")), LIMITS, REPEAT,
                     id="identical-exactly-at-the-window-edge"),
        pytest.param("hola", texts((ago(m=5), "hola"), (ago(m=3), "hola que tal")), LIMITS, ANSWER,
                     id="similar-is-not-identical"),
        pytest.param("hola", texts((ago(m=1), "hola"), (ago(m=2), "hola")),
                     Limits(6, 20, 4, dt.timedelta(minutes=60), dt.timedelta(seconds=10)), ANSWER,
                     id="loop-repeats-4-third-identical-answered"),
        pytest.param("hola", texts((ago(m=1), "hola"), (ago(m=2), "hola"), (ago(m=3), "hola")),
                     Limits(6, 20, 4, dt.timedelta(minutes=60), dt.timedelta(seconds=10)), REPEAT,
                     id="loop-repeats-4-fourth-identical-muted"),
        pytest.param("ok", replies(*(ago(m=5 * i) for i in range(1, 6))), LIMITS, ANSWER,
                     id="hour-budget-one-below"),
        pytest.param("ok", replies(*(ago(m=5 * i) for i in range(1, 7))), LIMITS, HOUR,
                     id="hour-budget-exactly-reached"),
        pytest.param("ok", replies(*(ago(m=10 * i) for i in range(1, 7))), LIMITS, HOUR,
                     id="hour-budget-oldest-exactly-an-hour-ago"),
        pytest.param("ok", replies(*(ago(m=10 * i) for i in range(1, 6)), ago(h=1, s=1)), LIMITS, ANSWER,
                     id="hour-budget-oldest-just-over-an-hour-ago"),
        pytest.param("ok", replies(*(ago(h=i) for i in range(1, 20))), LIMITS, ANSWER,
                     id="day-budget-one-below"),
        pytest.param("ok", replies(*(ago(h=i) for i in range(1, 20)), ago(h=23, m=59)), LIMITS, DAY,
                     id="day-budget-exactly-reached"),
        pytest.param("ok", replies(*(ago(h=i) for i in range(1, 20)), ago(h=24)), LIMITS, DAY,
                     id="day-budget-oldest-exactly-a-day-ago"),
        pytest.param("ok", replies(*(ago(h=i) for i in range(1, 20)), ago(h=24, s=1)), LIMITS, ANSWER,
                     id="day-budget-oldest-just-over-a-day-ago"),
        pytest.param("ok", replies(*(ago(s=i) for i in range(1, 101))),
                     Limits(0, 0, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=10)), ANSWER,
                     id="zero-means-no-limit"),
        pytest.param("ok", replies(*(ago(m=i) for i in range(1, 21))),
                     Limits(0, 20, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=10)), DAY,
                     id="no-hour-limit-but-day-limit"),
        pytest.param("hola", Recent(((ago(m=1), "hola"), (ago(m=2), "hola")),
                                    tuple(ago(m=i) for i in range(1, 21))), LIMITS, REPEAT,
                     id="loop-checked-before-budgets"),
    ],
)
def test_reply_decision(text: str, recent: Recent, limits: Limits, expected: Decision) -> None:
    assert reply_decision(T, text, recent, limits) == expected


@pytest.mark.parametrize(
    ("delays", "limits", "expected"),
    [
        pytest.param((5, 5, 5), LIMITS, FAST, id="three-fast-answers"),
        pytest.param((5, 5), LIMITS, ANSWER, id="two-fast-answers-first-message-answers-nothing"),
        pytest.param((60, 5, 5, 5), LIMITS, FAST, id="slow-start-then-three-fast"),
        pytest.param((5, 5, 60, 5), LIMITS, ANSWER, id="fast-answers-broken-by-a-slow-one"),
        pytest.param((5, 60, 5), LIMITS, ANSWER, id="slow-one-in-the-middle"),
        pytest.param((5, 5, 60), LIMITS, ANSWER, id="current-one-slow"),
        pytest.param((10, 10, 10), LIMITS, FAST, id="exactly-at-loop-fast"),
        pytest.param((10, 10, 10.5), LIMITS, ANSWER, id="just-over-loop-fast"),
        pytest.param((30, 45, 90, 20), LIMITS, ANSWER, id="human-answering-in-seconds-not-machine-fast"),
        pytest.param((1, 1, 1), Limits(6, 20, 3, dt.timedelta(minutes=60), dt.timedelta(0)), ANSWER,
                     id="loop-fast-zero-is-off"),
        pytest.param((5, 5, 5), Limits(6, 20, 4, dt.timedelta(minutes=60), dt.timedelta(seconds=10)),
                     ANSWER, id="loop-repeats-4-needs-four-fast"),
        pytest.param((5, 5, 5, 5), Limits(6, 20, 4, dt.timedelta(minutes=60), dt.timedelta(seconds=10)),
                     FAST, id="loop-repeats-4-four-fast"),
        pytest.param((2, 2, 2), Limits(2, 20, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=10)),
                     FAST, id="loop-checked-before-budgets"),
    ],
)
def test_reply_decision_fast_answers(delays: tuple[float, ...], limits: Limits, expected: Decision) -> None:
    now, recent = conversation(*delays)
    assert reply_decision(now, "otra cosa", recent, limits) == expected


def test_quick_messages_after_one_reply_are_not_a_machine() -> None:
    # A person sends three quick messages after our one reply (we did not answer the middle ones):
    # every message comes within seconds of that reply, but they do not answer replies of their own.
    reply = ago(s=20)
    recent = Recent(
        inbound=((ago(s=14), "y la luz"), (ago(s=17), "tambien el poste"), (ago(s=25), "bache calle 3")),
        replies_sent=(reply,),
    )
    assert reply_decision(ago(s=12), "gracias", recent, LIMITS) == ANSWER


def test_a_reply_queued_in_the_same_instant_answers_that_message() -> None:
    # Replies stamped the same instant as the message they answer are not "before" it: otherwise
    # every answered message would look like an answer within 0 seconds.
    # The current message comes 5 s after the last reply; the earlier ones came a minute apart.
    times = (ago(s=5), ago(s=65), ago(s=125))
    recent = Recent(inbound=tuple((t, f"mensaje {i}") for i, t in enumerate(times)), replies_sent=times)
    assert reply_decision(T, "otro", recent, LIMITS) == ANSWER


def test_limits_from_settings() -> None:
    service = ServiceSettings(replies_per_hour=4, replies_per_day=9, loop_repeats=5,
                              loop_window_minutes=90, loop_fast_seconds=7.5)
    assert Limits.from_settings(service) == Limits(4, 9, 5, dt.timedelta(minutes=90), dt.timedelta(seconds=7.5))
    assert Limits.from_settings(ServiceSettings()) == LIMITS


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((6, 20, 1, dt.timedelta(minutes=60), dt.timedelta(seconds=10)), id="loop-repeats-1"),
        pytest.param((-1, 20, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=10)), id="negative-hour"),
        pytest.param((6, -1, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=10)), id="negative-day"),
        pytest.param((6, 20, 3, dt.timedelta(0), dt.timedelta(seconds=10)), id="empty-window"),
        pytest.param((6, 20, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=-1)), id="negative-fast"),
    ],
)
def test_limits_refuse_meaningless_values(args: tuple) -> None:
    with pytest.raises(ValueError):
        Limits(*args)


NIGHT = QuietHours(dt.time(21, 0), dt.time(7, 0))
LUNCH = QuietHours(dt.time(13, 0), dt.time(15, 0))
UNTIL_MIDNIGHT = QuietHours(dt.time(22, 0), dt.time(0, 0))
FROM_MIDNIGHT = QuietHours(dt.time(0, 0), dt.time(6, 0))


def lp(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LA_PAZ)


@pytest.mark.parametrize(
    ("local_now", "quiet", "expected"),
    [
        pytest.param(lp(2024, 5, 10, 22, 0), None, None, id="no-quiet-hours"),
        pytest.param(lp(2024, 5, 10, 20, 59, 59), NIGHT, None, id="night-just-before-start"),
        pytest.param(lp(2024, 5, 10, 21, 0), NIGHT, lp(2024, 5, 11, 7, 0), id="night-start-inclusive"),
        pytest.param(lp(2024, 5, 10, 23, 59, 59), NIGHT, lp(2024, 5, 11, 7, 0), id="night-before-midnight"),
        pytest.param(lp(2024, 5, 11, 0, 0), NIGHT, lp(2024, 5, 11, 7, 0), id="night-at-midnight"),
        pytest.param(lp(2024, 5, 11, 6, 59, 59), NIGHT, lp(2024, 5, 11, 7, 0), id="night-just-before-end"),
        pytest.param(lp(2024, 5, 11, 7, 0), NIGHT, None, id="night-end-exclusive"),
        pytest.param(lp(2024, 5, 11, 12, 0), NIGHT, None, id="night-midday"),
        pytest.param(lp(2024, 12, 31, 22, 0), NIGHT, lp(2025, 1, 1, 7, 0), id="night-across-new-year"),
        pytest.param(lp(2024, 2, 28, 23, 0), NIGHT, lp(2024, 2, 29, 7, 0), id="night-into-leap-day"),
        pytest.param(lp(2024, 5, 10, 12, 59, 59), LUNCH, None, id="lunch-just-before-start"),
        pytest.param(lp(2024, 5, 10, 13, 0), LUNCH, lp(2024, 5, 10, 15, 0), id="lunch-start-inclusive"),
        pytest.param(lp(2024, 5, 10, 14, 59, 59), LUNCH, lp(2024, 5, 10, 15, 0), id="lunch-just-before-end"),
        pytest.param(lp(2024, 5, 10, 15, 0), LUNCH, None, id="lunch-end-exclusive"),
        pytest.param(lp(2024, 5, 10, 22, 0), LUNCH, None, id="lunch-at-night"),
        pytest.param(lp(2024, 5, 10, 2, 0), LUNCH, None, id="lunch-early-morning"),
        pytest.param(lp(2024, 5, 10, 23, 0), UNTIL_MIDNIGHT, lp(2024, 5, 11, 0, 0), id="ends-at-midnight"),
        pytest.param(lp(2024, 5, 11, 0, 0), UNTIL_MIDNIGHT, None, id="ends-at-midnight-midnight-is-out"),
        pytest.param(lp(2024, 5, 10, 21, 59), UNTIL_MIDNIGHT, None, id="ends-at-midnight-before-start"),
        pytest.param(lp(2024, 5, 11, 0, 0), FROM_MIDNIGHT, lp(2024, 5, 11, 6, 0), id="starts-at-midnight"),
        pytest.param(lp(2024, 5, 10, 23, 59), FROM_MIDNIGHT, None, id="starts-at-midnight-evening-is-out"),
        pytest.param(lp(2024, 5, 10, 12, 0), QuietHours(dt.time(9), dt.time(9)), None, id="empty-window"),
    ],
)
def test_quiet_until(local_now: dt.datetime, quiet: QuietHours | None, expected: dt.datetime | None) -> None:
    result = quiet_until(local_now, quiet)
    assert result == expected
    if result is not None:
        assert result.tzinfo is LA_PAZ  # the same zone, so staff read the local time


def test_quiet_until_a_skipped_midnight_ends_at_the_first_real_instant() -> None:
    # In Santiago 2024-09-08 00:00 does not exist (clocks jump to 01:00).
    result = quiet_until(dt.datetime(2024, 9, 7, 23, 0, tzinfo=SANTIAGO), UNTIL_MIDNIGHT)
    assert result == dt.datetime(2024, 9, 8, 1, 0, tzinfo=SANTIAGO)
    assert result is not None and result.utcoffset() == dt.timedelta(hours=-3)


@pytest.mark.parametrize(
    ("local_now", "day_start", "next_day"),
    [
        pytest.param(lp(2024, 5, 10, 15, 30), lp(2024, 5, 10), lp(2024, 5, 11), id="afternoon"),
        pytest.param(lp(2024, 5, 10, 0, 0), lp(2024, 5, 10), lp(2024, 5, 11), id="exactly-midnight"),
        pytest.param(dt.datetime(2024, 5, 10, 23, 59, 59, 999999, tzinfo=LA_PAZ), lp(2024, 5, 10),
                     lp(2024, 5, 11), id="last-microsecond"),
        pytest.param(lp(2024, 12, 31, 18, 0), lp(2024, 12, 31), lp(2025, 1, 1), id="new-year"),
        pytest.param(lp(2024, 2, 28, 18, 0), lp(2024, 2, 28), lp(2024, 2, 29), id="leap-day"),
    ],
)
def test_local_day(local_now: dt.datetime, day_start: dt.datetime, next_day: dt.datetime) -> None:
    assert local_day_start(local_now) == day_start
    assert next_budget_day(local_now) == next_day
    assert local_day_start(local_now).tzinfo is next_budget_day(local_now).tzinfo is LA_PAZ


def test_local_day_across_a_utc_date_change() -> None:
    # 02:00 UTC on the 11th is still the 10th in La Paz (UTC-4): the local day is what counts.
    utc = dt.datetime(2024, 5, 11, 2, 0, tzinfo=dt.timezone.utc)
    local = utc.astimezone(LA_PAZ)
    assert local_day_start(local) == dt.datetime(2024, 5, 10, 4, 0, tzinfo=dt.timezone.utc)
    assert next_budget_day(local) == dt.datetime(2024, 5, 11, 4, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("local_now", "day_start", "next_day", "hours"),
    [
        # Spring forward at midnight: the 8th starts at 01:00 (-03) and lasts 23 hours; the 7th
        # still lasts 24 (its end, 00:00 -04, is the same instant as 01:00 -03).
        pytest.param(dt.datetime(2024, 9, 7, 20, 0, tzinfo=SANTIAGO), dt.datetime(2024, 9, 7, tzinfo=SANTIAGO),
                     dt.datetime(2024, 9, 8, 1, 0, tzinfo=SANTIAGO), 24, id="day-before-skipped-midnight"),
        pytest.param(dt.datetime(2024, 9, 8, 12, 0, tzinfo=SANTIAGO), dt.datetime(2024, 9, 8, 1, 0, tzinfo=SANTIAGO),
                     dt.datetime(2024, 9, 9, tzinfo=SANTIAGO), 23, id="day-with-skipped-midnight"),
        # Fall back: 23:00-24:00 of the 6th happens twice, the 6th lasts 25 hours.
        pytest.param(dt.datetime(2024, 4, 6, 10, 0, tzinfo=SANTIAGO), dt.datetime(2024, 4, 6, tzinfo=SANTIAGO),
                     dt.datetime(2024, 4, 7, tzinfo=SANTIAGO), 25, id="day-with-repeated-hour"),
        pytest.param(dt.datetime(2024, 4, 6, 23, 30, fold=1, tzinfo=SANTIAGO), dt.datetime(2024, 4, 6, tzinfo=SANTIAGO),
                     dt.datetime(2024, 4, 7, tzinfo=SANTIAGO), 25, id="inside-the-repeated-hour"),
    ],
)
def test_local_day_with_dst(local_now: dt.datetime, day_start: dt.datetime, next_day: dt.datetime,
                            hours: int) -> None:
    start, end = local_day_start(local_now), next_budget_day(local_now)
    assert (start, end) == (day_start, next_day)
    assert start <= local_now < end
    # Real elapsed time: subtracting two datetimes of the same zone would give wall-clock time.
    assert end.astimezone(dt.timezone.utc) - start.astimezone(dt.timezone.utc) == dt.timedelta(hours=hours)


def test_local_day_works_with_a_fixed_offset() -> None:
    fixed = dt.timezone(dt.timedelta(hours=-4))
    now = dt.datetime(2024, 5, 10, 9, 0, tzinfo=fixed)
    assert local_day_start(now) == dt.datetime(2024, 5, 10, tzinfo=fixed)
    assert next_budget_day(now) == dt.datetime(2024, 5, 11, tzinfo=fixed)


@pytest.mark.parametrize("fn", [local_day_start, next_budget_day, lambda d: quiet_until(d, NIGHT)])
def test_naive_local_time_is_refused(fn) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        fn(dt.datetime(2024, 5, 10, 22, 0))


@pytest.mark.parametrize(
    ("sent_today", "budget", "left"),
    [
        pytest.param(0, 0, None, id="zero-is-unlimited"),
        pytest.param(10_000, 0, None, id="unlimited-whatever-was-sent"),
        pytest.param(0, 500, 500, id="nothing-sent"),
        pytest.param(499, 500, 1, id="one-left"),
        pytest.param(500, 500, 0, id="exactly-spent"),
        pytest.param(620, 500, 0, id="overspent-is-zero-not-negative"),
    ],
)
def test_budget_left(sent_today: int, budget: int, left: int | None) -> None:
    assert budget_left(sent_today, budget) == left


def test_budget_left_refuses_a_negative_budget() -> None:
    with pytest.raises(ValueError):
        budget_left(0, -1)


def test_budgets_count_queued_replies_not_only_sent_ones() -> None:
    # Six messages read off the SIM at once: their replies are queued, none has left yet.
    queued = tuple(T - dt.timedelta(seconds=i) for i in range(6))
    decision = reply_decision(T, "B12 bache 7", Recent(inbound=(), replies_sent=(), replies_queued=queued), LIMITS)
    assert decision == Decision(False, "phone_hour_budget", False)
