"""Numbers typed by clients (barriosms/domain/inputs.py): ASCII only, bounded, never an exception."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barriosms.domain.inputs import MAX_INT_DIGITS, ascii_int, degrees

BIG = 2000  # the slow suite's example count (as tests/conftest.py's BIG)

TEXT = st.one_of(st.text(), st.text(alphabet=st.characters(categories=["Nd", "No"])),
                 st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n), st.integers().map(str),
                 st.floats().map(repr), st.sampled_from(["nan", "inf", "-inf", "1e999", "1_0", "0x10", "²", "٣"]))


@pytest.mark.parametrize("raw, expected", [
    ("7", 7), (" 12 ", 12), ("007", 7), ("", None), (None, None), ("²", None), ("٣", None), ("１", None),
    ("1_0", None), ("-1", None), ("+1", None), ("1.0", None), ("9" * 5000, None), ("0", None), ("101", None),
])
def test_ascii_int(raw, expected):
    assert ascii_int(raw, 1, 100) == expected


@pytest.mark.parametrize("raw, expected", [
    ("-16.5", -16.5), ("-68.130000", -68.13), ("+16.", 16.0), (".5", 0.5), ("-1.65e1", -16.5), (" 3 ", 3.0),
    ("nan", None), ("inf", None), ("-Infinity", None), ("1e999", None), ("-١٦.٥", None), ("-１６.５", None),
    ("-1_6.5", None), ("0x10", None), ("91", None), ("", None), (None, None), ("1" * 41, None), ("-", None),
])
def test_degrees(raw, expected):
    assert degrees(raw, -90, 90) == expected


def _ints_are_plain_and_bounded(raw: str) -> None:
    value = ascii_int(raw, 1, 10**MAX_INT_DIGITS - 1)
    if value is not None:
        assert raw.strip().isascii() and raw.strip().isdigit() and value == int(raw)


def _degrees_are_finite_and_in_range(raw: str) -> None:
    value = degrees(raw, -180, 180)
    if value is not None:
        assert math.isfinite(value) and -180 <= value <= 180 and raw.strip().isascii()


@settings(max_examples=300)
@given(TEXT)
def test_any_text_is_a_plain_number_or_none(raw):
    _ints_are_plain_and_bounded(raw)
    _degrees_are_finite_and_in_range(raw)


@pytest.mark.slow
@settings(max_examples=BIG)
@given(TEXT)
def test_any_text_is_a_plain_number_or_none_many(raw):
    _ints_are_plain_and_bounded(raw)
    _degrees_are_finite_and_in_range(raw)


@given(st.integers(min_value=1, max_value=10**MAX_INT_DIGITS - 1))
def test_every_plain_number_is_read(n):
    assert ascii_int(str(n), 1, 10**MAX_INT_DIGITS - 1) == n
