"""The status vocabulary, the transitions a case may make, and reopening by SMS."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from barriosms.domain.statuses import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    REOPEN_TARGET,
    SPANISH_NAMES,
    STATUSES,
    TRANSITIONS,
    TransitionError,
    UnknownStatus,
    can_reopen_by_sms,
    check_transition,
    is_status,
    parse_status,
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


SPANISH = [("recibido", "received"), ("en_revision", "reviewing"), ("en_proceso", "in_progress"),
           ("resuelto", "resolved"), ("cerrado", "closed"), ("rechazado", "rejected")]


@pytest.mark.parametrize(("spanish", "english"), SPANISH)
def test_each_spanish_name_is_its_english_status(spanish: str, english: str) -> None:
    assert SPANISH_NAMES[english] == spanish  # type: ignore[index]
    assert parse_status(spanish) == english
    assert parse_status(english) == english


@pytest.mark.parametrize(("typed", "status"), [
    ("en revisión", "reviewing"), ("En-Revision", "reviewing"), ("EN REVISIÓN", "reviewing"), ("en  proceso", "in_progress"),
    ("en-proceso", "in_progress"), (" Resuelto ", "resolved"), ("in progress", "in_progress"), ("In-Progress", "in_progress"),
    ("RECHAZADO", "rejected"), ("recibído", "received"),
])
def test_spellings_people_type(typed: str, status: str) -> None:
    assert parse_status(typed) == status


@pytest.mark.parametrize("typed", ["", "done", "en", "abierto", "en_revisionx", "receive", "cerrados", "en_ proceso x"])
def test_an_unknown_status_names_every_accepted_name_in_both_languages(typed: str) -> None:
    with pytest.raises(UnknownStatus) as raised:
        parse_status(typed)
    message = str(raised.value)
    assert repr(typed) in message
    assert all(name in message for name in (*STATUSES, *SPANISH_NAMES.values()))


def _plain(text: str) -> str:
    """What a spelling says once case, accents and separators are set aside (the test's own reading)."""
    no_accents = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "_".join(no_accents.casefold().replace("-", " ").replace("_", " ").split())


NAMES = [*STATUSES, *SPANISH_NAMES.values()]
ACCENTED = {"en_revision": "en_revisión", "en_proceso": "en_procéso"}


@st.composite
def spellings(draw: st.DrawFn) -> str:
    """A name as a person might type it: any case, any separators, maybe an accent, spaces around."""
    name = draw(st.sampled_from(NAMES))
    name = ACCENTED.get(name, name) if draw(st.booleans()) else name
    words = name.split("_")
    separators = draw(st.lists(st.sampled_from([" ", "-", "_", "  ", " - "]), min_size=len(words) - 1,
                               max_size=len(words) - 1))
    typed = words[0] + "".join(sep + word for sep, word in zip(separators, words[1:]))
    typed = "".join(c.upper() if draw(st.booleans()) else c for c in typed)
    return draw(st.sampled_from(["", " ", "\t"])) + typed + draw(st.sampled_from(["", " "]))


@given(spellings())
def test_every_spelling_of_a_name_is_its_status(typed: str) -> None:
    status = parse_status(typed)
    assert is_status(status)
    assert status in (_plain(typed), {v: k for k, v in SPANISH_NAMES.items()}.get(_plain(typed)))


@given(st.text(max_size=30))
@example("en revision x")
@example("ñ")
@example("İn_progress")
def test_any_text_is_a_status_or_the_clear_error(typed: str) -> None:
    try:
        status = parse_status(typed)
    except UnknownStatus as exc:
        assert "the statuses are: received (recibido)" in str(exc)
        assert _plain(typed) not in NAMES or len(typed) > 40
    else:
        assert is_status(status)
        assert _plain(typed) in NAMES, f"{typed!r} was taken for {status}"
