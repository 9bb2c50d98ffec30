"""The status vocabulary, the transitions a case may make, and reopening by SMS."""

from __future__ import annotations

import datetime as dt

import pytest

from barriosms.domain.statuses import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    REOPEN_TARGET,
    STATUSES,
    TRANSITIONS,
    TransitionError,
    can_reopen_by_sms,
    check_transition,
    is_status,
)


def test_statuses_are_the_agreed_names_in_order() -> None:
    assert STATUSES == ("received", "reviewing", "in_progress", "resolved", "closed", "rejected")


def test_open_and_final_partition_the_statuses() -> None:
    assert OPEN_STATUSES | FINAL_STATUSES == set(STATUSES)
    assert not OPEN_STATUSES & FINAL_STATUSES
    assert "received" in OPEN_STATUSES
    assert {"closed", "rejected"} <= FINAL_STATUSES


@pytest.mark.parametrize("status", STATUSES)
def test_is_status_accepts_every_status(status: str) -> None:
    assert is_status(status)


@pytest.mark.parametrize("value", ["", "Received", "RECEIVED", " received", "open", "recibido", None, 1])
def test_is_status_rejects_other_values(value: object) -> None:
    assert not is_status(value)


# --- transitions and reopening -----------------------------------------------------------------

ALLOWED = [(old, new) for old in STATUSES for new in STATUSES if new in TRANSITIONS[old]]
FORBIDDEN = [(old, new) for old in STATUSES for new in STATUSES if new != old and new not in TRANSITIONS[old]]


def test_transitions_are_the_agreed_life_of_a_case() -> None:
    assert dict(TRANSITIONS) == {
        "received": {"reviewing", "in_progress", "resolved", "rejected"},
        "reviewing": {"in_progress", "resolved", "rejected", "received"},
        "in_progress": {"resolved", "reviewing", "rejected"},
        "resolved": {"closed", "in_progress", "reviewing"},
        "closed": {"reviewing"},
        "rejected": {"reviewing"},
    }
    assert list(TRANSITIONS) == list(STATUSES)
    assert all(isinstance(targets, frozenset) for targets in TRANSITIONS.values())


def test_transitions_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS["closed"] = frozenset()  # type: ignore[index]


def test_every_status_is_reachable_and_every_case_can_end() -> None:
    def reachable(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:  # type: ignore[index]
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert reachable("received") == set(STATUSES)
    for status in STATUSES:
        assert reachable(status) & FINAL_STATUSES, status
        assert status not in TRANSITIONS[status]


@pytest.mark.parametrize(("old", "new"), ALLOWED)
def test_allowed_transitions_pass(old: str, new: str) -> None:
    check_transition(old, new)


@pytest.mark.parametrize(("old", "new"), FORBIDDEN)
def test_forbidden_transitions_name_what_is_allowed(old: str, new: str) -> None:
    with pytest.raises(TransitionError) as err:
        check_transition(old, new)
    allowed = ", ".join(s for s in STATUSES if s in TRANSITIONS[old])
    assert str(err.value) == f"a case that is {old} cannot go to {new}; a case that is {old} can go to: {allowed}"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("received", "closed",
         "a case that is received cannot go to closed; "
         "a case that is received can go to: reviewing, in_progress, resolved, rejected"),
        ("closed", "resolved",
         "a case that is closed cannot go to resolved; a case that is closed can go to: reviewing"),
        ("rejected", "in_progress",
         "a case that is rejected cannot go to in_progress; a case that is rejected can go to: reviewing"),
        ("in_progress", "received",
         "a case that is in_progress cannot go to received; "
         "a case that is in_progress can go to: reviewing, resolved, rejected"),
    ],
)
def test_forbidden_transition_messages(old: str, new: str, message: str) -> None:
    with pytest.raises(TransitionError, match=f"^{message}$"):
        check_transition(old, new)


@pytest.mark.parametrize("status", STATUSES)
def test_same_status_is_already(status: str) -> None:
    with pytest.raises(TransitionError, match=f"^already {status}$"):
        check_transition(status, status)


@pytest.mark.parametrize(("old", "new", "unknown"), [("open", "closed", "open"), ("received", "done", "done"),
                                                     ("Received", "reviewing", "Received")])
def test_unknown_statuses_are_refused(old: str, new: str, unknown: str) -> None:
    with pytest.raises(TransitionError, match=f"unknown status '{unknown}'; the statuses are: received, "):
        check_transition(old, new)


def test_transition_error_is_a_value_error() -> None:
    assert issubclass(TransitionError, ValueError)


def test_reopen_target_is_reachable_from_resolved_and_closed() -> None:
    assert REOPEN_TARGET == "reviewing"
    assert REOPEN_TARGET in TRANSITIONS["resolved"]
    assert REOPEN_TARGET in TRANSITIONS["closed"]


NOW = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("status", "resolved_at", "days", "verdict"),
    [
        pytest.param("resolved", NOW - dt.timedelta(days=3), 30, "ok", id="resolved-recently"),
        pytest.param("closed", NOW - dt.timedelta(days=3), 30, "ok", id="closed-recently"),
        pytest.param("resolved", NOW, 30, "ok", id="resolved-just-now"),
        pytest.param("resolved", NOW - dt.timedelta(days=30), 30, "ok", id="exactly-at-the-limit"),
        pytest.param("resolved", NOW - dt.timedelta(days=30, seconds=1), 30, "too_late", id="just-over-the-limit"),
        pytest.param("closed", NOW - dt.timedelta(days=90), 30, "too_late", id="closed-long-ago"),
        pytest.param("resolved", NOW - dt.timedelta(hours=11), 0.5, "ok", id="fractional-days-in-time"),
        pytest.param("resolved", NOW - dt.timedelta(hours=13), 0.5, "too_late", id="fractional-days-late"),
        pytest.param("resolved", None, 30, "not_resolved", id="resolved-without-a-date"),
        pytest.param("closed", None, 30, "not_resolved", id="closed-without-a-date"),
        pytest.param("received", NOW - dt.timedelta(days=1), 30, "not_resolved", id="received"),
        pytest.param("reviewing", NOW - dt.timedelta(days=1), 30, "not_resolved", id="reviewing"),
        pytest.param("in_progress", NOW - dt.timedelta(days=1), 30, "not_resolved", id="in-progress"),
        pytest.param("rejected", NOW - dt.timedelta(days=1), 30, "not_resolved", id="rejected"),
    ],
)
def test_can_reopen_by_sms(status: str, resolved_at: dt.datetime | None, days: float, verdict: str) -> None:
    assert can_reopen_by_sms(status, resolved_at, NOW, days) == verdict
