"""Which neighbourhood an SMS names: its code, or else its name as a person would write it.

Residents type on keypads, often with one finger, sometimes dictating to a grandchild: the
neighbourhood code comes as "b12", "B-12", "B 12", "#B12", "Barrio: b 12", first or last.  Many
do not know the code at all and write the name: "Sopocachi", "villa fatma", "en la zona de
Miraflores".  This module finds either, without a database: the caller passes the known places.

A code always wins over a name.  Names are compared without accents or capitals, word by word
against the words of the text, and forgive a typo or two in longer names:

* up to 4 letters: exact only (a short name is one letter away from too many words);
* 5 to 8 letters: one letter wrong, missing, extra, or two neighbours swapped;
* 9 letters or more: two such mistakes.

Guards keep ordinary Spanish from being taken for a name: a typo never changes the first letter
of a word ("dejar" is no "Tejar") nor a number ("Zona 16" is no "Zona 15"), in a name of up to 8
letters it never only changes the ending ("tejas" and "mallas" are words, not "Tejar" and
"Mallasa"), and words like "barrio", "zona", "villa" alone never name a place.  An unrecognised
name only costs a staff member a minute; a wrong one sends a crew to the wrong neighbourhood.

Several readings: the fewest typos win; over the same words a longer name beats a shorter one it
contains ("Villa San Antonio" over "San Antonio") unless that needs more typos; different places
left equal make the match ambiguous.  The code functions live here too (``parsing`` re-exports
them), so that parsing depends on matching and not the other way round.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from barriosms.domain.categories import fold

__all__ = [
    "Place",
    "PlaceMatch",
    "GENERIC_WORDS",
    "find_place",
    "is_generic",
    "name_key",
    "normalize_code",
    "valid_code",
    "find_code",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    """A neighbourhood as the matcher sees it: its code, name and other names residents use."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlaceMatch:
    """Where ``text[start:end]`` names a place.

    ``by`` is "code" or "name".  Several ``codes`` (sorted) mean the text names several places
    equally well: ambiguous.  ``distance`` is the number of typos forgiven (0: exact) and
    ``names`` the spelling (name or alias, as given) that matched, one per code; both only for
    ``by == "name"``.
    """

    codes: tuple[str, ...]
    start: int
    end: int
    by: str
    distance: int = 0
    names: tuple[str, ...] = ()


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
        # Not inside a longer token: "AB12", "B123", "B12X" and "calle 3" (code C3) do not match;
        # a word glued after the digits does ("b12hay un bache", "B05la luz": a missed space).
        rf"(?<![^\W_]){letters}({_SEP})(0*{significant})(?![0-9_]|[^\W\d_](?![^\W\d_]))",
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


# --- names -------------------------------------------------------------------------------------

# Words that say what kind of place follows, or join a name's words: on their own they name no
# neighbourhood ("la zona", "barrio alto", "villa"), so a name or alias made only of them is
# never looked for, and text made only of them never matches.
GENERIC_WORDS: Final = frozenset(
    "barrio barrios zona zonas villa urbanizacion urb calle avenida av plaza alto bajo "
    "san santa santo el la los las de del y".split()
)

_WORD: Final = re.compile(r"[^\W_]+")
_DIGITS: Final = re.compile(r"[0-9]+")

# How residents shorten the words before a name ("V. Copacabana", "Va. Fatima", "Urb. Los Rosales",
# "Z. Miraflores"): read as the whole word, which is generic (noise) unless a name starts with it.
_ABBREVIATIONS: Final = {
    "v": "villa", "va": "villa", "vlla": "villa", "vll": "villa",
    "urb": "urbanizacion", "urbaniz": "urbanizacion", "z": "zona", "zn": "zona", "bo": "barrio", "b": "barrio",
    "s": "san", "sn": "san", "sta": "santa", "sto": "santo",
}
# Names starting with these may be written without them ("Copacabana" for "Villa Copacabana"),
# but then exactly: the rest of the name alone forgives no typo.
_OPTIONAL_PREFIXES: Final = frozenset({"villa", "urbanizacion", "zona", "barrio"})
# Just before a name, these make another place: "Alto Obrajes" and "Bajo Llojeta" are not
# Obrajes and Llojeta, the "macrodistrito San Antonio" is no neighbourhood. After a name a
# qualifier is a part of it ("Pampahasi bajo"), unless the name was only an alias ("San Antonio
# bajo" is not surely Villa San Antonio): then the gateway asks.
_OTHER_PLACE_BEFORE: Final = frozenset({"alto", "bajo", "distrito", "macrodistrito"})
_OTHER_PLACE_AFTER: Final = frozenset({"alto", "bajo"})
_SOUNDS: Final = ((re.compile(r"ch"), "1"), (re.compile(r"ll"), "y"), (re.compile(r"qu"), "k"),
                  (re.compile(r"c(?=[ei])"), "s"), (re.compile(r"c"), "k"), (re.compile(r"z"), "s"),
                  (re.compile(r"v"), "b"), (re.compile(r"y\b"), "i"), (re.compile(r"h"), ""))


def _sound(key: str) -> str:
    """How a folded name sounds in Spanish: "obrajez" and "obrajes", "achumany" and "achumani",
    "pampajasi" and "pampahasi" sound alike; "tejas" and "tejar" do not."""
    for pattern, replacement in _SOUNDS:
        key = pattern.sub(replacement, key)
    return key.replace("j", "")


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(fold(text)))


def name_key(name: str) -> str:
    """The form names are compared in: words without accents or capitals ("Villa-Fátima" → "villa fatima")."""
    return " ".join(_words(name))


def is_generic(name: str) -> bool:
    """True if ``name`` has no word that could identify a place ("Villa", "la zona", "")."""
    return all(w in GENERIC_WORDS for w in _words(name))


def _allowed_typos(key: str) -> int:
    letters = len(key) - key.count(" ")
    return 0 if letters < 5 else 1 if letters <= 8 else 2


@dataclass(frozen=True)
class _Spelling:
    """One name or alias of a place, folded: ``key`` is its words joined by single spaces."""

    code: str
    written: str
    key: str
    words: tuple[str, ...]
    typos: int
    alias: bool = False  # not the place's name: another name residents use


@dataclass(frozen=True)
class _Index:
    exact: Mapping[str, tuple[_Spelling, ...]]
    # Spellings that forgive typos, by first letter (a typo never changes it).
    fuzzy: Mapping[str, tuple[_Spelling, ...]]
    longest: int  # most words in a spelling


@functools.lru_cache(maxsize=8)
def _index(places: tuple[Place, ...]) -> _Index:
    exact: dict[str, list[_Spelling]] = defaultdict(list)
    fuzzy: dict[str, list[_Spelling]] = defaultdict(list)
    longest = 0
    for place in places:
        code = normalize_code(place.code)
        seen: set[str] = set()
        for number, written in enumerate((place.name, *place.aliases)):
            words = _words(written)
            key = " ".join(words)
            if key in seen or all(w in GENERIC_WORDS for w in words):
                continue
            seen.add(key)
            spelling = _Spelling(code, written.strip(), key, words, _allowed_typos(key), alias=number > 0)
            exact[key].append(spelling)
            if spelling.typos:
                fuzzy[key[0]].append(spelling)
                if key[0] == "h" and len(key) > 1:
                    # The h is silent: "Ampaturi" is looked for among the names in "a" too.
                    fuzzy[key[1]].append(spelling)
            longest = max(longest, len(words))
    # "Copacabana" for "Villa Copacabana": exactly, as an alias, and only if no place is called so.
    shortened: dict[str, list[_Spelling]] = defaultdict(list)
    for spellings in list(exact.values()):
        for spelling in spellings:
            rest = spelling.words[1:]
            key = " ".join(rest)
            if spelling.words[0] in _OPTIONAL_PREFIXES and key not in exact and not all(w in GENERIC_WORDS for w in rest):
                shortened[key].append(_Spelling(spelling.code, spelling.written, key, rest, 0, alias=True))
    for key, spellings in shortened.items():
        exact[key] = list({s.code: s for s in spellings}.values())
    return _Index(
        exact={k: tuple(v) for k, v in exact.items()},
        fuzzy={k: tuple(v) for k, v in fuzzy.items()},
        longest=longest,
    )


def _distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (optimal string alignment) of ``a`` and ``b``, capped at
    ``limit + 1``: the computation stops as soon as the answer is known to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, before[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return min(previous[-1], limit + 1)


def _silent_h(word: str) -> str:
    return word[1:] if word.startswith("h") and len(word) > 1 else word


def _plausible_typo(words: tuple[str, ...], spelling: _Spelling) -> bool:
    """A typo, not another word: first letters and numbers kept, and (short names) not just
    another ending."""
    if len(words) == len(spelling.words) and any(_silent_h(w)[0] != _silent_h(s)[0]
                                                 for w, s in zip(words, spelling.words)):
        return False
    typed, name = " ".join(words), spelling.key
    if _DIGITS.findall(typed) != _DIGITS.findall(name):
        return False  # "zona 16" is no typo of "zona 15": numbers tell places apart
    if spelling.typos > 1 or _sound(typed) == _sound(name):
        return True  # a long name, or one spelt as it sounds ("Obrajez", "Achumany")
    if len(typed) == len(name):
        return typed[:-1] != name[:-1]  # "tejas" / "tejar": a Spanish ending, not a typo
    shorter, longer = sorted((typed, name), key=len)
    return not longer.startswith(shorter)  # "mallas" / "mallasa", "obrajess"


@dataclass(frozen=True)
class _Candidate:
    spelling: _Spelling
    first: int  # token index
    last: int  # token index, exclusive
    distance: int


def _candidates(tokens: Sequence[str], index: _Index) -> list[_Candidate]:
    found = []
    for first in range(len(tokens)):
        # One word more than the longest name: "villafatima" typed as one word is found by
        # the one-word n-gram, "san an tonio" by a three-word one.
        for last in range(first + 1, min(len(tokens), first + index.longest + 1) + 1):
            words = tuple(tokens[first:last])
            if all(w in GENERIC_WORDS for w in words):
                continue
            typed = " ".join(words)
            for spelling in index.exact.get(typed, ()):
                found.append(_Candidate(spelling, first, last, 0))
            for spelling in index.fuzzy.get(typed[0], ()):
                if spelling.key == typed or abs(len(spelling.key) - len(typed)) > spelling.typos:
                    continue
                distance = _distance(typed, spelling.key, spelling.typos)
                if distance <= spelling.typos and _plausible_typo(words, spelling):
                    found.append(_Candidate(spelling, first, last, distance))
    return found


def _contains(outer: _Candidate, inner: _Candidate) -> bool:
    """``outer`` is a longer name, read at least as exactly over words that include ``inner``'s.

    An exact shorter name still beats a longer one read with a typo: in "san pedro al lado" a
    "San Pedro Alto" would otherwise swallow "al".
    """
    return (
        outer.first <= inner.first
        and inner.last <= outer.last
        and len(outer.spelling.words) > len(inner.spelling.words)
        and outer.distance <= inner.distance
    )


def _another_place(tokens: Sequence[str], c: _Candidate) -> bool:
    """The name is part of another place's: "Alto Obrajes", "San Antonio bajo" (an alias)."""
    before = tokens[c.first - 1] if c.first > 0 else ""
    after = tokens[c.last] if c.last < len(tokens) else ""
    return before in _OTHER_PLACE_BEFORE or (c.spelling.alias and after in _OTHER_PLACE_AFTER)


def _find_name(text: str, places: tuple[Place, ...]) -> PlaceMatch | None:
    index = _index(places)
    spans: list[tuple[int, int]] = []
    tokens: list[str] = []
    for m in _WORD.finditer(text):
        # Folding may split a token ("½" → "1⁄2"): every piece keeps the span of the original.
        for word in _WORD.findall(fold(m.group())):
            tokens.append(word)
            spans.append((m.start(), m.end()))
    # "vfatima": "V." glued to the name (no Spanish word starts with v and a consonant but "vlla").
    glued = [(i, t) for i, t in enumerate(tokens)
             if len(t) > 4 and t[0] == "v" and t[1] not in "aeiouy" and t not in _ABBREVIATIONS and not t[1].isdigit()]
    for i, t in reversed(glued):
        tokens[i:i + 1] = ["villa", t[1:]]
        spans[i:i + 1] = [spans[i], spans[i]]
    # "V. Copacabana", "Urb. Los Rosales": an abbreviation before a word is the whole word.
    tokens = [_ABBREVIATIONS.get(t, t) if i + 1 < len(tokens) and not tokens[i + 1].isdigit() else t
              for i, t in enumerate(tokens)]
    found = _candidates(tokens, index)
    # "Villa San Antonio" over "San Antonio" read from the same words.
    found = [c for c in found if not any(_contains(o, c) for o in found)]
    found = [c for c in found if not _another_place(tokens, c)]
    if not found:
        return None
    best = min(c.distance for c in found)
    # Per place its earliest best reading; the earliest of those gives the span.
    per_code: dict[str, _Candidate] = {}
    for c in sorted(found, key=lambda c: (c.first, c.last)):
        if c.distance == best:
            per_code.setdefault(c.spelling.code, c)
    codes = tuple(sorted(per_code))
    first = min(per_code.values(), key=lambda c: (c.first, c.last))
    return PlaceMatch(
        codes=codes,
        start=spans[first.first][0],
        end=spans[first.last - 1][1],
        by="name",
        distance=best,
        names=tuple(per_code[code].spelling.written for code in codes),
    )


def find_place(text: str, places: Sequence[Place]) -> PlaceMatch | None:
    """The place ``text`` names: a known code (always first), else a name or alias; or None."""
    places = tuple(places)
    found = find_code(text, (p.code for p in places))
    if found is not None:
        code, start, end = found
        return PlaceMatch((code,), start, end, "code")
    return _find_name(text, places)
