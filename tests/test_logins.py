"""Logging in with back-off (staff/logins.py) against a real SQLite file."""

from __future__ import annotations

import datetime as dt

import pytest

from barriosms.staff import accounts, logins
from barriosms.store.models import AuditEntry, LoginThrottle

PASSWORD = "correct horse 42"
T0 = dt.datetime(2026, 12, 6, 12, 0)


@pytest.fixture
def ana(db):
    return accounts.add("ana", "Ana Quispe", "staff", PASSWORD, actor="root")


def _fail(name, n, address="10.0.0.5", start=T0):
    return [logins.attempt(name, "wrong password!", address=address, now=start + dt.timedelta(seconds=i)).retry_after
            for i in range(n)]


def test_a_good_login_returns_the_account_and_clears_its_failures(ana):
    _fail("ana", 3)
    outcome = logins.attempt("ANA", PASSWORD, address="10.0.0.5", now=T0 + dt.timedelta(seconds=5))
    assert outcome.account.username == "ana" and outcome.retry_after == 0
    assert LoginThrottle.get_or_none(LoginThrottle.key == "user:ana") is None
    assert LoginThrottle.get(LoginThrottle.key == "addr:10.0.0.5").failures == 3


def test_the_fifth_failure_locks_and_the_right_password_then_waits_too(ana):
    assert _fail("ana", 5) == [0, 0, 0, 0, 30]
    during = T0 + dt.timedelta(seconds=20)
    blocked = logins.attempt("ana", PASSWORD, address="10.0.0.9", now=during)
    assert blocked.account is None and blocked.retry_after == 14  # the lock is the account's, from any address
    assert AuditEntry.select().where(AuditEntry.action == "login.blocked").count() == 1
    after = logins.attempt("ana", PASSWORD, address="10.0.0.9", now=T0 + dt.timedelta(seconds=35))
    assert after.account is not None


def test_an_unknown_name_is_locked_exactly_like_a_real_one(ana):
    assert _fail("ana", 6) == _fail("nadie", 6, address="10.0.0.6")


def test_one_address_trying_many_names_is_locked_by_its_address(ana):
    waits = [logins.attempt(f"user{i}", "wrong password!", address="203.0.113.7",
                            now=T0 + dt.timedelta(seconds=i)).retry_after for i in range(20)]
    assert waits[:19] == [0] * 19 and waits[19] == 30
    # Ana, from elsewhere, is not locked out by that address.
    assert logins.attempt("ana", PASSWORD, address="10.0.0.5", now=T0 + dt.timedelta(seconds=21)).account


def test_failures_a_day_old_are_forgotten(ana):
    _fail("ana", 4)
    assert _fail("ana", 1, start=T0 + dt.timedelta(days=1, seconds=5)) == [0]
    assert LoginThrottle.get(LoginThrottle.key == "user:ana").failures == 1
