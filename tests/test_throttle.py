"""The back-off for failed logins (domain/throttle.py): pure, so checked for every count."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from barriosms.domain import throttle
from barriosms.domain.throttle import ACCOUNT, ADDRESS, BackOff

NOW = dt.datetime(2026, 12, 6, 12, 0)


def test_a_few_mistakes_cost_nothing_then_each_failure_doubles_the_wait():
    assert [ACCOUNT.lock_seconds(n) for n in range(1, 10)] == [0, 0, 0, 0, 30, 60, 120, 240, 480]
    assert ACCOUNT.lock_seconds(12) == 3600 and ACCOUNT.lock_seconds(10**9) == 3600
    assert ADDRESS.lock_seconds(19) == 0 and ADDRESS.lock_seconds(20) == 30  # an office shares one address


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**12))
def test_the_wait_never_shrinks_as_failures_grow_and_never_passes_the_cap(a, b):
    low, high = sorted((a, b))
    assert 0 <= ACCOUNT.lock_seconds(low) <= ACCOUNT.lock_seconds(high) <= ACCOUNT.cap_seconds


def test_failures_are_forgotten_a_day_after_the_last_one():
    policy = BackOff(free=5, base_seconds=30, cap_seconds=3600, forget_seconds=86400)
    assert policy.failures_now(7, NOW - dt.timedelta(hours=23), NOW) == 7
    assert policy.failures_now(7, NOW - dt.timedelta(hours=24), NOW) == 0
    assert policy.failures_now(7, None, NOW) == 0


def test_wait_rounds_up_and_a_past_lock_is_no_lock():
    assert throttle.wait_seconds(None, NOW) == 0
    assert throttle.wait_seconds(NOW - dt.timedelta(seconds=1), NOW) == 0
    assert throttle.wait_seconds(NOW + dt.timedelta(milliseconds=10), NOW) == 1
    assert throttle.wait_seconds(NOW + dt.timedelta(seconds=29.2), NOW) == 30


def test_the_login_page_says_the_wait_in_spanish():
    assert [throttle.spanish_wait(s) for s in (1, 30, 60, 61, 3599, 3600, 7200)] == [
        "1 segundo", "30 segundos", "1 minuto", "2 minutos", "1 hora", "1 hora", "2 horas"]
