"""The status vocabulary."""

from __future__ import annotations

import pytest

from barriosms.domain.statuses import FINAL_STATUSES, OPEN_STATUSES, STATUSES, is_status


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
