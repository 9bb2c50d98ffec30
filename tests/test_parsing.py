"""Classifying residents' SMS: codes typed on keypads, status queries, help, unroutable."""

from __future__ import annotations

import random

import pytest

from barriosms.domain.parsing import (
    Help,
    InvalidTracking,
    MissingDescription,
    Report,
    StatusQuery,
    Unroutable,
    classify,
    find_code,
    normalize_code,
    valid_code,
)
from barriosms.domain.tracking import new_tracking

CODES = ("B12", "SOP3", "Z04", "C3", "VF1", "A3", "PA12")
TRACKING = new_tracking(random.Random(1))  # "2408917"
NOT_DAMM = "1234567"  # 7 digits, wrong check digit


def test_fixtures() -> None:
    assert TRACKING == "2408917"


@pytest.mark.parametrize(
    ("code", "normalised", "valid"),
    [
        ("b-12", "B12", True),
        ("B12", "B12", True),
        (" sop 3 ", "SOP3", True),
        ("Z-04", "Z04", True),
        ("z.0_4", "Z04", True),
        ("ABCD1234", "ABCD1234", True),
        ("ABCDE1", "ABCDE1", False),  # 5 letters
        ("A12345", "A12345", False),  # 5 digits
        ("12", "12", False),
        ("B", "B", False),
        ("1B", "1B", False),
        ("B1B", "B1B", False),
        ("Ñ1", "Ñ1", False),
        ("", "", False),
    ],
)
def test_normalize_and_valid_code(code: str, normalised: str, valid: bool) -> None:
    assert normalize_code(code) == normalised
    assert valid_code(code) is valid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B12 hay un bache", ("B12", 0, 3)),
        ("b12 hay un bache", ("B12", 0, 3)),
        ("B-12 bache", ("B12", 0, 4)),
        ("B 12 bache", ("B12", 0, 4)),
        ("B.12 bache", ("B12", 0, 4)),
        ("#B12 bache", ("B12", 1, 4)),
        ("barrio B12 bache", ("B12", 7, 10)),
        ("Barrio: b 12 bache", ("B12", 8, 12)),
        ("hay un bache en B12", ("B12", 16, 19)),
        ("hay un bache en B12.", ("B12", 16, 19)),
        ("(B12) bache", ("B12", 1, 4)),
        ("sop3 derrumbe", ("SOP3", 0, 4)),
        ("SOP-3 derrumbe", ("SOP3", 0, 5)),
        ("z4 basura", ("Z04", 0, 2)),  # leading zero omitted
        ("Z-04 basura", ("Z04", 0, 4)),
        ("Z004 basura", ("Z04", 0, 4)),
        ("vf1, pa12", ("VF1", 0, 3)),  # earliest wins
        ("pa12, vf1", ("PA12", 0, 4)),
        # Never inside a longer token.
        ("AB12 bache", None),
        ("B123 bache", None),
        ("B12X bache", None),
        ("3B12 bache", None),
        ("B12b bache", None),
        ("ÑB12 bache", None),
        ("calle 3 bache", None),  # code C3: the "c" of "calle" is followed by a letter
        ("en la calle 3", None),
        ("SOP 33", None),
        ("B1 2", None),
        ("", None),
        # A spaced match on a Spanish short word ("a 3 cuadras", code A3) loses to a real code.
        ("bache a 3 cuadras de B12", ("B12", 21, 24)),
        ("bache a 3 cuadras", ("A3", 6, 9)),  # ... but stays a match if it is the only one
        ("A3 bache, B12", ("A3", 0, 2)),  # written without a space, A3 is a code like any other
        ("a 3 cuadras de A3 y B12", ("A3", 15, 17)),
    ],
)
def test_find_code(text: str, expected: tuple[str, int, int] | None) -> None:
    assert find_code(text, CODES) == expected


def test_find_code_prefers_exact_digits_when_codes_differ_only_by_zeros() -> None:
    assert find_code("Z04 basura", ["Z4", "Z04"]) == ("Z04", 0, 3)
    assert find_code("Z4 basura", ["Z04", "Z4"]) == ("Z4", 0, 2)


def test_find_code_normalises_given_codes_and_ignores_invalid_ones() -> None:
    assert find_code("b12 bache", ["b-12", "not a code", "123"]) == ("B12", 0, 3)
    assert find_code("b12 bache", []) is None
    assert find_code("b12 bache", iter(["B12"])) == ("B12", 0, 3)  # any iterable, even one-shot


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Reports.
        ("B12 hay un bache grande en la calle 3", Report("B12", "hay un bache grande en la calle 3")),
        ("b12 hay un bache", Report("B12", "hay un bache")),
        ("B-12 poste caido", Report("B12", "poste caido")),
        ("B 12 poste caido", Report("B12", "poste caido")),
        ("B.12 poste caido", Report("B12", "poste caido")),
        ("#B12 poste caido", Report("B12", "poste caido")),
        ("barrio B12 no hay luz", Report("B12", "no hay luz")),
        ("Barrio: b 12 - no hay luz", Report("B12", "no hay luz")),
        ("BARRIO B12: no hay luz", Report("B12", "no hay luz")),
        ("zona Z-04: hay basura", Report("Z04", "hay basura")),
        ("Zona z4, hay basura", Report("Z04", "hay basura")),
        ("hay un bache en B12", Report("B12", "hay un bache en")),
        ("bache en el barrio B12", Report("B12", "bache en el")),
        ("en la calle 3, b12", Report("B12", "en la calle 3")),
        ("Sop 3 se derrumbo el muro!!", Report("SOP3", "se derrumbo el muro!!")),
        ("  B12   bache  ", Report("B12", "bache")),
        ("B12\nbache en la\nesquina", Report("B12", "bache en la\nesquina")),  # kept as sent
        ("B12 CAÑERÍA rota", Report("B12", "CAÑERÍA rota")),
        ("B12 ayuda", Report("B12", "ayuda")),
        ("B12 poste caido frente al 1234567", Report("B12", "poste caido frente al 1234567")),
        (f"B12 estado {TRACKING}", Report("B12", f"estado {TRACKING}")),
        (f"caso {TRACKING} B12 sigue el bache", Report("B12", f"caso {TRACKING} sigue el bache")),
        ("B12 barrio sin luz", Report("B12", "barrio sin luz")),  # "barrio" only dropped before
        # Only the code.
        ("B12", MissingDescription("B12")),
        ("b-12", MissingDescription("B12")),
        ("B12.", MissingDescription("B12")),
        ("barrio B12", MissingDescription("B12")),
        ("Barrio: b 12 ???", MissingDescription("B12")),
        ("#SOP3 -", MissingDescription("SOP3")),
        # Status queries with a valid number.
        (TRACKING, StatusQuery(TRACKING)),
        (f" {TRACKING} ", StatusQuery(TRACKING)),
        ("240 8917", StatusQuery(TRACKING)),
        ("240-8917", StatusQuery(TRACKING)),
        ("#2408917", StatusQuery(TRACKING)),
        ("2408917?", StatusQuery(TRACKING)),
        (f"estado {TRACKING}", StatusQuery(TRACKING)),
        (f"ESTADO {TRACKING}", StatusQuery(TRACKING)),
        ("Estado: 240 8917", StatusQuery(TRACKING)),
        (f"Estádo {TRACKING}", StatusQuery(TRACKING)),
        (f"estado{TRACKING}", StatusQuery(TRACKING)),
        (f"caso #{TRACKING}", StatusQuery(TRACKING)),
        (f"Caso N° {TRACKING}", StatusQuery(TRACKING)),
        (f"consulta {TRACKING}", StatusQuery(TRACKING)),
        (f"CONSULTA DEL CASO NRO {TRACKING}", StatusQuery(TRACKING)),
        (f"estado de mi reclamo {TRACKING}", StatusQuery(TRACKING)),
        (f"¿estado {TRACKING}?", StatusQuery(TRACKING)),
        (f"estado {TRACKING} por favor", StatusQuery(TRACKING)),
        # Looks like a status query, but the number is not a tracking number.
        (NOT_DAMM, InvalidTracking(NOT_DAMM)),
        ("123 4567", InvalidTracking(NOT_DAMM)),
        ("123-4567", InvalidTracking(NOT_DAMM)),
        ("estado 1234567", InvalidTracking(NOT_DAMM)),
        ("Estado: 123 4567", InvalidTracking(NOT_DAMM)),
        ("caso #1234567", InvalidTracking(NOT_DAMM)),
        ("2408971", InvalidTracking("2408971")),  # adjacent digits swapped
        ("2408817", InvalidTracking("2408817")),  # one digit wrong
        ("240891", InvalidTracking("240891")),  # one digit missing
        ("24089177", InvalidTracking("24089177")),  # one digit too many
        ("71234567", InvalidTracking("71234567")),  # a phone number
        ("12345678901234567890", InvalidTracking("12345678901234567890")),
        ("estado 5", InvalidTracking("5")),
        # Help.
        ("", Help()),
        ("   ", Help()),
        ("\n", Help()),
        ("?", Help()),
        ("¿?", Help()),
        ("AYUDA", Help()),
        ("ayuda", Help()),
        ("ayuda?", Help()),
        ("¿Ayuda?", Help()),
        ("Ayuda por favor", Help()),
        ("INFO", Help()),
        ("información", Help()),
        ("estado", Help()),  # a status word without a number: explain how to ask
        ("ESTADO?", Help()),
        ("caso", Help()),
        ("👍", Help()),
        # Unroutable: no known code.
        ("hola", Unroutable("hola")),
        ("hay un bache en la calle 3", Unroutable("hay un bache en la calle 3")),
        ("AB12 bache", Unroutable("AB12 bache")),
        ("B123 bache", Unroutable("B123 bache")),
        ("B12X bache", Unroutable("B12X bache")),
        ("X99 bache", Unroutable("X99 bache")),  # valid shape, unknown code
        ("barrio 12 bache", Unroutable("barrio 12 bache")),
        ("estado de la calle: muy mal", Unroutable("estado de la calle: muy mal")),
        ("ayuda, hay un derrumbe", Unroutable("ayuda, hay un derrumbe")),
    ],
)
def test_classify(text: str, intent: object) -> None:
    assert classify(text, CODES) == intent


def test_classify_without_codes() -> None:
    assert classify("B12 bache", []) == Unroutable("B12 bache")
    assert classify(TRACKING, []) == StatusQuery(TRACKING)


def test_intents_are_frozen() -> None:
    report = Report("B12", "bache")
    with pytest.raises(AttributeError):
        report.code = "C3"  # type: ignore[misc]
    assert hash(Help()) == hash(Help())
