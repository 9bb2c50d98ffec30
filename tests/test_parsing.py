"""Classifying residents' SMS: codes typed on keypads, status queries, help, unroutable."""

from __future__ import annotations

import random

import pytest

from barriosms.domain.matching import Place
from barriosms.domain.parsing import (
    Ambiguous,
    Courtesy,
    Help,
    InvalidTracking,
    MissingDescription,
    OptIn,
    OptOut,
    Reopen,
    Report,
    StatusQuery,
    UnknownCode,
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
        # Issue 13: asked in the resident's own words around the number.
        (f"como va mi reclamo {TRACKING}", StatusQuery(TRACKING)),
        (f"hola, quisiera saber como va el reclamo {TRACKING}", StatusQuery(TRACKING)),
        ("q paso con mi reclamo nro 1234567", InvalidTracking(NOT_DAMM)),
        ("nro 1234567 ya van a venir?", InvalidTracking(NOT_DAMM)),
        (f"B12 bache, mi reclamo {TRACKING} sigue igual", Report("B12", f"bache, mi reclamo {TRACKING} sigue igual")),
        (f"hay un bache {TRACKING}", Unroutable(f"hay un bache {TRACKING}")),  # "bache": not only asking
        (f"mi reclamo {TRACKING} de hace 2 semanas, no vienen", StatusQuery(TRACKING)),
        ("reclamo 240891 q paso", InvalidTracking("240891")),  # a digit missing: "check the number"
        ("hay alguien?", Help()),
        ("que tal", Help()),
        ("Sr. Alcalde buenas tardes", Help()),
        ("aski urukipana", Help()),  # Aymara: good day
        ("hola, tengo un problema", Help()),
        ("hay un problema con el agua", Unroutable("hay un problema con el agua")),
        ("Dios se lo pague", Courtesy()),
        ("ok 👍", Courtesy()),
        ("gracias, ojala lo arreglen pronto", Courtesy()),
        ("añay", Courtesy()),  # Quechua: thanks
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
        ("😡", Help()),
        # Issue 13: greetings, questions about the service, in Spanish as typed, Aymara, Quechua.
        ("Holaa", Help()),
        ("Hola buenas tardes", Help()),
        ("buenos dias", Help()),
        ("es el numero de la alcaldia?", Help()),
        ("Buenas tardes, es la alcaldia?", Help()),
        ("q tengo q escribir", Help()),
        ("¿Qué tengo que escribir?", Help()),
        ("como reclamo", Help()),
        ("no entiendo", Help()),
        ("que es esto", Help()),
        ("ayudaaa", Help()),
        ("kamisaki", Help()),
        ("waliki", Help()),
        ("imaynalla", Help()),
        ("kamisaki jilata", Help()),
        ("hola quiero hacer un reclamo", Help()),
        ("cual es el codigo de mi barrio", Help()),
        ("si", Unroutable("si")),  # maybe an answer to a staff question: not the instructions
        # Thanks in any usual form: stored, not answered (issue 13: 👍 was answered with the help).
        ("👍", Courtesy()),
        ("👍🏽👍", Courtesy()),
        ("🙏", Courtesy()),
        ("grax", Courtesy()),
        ("okk", Courtesy()),
        ("dios le pague hermano", Courtesy()),
        ("yuspagara", Courtesy()),
        ("Yuspajara jilata", Courtesy()),
        ("sulpayki", Courtesy()),
        ("listo gracias", Courtesy()),
        ("gracias x la respuesta", Courtesy()),
        ("ta bien", Courtesy()),
        # A problem with a greeting or thanks is still a report.
        ("hola buenas tardes B12 hay un bache", Report("B12", "hola buenas tardes hay un bache")),
        ("B12 no hay luz gracias", Report("B12", "no hay luz gracias")),
        # Unroutable: no known code.
        ("hola", Help()),  # someone starting a conversation gets the instructions
        ("gracias", Courtesy()),
        ("hola, como reporto un problema?", Help()),
        ("¿Cómo hago un reclamo?", Help()),
        ("como se arregla el bache de la esquina", Unroutable("como se arregla el bache de la esquina")),
        ("Muchas gracias, Dios le pague", Courtesy()),
        ("ok gracias", Courtesy()),
        ("gracias, sigue el bache en B12", Report("B12", "gracias, sigue el bache en")),
        ("hay un bache en la calle 3", Unroutable("hay un bache en la calle 3")),
        # Typed like a code, but no known one: the resident gets "unknown code".
        ("AB12 bache", UnknownCode("AB12", "AB12 bache", "bache")),
        ("B123 bache", UnknownCode("B123", "B123 bache", "bache")),
        ("X99 bache", UnknownCode("X99", "X99 bache", "bache")),
        ("X99", UnknownCode("X99", "X99", "")),
        ("B12X bache", Unroutable("B12X bache")),  # not code-shaped: a letter after the digits
        ("barrio 12 bache", Unroutable("barrio 12 bache")),
        ("estado de la calle: muy mal", Unroutable("estado de la calle: muy mal")),
        ("ayuda, hay un derrumbe", Unroutable("ayuda, hay un derrumbe")),
    ],
)
def test_classify(text: str, intent: object) -> None:
    assert classify(text, CODES) == intent


def test_classify_without_codes() -> None:
    assert classify("B12 bache", []) == UnknownCode("B12", "B12 bache", "bache")
    assert classify("bache en la esquina", []) == Unroutable("bache en la esquina")
    assert classify(TRACKING, []) == StatusQuery(TRACKING)


def test_intents_are_frozen() -> None:
    report = Report("B12", "bache")
    with pytest.raises(AttributeError):
        report.code = "C3"  # type: ignore[misc]
    assert hash(Help()) == hash(Help())


# --- names, commands and unknown codes ---------------------------------------------------------

PLACES = (
    Place("B02", "Sopocachi"),
    Place("B04", "Villa Fátima", ("Fatima",)),
    Place("B12", "Villa San Antonio", ("San Antonio",)),
    Place("B20", "San Pedro"),
    Place("B21", "San Pedro"),  # two zones with one name: only the code tells them apart
)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # A name instead of the code: the same intents as a code.
        ("Sopocachi hay un bache", Report("B02", "hay un bache")),
        ("hay un bache en sopocachi", Report("B02", "hay un bache en")),
        ("barrio Sopocachi: no hay luz", Report("B02", "no hay luz")),
        ("zona de sopocachi no hay luz", Report("B02", "zona de no hay luz")),  # only a word just before
        ("villa fatma, poste caido", Report("B04", "poste caido")),  # typo
        ("VILLA FÁTIMA poste caido", Report("B04", "poste caido")),
        ("fatima poste caido", Report("B04", "poste caido")),  # alias
        ("Sopocachi", MissingDescription("B02")),
        ("barrio sopocachi", MissingDescription("B02")),
        ("Zona: Villa San Antonio.", MissingDescription("B12")),
        # A code always wins over a name.
        ("B12 bache en sopocachi", Report("B12", "bache en sopocachi")),
        # A name of two places.
        ("San Pedro", Ambiguous(("B20", "B21"), "")),
        ("barrio san pedro", Ambiguous(("B20", "B21"), "")),
        ("san pedro hay basura", Ambiguous(("B20", "B21"), "hay basura")),
        # Code-shaped but unknown; a known name still comes first.
        ("Z99 bache", UnknownCode("Z99", "Z99 bache", "bache")),
        ("bache en z-99", UnknownCode("Z99", "bache en z-99", "bache en")),
        ("#b99 bache", UnknownCode("B99", "#b99 bache", "bache")),
        ("sopocachi Z99 bache", Report("B02", "Z99 bache")),
        ("B 99 bache", Unroutable("B 99 bache")),  # spaced: could be words
        ("bache a 3 cuadras", Unroutable("bache a 3 cuadras")),
        ("hay un bache en la calle 3 frente a la tienda",
         Unroutable("hay un bache en la calle 3 frente a la tienda")),
        # Commands: the first word, and nothing after it but polite words.
        ("BAJA", OptOut()),
        ("stop", OptOut()),
        ("Baja por favor", OptOut()),
        ("Hola, BAJA!", OptOut()),
        ("alta", OptIn()),
        ("Alta gracias", OptIn()),
        ("baja presion de agua en sopocachi", Report("B02", "baja presion de agua en")),
        ("baja el agua", Unroutable("baja el agua")),
        ("quiero la baja", Unroutable("quiero la baja")),  # not the first word
        # Reopen: the number after the word, whatever follows it.
        (f"reabrir {TRACKING}", Reopen(TRACKING, TRACKING)),
        ("REABRIR 240 8917 sigue el bache", Reopen(TRACKING, TRACKING)),
        ("Reabrir caso #240-8917", Reopen(TRACKING, TRACKING)),
        (f"reabrir {TRACKING} 2 semanas sin luz", Reopen(TRACKING, TRACKING)),
        (f"reabrir {NOT_DAMM}", Reopen(NOT_DAMM, None)),
        ("reabrir 12345", Reopen("12345", None)),
        ("reabrir", Reopen("", None)),
        ("reabrir por favor, volvio el bache", Reopen("", None)),
        # Order: help first, then commands, then status numbers.
        ("ayuda", Help()),
        ("baja ayuda", Unroutable("baja ayuda")),
        (TRACKING, StatusQuery(TRACKING)),
    ],
)
def test_classify_places_and_commands(text: str, intent: object) -> None:
    assert classify(text, PLACES) == intent


def test_classify_accepts_codes_places_or_both() -> None:
    assert classify("B02 bache", ["B02"]) == Report("B02", "bache")
    assert classify("sopocachi bache", ["B02"]) == Unroutable("sopocachi bache")  # no names known
    assert classify("sopocachi bache", [Place("B02", "Sopocachi"), "B12"]) == Report("B02", "bache")
    assert classify("b12 bache", iter([Place("B02", "Sopocachi"), "B12"])) == Report("B12", "bache")


def test_classify_with_other_keywords() -> None:
    keywords = {"optout": ("salir",), "optin": ("volver",), "reopen": ("otravez",)}
    assert classify("SALIR", PLACES, keywords) == OptOut()
    assert classify("volver", PLACES, keywords) == OptIn()
    assert classify(f"otra vez {TRACKING}", PLACES, keywords) == Unroutable(f"otra vez {TRACKING}")
    assert classify(f"otravez {TRACKING}", PLACES, keywords) == Reopen(TRACKING, TRACKING)
    assert classify("baja", PLACES, keywords) == Unroutable("baja")  # the defaults no longer apply
    assert classify("reabrir", PLACES, {}) == Unroutable("reabrir")


def test_new_intents_are_frozen_values() -> None:
    assert Ambiguous(("B20", "B21"), "x") == Ambiguous(("B20", "B21"), "x")
    assert OptOut() == OptOut() and OptOut() != OptIn()
    with pytest.raises(AttributeError):
        Reopen("1", None).number = "2"  # type: ignore[misc]
