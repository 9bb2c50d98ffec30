"""What a field crew's SMS asks for: the PIN first, then the command.

    4821 2408917 RESUELTO se tapo el bache     the case's status (and a public note)
    4821 2408917 NOTA llevamos material         a public note, sent to the reporters
    4821 2408917 INTERNA falta una volqueta     an internal note, never sent
    4821 LISTA                                  the open cases assigned to the crew
    4821 AYUDA                                  the commands

Case and accents are ignored; the status is any name :func:`domain.statuses.parse_status` takes
("resuelto", "en proceso", "En-Revisión", "in_progress"). The tracking number may be written in
groups ("240 8917") and is checked by its check digit: a mistyped one is :class:`BadTracking`, never
another case.

Only a text shaped like a command is one: a first word of 4 to 8 digits (the PIN) followed by a
number or a command word. A tracking number alone ("2408917", a status query) or followed by other
words ("2408917 frente a la escuela", an answer) is not: from a crew's phone it is read as any
resident's message. Pure: whether the PIN is right, and whether the phone is a crew's, is the
caller's (cases.crews, pipeline.crewdesk).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from barriosms.domain.statuses import Status, UnknownStatus, parse_status
from barriosms.domain.tracking import TRACKING_LENGTH, is_valid_tracking
from barriosms.domain.words import fold

__all__ = [
    "PIN_MIN",
    "PIN_MAX",
    "PIN_MASK",
    "LIST_WORDS",
    "HELP_WORDS",
    "NOTE_WORDS",
    "INTERNAL_WORDS",
    "ListCases",
    "CrewHelp",
    "SetStatus",
    "AddNote",
    "BadTracking",
    "CrewCommand",
    "is_pin",
    "parse_crew_command",
    "mask_pin",
]

PIN_MIN: Final = 4
PIN_MAX: Final = 8
# What the PIN becomes in the stored text: the same for every PIN, so not even its length is kept.
PIN_MASK: Final = "****"

LIST_WORDS: Final = frozenset({"lista", "listado"})
HELP_WORDS: Final = frozenset({"ayuda", "comandos"})
NOTE_WORDS: Final = frozenset({"nota"})
INTERNAL_WORDS: Final = frozenset({"interna", "interno"})

# Words: runs of ASCII digits, or of letters with their accents (any script; "_" and other digits
# separate words).
_TOKEN: Final = re.compile(r"[0-9]+|(?:[^\W\d_]|[\u0300-\u036f])+")
# Between the groups of one tracking number: "240 8917", "240-8917", "240.8917".
_GROUP_SEPARATOR: Final = re.compile(r"[ \t.\-]*")
# What may come between the command and its text: "RESUELTO: se tapo", "NOTA - llevamos".
NOTE_LEAD: Final = " \t\r\n:;,.-"


@dataclass(frozen=True)
class ListCases:
    """``PIN LISTA``: the open cases assigned to the crew."""

    pin: str


@dataclass(frozen=True)
class CrewHelp:
    """``PIN AYUDA``, or a command that says too little to act on (``word`` says what was not
    understood: "" when help was asked for, a word, or "nota" with no text after it)."""

    pin: str
    tracking: str | None = None
    word: str = ""


@dataclass(frozen=True)
class SetStatus:
    """``PIN TRACKING ESTADO [nota]``: move the case; the note is public."""

    pin: str
    tracking: str
    status: Status
    note: str = ""


@dataclass(frozen=True)
class AddNote:
    """``PIN TRACKING NOTA texto`` (public) or ``PIN TRACKING INTERNA texto`` (internal)."""

    pin: str
    tracking: str
    text: str
    public: bool


@dataclass(frozen=True)
class BadTracking:
    """A number in the place of the tracking number that is not one (a digit wrong or missing)."""

    pin: str
    number: str


CrewCommand = ListCases | CrewHelp | SetStatus | AddNote | BadTracking

# Every word a command may start with after the PIN (a one-word status too): "4821 resuelto" is a
# crew's command with its tracking number missing, not a resident's message.
_COMMAND_WORDS: Final = LIST_WORDS | HELP_WORDS | NOTE_WORDS | INTERNAL_WORDS


def is_pin(text: str) -> bool:
    """4 to 8 ASCII digits."""
    return PIN_MIN <= len(text) <= PIN_MAX and all("0" <= c <= "9" for c in text)


def _status_at(tokens: list[re.Match[str]], i: int, text: str) -> tuple[Status, int] | None:
    """The status named by the words at ``tokens[i]`` (two words, "en proceso", or one) and the
    index of the first token after it."""
    for count in (2, 1):
        if i + count > len(tokens) or any(t.group().isdigit() for t in tokens[i:i + count]):
            continue
        try:
            return parse_status(text[tokens[i].start():tokens[i + count - 1].end()]), i + count
        except UnknownStatus:
            continue
    return None


def _is_command_word(token: str) -> bool:
    word = fold(token)
    if word in _COMMAND_WORDS:
        return True
    try:
        parse_status(word)
    except UnknownStatus:
        return False
    return True


def _rest(text: str, start: int) -> str:
    """What follows a command word: the note, as written, without what leads into it."""
    return text[start:].lstrip(NOTE_LEAD).strip()


def parse_crew_command(text: str) -> CrewCommand | None:
    """The crew command ``text`` is, or None when it is not shaped as one (then it is a resident's)."""
    tokens = list(_TOKEN.finditer(text))
    if len(tokens) < 2 or text[:tokens[0].start()].strip(NOTE_LEAD):
        return None
    pin, second = tokens[0].group(), tokens[1].group()
    if not is_pin(pin):
        return None
    if not second.isdigit():
        if not _is_command_word(second):
            return None
        word = fold(second)
        if word in LIST_WORDS:
            return ListCases(pin)
        return CrewHelp(pin, None, "" if word in HELP_WORDS else word)
    # The tracking number: digit groups until it has its length ("240 8917").
    number, i, end = "", 1, tokens[0].end()
    while i < len(tokens) and tokens[i].group().isdigit() and len(number) < TRACKING_LENGTH:
        between = text[end:tokens[i].start()]
        if number and _GROUP_SEPARATOR.fullmatch(between) is None:
            break
        number += tokens[i].group()
        end = tokens[i].end()
        i += 1
    if not is_valid_tracking(number):
        return BadTracking(pin, number)
    if i >= len(tokens):
        return CrewHelp(pin, number, "")
    word = fold(tokens[i].group())
    if word in NOTE_WORDS or word in INTERNAL_WORDS:
        note = _rest(text, tokens[i].end())
        if not note:
            return CrewHelp(pin, number, word)
        return AddNote(pin, number, note, public=word in NOTE_WORDS)
    found = _status_at(tokens, i, text)
    if found is None:
        return CrewHelp(pin, number, tokens[i].group())
    status, after = found
    return SetStatus(pin, number, status, _rest(text, tokens[after - 1].end()))


def mask_pin(text: str) -> str:
    """``text`` with the PIN of the crew command it is replaced by :data:`PIN_MASK`, to be stored
    (or shown) without it; any other text unchanged."""
    if parse_crew_command(text) is None:
        return text
    first = _TOKEN.search(text)
    assert first is not None  # a command has its PIN
    return text[:first.start()] + PIN_MASK + text[first.end():]
