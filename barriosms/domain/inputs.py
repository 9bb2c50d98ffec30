"""Numbers typed by clients of the website and the API: parsed strictly, never with a surprise.

`int()` and `float()` are lenient in ways a public site must not be: they accept every script's
digits ("٣" is 3, while "²" passes str.isdigit() and then makes int() raise), underscores ("1_0"
is 10), "nan", "inf" and "1e999" (infinite), and int() raises on a string of more than 4,300
digits. Here only ASCII digits in the plain forms people write are numbers, lengths are bounded
before any conversion, and anything else is None, so callers answer 4xx or use a default.
"""

from __future__ import annotations

import math
import re

__all__ = ["ascii_int", "degrees"]

MAX_INT_DIGITS = 18  # below 2**63: fits every SQLite integer, and int() of it is instant
MAX_DECIMAL_LENGTH = 40

_INT = re.compile(r"[0-9]+")
# 12, -16.5, +16., .5, -16.500000, 1.5e-3: what a person, a map script or another program writes.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def ascii_int(raw: str | None, low: int, high: int) -> int | None:
    """`raw` (spaces around allowed) as a whole number within [low, high], else None."""
    text = (raw or "").strip()
    if not text or len(text) > MAX_INT_DIGITS or not _INT.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def degrees(raw: str | None, low: float, high: float) -> float | None:
    """`raw` as a finite decimal number within [low, high] (a latitude or longitude), else None."""
    text = (raw or "").strip()
    if not text or len(text) > MAX_DECIMAL_LENGTH or not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) and low <= value <= high else None
