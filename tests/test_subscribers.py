"""What barriosms remembers per phone: opted out of status SMS (BAJA/ALTA), silenced as a machine."""

from __future__ import annotations

import datetime as dt

from barriosms.cases import subscribers
from barriosms.store.models import PhoneState

T0 = dt.datetime(2026, 11, 24, 12, 0)
ANA, BETO, CARLA = "+59171111111", "+59172222222", "+59173333333"


def state(phone: str) -> PhoneState:
    return PhoneState.get(PhoneState.phone == phone)


def test_opt_out_and_back_in(db):
    assert subscribers.set_opted_out(ANA, True, T0) is True
    assert (state(ANA).opted_out, state(ANA).opted_out_at, state(ANA).updated_at) == (True, T0, T0)
    later = T0 + dt.timedelta(hours=1)
    assert subscribers.set_opted_out(ANA, True, later) is False  # BAJA twice changes nothing
    assert state(ANA).opted_out_at == T0
    assert subscribers.set_opted_out(ANA, False, later) is True
    assert (state(ANA).opted_out, state(ANA).opted_out_at, state(ANA).updated_at) == (False, None, later)
    assert PhoneState.select().count() == 1


def test_opted_out_names_only_those_who_asked(db):
    subscribers.set_opted_out(ANA, True, T0)
    subscribers.set_opted_out(BETO, True, T0)
    subscribers.set_opted_out(BETO, False, T0)
    subscribers.mute(CARLA, T0 + dt.timedelta(hours=1), "loop_repeat", T0)
    assert subscribers.opted_out([ANA, BETO, CARLA, "+59170000000"]) == {ANA}
    assert subscribers.opted_out([BETO]) == set()
    assert subscribers.opted_out([]) == set()


def test_mute_lasts_until_its_end(db):
    until = T0 + dt.timedelta(hours=24)
    assert subscribers.muted_until(ANA, T0) is None
    subscribers.mute(ANA, until, "loop_fast", T0)
    assert (state(ANA).mute_reason, state(ANA).opted_out) == ("loop_fast", False)
    assert subscribers.muted_until(ANA, T0 + dt.timedelta(hours=23)) == until
    assert subscribers.muted_until(ANA, until) is None  # the end itself is no longer muted
    assert subscribers.muted_until(BETO, T0) is None


def test_mute_keeps_an_opt_out(db):
    subscribers.set_opted_out(ANA, True, T0)
    subscribers.mute(ANA, T0 + dt.timedelta(hours=1), "loop_repeat", T0)
    assert state(ANA).opted_out and subscribers.opted_out([ANA]) == {ANA}


def test_unmute_lifts_only_a_current_silence(db):
    until = T0 + dt.timedelta(hours=24)
    subscribers.mute(ANA, until, "loop_repeat", T0)
    later = T0 + dt.timedelta(hours=1)
    assert subscribers.unmute(ANA, later) is True
    assert subscribers.muted_until(ANA, later) is None
    assert (state(ANA).muted_until, state(ANA).updated_at) == (None, later)
    assert subscribers.unmute(ANA, later) is False  # nothing left to lift
    assert subscribers.unmute(BETO, later) is False  # never seen

    subscribers.mute(CARLA, until, "loop_fast", T0)
    assert subscribers.unmute(CARLA, until) is False  # already over
    assert state(CARLA).muted_until == until


def test_unmute_forgets_why_the_phone_was_silenced(db):
    subscribers.mute(ANA, T0 + dt.timedelta(hours=24), "loop_repeat", T0)
    subscribers.unmute(ANA, T0 + dt.timedelta(hours=1))
    assert state(ANA).mute_reason == ""


def test_list_states_newest_first(db):
    subscribers.set_opted_out(ANA, True, T0)
    subscribers.mute(BETO, T0 + dt.timedelta(hours=5), "loop_repeat", T0 + dt.timedelta(hours=2))
    subscribers.set_opted_out(CARLA, True, T0 + dt.timedelta(hours=1))
    assert [s.phone for s in subscribers.list_states()] == [BETO, CARLA, ANA]
