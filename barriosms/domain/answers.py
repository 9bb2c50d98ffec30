"""What a resident's SMS is when staff are waiting for an answer: pure functions, no store.

Staff may have asked a reporter something (`cases ask`), written to them (`cases message`) or
asked whether a resolved case was really fixed (1 = yes, 2 = no). The resident's next SMS is then
usually the answer, not a new report; these functions read it:

* ``survey_answer("1")`` → "yes"; ``"2 sigue el bache"`` → "no"; ``"si"``/``"sí, gracias"`` → "yes".
* ``leading_tracking("2408917 si esta frente a la escuela")`` → ("2408917", "si esta frente a la escuela"):
  the resident says which case they answer about.
* ``starts_with_code("B12 hay otro bache", codes)``: a message that starts with a neighbourhood
  code is a new report even while an answer is awaited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from barriosms.domain.categories import fold
from barriosms.domain.matching import find_code
from barriosms.domain.tracking import LONGEST, TRACKING_LENGTH, is_valid_tracking

__all__ = ["Routed", "survey_answer", "leading_tracking", "starts_with_code"]

_YES: Final = frozenset({"1", "si", "sii", "yes", "ok"})
_NO: Final = frozenset({"2", "no", "nop"})
_FIRST_WORD: Final = re.compile(r"\s*([^\s.,;:!?¡¿]+)")
_LEADING_TRACKING: Final = re.compile(r"\s*(?:#|n(?:ro|o|umero)?\.?\s*)?(\d[\d ]{%d,%d})(?=\D|$)" % (
    TRACKING_LENGTH - 1, LONGEST + 2))
_LEADING_PLAIN: Final = re.compile(r"\s*(?:#|n(?:ro|o|umero)?\.?\s*)?(\d{%d,%d})(?!\d)" % (TRACKING_LENGTH, LONGEST))
# Separators people put between a code and the rest, or before it.
_LEAD: Final = re.compile(r"^[\s#:.\-]*")


@dataclass(frozen=True)
class Routed:
    """A message taken as part of a conversation about a case, and what to answer.

    intent: the name stored on the message (answer, survey_yes, survey_no, which_case, ...).
    reply: the SMS to send back ("" for none); case: the case it now belongs to (None while unclear).
    """

    intent: str
    reply: str = ""
    case: object | None = None


def survey_answer(text: str) -> str | None:
    """"yes" or "no" when the message's first word answers "Responda 1 si, 2 no"; else None."""
    m = _FIRST_WORD.match(fold(text))
    if not m:
        return None
    word = m.group(1)
    if word in _YES:
        return "yes"
    if word in _NO:
        return "no"
    return None


def leading_tracking(text: str) -> tuple[str, str] | None:
    """A tracking number the message starts with (spaces inside forgiven) and the rest; else None.

    Seven digits in a row win ("2408917 2" is case 2408917 and the answer 2); otherwise digits
    split by spaces count when they make exactly seven ("240 8917 no").
    """
    plain = _LEADING_PLAIN.match(text)
    # 8 or 9 digits are a tracking number only when valid (numbers grew a digit after 450,000 cases).
    m = plain if plain and (len(plain.group(1)) == TRACKING_LENGTH or is_valid_tracking(plain.group(1))) else None
    m = m or _LEADING_TRACKING.match(text)
    if not m:
        return None
    digits = m.group(1).replace(" ", "")
    if len(digits) != TRACKING_LENGTH and not is_valid_tracking(digits):
        return None
    return digits, text[m.end():].strip(" \t\r\n,.:;-")


def starts_with_code(text: str, codes: Iterable[str]) -> bool:
    """Whether the message begins with a known neighbourhood code ("B12 ...", "#b-12 ...")."""
    found = find_code(text, codes)
    if found is None:
        return False
    _code, start, _end = found
    return not text[:start].strip(" \t\r\n#:.-")
