"""Tracking numbers: 6 random digits plus a Damm check digit.

A resident copies the number by hand from one SMS into another on a keypad.  The Damm check digit
catches every single mistyped digit and every swap of two neighbouring digits, so a typo is
answered with "that number is not valid" instead of showing someone else's case.
"""

from __future__ import annotations

import random
from typing import Final

__all__ = ["TRACKING_LENGTH", "damm_check_digit", "damm_valid", "is_valid_tracking", "new_tracking"]

TRACKING_LENGTH: Final = 7

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


def is_valid_tracking(number: str) -> bool:
    """True for exactly :data:`TRACKING_LENGTH` ASCII digits with a correct Damm check digit."""
    return isinstance(number, str) and len(number) == TRACKING_LENGTH and damm_valid(number)


def new_tracking(rng: random.Random) -> str:
    """A fresh tracking number: 6 random digits (first one non-zero) + Damm check digit.

    The first digit is non-zero so that spreadsheets and phones that drop leading zeros cannot
    change the number.  Uniqueness is the store's job (retry on collision); ``rng`` is passed in
    so tests are deterministic and production can use ``random.SystemRandom()``.
    """
    body = str(rng.randint(10 ** (TRACKING_LENGTH - 2), 10 ** (TRACKING_LENGTH - 1) - 1))
    return body + damm_check_digit(body)
