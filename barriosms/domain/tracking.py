"""Tracking numbers: random digits plus a Damm check digit, 7 digits long while they last.

A resident copies the number by hand from one SMS into another on a keypad.  The Damm check digit
catches every single mistyped digit and every swap of two neighbouring digits, so a typo is
answered with "that number is not valid" instead of showing someone else's case.

Seven digits give 900,000 numbers.  Drawing at random among them stays cheap while at most half
are taken (two draws on average); after that, new numbers get 8 digits, then 9 (see
:func:`length_to_draw`), and every number already given keeps working.  Two rules keep the typo
guarantees across lengths:

* An 8-digit number starts with 1, 9, or 8 and a digit other than 0: Bolivian phone numbers are 8
  digits starting 2-7 (landlines 2/3/4, mobiles 6/7 and 57, VoIP 50) and toll-free ones 800, so
  a phone number written in an SMS is never taken for a case, nor a case for a phone.
* A longer number is valid only if no digit dropped from it leaves a valid shorter number.  So a
  digit left out of an 8-digit number, or one typed twice into a 7-digit number, never lands on
  another resident's case: every single substitution, neighbour swap, omission or insertion
  gives an invalid number.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Final

__all__ = [
    "GROW_AT", "LONGEST", "SHORTEST", "TRACKING_LENGTH", "damm_check_digit", "damm_valid", "digits_phrase",
    "is_valid_tracking", "length_to_draw", "new_tracking",
]

SHORTEST: Final = 7
LONGEST: Final = 9
# The length of every number given before numbers could grow, and still of most.
TRACKING_LENGTH: Final = SHORTEST

# Grow a digit once this many numbers of a length are taken: half of the valid numbers of that
# length, so that a random draw is free at least every other time (2 draws expected at worst).
# 7 digits: 900,000 numbers.  8 digits: 1,381,747 (counted by tests/test_tracking.py, slow).
# The last length has no limit: half of its ~42 million numbers lasts a municipality for ever.
GROW_AT: Final[Mapping[int, int]] = {7: 450_000, 8: 690_873}

# The totally anti-symmetric quasigroup of order 10 from H. M. Damm (2004), row = interim digit,
# column = next digit.  Zero diagonal, so a number followed by its check digit reduces to 0.
_DAMM_TABLE: Final[tuple[tuple[int, ...], ...]] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

_ASCII_DIGITS: Final = frozenset("0123456789")
# The 7-digit bodies (8-digit numbers without their check digit) that may start an 8-digit
# number: 1000000-1999999, 8100000-9999999.
_BODIES_8: Final = ((1_000_000, 1_000_000), (8_100_000, 1_900_000))


def _is_ascii_digits(s: str) -> bool:
    # str.isdigit() also accepts "²" or Arabic-Indic digits, which int() would then choke on or
    # silently accept; tracking numbers are plain ASCII.
    return bool(s) and all(c in _ASCII_DIGITS for c in s)


def _damm_interim(digits: str) -> int:
    interim = 0
    for c in digits:
        interim = _DAMM_TABLE[interim][ord(c) - 48]
    return interim


def damm_check_digit(digits: str) -> str:
    """The Damm check digit for ``digits`` (ASCII 0-9), e.g. ``"572"`` → ``"4"``."""
    if digits and not _is_ascii_digits(digits):
        raise ValueError(f"not a string of digits 0-9: {digits!r}")
    return str(_damm_interim(digits))


def damm_valid(number: str) -> bool:
    """True if ``number`` (ASCII digits, check digit last) passes the Damm check."""
    return _is_ascii_digits(number) and _damm_interim(number) == 0


def _starts_right(number: str) -> bool:
    if len(number) == 8:
        return number[0] in "19" or (number[0] == "8" and number[1] != "0")
    return number[0] != "0"  # spreadsheets and phones drop leading zeros


def is_valid_tracking(number: str) -> bool:
    """True for a tracking number that could have been given: 7 to 9 ASCII digits, a correct
    Damm check digit, the right first digits for its length, and (8 or 9 digits) no digit that
    could be left out to give a valid shorter number."""
    if not isinstance(number, str) or not SHORTEST <= len(number) <= LONGEST:
        return False
    if not damm_valid(number) or not _starts_right(number):
        return False
    if len(number) == SHORTEST:
        return True
    return not any(is_valid_tracking(number[:i] + number[i + 1:]) for i in range(len(number)))


def length_to_draw(used: Mapping[int, int]) -> int:
    """How many digits a new number gets, given how many numbers of each length are ``used``:
    the shortest length less than half taken (:data:`GROW_AT`), else the longest."""
    for length in range(SHORTEST, LONGEST):
        if used.get(length, 0) < GROW_AT[length]:
            return length
    return LONGEST


def _body(rng: random.Random, length: int) -> str:
    if length == 8:
        pick = rng.randrange(sum(size for _start, size in _BODIES_8))
        for start, size in _BODIES_8:
            if pick < size:
                return str(start + pick)
            pick -= size
    return str(rng.randint(10 ** (length - 2), 10 ** (length - 1) - 1))


def new_tracking(rng: random.Random, length: int = SHORTEST) -> str:
    """A fresh valid tracking number of ``length`` digits: random digits (first one non-zero) +
    Damm check digit.

    Uniqueness is the store's job (retry on collision); ``rng`` is passed in so tests are
    deterministic and production can use ``random.SystemRandom()``.  Longer numbers are drawn again
    when a digit left out would give a valid shorter one (about half of them): no store involved.
    """
    if not SHORTEST <= length <= LONGEST:
        raise ValueError(f"tracking numbers have {SHORTEST} to {LONGEST} digits, not {length}")
    while True:
        body = _body(rng, length)
        number = body + damm_check_digit(body)
        if is_valid_tracking(number):
            return number


def digits_phrase(lengths: set[int] | frozenset[int]) -> str:
    """How many digits the numbers in use have, for a resident's SMS: "7", "7 u 8", "7, 8 u 9"."""
    shown = [str(n) for n in sorted(lengths or {SHORTEST})]
    if len(shown) == 1:
        return shown[0]
    # Spanish writes "u" instead of "o" before a word starting with an "o" sound: "7 u 8" (ocho).
    joiner = " u " if shown[-1] == "8" else " o "
    return ", ".join(shown[:-1]) + joiner + shown[-1]
