"""Whether to answer a phone, and when SMS may go out: budgets, auto-reply loops, quiet hours.

Pure rules: no database and no clock.  The caller reads what the store knows about a phone into a
:class:`Recent`, passes ``now`` and gets a :class:`Decision`; the message itself is always stored,
these rules only decide whether it gets an SMS back.

Why loops need their own rule: a resident's phone may be set to answer every SMS automatically
("estoy ocupado, te llamo luego"), or another gateway may answer ours.  Each of our replies then
brings one of theirs, and the two machines spend both prepaid balances in minutes.  Two signs
catch a machine without catching a person:

* the *same text* again and again: a person who is not answered, or is answered and still
  worried, writes it in other words or adds something; a person rarely sends the identical text
  ``loop_repeats`` (3) times within ``loop_window`` (an hour), while an auto-reply always does.
  So the third identical message in the window is not answered, and the phone is muted.
* *answers within seconds*: a person on a basic phone needs more than ``loop_fast`` (10 s) to
  read our reply and type an answer, and certainly does not do it ``loop_repeats`` times in a
  row; a machine does.  Each of those messages must answer a reply of its own (sent after the
  message before it), so a person who sends two quick messages after one reply is not counted
  twice, and one slow answer in the chain breaks it.

The per-phone budgets (replies per hour and per day) are the plain safety net behind them: they
do not mute, the phone is answered again when the window moves on.

Windows are inclusive: something exactly ``loop_window`` (or an hour, or a day) old still counts,
and an answer exactly ``loop_fast`` after our reply is still fast.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Sequence

from .categories import fold

if TYPE_CHECKING:
    from ..config import QuietHours, ServiceSettings

__all__ = [
    "Limits",
    "Recent",
    "Decision",
    "reply_decision",
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

    def __post_init__(self) -> None:
        if self.replies_per_hour < 0 or self.replies_per_day < 0:
            raise ValueError("replies_per_hour and replies_per_day must be 0 (no limit) or more")
        if self.loop_repeats < 2:
            raise ValueError("loop_repeats must be at least 2 (one message is never a loop)")
        if self.loop_window <= dt.timedelta(0) or self.loop_fast < dt.timedelta(0):
            raise ValueError("loop_window must be positive and loop_fast zero or positive")

    @classmethod
    def from_settings(cls, service: ServiceSettings) -> Limits:
        return cls(
            replies_per_hour=service.replies_per_hour,
            replies_per_day=service.replies_per_day,
            loop_repeats=service.loop_repeats,
            loop_window=dt.timedelta(minutes=service.loop_window_minutes),
            loop_fast=dt.timedelta(seconds=service.loop_fast_seconds),
        )


@dataclass(frozen=True)
class Recent:
    """What the store knows about one phone, newest first.

    ``inbound``: times and texts of its earlier messages, *not* the one being decided.
    ``replies_sent``: when our replies to this phone left the modem (what a machine answers).
    ``replies_queued``: when our replies to this phone were queued, sent or not (what the
    budgets count: a burst read off the SIM at once is answered before any reply leaves);
    empty means the same as ``replies_sent``.
    """

    inbound: Sequence[tuple[dt.datetime, str]]
    replies_sent: Sequence[dt.datetime]
    replies_queued: Sequence[dt.datetime] = ()


@dataclass(frozen=True)
class Decision:
    """``answer`` or not; ``reason`` is "" when answered; ``mute`` silences the phone for a while.

    :func:`reply_decision` gives the reasons "loop_repeat", "loop_fast", "phone_hour_budget" and
    "phone_day_budget"; callers may add their own (a phone already muted, say).
    """

    answer: bool
    reason: str
    mute: bool


_ANSWER: Final = Decision(True, "", False)


def _same_text_key(text: str) -> str:
    """ "Hola  ESTOY ocupado" and "hola estoy ocupado" are the same auto-reply."""
    return " ".join(fold(text).split())


def _is_repeat_loop(now: dt.datetime, text: str, recent: Recent, limits: Limits) -> bool:
    key = _same_text_key(text)
    same = sum(
        1 for at, earlier in recent.inbound
        if now - at <= limits.loop_window and _same_text_key(earlier) == key
    )
    # A machine repeats itself because we keep answering it. A person whose identical texts pile up
    # on the SIM while the modem was down (and who got no answer in between) is no loop.
    answered = sum(1 for at in recent.replies_sent if now - at <= limits.loop_window)
    return same >= limits.loop_repeats - 1 and answered >= limits.loop_repeats - 1


def _is_fast_loop(now: dt.datetime, recent: Recent, limits: Limits) -> bool:
    arrivals = [now, *(at for at, _ in recent.inbound)]  # newest first
    if len(arrivals) < limits.loop_repeats:
        return False
    for i in range(limits.loop_repeats):
        arrived = arrivals[i]
        # Strictly before: a reply queued in the same instant as a message is the reply *to* it.
        reply = max((at for at in recent.replies_sent if at < arrived), default=None)
        if reply is None or arrived - reply > limits.loop_fast:
            return False
        # The reply must come after the previous message: each message answers a reply of its own.
        if i + 1 < len(arrivals) and reply < arrivals[i + 1]:
            return False
    return True


def _replies_within(now: dt.datetime, recent: Recent, span: dt.timedelta) -> int:
    return sum(1 for at in (recent.replies_queued or recent.replies_sent) if now - at <= span)


def reply_decision(now: dt.datetime, text: str, recent: Recent, limits: Limits, *,
                   repeat_check: bool = True) -> Decision:
    """Whether the message ``text`` arriving ``now`` gets a reply.  Loops are checked first.

    - "loop_repeat" (mute): the same text (ignoring accents, capitals and spacing) already came
      ``loop_repeats - 1`` times within ``loop_window``: the Nth identical message is not answered
      (``repeat_check=False`` for texts a person does repeat, such as a tracking number);
    - "loop_fast" (mute): this message and the ``loop_repeats - 1`` before it each arrived within
      ``loop_fast`` after a reply of ours sent after the message before it;
    - "phone_hour_budget" / "phone_day_budget": ``replies_per_hour`` replies within the last hour
      (``replies_per_day`` within the last 24 hours) were already queued; 0 means no limit.
    """
    if repeat_check and _is_repeat_loop(now, text, recent, limits):
        return Decision(False, "loop_repeat", True)
    if _is_fast_loop(now, recent, limits):
        return Decision(False, "loop_fast", True)
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
    return wall.astimezone(dt.timezone.utc).astimezone(like.tzinfo)


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
