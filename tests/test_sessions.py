"""Back-office sessions (staff/sessions.py) against a real SQLite file."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from barriosms.staff import accounts, sessions
from barriosms.store.models import StaffSession

PASSWORD = "correct horse 42"
T0 = dt.datetime(2026, 12, 6, 12, 0)


@pytest.fixture
def ana(db):
    return accounts.add("ana", "Ana Quispe", "staff", PASSWORD, actor="root")


def test_only_the_hash_of_the_token_is_stored(ana):
    started = sessions.start(ana, idle_minutes=60, now=T0)
    row = StaffSession.get()
    assert row.id == hashlib.sha256(started.token.encode()).hexdigest() and started.token not in row.id
    assert sessions.find(started.token, idle_minutes=60, now=T0).account.username == "ana"
    assert sessions.find(row.id, idle_minutes=60, now=T0) is None  # the stored id opens nothing


def test_a_login_replaces_the_session_the_browser_came_with(ana):
    first = sessions.start(ana, idle_minutes=60, now=T0)
    second = sessions.start(ana, idle_minutes=60, replacing=first.token, now=T0)
    assert second.token != first.token and second.session.csrf != first.session.csrf
    assert sessions.find(first.token, idle_minutes=60, now=T0) is None
    assert StaffSession.select().count() == 1


def test_idle_expiry_slides_but_never_passes_twelve_hours(ana):
    started = sessions.start(ana, idle_minutes=60, now=T0)
    t = T0
    for _ in range(11):  # active every 59 minutes: still logged in
        t += dt.timedelta(minutes=59)
        assert sessions.find(started.token, idle_minutes=60, now=t) is not None
    assert sessions.find(started.token, idle_minutes=60, now=T0 + dt.timedelta(hours=12)) is None
    idle = sessions.start(ana, idle_minutes=60, now=T0)
    assert sessions.find(idle.token, idle_minutes=60, now=T0 + dt.timedelta(minutes=61)) is None
    assert StaffSession.select().count() == 0  # an expired session is deleted when seen


def test_logout_disable_and_a_new_password_end_sessions(ana):
    a = sessions.start(ana, idle_minutes=60)
    sessions.end(a.token)
    assert sessions.find(a.token, idle_minutes=60) is None
    b = sessions.start(ana, idle_minutes=60)
    accounts.disable("ana", actor="root")
    assert sessions.find(b.token, idle_minutes=60) is None
    accounts.enable("ana", actor="root")
    c = sessions.start(accounts.get("ana"), idle_minutes=60)
    accounts.set_password("ana", "another long one", actor="ana")
    assert sessions.find(c.token, idle_minutes=60) is None


@pytest.mark.parametrize("token", ["", "x" * 500, "\udcff", "' OR 1=1 --"])
def test_junk_tokens_find_nothing(ana, token):
    sessions.start(ana, idle_minutes=60)
    assert sessions.find(token, idle_minutes=60) is None


def test_csrf_is_compared_to_the_sessions_own(ana):
    s = sessions.start(ana, idle_minutes=60).session
    other = sessions.start(ana, idle_minutes=60).session
    assert sessions.csrf_ok(s, s.csrf) and not sessions.csrf_ok(s, other.csrf)
    assert not sessions.csrf_ok(s, "") and not sessions.csrf_ok(s, "\udcff")
