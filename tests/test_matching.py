"""Finding the neighbourhood in a resident's words: by code, else by name or alias, typos forgiven."""

from __future__ import annotations

import time

import pytest
from conftest import SAMPLE_CSV

from barriosms.domain.matching import Place, PlaceMatch, find_place, is_generic, name_key
from barriosms.staff.neighborhoods import read_csv

# The sample list: B04 Villa Fátima (alias Fatima), B08 El Tejar (Tejar), B09 Alto Tacagua
# (Tacagua; Tacagua Alto), B12 Villa San Antonio (San Antonio), B13 Mallasa (Valle de la Luna)...
LAPAZ = tuple(Place(r.code, r.name, r.aliases) for r in read_csv(SAMPLE_CSV))


def found(text: str, places=LAPAZ) -> tuple[tuple[str, ...], str, int, str] | None:
    """(codes, by, typos, the words that matched) or None."""
    m = find_place(text, places)
    return None if m is None else (m.codes, m.by, m.distance, text[m.start:m.end])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Exact names, anywhere, in any case, with or without accents.
        ("Sopocachi", (("B02",), "name", 0, "Sopocachi")),
        ("hay un bache en sopocachi", (("B02",), "name", 0, "sopocachi")),
        ("SOPOCACHI: no hay luz", (("B02",), "name", 0, "SOPOCACHI")),
        ("villa fatima poste caido", (("B04",), "name", 0, "villa fatima")),
        ("Villa Fátima poste caído", (("B04",), "name", 0, "Villa Fátima")),
        ("VILLA FÁTIMA", (("B04",), "name", 0, "VILLA FÁTIMA")),
        ("Villa-Fatima", (("B04",), "name", 0, "Villa-Fatima")),
        ("en  villa\nfatima", (("B04",), "name", 0, "villa\nfatima")),
        ("basura en el tejar", (("B08",), "name", 0, "el tejar")),
        ("zona miraflores, muro caido", (("B03",), "name", 0, "miraflores")),
        # Aliases.
        ("fatima: no hay agua", (("B04",), "name", 0, "fatima")),
        ("derrumbe en tejar", (("B08",), "name", 0, "tejar")),
        ("Tacagua alto sin luz", (("B09",), "name", 0, "Tacagua alto")),
        ("basura en el valle de la luna", (("B13",), "name", 0, "valle de la luna")),
        # Typos within the distance: 1 for 5-8 letters, 2 for 9 or more.
        ("villa fatma", (("B04",), "name", 1, "villa fatma")),  # 11 letters: one missing
        ("vila copacabna", (("B10",), "name", 2, "vila copacabna")),  # 15 letters: two missing
        ("vila fatma", (("B04",), "name", 1, "fatma")),  # the alias with 1 beats the name with 2
        ("bache en sopocahi", (("B02",), "name", 1, "sopocahi")),
        ("bache en sopcahi", (("B02",), "name", 2, "sopcahi")),
        ("bache en sopocahci", (("B02",), "name", 1, "sopocahci")),  # neighbours swapped: 1
        ("obrjaes sin agua", (("B06",), "name", 1, "obrjaes")),  # 7 letters, swapped
        ("achumeni", (("B07",), "name", 1, "achumeni")),
        ("fatma sin luz", (("B04",), "name", 1, "fatma")),  # alias of 6 letters
        ("villafatima", (("B04",), "name", 1, "villafatima")),  # the space forgotten
        ("hampatury", (("B15",), "name", 1, "hampatury")),
        # Typos beyond the distance.
        ("vla copacabna", None),  # 3 for 15 letters
        ("spcahci", None),  # 3 for 9 letters
        ("obrjaas", None),  # 2 for 7 letters
        ("tjaer", None),  # "Tejar" has 5 letters: 1 allowed, 2 here
        # A code always beats a name, wherever both are.
        ("sopocachi B12 bache", (("B12",), "code", 0, "B12")),
        ("b-12 en sopocachi", (("B12",), "code", 0, "b-12")),
        # The longer name over the shorter it contains (same place here: name over alias).
        ("en villa san antonio", (("B12",), "name", 0, "villa san antonio")),
        ("en san antonio", (("B12",), "name", 0, "san antonio")),
        # An exact match beats a typo of another name.
        ("sopocachi o miraflore", (("B02",), "name", 0, "sopocachi")),
        # Issue 13: a code glued to the next word, abbreviated "Villa", names spelt as they sound.
        ("b12hay un bache", (("B12",), "code", 0, "b12")),
        ("B05la luminaria esta rota", (("B05",), "code", 0, "B05")),
        ("V. Copacabana sin agua", (("B10",), "name", 0, "V. Copacabana")),
        ("Va. Fatima basura", (("B04",), "name", 0, "Va. Fatima")),
        ("vlla copacabana", (("B10",), "name", 0, "vlla copacabana")),
        ("S. Pedro sin luz", (("B01",), "name", 0, "S. Pedro")),  # "San" shortened too
        ("vfatima sin luz", (("B04",), "name", 0, "vfatima")),  # "V." glued to the name
        ("AMPATURI BASURA AL RIO", (("B15",), "name", 1, "AMPATURI")),  # the silent h left out
        ("sn pedro mercado", (("B01",), "name", 0, "sn pedro")),
        ("Z. Miraflores parque cerrado", (("B03",), "name", 0, "Miraflores")),
        ("en copacabana no hay luz", (("B10",), "name", 0, "copacabana")),  # "Villa" left out
        ("Obrajez calle 10", (("B06",), "name", 1, "Obrajez")),  # z for s at the end
        ("Achumany calle 30", (("B07",), "name", 1, "Achumany")),
        ("Pampajasi sector 4", (("B05",), "name", 1, "Pampajasi")),
        ("Pampahasi bajo calle 4", (("B05",), "name", 0, "Pampahasi")),  # a part of Pampahasi
        ("Villa San Antonio bajo", (("B12",), "name", 0, "Villa San Antonio")),
    ],
)
def test_find_place_in_the_sample_list(text: str, expected) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # Ordinary Spanish: nothing in it may pass for a neighbourhood.
        "hay un bache en la calle 3 frente a la tienda",
        "hay un bache grande en la avenida principal",
        "no hay luz desde ayer en toda la cuadra",
        "se cayeron las tejas de la escuela",  # "tejas" is a word, not a typo of "Tejar"
        "quieren dejar la basura en la esquina",  # "dejar" is no "Tejar": first letter
        "las mallas del parque estan rotas",  # "mallas" is no "Mallasa"
        "el muro es muy alto y se va a caer",
        "barrio sin agua hace una semana",
        "la zona esta muy sucia",
        "vivo en la villa hace 20 anos",
        "san",
        "de la",
        "hola buenas tardes",
        "el perro del vecino ladra toda la noche",
        "necesitamos alumbrado publico por favor",
        "",
        "🙏🙏",
        # Issue 13: places that are not in the list, though they contain a name that is.
        "Alto Obrajes la gente bota basura en la quebrada",
        "jilata aki en alto obrajes las paredes se rajan",
        "San Antonio bajo sin agua",  # only the alias: maybe not Villa San Antonio; ask
        "macrodistrito San Antonio",
        "B12X bache",  # one letter after the digits: not a code with a word glued
        "se cayeron las tejaz",  # "tejas" misspelt is still no "Tejar"
    ],
)
def test_no_false_positives_in_ordinary_sentences(text: str) -> None:
    assert find_place(text, LAPAZ) is None


SAN_ANTONIO = (Place("X1", "San Antonio"), Place("X2", "Villa San Antonio"), Place("X3", "Pampahasi Bajo"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Two different places, one name inside the other: the longer wins over the same words.
        ("bache en villa san antonio", (("X2",), "name", 0, "villa san antonio")),
        ("bache en san antonio", (("X1",), "name", 0, "san antonio")),
        ("san antonio y villa san antonio", (("X1", "X2"), "name", 0, "san antonio")),  # both named
        # ... but an exact name beats a longer one read with a typo.
        ("bache en vila san antonio", (("X1",), "name", 0, "san antonio")),
        # A name of only generic words does not match, in text or in the list.
        ("pampahasi bajo", (("X3",), "name", 0, "pampahasi bajo")),
        ("bajo", None),
    ],
)
def test_longest_name_and_exact_first(text: str, expected) -> None:
    assert found(text, SAN_ANTONIO) == expected


def test_ambiguous_names_give_every_code_sorted() -> None:
    places = (Place("B21", "San Pedro"), Place("B20", "San Pedro"), Place("B02", "Sopocachi"))
    m = find_place("bache en san pedro", places)
    assert m == PlaceMatch(("B20", "B21"), 9, 18, "name", 0, ("San Pedro", "San Pedro"))
    # Two places named equally well in one message: ambiguous too, the span is the first one.
    m = find_place("sopocachi o san pedro", places)
    assert m is not None and m.codes == ("B02", "B20", "B21") and (m.start, m.end) == (0, 9)
    # Typos that fit two names equally: ambiguous, not a guess.
    two = (Place("C1", "Chamoco Chico"), Place("C2", "Chamoco Chica"))
    assert find_place("chamoco chicu", two).codes == ("C1", "C2")


def test_one_place_named_twice_is_not_ambiguous() -> None:
    m = find_place("fatima, o sea villa fatima", LAPAZ)
    assert m is not None and m.codes == ("B04",) and m.names == ("Fatima",) and (m.start, m.end) == (0, 6)


def test_numbers_in_names_are_never_typos() -> None:
    places = (Place("Z15", "Zona Numero 15"), Place("Z16", "Zona Numero 16"))
    assert found("zona numero 16", places) == (("Z16",), "name", 0, "zona numero 16")
    assert found("zona nmero 16", places) == (("Z16",), "name", 1, "zona nmero 16")
    assert found("zona numero 17", places) is None


@pytest.mark.parametrize(
    ("name", "letters", "typo_ok", "typo"),
    [
        ("Irpa", 4, False, "ipra"),  # under 5 letters: exact only
        ("Tejar", 5, True, "tejr"),
        ("Achumani", 8, True, "achumni"),
        ("Achumani", 8, False, "achmni"),
        ("Sopocachi", 9, True, "sopcahi"),
        ("Sopocachi", 9, False, "spcahci"),
    ],
)
def test_allowed_typos_grow_with_the_name(name: str, letters: int, typo_ok: bool, typo: str) -> None:
    assert len(name_key(name)) == letters
    place = (Place("Q1", name),)
    assert found(name.lower(), place) == (("Q1",), "name", 0, name.lower())
    assert (find_place(typo, place) is not None) is typo_ok


def test_places_without_names_and_bad_codes() -> None:
    places = (Place("B12", ""), Place("not a code", "Sopocachi"), Place("B13", "Villa"))
    assert found("b12 bache", places) == (("B12",), "code", 0, "b12")
    assert found("villa sin luz", places) is None  # "Villa" alone is no name
    assert found("sopocachi", places) == (("NOTACODE",), "name", 0, "sopocachi")
    assert find_place("sopocachi", []) is None


def test_generic_names_and_keys() -> None:
    assert is_generic("Villa") and is_generic("la zona") and is_generic("") and is_generic("Barrio Alto")
    assert not is_generic("Villa Fátima") and not is_generic("Centro")
    assert name_key("  Villa-Fátima ") == "villa fatima"


def test_fast_enough_for_every_zone_of_la_paz() -> None:
    # ~200 names with aliases; a long SMS with no name in it is the slowest case (every n-gram).
    syllables = "ma pa ta ca sa la ra chi qui hua co po to mi ni ja ya ve so lo".split()
    places = tuple(
        Place(f"Z{i}", f"Villa {syllables[i % 20].title()}{syllables[(i * 7) % 20]}{syllables[(i * 3) % 20]}",
              (f"{syllables[i % 20]}{syllables[(i * 7) % 20]}{syllables[(i * 3) % 20]}",))
        for i in range(200)
    )
    text = ("buenas tardes vecinos hay un bache enorme en la calle principal frente a la tienda de "
            "doña maria y el agua se acumula cuando llueve ayuden por favor gracias")
    find_place(text, places)  # builds the index once
    start = time.perf_counter()
    for _ in range(20):
        find_place(text, places)
    assert (time.perf_counter() - start) / 20 < 0.05
