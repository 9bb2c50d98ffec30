"""Whether to answer a phone, and when SMS may go out: budgets, auto-reply loops, quiet hours.

Pure rules: no database and no clock.  The caller reads what the store knows about a phone into a
:class:`Recent`, passes ``now`` and gets a :class:`Decision`.  The decision is only about the *reply*:
the message itself is always stored and acted on (a report opens its case, an answer reaches its
case, BAJA is honoured) whatever is decided here, so a person taken for a machine loses nothing but
our SMS back.

Why loops need their own rule: a resident's phone may be set to answer every SMS automatically
("estoy ocupado, te llamo luego"), or another gateway may answer ours.  Each of our replies then
brings one of theirs, and the two machines spend both prepaid balances in minutes.  A loop is
judged only by what no person can do, so that a resident who answers our questions quickly is
never taken for a machine:

* *an answer no person could write*: a message that answers a reply of ours (it came after that
  reply, and the reply came after the message before it) and arrived

  - within ``loop_fast`` (2 s) of the reply: nobody reads an SMS and answers that fast; or
  - faster than a person types its text on a phone keypad: ``len(text) / loop_typing`` seconds
    (6 characters a second is beyond the fastest thumbs; "B12" or "1" take half a second, an
    auto-reply of 50 characters more than 8 s); or
  - carrying our own text back (an echo): people do not send us what we sent them.

  ``loop_repeats`` (3) such answers in a row are a machine.  One slow or human answer breaks the
  chain, and quick messages after a single reply are not counted (only one of them answers it).
* *the same text* again and again while we keep answering: a person who is not satisfied writes it
  in other words or adds something; an auto-reply sends the identical text every time.  So the
  ``loop_repeats``-th identical message within ``loop_window`` (an hour), after we answered the
  earlier ones, is a machine.  Exempt are a status query (people do ask again) and texts shorter
  than ``REPEAT_MIN_CHARS`` ("B12", "si", "1": people's answers, not auto-replies).

Either way the phone is *muted*: no replies for ``loop_mute_hours``; staff see why and can undo it.
The per-phone budgets (replies per hour and per day) are the plain safety net behind them: they do
not mute, the phone is answered again when the window moves on.

Windows are inclusive: something exactly ``loop_window`` (or an hour, or a day) old still counts,
and an answer exactly ``loop_fast`` after our reply is still too fast.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from barriosms.domain.categories import fold

__all__ = [
    "Limits",
    "QuietHours",
    "Recent",
    "Decision",
    "LOOP_REASONS",
    "reply_decision",
    "typing_time",
    "quiet_until",
    "next_budget_day",
    "budget_left",
    "local_day_start",
]

_HOUR: Final = dt.timedelta(hours=1)
_DAY: Final = dt.timedelta(days=1)


@dataclass(frozen=True)
class Limits:
    """The per-phone limits of :func:`reply_decision`; 0 replies means no limit."""

    replies_per_hour: int
    replies_per_day: int
    loop_repeats: int
    loop_window: dt.timedelta
    # Zero turns the fast-answer check off: a message always arrives some time after our reply.
    loop_fast: dt.timedelta
    # Characters a second no person types on a phone keypad (0: the typing check is off).
    loop_typing: float = 0.0

    def __post_init__(self) -> None:
        if self.replies_per_hour < 0 or self.replies_per_day < 0:
            raise ValueError("replies_per_hour and replies_per_day must be 0 (no limit) or more")
        if self.loop_repeats < 2:
            raise ValueError("loop_repeats must be at least 2 (one message is never a loop)")
        if self.loop_window <= dt.timedelta(0) or self.loop_fast < dt.timedelta(0):
            raise ValueError("loop_window must be positive and loop_fast zero or positive")
        if not 0 <= self.loop_typing < float("inf"):
            raise ValueError("loop_typing must be 0 (off) or a positive number of characters a second")



@dataclass(frozen=True)
class QuietHours:
    """A daily window (local time) when SMS that are not urgent wait; may cross midnight."""

    start: dt.time
    end: dt.time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Recent:
    """What the store knows about one phone, newest first.

    ``inbound``: times and texts of its earlier messages, *not* the one being decided.
    ``replies_sent``: when our replies to this phone left the modem (what a machine answers).
    ``replies_queued``: when our replies to this phone were queued, sent or not (what the
    budgets count: a burst read off the SIM at once is answered before any reply leaves);
    empty means the same as ``replies_sent``.
    ``our_texts``: what we sent this phone lately (any kind), to recognise it sent back (an echo).
    """

    inbound: Sequence[tuple[dt.datetime, str]]
    replies_sent: Sequence[dt.datetime]
    replies_queued: Sequence[dt.datetime] = ()
    our_texts: Sequence[str] = ()


@dataclass(frozen=True)
class Decision:
    """``answer`` or not; ``reason`` is "" when answered; ``mute`` silences the phone for a while.

    :func:`reply_decision` gives the reasons "loop_repeat", "loop_fast", "loop_echo",
    "phone_hour_budget" and "phone_day_budget"; callers may add their own (a phone already muted).
    """

    answer: bool
    reason: str
    mute: bool


_ANSWER: Final = Decision(True, "", False)
# Reasons that mean "a machine": the phone is muted.
LOOP_REASONS: Final = frozenset({"loop_repeat", "loop_fast", "loop_echo"})


def _same_text_key(text: str) -> str:
    """ "Hola  ESTOY ocupado" and "hola estoy ocupado" are the same auto-reply."""
    return " ".join(fold(text).split())


# Texts this short are what people answer ("B12", "si", "1"), and a person may well send them three
# times in an hour; auto-replies are sentences. A short machine answer is still caught by its speed.
REPEAT_MIN_CHARS: Final = 8


def _is_repeat_loop(now: dt.datetime, text: str, recent: Recent, limits: Limits) -> bool:
    key = _same_text_key(text)
    if len(key.replace(" ", "")) < REPEAT_MIN_CHARS:
        return False
    same = sum(
        1 for at, earlier in recent.inbound
        if now - at <= limits.loop_window and _same_text_key(earlier) == key
    )
    # A machine repeats itself because we keep answering it. A person whose identical texts pile up
    # on the SIM while the modem was down (and who got no answer in between) is no loop.
    answered = sum(1 for at in recent.replies_sent if now - at <= limits.loop_window)
    return same >= limits.loop_repeats - 1 and answered >= limits.loop_repeats - 1


def _echo_key(text: str) -> str:
    """Our text as a phone may send it back: words only (some phones drop or change punctuation)."""
    return " ".join(re.findall(r"[a-z0-9]+", fold(text)))


def typing_time(text: str, limits: Limits) -> dt.timedelta:
    """The least time a person needs to type ``text`` on a keypad (zero when the check is off)."""
    if not limits.loop_typing:
        return dt.timedelta(0)
    # Spaces count: each is a key press too. Leading and trailing ones are not typed on purpose.
    return dt.timedelta(seconds=len(text.strip()) / limits.loop_typing)


def _machine_sign(delay: dt.timedelta, text: str, echoes: frozenset[str], limits: Limits) -> str | None:
    """Why an answer ``delay`` after our reply cannot be a person's ("fast", "echo"), or None."""
    if limits.loop_fast and delay <= limits.loop_fast:
        return "fast"
    if delay < typing_time(text, limits):
        return "fast"
    key = _echo_key(text)
    if key and key in echoes:
        return "echo"
    return None


def _answer_loop(now: dt.datetime, text: str, recent: Recent, limits: Limits) -> str | None:
    """"loop_fast" or "loop_echo" when the last ``loop_repeats`` messages are machine answers."""
    arrivals = [(now, text), *recent.inbound]  # newest first
    if len(arrivals) < limits.loop_repeats:
        return None
    echoes = frozenset(k for k in map(_echo_key, recent.our_texts) if k)
    signs = []
    for i in range(limits.loop_repeats):
        arrived, written = arrivals[i]
        # Strictly before: a reply queued in the same instant as a message is the reply *to* it.
        reply = max((at for at in recent.replies_sent if at < arrived), default=None)
        if reply is None:
            return None
        # The reply must come after the previous message: each message answers a reply of its own.
        if i + 1 < len(arrivals) and reply < arrivals[i + 1][0]:
            return None
        sign = _machine_sign(arrived - reply, written, echoes, limits)
        if sign is None:
            return None
        signs.append(sign)
    return "loop_fast" if all(s == "fast" for s in signs) else "loop_echo"


def _replies_within(now: dt.datetime, recent: Recent, span: dt.timedelta) -> int:
    return sum(1 for at in (recent.replies_queued or recent.replies_sent) if now - at <= span)


def reply_decision(now: dt.datetime, text: str, recent: Recent, limits: Limits, *,
                   repeat_check: bool = True) -> Decision:
    """Whether the message ``text`` arriving ``now`` gets a reply.  Loops are checked first.

    - "loop_repeat" (mute): the same text (ignoring accents, capitals and spacing) already came
      ``loop_repeats - 1`` times within ``loop_window``: the Nth identical message is not answered
      (``repeat_check=False`` for texts a person does repeat, such as a tracking number);
    - "loop_fast" (mute): this message and the ``loop_repeats - 1`` before it each answered a reply
      of ours (sent after the message before it) within ``loop_fast`` or faster than a person types
      its text; "loop_echo" (mute): the same, where some of them sent our own text back;
    - "phone_hour_budget" / "phone_day_budget": ``replies_per_hour`` replies within the last hour
      (``replies_per_day`` within the last 24 hours) were already queued; 0 means no limit.
    """
    if repeat_check and _is_repeat_loop(now, text, recent, limits):
        return Decision(False, "loop_repeat", True)
    if (loop := _answer_loop(now, text, recent, limits)) is not None:
        return Decision(False, loop, True)
    if limits.replies_per_hour and _replies_within(now, recent, _HOUR) >= limits.replies_per_hour:
        return Decision(False, "phone_hour_budget", False)
    if limits.replies_per_day and _replies_within(now, recent, _DAY) >= limits.replies_per_day:
        return Decision(False, "phone_day_budget", False)
    return _ANSWER


def _require_aware(local_now: dt.datetime) -> None:
    if local_now.tzinfo is None or local_now.utcoffset() is None:
        raise ValueError(f"{local_now} has no time zone: pass the local time of the configured zone")


def _local(day: dt.date, clock: dt.time, like: dt.datetime) -> dt.datetime:
    """``clock`` on ``day`` in the zone of ``like``, normalised through UTC.

    A wall time that does not exist (a DST jump at midnight) becomes the first real instant after
    it; an ambiguous one is the first of the two.
    """
    wall = dt.datetime.combine(day, clock, tzinfo=like.tzinfo)
    return wall.astimezone(dt.UTC).astimezone(like.tzinfo)


def local_day_start(local_now: dt.datetime) -> dt.datetime:
    """The first instant of ``local_now``'s local day (midnight, aware), to count today's SMS."""
    _require_aware(local_now)
    return _local(local_now.date(), dt.time(0), local_now)


def next_budget_day(local_now: dt.datetime) -> dt.datetime:
    """When the daily SMS budget starts again: the next local midnight (aware)."""
    _require_aware(local_now)
    return _local(local_now.date() + _DAY, dt.time(0), local_now)


def budget_left(sent_today: int, budget: int) -> int | None:
    """SMS that may still go out today; None when ``budget`` is 0 (no limit); never below 0."""
    if budget < 0:
        raise ValueError("the daily SMS budget must be 0 (no limit) or more")
    if budget == 0:
        return None
    return max(0, budget - sent_today)


def quiet_until(local_now: dt.datetime, quiet: QuietHours | None) -> dt.datetime | None:
    """When the quiet window around ``local_now`` ends (aware, local), or None outside it.

    The start is inside the window and the end is not: with 21:00-07:00, 21:00 and 06:59 are
    quiet, 07:00 and 20:59 are not.  A window crossing midnight ends tomorrow when it started
    today.  A window whose start equals its end (the config refuses it) is no window.
    """
    _require_aware(local_now)
    if quiet is None or quiet.start == quiet.end:
        return None
    clock = local_now.time()
    today = local_now.date()
    if quiet.start < quiet.end:  # e.g. 13:00-15:00, within one day
        inside = quiet.start <= clock < quiet.end
        return _local(today, quiet.end, local_now) if inside else None
    if clock >= quiet.start:  # e.g. 21:00-07:00, evening part: ends tomorrow morning
        return _local(today + _DAY, quiet.end, local_now)
    if clock < quiet.end:  # morning part: ends this morning
        return _local(today, quiet.end, local_now)
    return None
