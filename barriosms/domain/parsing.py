"""What a resident's SMS asks for: a report, a status query, help, or nothing we can route.

Residents type on keypads, often with one finger, sometimes dictating to a grandchild: the
neighbourhood code comes as "b12", "B-12", "B 12", "#B12", "Barrio: b 12", first or last; the
tracking number with spaces or after "ESTADO".  This module is pure: the caller passes the known
neighbourhood codes and gets back one frozen intent object.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias

from .categories import fold
from .tracking import is_valid_tracking

__all__ = [
    "Report",
    "MissingDescription",
    "StatusQuery",
    "InvalidTracking",
    "Help",
    "Unroutable",
    "Intent",
    "normalize_code",
    "valid_code",
    "find_code",
    "classify",
]

log = logging.getLogger(__name__)


# --- intents -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """A problem report for a known neighbourhood.  ``code`` is normalised ("B12")."""

    code: str
    description: str


@dataclass(frozen=True)
class MissingDescription:
    """Only a neighbourhood code was sent: ask for the problem."""

    code: str


@dataclass(frozen=True)
class StatusQuery:
    """A well-formed tracking number (7 digits, Damm-valid)."""

    tracking: str


@dataclass(frozen=True)
class InvalidTracking:
    """Looks like a status query, but ``number`` (digits only) is no valid tracking number.

    Answered with "check the number": never guess a near match, that would be another
    resident's case.
    """

    number: str


@dataclass(frozen=True)
class Help:
    """AYUDA, INFO, "?", or an empty message."""


@dataclass(frozen=True)
class Unroutable:
    """No known neighbourhood code: kept for staff to read and route by hand."""

    text: str


Intent: TypeAlias = Report | MissingDescription | StatusQuery | InvalidTracking | Help | Unroutable


# --- neighbourhood codes -----------------------------------------------------------------------

_CODE: Final = re.compile(r"([A-Z]{1,4})([0-9]{1,4})")
_NON_ALNUM: Final = re.compile(r"[\W_]+")
# Between the letters and the digits people put spaces, dashes, dots, colons, "#".
_SEP: Final = r"[\s.\-_:/#]{0,3}"
# Short Spanish words that, followed by a number, are ordinary text ("a 3 cuadras", "y 2 postes",
# "la 5"), not a code typed with a space.  Such a spaced match only counts if nothing else does.
_SPANISH_SHORT_WORDS: Final = frozenset(
    "a e o u y al de del el en es ha la las lo los le mi ni no se si su tu un una va ya".split()
)


def normalize_code(code: str) -> str:
    """The stored spelling of a code: upper case, separators removed ("b-12" → "B12")."""
    return _NON_ALNUM.sub("", code).upper()


def valid_code(code: str) -> bool:
    """True if ``code`` normalises to 1-4 letters A-Z followed by 1-4 digits."""
    return _CODE.fullmatch(normalize_code(code)) is not None


@dataclass(frozen=True)
class _CodePattern:
    code: str
    letters: str
    digits: str
    regex: re.Pattern[str]


def _code_pattern(code: str) -> _CodePattern:
    m = _CODE.fullmatch(code)
    assert m is not None
    letters, digits = m.groups()
    # Leading zeros are optional both ways: a poster says "Z-04", the resident types "Z4".
    significant = digits.lstrip("0") or "0"
    regex = re.compile(
        # Not inside a longer token: "AB12", "B123", "B12X" and "calle 3" (code C3) do not match.
        rf"(?<![^\W_]){letters}({_SEP})(0*{significant})(?![^\W_])",
        re.IGNORECASE,
    )
    return _CodePattern(code, letters, digits, regex)


@functools.lru_cache(maxsize=8)
def _patterns(codes: tuple[str, ...]) -> tuple[_CodePattern, ...]:
    patterns = []
    for code in codes:
        if _CODE.fullmatch(code):
            patterns.append(_code_pattern(code))
        else:
            # One bad row must not stop every other neighbourhood from being recognised.
            log.warning("ignoring neighbourhood code %r: not 1-4 letters + 1-4 digits", code)
    return tuple(patterns)


def find_code(text: str, codes: Iterable[str]) -> tuple[str, int, int] | None:
    """The first known neighbourhood code in ``text``: ``(normalised code, start, end)`` or None.

    ``start``/``end`` delimit the code as typed (from its first letter to its last digit).
    """
    key = tuple(sorted({normalize_code(c) for c in codes}))
    best: tuple[tuple[int, int, int, int], str, int, int] | None = None
    for p in _patterns(key):
        for m in p.regex.finditer(text):
            sep, typed_digits = m.group(1), m.group(2)
            weak = bool(sep.strip() == "" and sep) and p.letters.lower() in _SPANISH_SHORT_WORDS
            rank = (
                int(weak),  # "a 3 cuadras" loses to any real code in the text
                m.start(),  # earliest wins
                int(typed_digits != p.digits),  # "Z04" prefers code Z04 over Z4 if both exist
                -(m.end() - m.start()),
            )
            if best is None or rank < best[0]:
                best = (rank, p.code, m.start(), m.end())
            if not weak:
                break  # a later match of the same code can only rank lower
    if best is None:
        return None
    return best[1], best[2], best[3]


# --- descriptions ------------------------------------------------------------------------------

_EDGE_SEPARATORS: Final = "#:.,;-/ \t\r\n"
# "barrio" / "zona" written just before the code ("Barrio: b 12", "zona #Z-04").
_AREA_WORD_AT_END: Final = re.compile(
    r"(?:^|(?<=[\s,.;:]))(?:barrio|zona)[\s#:.\-]*$", re.IGNORECASE
)
_HAS_CONTENT: Final = re.compile(r"[^\W_]")


def _description(text: str, start: int, end: int) -> str:
    before = text[:start].rstrip(_EDGE_SEPARATORS)
    before = _AREA_WORD_AT_END.sub("", before).rstrip(_EDGE_SEPARATORS)
    after = text[end:].lstrip(_EDGE_SEPARATORS)
    return " ".join(part for part in (before.strip(), after.strip()) if part)


# --- status queries and help -------------------------------------------------------------------

# [0-9], not \d: \d also matches Arabic-Indic and other digits, which are no tracking numbers.
_DIGIT_GROUP: Final = r"([0-9](?:[0-9\s.\-]*[0-9])?)"
# Only digits, spaces, dashes (and dots): "1234567", "123 4567", "#123-4567".
_BARE_NUMBER: Final = re.compile(rf"\s*#?\s*{_DIGIT_GROUP}[\s.?!]*")
# "estado 1234567", "Estado: 123 4567", "caso #1234567", "consulta del caso nro 1234567 gracias".
_STATUS_WORDS: Final = r"(?:estado|consulta|caso)"
_FILLER_WORDS: Final = r"(?:estado|consulta|caso|reclamo|de|del|mi|el|su|numero|nro|no|n)"
# A word ends here, though it may run straight into the digits: "estado2408917".
_NOT_LETTER: Final = r"(?![^\W\d_])"
_KEYWORD_NUMBER: Final = re.compile(
    rf"\W*{_STATUS_WORDS}{_NOT_LETTER}"
    rf"(?:[\W_]*{_FILLER_WORDS}{_NOT_LETTER})*"
    rf"[\W_]*{_DIGIT_GROUP}[^0-9]*"
)
_WORD: Final = re.compile(r"[^\W_]+")
_HELP_WORDS: Final = frozenset({"ayuda", "info", "informacion", "help", "menu"})
# A status word with no number is someone who does not know what to send: help explains it.
_BARE_STATUS_WORDS: Final = frozenset({"estado", "consulta", "caso"})
_POLITE_WORDS: Final = frozenset({"por", "favor", "porfa", "porfavor", "gracias", "hola"})


def _is_help(folded: str) -> bool:
    words = _WORD.findall(folded)
    if not words:
        return True  # empty, blank, "?", an emoji: nothing we could act on
    keywords = [w for w in words if w not in _POLITE_WORDS]
    return len(keywords) == 1 and keywords[0] in _HELP_WORDS | _BARE_STATUS_WORDS


def _status_number(folded: str) -> str | None:
    """The digits of a status query ("123 4567" → "1234567"), or None if not one."""
    m = _BARE_NUMBER.fullmatch(folded) or _KEYWORD_NUMBER.fullmatch(folded)
    if m is None:
        return None
    return re.sub(r"[^0-9]", "", m.group(1))


# --- classification ----------------------------------------------------------------------------


def classify(text: str, codes: Iterable[str]) -> Intent:
    """Decide what ``text`` asks for: help → status query → report (code found) → unroutable."""
    # Matching works on a folded copy ("ESTÁDO" = "estado"); what we keep is the resident's text.
    folded = fold(text)
    if _is_help(folded):
        return Help()
    number = _status_number(folded)
    if number is not None:
        return StatusQuery(number) if is_valid_tracking(number) else InvalidTracking(number)
    found = find_code(text, codes)
    if found is None:
        return Unroutable(text)
    code, start, end = found
    description = _description(text, start, end)
    if not _HAS_CONTENT.search(description):
        return MissingDescription(code)
    return Report(code, description)
