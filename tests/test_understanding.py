"""Properties of how the gateway reads residents' messages (issue 13): greetings and sign-offs
never move a report, a text that names no neighbourhood never routes, a glued code routes like a
spaced one, and categorising never fails."""

from __future__ import annotations

import csv

from hypothesis import given
from hypothesis import strategies as st

from barriosms.domain.categories import categorize, keyword_scores
from barriosms.domain.matching import Place, find_place
from barriosms.domain.parsing import Ambiguous, MissingDescription, Report, classify
from barriosms.templates.loader import load_categories
from tests.conftest import SAMPLE_CSV

with SAMPLE_CSV.open(encoding="utf-8") as f:
    LAPAZ = tuple(Place(r["code"], r["name"], tuple(a for a in r["aliases"].split(";") if a)) for r in csv.DictReader(f))
CODES = [p.code for p in LAPAZ]
RULES = load_categories()

PROBLEMS = ["hay un bache grande en la calle 3", "no hay luz en el pasaje", "no pasa el carro basurero",
            "se esta hundiendo la acera", "la alcantarilla rebalsa", "perros sueltos en la plaza",
            "derrumbe en la ladera", "hay huecos en la avenida"]
WHERE = ["B12", "b05", "B-07", "Sopocachi", "villa fatima", "V. Copacabana", "en Achumani", "Z. Miraflores"]
GREETINGS = ["hola", "buenas tardes", "Buenos dias señores", "kamisaki", "waliki jilata", "saludos"]
SIGN_OFFS = ["gracias", "muchas gracias", "Dios le pague", "yuspagara", "👍", "grax", "xfa urgente", "porfa"]
# Words and places of La Paz that are no neighbourhood of the list, though some contain a name that
# is ("Alto Obrajes", "San Antonio bajo": the gateway must ask, not guess).
NO_PLACE_WORDS = ["hay", "un", "bache", "en", "la", "calle", "avenida", "esquina", "media", "plaza", "luz", "agua",
                  "basura", "no", "pasa", "frente", "al", "mercado", "colegio", "Alto Obrajes", "Irpavi",
                  "Calacoto", "El Alto", "Cota Cota", "zona", "sur", "barrio", "de", "hace", "dias",
                  "3", "15", "Av. Buenos Aires", "San Antonio bajo", "Bajo Llojeta", "perros", "gracias", "Z."]


def routed(intent) -> tuple[str, ...]:
    if isinstance(intent, (Report, MissingDescription)):
        return (intent.code,)
    return intent.codes if isinstance(intent, Ambiguous) else ()


@given(st.sampled_from(PROBLEMS), st.sampled_from(WHERE), st.sampled_from(GREETINGS),
       st.sampled_from(SIGN_OFFS), st.booleans())
def test_a_greeting_or_sign_off_never_changes_the_neighbourhood(problem, where, greeting, sign_off, where_first):
    report = f"{where} {problem}" if where_first else f"{problem}, {where}"
    plain = routed(classify(report, LAPAZ))
    assert plain  # every WHERE names one place
    for text in (f"{greeting}, {report}", f"{report} {sign_off}", f"{greeting} {report}. {sign_off}"):
        assert routed(classify(text, LAPAZ)) == plain, text


@given(st.lists(st.sampled_from(NO_PLACE_WORDS), max_size=12))
def test_a_text_without_code_or_name_never_routes(words):
    text = " ".join(words)
    assert find_place(text, LAPAZ) is None, text
    assert routed(classify(text, LAPAZ)) == ()


@given(st.sampled_from(CODES), st.sampled_from(["hay", "la", "no", "se", "basura", "luz", "bache"]),
       st.sampled_from(PROBLEMS), st.sampled_from(["", "#", " "]))
def test_a_code_glued_to_a_word_routes_like_the_spaced_one(code, word, problem, before):
    glued, spaced = f"{before}{code.lower()}{word} {problem}", f"{before}{code.lower()} {word} {problem}"
    assert routed(classify(glued, LAPAZ)) == routed(classify(spaced, LAPAZ)) == (code,)


@given(st.text(max_size=300))
def test_categorize_never_raises_and_gives_a_category(text):
    assert categorize(text, RULES) in RULES.names
    assert all(score > 0 for score in keyword_scores(text, RULES).values())


@given(st.sampled_from(PROBLEMS), st.sampled_from(["calle", "avenida", "media calle", "pasaje", "cuadra"]))
def test_a_street_word_never_decides_over_the_problem(problem, street):
    assert categorize(f"{problem} en la {street}", RULES) == categorize(problem, RULES)
