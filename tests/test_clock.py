"""Is the system clock believable: the pure rule, and what the database says is the newest time.
(The daemon holding the SIM while the clock is wrong is in test_daemon.py.)"""

from __future__ import annotations

import datetime as dt

from barriosms.operations.clock import EARLIEST_SANE, clock_problem, newest_stored_utc

UTC = dt.UTC


def test_a_clock_before_this_release_is_not_set_yet():
    problem = clock_problem(dt.datetime(1970, 1, 1, 0, 0, 12, tzinfo=UTC), None)
    assert problem == ("the system clock says 1970-01-01 00:00 UTC, before this release (2026-11-01): "
                       "waiting for NTP; check timedatectl")
    assert clock_problem(EARLIEST_SANE - dt.timedelta(seconds=1), None) is not None
    assert clock_problem(EARLIEST_SANE, None) is None


def test_a_clock_more_than_a_day_behind_the_database():
    newest = dt.datetime(2027, 3, 10, 12, 0)  # naive UTC, as stored
    assert clock_problem(dt.datetime(2027, 3, 10, 12, 0, tzinfo=UTC), newest) is None
    # fake-hwclock restores the time it saved last, up to an hour or so behind: believable
    assert clock_problem(dt.datetime(2027, 3, 9, 12, 30, tzinfo=UTC), newest) is None
    problem = clock_problem(dt.datetime(2027, 3, 9, 11, 59, tzinfo=UTC), newest)
    assert problem == ("the system clock says 2027-03-09 11:59 UTC, more than a day before the newest record in "
                       "the database (2027-03-10 12:00 UTC): waiting for NTP; check timedatectl")


def test_naive_and_other_zones_are_compared_as_utc():
    la_paz = dt.timezone(dt.timedelta(hours=-4))
    newest = dt.datetime(2027, 3, 10, 12, 0)
    assert clock_problem(dt.datetime(2027, 3, 9, 12, 30), newest) is None  # naive: UTC
    assert clock_problem(dt.datetime(2027, 3, 9, 11, 30), newest) is not None
    assert clock_problem(dt.datetime(2027, 3, 9, 7, 30, tzinfo=la_paz), newest) is not None  # 11:30 UTC
    assert clock_problem(dt.datetime(2027, 3, 9, 8, 30, tzinfo=la_paz), newest) is None  # 12:30 UTC


def test_newest_stored_time(db):
    from barriosms.cases import outbox
    from barriosms.store.models import InboundMessage, OutboundMessage

    assert newest_stored_utc() is None
    outbox.queue("+59171234567", "hola")
    queued = OutboundMessage.get().created_at
    assert newest_stored_utc() == queued
    later = queued + dt.timedelta(days=3)
    InboundMessage.create(dedupe_key="k", sender="+59171234567", phone="+59171234567", text="x", received_at=later)
    assert newest_stored_utc() == later


def test_a_clock_behind_the_newest_record_is_trusted_after_the_wait_limit():
    from barriosms.operations.clock import BEHIND_WAIT_LIMIT

    newest = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)  # written while the clock ran ahead?
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert clock_problem(now, newest) is not None
    assert clock_problem(now, newest, BEHIND_WAIT_LIMIT - dt.timedelta(seconds=1)) is not None
    assert clock_problem(now, newest, BEHIND_WAIT_LIMIT) is None
    # Never before this release, however long it waited.
    assert clock_problem(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), None, BEHIND_WAIT_LIMIT * 10) is not None
