"""Opening a case (with a fresh tracking number) for an SMS, a web form, or staff routing a message by hand."""

from __future__ import annotations

import datetime as dt
import random

from barriosms.cases import events
from barriosms.cases.reporters import add_reporter
from barriosms.domain.categories import CategoryRules
from barriosms.domain.learning import Model, decide
from barriosms.domain.tracking import SHORTEST, length_to_draw, new_tracking
from barriosms.store.models import Case, CaseEvent, InboundMessage, Neighborhood, PracticeCase, TrackingFill


def unused_tracking(rng: random.Random) -> str:
    """A tracking number no case and no practice case has yet, counted as taken (call it inside
    the transaction that stores the case, so the count and the case land together).

    The length comes from the count of numbers taken per length (a row per length, not a count of
    the cases), and is one that is at most half taken: the cost is a draw or two at any size.
    """
    length = length_to_draw({row.length: row.used for row in TrackingFill.select()})
    for _ in range(1000):
        tracking = new_tracking(rng, length)
        # Practice cases draw from the same numbers: a practice number never names a real case.
        if (not Case.select().where(Case.tracking == tracking).exists()
                and not PracticeCase.select().where(PracticeCase.tracking == tracking).exists()):
            (TrackingFill.insert(length=length, used=1)
             .on_conflict(conflict_target=[TrackingFill.length], update={TrackingFill.used: TrackingFill.used + 1})
             .execute())
            return tracking
    raise RuntimeError(f"no free {length}-digit tracking number found in 1000 tries; the number space is nearly full")


def tracking_lengths() -> frozenset[int]:
    """The lengths of the tracking numbers given so far (7 alone until numbers grow)."""
    return frozenset({SHORTEST} | {row.length for row in TrackingFill.select().where(TrackingFill.used > 0)})


def open_case(msg: InboundMessage | None, hood: Neighborhood, description: str, now: dt.datetime, *,
              categories: CategoryRules, rng: random.Random | None = None, category: str | None = None,
              actor: str = "sms", how: str = "reported", learned: Model | None = None) -> Case:
    """Open a case for a resident's message or a form (inside the caller's transaction).

    `rng` draws the tracking number; the default is SystemRandom, so numbers cannot be predicted
    from earlier ones. `category` None: found from the description, by the keywords and what was
    `learned` from staff's corrections (None: the keywords alone).
    """
    tracking = unused_tracking(rng or random.SystemRandom())
    # The category from the problem as described (in a two-step report, the first message's
    # text, not the one that only named the neighbourhood).
    case = Case.create(tracking=tracking, neighborhood=hood,
                       category=category or decide(description, categories, learned), text=description,
                       phone=msg.phone if msg is not None else "", status="received", created_at=now,
                       updated_at=now, source_message=msg)
    CaseEvent.create(case=case, at=now, kind="created", new_status="received", actor=actor)
    if msg is not None:
        add_reporter(case, msg.phone, how, msg, now)
    events.record("case.opened", now, tracking=case.tracking, neighborhood=hood.code, category=case.category,
                  phone=case.phone, channel=case.channel, text=case.text)
    return case
