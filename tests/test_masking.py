"""Masking that really masks: phone numbers and e-mail addresses written any way a person writes
them never reach a public page or the Open311 API (barriosms/domain/masking.py, public.mask).

The property tests write Bolivian mobiles and landlines (with or without +591 / 00591 / 591 and
the area code) with random groupings, separators and digit scripts, and e-mail addresses with
"@" or "arroba", " punto " and no top-level domain, inside random Spanish-ish text; then no 4
consecutive digits of the number and no part of the address may be left, in mask() and on every
public surface (the case page and its notes, /casos, Open311 JSON and XML).
"""

from __future__ import annotations

import html
import json
import re
import time
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barriosms import config
from barriosms.cases import casework
from barriosms.domain.masking import DIGIT, EMAIL_MASK, PHONE_MASK, SEPARATOR
from barriosms.reporting import public
from barriosms.reporting.public import mask  # what the pages and the API call
from barriosms.staff.webreports import WebReport, submit
from barriosms.templates.loader import load_templates
from barriosms.web import create_app

BIG = 2000  # the slow suite's example count (as tests/conftest.py's BIG)

# --- regressions: each of these came through before ----------------------------------------------


@pytest.mark.parametrize("written", ["7654 - 3210", "7654/3210", "7654_3210"])
def test_a_mobile_split_by_spaced_dashes_slashes_or_underscores_is_hidden(written):
    assert mask(f"mi celular es {written}, gracias") == f"mi celular es {PHONE_MASK}, gracias"


@pytest.mark.parametrize("written", ["juan @ example.com", "juan@example"])
def test_an_address_with_spaces_around_the_at_or_without_its_domain_ending_is_hidden(written):
    assert mask(f"escriba a {written} por favor") == f"escriba a {EMAIL_MASK} por favor"


# --- how people write them ---------------------------------------------------------------------


@pytest.mark.parametrize("written", [
    "71234567", "7123 4567", "7 123 4567", "71 23 45 67", "7-1-2-3-4-5-6-7", "7.123.45.67", "(7123) 4567",
    "+591 71234567", "+591 7123 4567", "+591-7-123-4567", "00591 71234567", "00591-7123-4567", "591 71234567",
    "(591) 7123-4567", "+ 591 (7) 123 45 67", "7123 / 4567", "7123\u00a04567", "7123 \u2013 4567",
    "2441234", "244-1234", "244 12 34", "2 2441234", "(2) 244-1234", "(2)2441234", "2-244-1234",
    "+591 2 2441234", "00591 (2) 244 1234", "3 3441234", "(4) 444-1234",
    "7123\u200b4567", "7123\u00ad4567", "７１２３ ４５６７", "٧١٢٣٤٥٦٧", "⁷¹²³⁴⁵⁶⁷", "7123 ４５６７",
])
def test_phone_numbers_are_hidden_however_they_are_written(written):
    out = mask(f"Hay un bache, llamar al {written} por la tarde")
    assert out == f"Hay un bache, llamar al {PHONE_MASK} por la tarde", out


@pytest.mark.parametrize("written", [
    "ana@correo.bo", "ana.quispe@correo.com.bo", "ana_quispe+reclamos@gmail.com", "ana @gmail.com",
    "ana@ gmail.com", "ana arroba gmail punto com", "ANA ARROBA GMAIL.COM", "ana(arroba)gmail.com",
    "ana [at] gmail . com", "ana punto quispe arroba gmail punto com", "ana . quispe @ gmail . com",
    "ana@gmail", "ana arroba hotmail", "ana＠gmail.com", "ana@correo.umsa.bo", "ana@gmail (punto) com",
])
def test_email_addresses_are_hidden_however_they_are_written(written):
    out = mask(f"mi correo {written} y nada más")
    assert out == f"mi correo {EMAIL_MASK} y nada más", out


@pytest.mark.parametrize("text", [
    "Hay un bache en la calle 3 numero 45, zona 16 de julio",
    "B12 hay un bache grande",
    "a las 10:30 en el km 5, casa 1234",
    "la obra cuesta Bs 1.250.000 y la otra 125.000 Bs",
    "desde el 12/03/2024 no hay agua",
    "entre 2019-2024 nadie vino",
    "compré una arroba de papa",
    "son 3, 14, 15, 92 y 65 casas",
])
def test_what_is_not_personal_stays(text):
    assert mask(text) == text


@pytest.mark.parametrize("text, shown", [
    ("B12 7123 4567 hay un bache", f"B12 {PHONE_MASK} hay un bache"),  # the code stays
    ("desde el 22/11/2024", f"desde el {PHONE_MASK}"),  # 2 2112024 is a La Paz landline: privacy wins
    ("ver el reclamo 2408917", f"ver el reclamo {PHONE_MASK}"),  # a tracking number could be a landline
    # A handle, and the word before it: "juan @example.com" is an address with a space in it.
    ("síganos en @AlcaldiaLaPaz", f"síganos {EMAIL_MASK}"),
])
def test_when_in_doubt_it_is_hidden(text, shown):
    assert mask(text) == shown


def test_the_digit_class_has_every_character_with_a_digit_value():
    pattern = re.compile(DIGIT)
    missing = [hex(c) for c in range(0x110000)
               if unicodedata.digit(chr(c), None) is not None and not pattern.fullmatch(chr(c))]
    assert missing == []


@pytest.mark.parametrize("unit", ["a punto ", "1 ", "a.", "a@", "1-", "x", "a . ", "((", "a_", "+1", "2019-",
                                  "Bs 1234567 ", "a (punto) ", "1 a ", "@ ", "a arroba ", "1/1/2020 "])
def test_masking_takes_linear_time_whatever_the_text(unit):
    """Every page masks dozens of descriptions: a text made to make the patterns backtrack must
    not cost more than a plain one (100,000 characters in well under a second)."""
    text = unit * (100_000 // len(unit))
    started = time.perf_counter()
    mask(text)
    assert time.perf_counter() - started < 1.5


def test_public_notes_and_descriptions_are_masked(hoods):
    from barriosms.pipeline.intake import IntakeRules
    from barriosms.templates.loader import load_categories

    rules = IntakeRules(templates=load_templates(), categories=load_categories(None), region="BO")
    done = submit(WebReport("B02", "Bache, llamar al 7654 - 3210 o juan @ example.com"), rules)
    casework.add_note(done.case.tracking, "Hablamos con el vecino al 7654_3210 (juan@example)",
                      load_templates(), public=True, region="BO")
    seen = public.case(done.case.tracking)
    assert seen.description == f"Bache, llamar al {PHONE_MASK} o {EMAIL_MASK}"
    assert [n.text for n in seen.notes] == [f"Hablamos con el vecino al {PHONE_MASK} ({EMAIL_MASK})"]


# --- the property: numbers and addresses written at random, inside random text -----------------

_SCRIPTS = ["0123456789", "０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩", "⁰¹²³⁴⁵⁶⁷⁸⁹", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗"]
_SEPARATORS = [" ", "-", ".", "/", "_", "(", ")", "\u00a0", "\u2013", "\u2014", "\\", "+", "\u200b", "\u00ad"]
_WORDS = ("hay un bache grande en la frente a escuela mi celular es llame al correo agua no desde ayer zona "
          "sur barrio esquina con por favor gracias señora vecinos número tel. cel: Av. calle casa km B12 "
          "alcantarilla rota basura luz poste sin hace semanas nadie vino urgente").split()
_PHRASES = ["calle 3", "casa 45", "km 5", "zona 12", "B12", "Nº 7", "hace 2 semanas", "son las 10:30"]


@dataclass(frozen=True)
class Written:
    text: str  # what a resident wrote
    digits: str  # the number's digits, prefix included, ASCII
    atoms: tuple[str, ...]  # the address's words (local part and domain, top-level domain left out)


@st.composite
def phone_numbers(draw) -> tuple[str, str]:
    """(written, digits): a mobile or a landline, some prefix, random grouping and separators."""
    kind = draw(st.sampled_from(["mobile", "landline", "local"]))
    rest = draw(st.text("0123456789", min_size=6, max_size=6))
    if kind == "mobile":
        national = draw(st.sampled_from("67")) + draw(st.sampled_from("0123456789")) + rest
    else:
        area = draw(st.sampled_from("234"))  # La Paz, Santa Cruz, Cochabamba: local numbers start alike
        national = (area if kind == "landline" else "") + area + rest
    prefix = draw(st.sampled_from(["", "", "+591", "00591", "591", "(591)", "+ 591"] if kind != "local" else [""]))
    digits = re.sub(r"\D", "", prefix) + national
    cuts = sorted(draw(st.sets(st.integers(1, len(national) - 1), max_size=len(national) - 1)))
    groups = [national[i:j] for i, j in zip([0, *cuts], [*cuts, len(national)])]
    script = draw(st.sampled_from(_SCRIPTS[:1] * 6 + _SCRIPTS[1:]))
    written = prefix + (draw(st.sampled_from(["", " ", "-", " ("])) if prefix else "")
    for i, group in enumerate(groups):
        if i:
            written += "".join(draw(st.lists(st.sampled_from(_SEPARATORS), min_size=1, max_size=4)))
        written += group.translate(str.maketrans("0123456789", script))
    return written, digits


@st.composite
def email_addresses(draw) -> tuple[str, tuple[str, ...]]:
    atom = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=4, max_size=10).filter(
        lambda a: any(c.isalpha() for c in a))
    local = draw(st.lists(atom, min_size=1, max_size=3))
    domain = draw(st.lists(atom, min_size=1, max_size=2))
    tld = draw(st.sampled_from(["com", "bo", "com.bo", "net", "org", ""]))
    at = draw(st.sampled_from(["@", " @ ", "@ ", " @", " arroba ", " ARROBA ", "(arroba)", " (arroba) ", "[at]",
                               " (at) ", "＠"]))
    local_dot = st.sampled_from([".", "_", "-", " punto ", " . ", "+"])
    domain_dot = st.sampled_from([".", " punto ", " . ", " (punto) ", " PUNTO "])

    def joined(parts: list[str], dot) -> str:
        return parts[0] + "".join(draw(dot) + p for p in parts[1:])

    written = joined(local, local_dot) + at + joined(domain + ([tld] if tld else []), domain_dot)
    return written, tuple(local + domain)


def filler() -> st.SearchStrategy[str]:
    """Spanish-ish words; its numbers are short and never next to another number."""
    return st.lists(st.sampled_from(_WORDS + _PHRASES), max_size=12).map(" ".join)


@st.composite
def written_reports(draw) -> Written:
    phone, digits = draw(phone_numbers())
    address, atoms = draw(email_addresses())
    glue = st.sampled_from([" ", " ", ": ", ", ", " (", "\n", " - "])
    pieces = [(phone, "phone"), (address, "email")]
    if draw(st.booleans()):
        pieces.reverse()
    text = draw(filler())
    for piece, _ in pieces:
        text += draw(glue) + piece + draw(glue) + draw(filler())
    text = text.strip() or "."
    return Written(text, digits, atoms)


_NOT_DIGITS = re.compile(f"{SEPARATOR}|[\u200b\u00ad]")


def assert_hidden(shown: str, written: Written) -> None:
    """No 4 consecutive digits of the number (separators removed, any script read as ASCII) and
    no word of the address in `shown`."""
    flat = "".join(str(unicodedata.digit(c)) if unicodedata.digit(c, None) is not None else c
                   for c in _NOT_DIGITS.sub("", shown))
    for i in range(len(written.digits) - 3):
        assert written.digits[i:i + 4] not in flat, (written.text, shown)
    for atom in written.atoms:
        assert atom not in shown.lower(), (written.text, shown, atom)


def _assume_fair(written: Written) -> None:
    # An address word that the surrounding text also contains (a random "casa") says nothing.
    from hypothesis import assume

    rest = written.text.lower()
    for atom in written.atoms:
        rest = rest.replace(atom, "", 1)
    assume(not any(atom in rest or atom in f"{PHONE_MASK} {EMAIL_MASK}" for atom in written.atoms))


def test_the_generated_numbers_are_real_bolivian_numbers():
    """The property's numbers are ones phonenumbers accepts (a mobile, or a landline with or
    without its area code), so a miss is the masking's, not the generator's."""
    @settings(max_examples=200)
    @given(phone_numbers())
    def check(pair):
        _, digits = pair
        national = re.sub(r"^(?:00591|591)", "", digits)
        number = national if len(national) == 8 else national[0] + national
        assert phonenumbers.is_valid_number(phonenumbers.parse(number, "BO")), digits
    check()


@settings(max_examples=300)
@given(written_reports())
def test_no_number_or_address_survives_masking(written):
    _assume_fair(written)
    assert_hidden(mask(written.text), written)


@pytest.mark.slow
@settings(max_examples=BIG)
@given(written_reports())
def test_no_number_or_address_survives_masking_many(written):
    _assume_fair(written)
    assert_hidden(mask(written.text), written)


# --- the same, on every public surface ---------------------------------------------------------


@pytest.fixture
def app(db, hoods, tmp_path):
    ini = tmp_path / "web.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n")
    return create_app(config.load(ini))


def public_texts(client, tracking: str) -> dict[str, list[str]]:
    """What the public sees of the case's description and notes, on each surface, as text."""
    page = client.get(f"/caso/{tracking}").get_data(as_text=True)
    listed = client.get("/casos").get_data(as_text=True)
    row = re.search(rf'<li class="caso"><a class="numero" href="/caso/{tracking}">.*?</li>', listed, re.S)
    as_json = json.loads(client.get(f"/open311/v2/requests/{tracking}.json").get_data())
    as_xml = ET.fromstring(client.get(f"/open311/v2/requests.xml?service_request_id={tracking}").get_data())

    def unescaped(parts: list[str]) -> list[str]:
        return [html.unescape(p) for p in parts]

    return {
        "case page": unescaped(re.findall(r'<p class="descripcion">(.*?)</p>', page, re.S)
                               + re.findall(r"Nota de la alcaldía: (.*?)</li>", page, re.S)),
        "/casos": unescaped(re.findall(r'<span class="resumen">(.*?)</span>', row.group(), re.S)),
        "Open311 JSON": [as_json[0]["description"], as_json[0]["status_notes"]],
        "Open311 XML": [as_xml.findtext("request/description"), as_xml.findtext("request/status_notes")],
    }


def _check_every_surface(app, written: Written) -> None:
    _assume_fair(written)
    description = written.text if len(written.text) >= 5 else written.text + " bache"
    done = submit(WebReport("B02", description), app.extensions["barriosms"].rules)
    casework.add_note(done.case.tracking, written.text, load_templates(), public=True, region="BO")
    surfaces = public_texts(app.test_client(), done.case.tracking)
    for surface, texts in surfaces.items():
        assert texts and all(texts), (surface, texts)  # the description and the note are there
        for text in texts:
            assert_hidden(text, written)


@settings(max_examples=100)
@given(written=written_reports())
def test_no_number_or_address_reaches_a_public_page_or_the_api(app, written):
    _check_every_surface(app, written)


@pytest.mark.slow
@settings(max_examples=BIG)
@given(written=written_reports())
def test_no_number_or_address_reaches_a_public_page_or_the_api_many(app, written):
    _check_every_surface(app, written)
