"""Pure guard rules: per-phone budgets, auto-reply loops, quiet hours and the local SMS day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    typing_time,
)

T = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC)  # "now" of the reply tables
LIMITS = Limits(
    replies_per_hour=6,
    replies_per_day=20,
    loop_repeats=3,
    loop_window=dt.timedelta(minutes=60),
    loop_fast=dt.timedelta(seconds=10),
)
# The shipped defaults ([service] with no loop keys).
DEFAULTS = Limits(6, 20, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=2), 6.0)
ANSWER = Decision(True, "", False)
ECHO = Decision(False, "loop_echo", True)
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
        pytest.param("estoy ocupado", texts((ago(m=30), "estoy ocupado"), (ago(m=50), "estoy ocupado")), LIMITS, REPEAT,
                     id="third-identical-within-the-window"),
        pytest.param("estoy ocupado", unanswered((ago(m=30), "estoy ocupado"), (ago(m=50), "estoy ocupado")), LIMITS, ANSWER,
                     id="identical-texts-we-never-answered-are-a-person-resending"),
        pytest.param("ESTOY  ocupado ", texts((ago(m=1), "Estoy ocupádo"), (ago(m=2), "estoy\nocupado")),
                     LIMITS, REPEAT, id="identical-ignoring-capitals-accents-spacing"),
        pytest.param("estoy ocupado", texts((ago(m=30), "estoy ocupado"), (ago(m=60, s=1), "estoy ocupado")), LIMITS, ANSWER,
                     id="identical-but-one-outside-the-window"),
        pytest.param("estoy ocupado", texts((ago(m=30), "estoy ocupado"), (ago(m=60), "estoy ocupado")), LIMITS, REPEAT,
                     id="identical-exactly-at-the-window-edge"),
        pytest.param("estoy ocupado", texts((ago(m=5), "estoy ocupado"), (ago(m=3), "hola que tal")), LIMITS, ANSWER,
                     id="similar-is-not-identical"),
        pytest.param("estoy ocupado", texts((ago(m=1), "estoy ocupado"), (ago(m=2), "estoy ocupado")),
                     Limits(6, 20, 4, dt.timedelta(minutes=60), dt.timedelta(seconds=10)), ANSWER,
                     id="loop-repeats-4-third-identical-answered"),
        pytest.param("estoy ocupado", texts((ago(m=1), "estoy ocupado"), (ago(m=2), "estoy ocupado"), (ago(m=3), "estoy ocupado")),
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
        pytest.param("estoy ocupado", Recent(((ago(m=1), "estoy ocupado"), (ago(m=2), "estoy ocupado")),
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
    assert service.limits() == Limits(4, 9, 5, dt.timedelta(minutes=90), dt.timedelta(seconds=7.5), 6.0)
    # The defaults judge a loop by what no person can do: 2 s, or typing faster than 6 characters a second.
    assert ServiceSettings().limits() == DEFAULTS


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((6, 20, 1, dt.timedelta(minutes=60), dt.timedelta(seconds=10)), id="loop-repeats-1"),
        pytest.param((-1, 20, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=10)), id="negative-hour"),
        pytest.param((6, -1, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=10)), id="negative-day"),
        pytest.param((6, 20, 3, dt.timedelta(0), dt.timedelta(seconds=10)), id="empty-window"),
        pytest.param((6, 20, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=-1)), id="negative-fast"),
        pytest.param((6, 20, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=2), -1.0), id="negative-typing"),
        pytest.param((6, 20, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=2), float("inf")), id="inf-typing"),
        pytest.param((6, 20, 3, dt.timedelta(minutes=60), dt.timedelta(seconds=2), float("nan")), id="nan-typing"),
    ],
)
def test_limits_refuse_meaningless_values(args: tuple) -> None:
    with pytest.raises(ValueError):
        Limits(*args)


def chat(answers: list[tuple[float, str]], limits: Limits, *, first: str = "hay un bache en la calle 3",
         ours: str = "Recibido. Su numero de reclamo es 2408917.") -> list[Decision]:
    """A phone writes ``first``; then, for each (delay, text), answers our last SMS ``delay`` s after
    it left. Each answered message gets our SMS ``ours`` 1 s later (the time to queue and send it).
    Returns the decision on every message, the first included."""
    at = T
    inbound: list[tuple[dt.datetime, str]] = []
    sent: list[dt.datetime] = []
    decisions = []
    for delay, text in [(None, first), *answers]:
        if delay is not None:
            at = (sent[0] if sent else at) + dt.timedelta(seconds=delay)
        decision = reply_decision(at, text, Recent(tuple(inbound), tuple(sent), (), (ours,) * len(sent)), limits)
        decisions.append(decision)
        inbound.insert(0, (at, text))
        if decision.answer:
            sent.insert(0, at + dt.timedelta(seconds=1))
        if decision.mute:
            break
    return decisions


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        pytest.param([(2, "B12"), (2, "B12"), (2, "1")], FAST, id="three-answers-within-2s"),
        pytest.param([(2.5, "B12"), (2.5, "2408917"), (2.5, "1")], ANSWER, id="short-answers-at-2.5s-are-human"),
        pytest.param([(4, "hay un bache grande"), (4, "en la calle 3"), (4, "frente a la escuela")], ANSWER,
                     id="short-sentences-at-4s-can-be-typed"),
        pytest.param([(5, f"Estoy ocupado, te llamo mas tarde por favor {i}") for i in range(3)], FAST,
                     id="45-characters-in-5s-is-no-person-typing"),
        pytest.param([(8, "Estoy ocupado, te llamo mas tarde por favor")] * 2
                     + [(8, "Gracias por escribir, le respondere pronto")], ANSWER,
                     id="43-characters-in-8s-can-be-typed"),
        pytest.param([(30, "Recibido. Su numero de reclamo es 2408917.")] * 3,
                     Decision(False, "loop_repeat", True), id="our-text-sent-back-is-also-a-repeat"),
        pytest.param([(30, "Recibido. Su numero de reclamo es 2408917."), (30, "recibido: su numero de reclamo ES 2408917"),
                      (30, "Recibido.  Su numero de reclamo es 2408917.")], ECHO, id="our-text-sent-back-slowly"),
        pytest.param([(3, "B12"), (3, "B12"), (3, "B12")], ANSWER, id="a-short-answer-three-times-is-a-person"),
        pytest.param([(60, "hay un bache grande"), (60, "hay un bache grande"), (60, "hay un bache grande")],
                     Decision(False, "loop_repeat", True), id="the-same-sentence-three-times-is-a-machine"),
        pytest.param([(30, "Recibido. Su numero de reclamo es 2408917."), (1, "hola"),
                      (30, "Recibido. Su numero de reclamo es 2408917.")], ECHO, id="echoes-and-fast-answers-mixed"),
        pytest.param([(1, "a"), (1, "b"), (60, "c")], ANSWER, id="a-slow-answer-breaks-the-chain"),
    ],
)
def test_loops_are_what_no_person_can_do(answers: list[tuple[float, str]], expected: Decision) -> None:
    assert chat(answers, DEFAULTS)[-1] == expected


# What residents answer to our SMS: a neighbourhood code, a tracking number, the survey's 1 or 2, a
# few words. All of it can be typed in 4 s (24 characters at 6 a second).
HUMAN_ANSWERS = st.one_of(
    st.sampled_from(["B12", "b 12", "1", "2", "si", "no", "gracias", "2408917", "ESTADO 2408917", "Villa Fatima"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz 0123456789", min_size=1, max_size=24),
)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.floats(min_value=4, max_value=10), HUMAN_ANSWERS), min_size=1, max_size=12,
                # The same sentence three times is what a machine does (see the repeat rule).
                unique_by=lambda a: a[1] if len(a[1].replace(" ", "")) >= 8 else object()))
def test_a_person_answering_within_4_to_10_s_is_never_silenced(answers: list[tuple[float, str]]) -> None:
    decisions = chat(answers, DEFAULTS, first="B12 hay un bache grande en la calle 3")
    assert not any(d.mute for d in decisions), decisions


MACHINE_TEXTS = st.text(min_size=1, max_size=160).filter(lambda t: t.strip())


@settings(max_examples=300)
@given(st.lists(st.floats(min_value=0.001, max_value=2), min_size=3, max_size=3),
       st.one_of(MACHINE_TEXTS.map(lambda t: [t] * 3), st.lists(MACHINE_TEXTS, min_size=3, max_size=3)))
def test_a_machine_answering_within_2_s_is_stopped_within_3_of_our_sms(delays: list[float], texts: list[str]) -> None:
    decisions = chat(list(zip(delays, texts)), DEFAULTS, first="hola")
    assert decisions[-1].mute and not decisions[-1].answer, decisions
    assert sum(d.answer for d in decisions) <= 3, "our SMS before the loop stopped"


@settings(max_examples=100)
@given(st.lists(st.floats(min_value=0.001, max_value=600), min_size=3, max_size=3))
def test_a_machine_echoing_our_sms_is_stopped_at_any_pace(delays: list[float]) -> None:
    ours = "Recibido. Su numero de reclamo es 2408917."
    decisions = chat([(d, ours) for d in delays], DEFAULTS, first="hola", ours=ours)
    assert decisions[-1].mute and sum(d.answer for d in decisions) <= 3, decisions


def test_typing_time_counts_the_text_not_its_surrounding_spaces() -> None:
    assert typing_time("  B12 ", DEFAULTS) == dt.timedelta(seconds=0.5)
    assert typing_time("x" * 60, DEFAULTS) == dt.timedelta(seconds=10)
    assert typing_time("x" * 60, LIMITS) == dt.timedelta(0), "0 characters a second: the check is off"


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
    utc = dt.datetime(2024, 5, 11, 2, 0, tzinfo=dt.UTC)
    local = utc.astimezone(LA_PAZ)
    assert local_day_start(local) == dt.datetime(2024, 5, 10, 4, 0, tzinfo=dt.UTC)
    assert next_budget_day(local) == dt.datetime(2024, 5, 11, 4, 0, tzinfo=dt.UTC)


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
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=hours)


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
