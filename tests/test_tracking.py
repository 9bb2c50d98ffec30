"""Tracking numbers: Damm check digit, validation, generation."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barriosms.domain.tracking import (
    GROW_AT,
    LONGEST,
    SHORTEST,
    TRACKING_LENGTH,
    damm_check_digit,
    damm_valid,
    digits_phrase,
    is_valid_tracking,
    length_to_draw,
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


# --- numbers that grow a digit (7 while half of them are free, then 8, then 9) -------------------

seeds = st.integers(min_value=0, max_value=2**32)
lengths = st.integers(min_value=SHORTEST, max_value=LONGEST)


def _typos(number: str):
    """Every number a resident could type instead: one digit changed, two neighbours swapped,
    one digit left out, one digit typed in anywhere."""
    for i in range(len(number)):
        for d in "0123456789":
            if d != number[i]:
                yield number[:i] + d + number[i + 1:]
        yield number[:i] + number[i + 1:]
        if i + 1 < len(number) and number[i] != number[i + 1]:
            yield number[:i] + number[i + 1] + number[i] + number[i + 2:]
    for i in range(len(number) + 1):
        for d in "0123456789":
            if number[i:i + 1] != d:  # the same digit typed twice is one insertion, counted once
                yield number[:i] + d + number[i:]


@settings(max_examples=300, deadline=None)
@given(seed=seeds, length=lengths)
def test_no_single_typo_of_a_number_of_any_length_is_a_valid_number(seed: int, length: int) -> None:
    number = new_tracking(random.Random(seed), length)
    assert len(number) == length and is_valid_tracking(number)
    for typo in _typos(number):
        assert not is_valid_tracking(typo), (number, typo)


def test_a_digit_left_out_of_a_longer_number_never_lands_on_a_shorter_one() -> None:
    # The case the rule exists for: 8 digits with one left out are 7, the length most cases have.
    rng = random.Random(16)
    for _ in range(3000):
        number = new_tracking(rng, 8)
        for i in range(8):
            assert not is_valid_tracking(number[:i] + number[i + 1:])


@settings(max_examples=500, deadline=None)
@given(seed=seeds)
def test_an_8_digit_number_is_never_a_bolivian_phone_number(seed: int) -> None:
    number = new_tracking(random.Random(seed), 8)
    assert number[0] in "189" and not number.startswith("80")
    parsed = phonenumbers.parse(number, "BO")
    assert not phonenumbers.is_valid_number(parsed), number


@pytest.mark.parametrize("phone", ["71234567", "60012345", "22441234", "33345678", "44412345", "57123456",
                                   "50123456", "80010123"])
def test_bolivian_phone_numbers_are_not_tracking_numbers(phone: str) -> None:
    # Whatever their check digit: mobiles, La Paz/Santa Cruz/Cochabamba landlines, VoIP, toll-free.
    for d in "0123456789":
        assert not is_valid_tracking(phone[:7] + d)


def test_the_7_digit_numbers_given_before_keep_working() -> None:
    rng = random.Random(20240915)
    old = [new_tracking(rng) for _ in range(200)]
    assert all(len(n) == 7 and is_valid_tracking(n) for n in old)
    # Same draws as before numbers could grow: a seeded generator gives the same numbers.
    assert new_tracking(random.Random(7)) == new_tracking(random.Random(7), 7)


@pytest.mark.parametrize(("used", "length"), [
    ({}, 7),
    ({7: 449_999}, 7),
    ({7: 450_000}, 8),
    ({7: 450_000, 8: 690_872}, 8),
    ({7: 450_000, 8: 690_873}, 9),
    ({7: 900_000, 8: 2_000_000, 9: 10**8}, 9),  # the last length has no limit
])
def test_the_length_grows_when_half_of_a_length_is_taken(used: dict[int, int], length: int) -> None:
    assert length_to_draw(used) == length


def test_new_tracking_refuses_lengths_it_cannot_give() -> None:
    for length in (6, 10):
        with pytest.raises(ValueError, match="7 to 9 digits"):
            new_tracking(random.Random(1), length)


@pytest.mark.parametrize(("lengths", "phrase"), [
    (set(), "7"), ({7}, "7"), ({7, 8}, "7 u 8"), ({7, 8, 9}, "7, 8 o 9"), ({8}, "8")])
def test_digits_phrase(lengths: set[int], phrase: str) -> None:
    assert digits_phrase(lengths) == phrase


@pytest.mark.slow
def test_grow_at_is_half_of_the_valid_8_digit_numbers() -> None:
    # Counted, not estimated: every 8-digit number that starts right, with its check digit, minus
    # those a left-out digit would make a valid 7-digit number.  ~1 minute.
    valid = 0
    for start, stop in ((1_000_000, 2_000_000), (8_100_000, 10_000_000)):
        for body in range(start, stop):
            b = str(body)
            if is_valid_tracking(b + damm_check_digit(b)):
                valid += 1
    assert valid == 1_381_747
    assert GROW_AT[8] == valid // 2
    assert GROW_AT[7] == 900_000 // 2
