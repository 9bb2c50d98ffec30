"""Tracking numbers: Damm check digit, validation, generation."""

from __future__ import annotations

import random

import pytest

from barriosms.domain.tracking import (
    TRACKING_LENGTH,
    damm_check_digit,
    damm_valid,
    is_valid_tracking,
    new_tracking,
)


# Published vectors: Wikipedia "Damm algorithm" (572 → 4) and Rosetta Code "Damm algorithm"
# (5724 and 112946 valid, 5727 and 112949 invalid).
@pytest.mark.parametrize(
    ("digits", "check"),
    [("572", "4"), ("11294", "6"), ("", "0"), ("0", "0"), ("5", "9")],
)
def test_known_check_digits(digits: str, check: str) -> None:
    assert damm_check_digit(digits) == check


@pytest.mark.parametrize(
    ("number", "valid"),
    [("5724", True), ("5727", False), ("112946", True), ("112949", False), ("", False)],
)
def test_known_validations(number: str, valid: bool) -> None:
    assert damm_valid(number) is valid


@pytest.mark.parametrize("bad", ["57a", "5 7", "5-7", "١٢٣", "²", "+572"])
def test_check_digit_rejects_non_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        damm_check_digit(bad)
    assert not damm_valid(bad)


def _numbers(count: int) -> list[str]:
    rng = random.Random(20240915)
    return [new_tracking(rng) for _ in range(count)]


def test_every_single_digit_substitution_is_detected() -> None:
    for number in _numbers(400):
        assert is_valid_tracking(number)
        for i, original in enumerate(number):
            for d in "0123456789":
                if d != original:
                    typo = number[:i] + d + number[i + 1 :]
                    assert not is_valid_tracking(typo), (number, typo)


def test_every_adjacent_transposition_is_detected() -> None:
    checked = 0
    for number in _numbers(400):
        for i in range(len(number) - 1):
            if number[i] != number[i + 1]:
                swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
                assert not is_valid_tracking(swapped), (number, swapped)
                checked += 1
    assert checked > 2000


def test_exhaustive_over_all_two_digit_prefixes() -> None:
    # Every body 10..99 (incl. repeated digits), every position: a stronger check than sampling.
    for body in range(10, 100):
        number = str(body) + damm_check_digit(str(body))
        assert damm_valid(number)
        for i in range(3):
            for d in "0123456789":
                if d != number[i]:
                    assert not damm_valid(number[:i] + d + number[i + 1 :])


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("2408917", True),  # what new_tracking(random.Random(1)) gives
        ("1234567", False),  # wrong check digit
        ("240891", False),  # too short
        ("24089170", False),  # too long (even though Damm-valid: 0 keeps the interim at 0)
        (" 2408917", False),
        ("2408917\n", False),
        ("24O8917", False),  # letter O
        ("", False),
    ],
)
def test_is_valid_tracking(number: str, valid: bool) -> None:
    assert is_valid_tracking(number) is valid


def test_new_tracking_shape_and_determinism() -> None:
    assert TRACKING_LENGTH == 7
    assert new_tracking(random.Random(1)) == new_tracking(random.Random(1)) == "2408917"
    rng = random.Random(7)
    seen = set()
    for _ in range(5000):
        number = new_tracking(rng)
        assert len(number) == TRACKING_LENGTH
        assert number.isascii() and number.isdigit()
        assert number[0] != "0"
        assert is_valid_tracking(number)
        seen.add(number)
    assert len(seen) > 4900  # 900,000 possible numbers: few collisions in 5000 draws
    assert {n[0] for n in seen} == set("123456789")


def test_length_is_checked_not_only_the_check_digit() -> None:
    # A trailing 0 keeps the Damm interim at 0, so only the length check rejects "24089170".
    assert damm_valid("24089170")
    assert not is_valid_tracking("24089170")
