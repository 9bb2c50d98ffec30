"""Reading a resident's answer: yes/no to the satisfaction question, a leading tracking number, a code."""

from __future__ import annotations

import pytest

from barriosms.domain.answers import leading_tracking, starts_with_code, survey_answer


@pytest.mark.parametrize("text, expected", [
    ("1", "yes"), (" 1 ", "yes"), ("Si", "yes"), ("sí, gracias", "yes"), ("SI.", "yes"),
    ("2", "no"), ("2 sigue el bache", "no"), ("No", "no"), ("no, sigue igual", "no"),
    ("3", None), ("gracias", None), ("", None), ("12", None), ("noche", None), ("sitio", None),
])
def test_survey_answer(text, expected):
    assert survey_answer(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("2408917 si esta frente a la escuela", ("2408917", "si esta frente a la escuela")),
    ("2408917", ("2408917", "")),
    ("240 8917: no", ("2408917", "no")),
    ("2408917 2", ("2408917", "2")),  # the case, then the answer to "Responda 1 si, 2 no"
    ("2408917 1 gracias", ("2408917", "1 gracias")),
    ("#2408917, frente a la plaza", ("2408917", "frente a la plaza")),
    ("si 2408917", None),
    ("24089171 no", None),  # eight digits: not a tracking number
    ("B12 hay un bache", None),
])
def test_leading_tracking(text, expected):
    assert leading_tracking(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("B12 hay otro bache", True), ("#b-12 hay otro bache", True), ("  B12", True),
    ("hay otro bache en B12", False), ("si, frente a la escuela", False),
])
def test_starts_with_code(text, expected):
    assert starts_with_code(text, ["B12", "B02"]) is expected
