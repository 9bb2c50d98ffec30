"""A crew's SMS read as a command (domain.crewcommands): examples, then properties over generated texts."""

from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from barriosms.domain.crewcommands import (
    NOTE_LEAD,
    PIN_MASK,
    AddNote,
    BadTracking,
    CrewHelp,
    ListCases,
    SetStatus,
    is_pin,
    mask_pin,
    parse_crew_command,
)
from barriosms.domain.statuses import SPANISH_NAMES, STATUSES
from barriosms.domain.tracking import damm_check_digit, is_valid_tracking, new_tracking

TRACKING = "2408917"  # valid (Damm)
assert is_valid_tracking(TRACKING)


@pytest.mark.parametrize(("text", "command"), [
    ("4821 2408917 RESUELTO se tapo el bache", SetStatus("4821", TRACKING, "resolved", "se tapo el bache")),
    ("4821 2408917 resuelto", SetStatus("4821", TRACKING, "resolved", "")),
    ("4821 2408917 En Proceso: vamos el lunes", SetStatus("4821", TRACKING, "in_progress", "vamos el lunes")),
    ("4821 2408917 en-revisión", SetStatus("4821", TRACKING, "reviewing", "")),
    ("4821 2408917 EN_PROCESO", SetStatus("4821", TRACKING, "in_progress", "")),
    ("4821 2408917 rechazado no es municipal", SetStatus("4821", TRACKING, "rejected", "no es municipal")),
    ("4821 2408917 in progress", SetStatus("4821", TRACKING, "in_progress", "")),
    ("  4821   240 8917 cerrado", SetStatus("4821", TRACKING, "closed", "")),
    ("4821 240-8917 resuelto", SetStatus("4821", TRACKING, "resolved", "")),
    ("12345678 2408917 resuelto ok", SetStatus("12345678", TRACKING, "resolved", "ok")),
    ("4821 2408917 NOTA llevamos material el jueves", AddNote("4821", TRACKING, "llevamos material el jueves", True)),
    ("4821 2408917 nóta - mañana", AddNote("4821", TRACKING, "mañana", True)),
    ("4821 2408917 INTERNA falta una volqueta", AddNote("4821", TRACKING, "falta una volqueta", False)),
    ("4821 LISTA", ListCases("4821")),
    ("4821 lista por favor", ListCases("4821")),
    ("4821 ayuda", CrewHelp("4821")),
    ("4821 2408917", CrewHelp("4821", TRACKING, "")),
    ("4821 2408917 nota", CrewHelp("4821", TRACKING, "nota")),
    ("4821 2408917 arreglado", CrewHelp("4821", TRACKING, "arreglado")),
    ("4821 resuelto 2408917", CrewHelp("4821", None, "resuelto")),
    ("4821 2408971 resuelto", BadTracking("4821", "2408971")),  # two digits swapped
    ("4821 2408918 resuelto", BadTracking("4821", "2408918")),  # one digit wrong
    ("4821 240891 resuelto", BadTracking("4821", "240891")),  # one digit missing
    ("4821 24089177 resuelto", BadTracking("4821", "24089177")),  # one too many
    # Numbers given after 450,000 cases have 8 digits; one left out or swapped is still caught.
    ("4821 12646895 resuelto", SetStatus("4821", "12646895", "resolved", "")),
    ("4821 1264 6895 en proceso", SetStatus("4821", "12646895", "in_progress", "")),
    ("4821 1264695 resuelto", BadTracking("4821", "1264695")),
    ("4821 12648695 resuelto", BadTracking("4821", "12648695")),
])
def test_commands(text, command):
    assert parse_crew_command(text) == command


@pytest.mark.parametrize("text", [
    "",
    "4821",  # a PIN alone says nothing
    "2408917",  # a status query
    "2408917 frente a la escuela",  # an answer with its case's number first
    "B12 hay un bache en la calle 3",
    "123 2408917 resuelto",  # too short for a PIN
    "123456789 2408917 resuelto",  # too long
    "4821 hola que tal",
    "PIN 4821 LISTA",
    "*4821 LISTA",
    "٤٨٢١ 2408917 resuelto",  # digits of another script are no PIN
])
def test_not_a_crew_command(text):
    assert parse_crew_command(text) is None


def test_mask_pin():
    assert mask_pin("4821 2408917 RESUELTO se tapo") == f"{PIN_MASK} 2408917 RESUELTO se tapo"
    assert mask_pin(" 48219999 LISTA") == f" {PIN_MASK} LISTA"
    assert mask_pin("2408917 frente a la escuela") == "2408917 frente a la escuela"


# -- properties -----------------------------------------------------------------------------------

pins = st.text(alphabet="0123456789", min_size=4, max_size=8)
trackings = st.integers(100000, 999999).map(lambda n: str(n) + damm_check_digit(str(n)))
ACCENTED = {"en_revision": "en_revisión", "en_proceso": "en_procéso", "rechazado": "rechazádo"}


@st.composite
def status_words(draw: st.DrawFn) -> tuple[str, str]:
    """(a status, a way a crew types it: English or Spanish, any case, accents, " ", "-" or "_")."""
    status = draw(st.sampled_from(STATUSES))
    name = draw(st.sampled_from([status, SPANISH_NAMES[status]]))
    name = ACCENTED.get(name, name) if draw(st.booleans()) else name
    name = name.replace("_", draw(st.sampled_from([" ", "-", "_", "  "])))
    return status, "".join(c.upper() if draw(st.booleans()) else c for c in name)


# Notes as crews write them: any letters, digits, punctuation, emoji; they never start with the
# separators a note may be introduced with (those are dropped: "RESUELTO: listo").
notes = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=80).filter(
    lambda s: not s[:1] or s[:1] not in NOTE_LEAD)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


@given(pins, trackings, status_words(), notes)
@example("0000", TRACKING, ("resolved", "RESUELTO"), "se tapo el bache")
@example("4821", TRACKING, ("in_progress", "en proceso"), "en proceso de tapar")
def test_a_status_command_says_pin_tracking_status_and_note(pin, tracking, status_word, note):
    status, word = status_word
    command = parse_crew_command(f"{pin} {tracking} {word} {note}")
    # The note's first word may continue a status name ("resuelto" + "en" is not one, but a note
    # starting with "progress" after "in" is): whatever is read, the tracking is never another one.
    assert isinstance(command, SetStatus), command
    assert (command.pin, command.tracking, command.status) == (pin, tracking, status)
    assert _same(command.note, note.strip())


@given(pins, trackings, st.booleans(), notes.filter(lambda s: s.strip()))
def test_a_note_command_keeps_the_text(pin, tracking, public, note):
    command = parse_crew_command(f"{pin} {tracking} {'NOTA' if public else 'interna'} {note}")
    assert command == AddNote(pin, tracking, note.strip(), public)


@st.composite
def typos(draw: st.DrawFn) -> tuple[str, str]:
    """(a tracking number, the same with one digit changed or two neighbours swapped)."""
    tracking = draw(trackings)
    digits = list(tracking)
    i = draw(st.integers(0, len(digits) - 1))
    if draw(st.booleans()) and i < len(digits) - 1 and digits[i] != digits[i + 1]:
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
    else:
        digits[i] = draw(st.sampled_from([d for d in "0123456789" if d != digits[i]]))
    return tracking, "".join(digits)


@given(pins, typos(), status_words())
def test_a_mistyped_tracking_number_is_never_another_case(pin, typo, status_word):
    _, mistyped = typo
    command = parse_crew_command(f"{pin} {mistyped} {status_word[1]} listo")
    assert command == BadTracking(pin, mistyped)


@given(st.text(max_size=60))
@example("4821 2408917")
@example("4821 ١٢٣ resuelto")
@example("4821\x00 2408917 nota x")
def test_any_text_is_read_without_error_and_a_command_starts_with_its_pin(text):
    command = parse_crew_command(text)
    if command is None:
        return
    assert is_pin(command.pin)
    assert text.lstrip(NOTE_LEAD).startswith(command.pin)
    if isinstance(command, (SetStatus, AddNote)):
        assert is_valid_tracking(command.tracking)
    masked = mask_pin(text)
    assert parse_crew_command(masked) is None  # stored masked, it is no command any more
    assert masked.replace(PIN_MASK, command.pin, 1) == text


@given(st.text(max_size=60).filter(lambda s: not s.lstrip(NOTE_LEAD)[:1].isdigit()))
def test_a_text_not_starting_with_digits_is_a_residents(text):
    assert parse_crew_command(text) is None
    assert mask_pin(text) == text


def test_generated_tracking_numbers_are_read_whole():
    rng = random.Random(3)
    for _ in range(200):
        tracking = new_tracking(rng)
        spaced = tracking[:3] + " " + tracking[3:]
        assert parse_crew_command(f"4821 {spaced} resuelto") == SetStatus("4821", tracking, "resolved", "")


def test_accents_and_case_are_ignored_in_command_words():
    for word in ("LISTA", "Lísta", "lista"):
        assert parse_crew_command(f"4821 {word}") == ListCases("4821")
    for word in ("INTERNA", "Interna", "ínterna"):
        assert parse_crew_command(f"4821 {TRACKING} {word} x") == AddNote("4821", TRACKING, "x", False)
    decomposed = unicodedata.normalize("NFD", "revisión")
    assert parse_crew_command(f"4821 {TRACKING} en {decomposed}") == SetStatus("4821", TRACKING, "reviewing", "")
