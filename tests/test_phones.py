"""Sender normalisation: one E.164 spelling per phone; names and short codes untouched."""

from __future__ import annotations

import pytest

from barriosms.domain.phones import format_for_display, is_replyable, normalize_sender, normalize_typed

MOBILE = "+59171234567"


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        # The same Entel/Tigo/Viva mobile, as networks, modems and people write it.
        ("+59171234567", MOBILE),
        ("59171234567", MOBILE),
        ("71234567", MOBILE),
        ("0059171234567", MOBILE),
        ("00591 71234567", MOBILE),
        ("+591 7123-4567", MOBILE),
        ("591 7123 4567", MOBILE),
        ("  +59171234567\r\n", MOBILE),
        ("071234567", MOBILE),  # national prefix 0
        ("01071234567", MOBILE),  # carrier selection 010 before the national number
        ("01271234567", MOBILE),  # carrier selection 012
        ("001159171234567", MOBILE),  # international prefix with carrier selection (0011)
        ("60012345", "+59160012345"),
        ("+591 60012345", "+59160012345"),
        # La Paz landline (area code 2).
        ("22123456", "+59122123456"),
        ("+591 2 2123456", "+59122123456"),
        ("(2) 2123456", "+59122123456"),
        # Foreign numbers, with and without the "+" the network may drop.
        ("+14155552671", "+14155552671"),
        ("+5491123456789", "+5491123456789"),
        ("5491123456789", "+5491123456789"),
        # Not phone numbers: returned stripped, otherwise unchanged.
        ("TIGO", "TIGO"),
        ("Entel", "Entel"),
        ("  VIVA ", "VIVA"),
        ("Entel 24/7", "Entel 24/7"),
        ("222", "222"),
        ("8010", "8010"),
        ("7123456", "7123456"),  # 7 digits: not a full Bolivian number
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize_sender(sender: str, expected: str) -> None:
    assert normalize_sender(sender, region="BO") == expected


@pytest.mark.parametrize("sender", ["+59171234567", "71234567", "01071234567", "+14155552671"])
def test_normalize_sender_is_idempotent(sender: str) -> None:
    once = normalize_sender(sender, region="BO")
    assert normalize_sender(once, region="BO") == once


@pytest.mark.parametrize(
    ("sender", "replyable"),
    [
        ("+59171234567", True),
        ("71234567", True),
        ("01071234567", True),
        ("0059171234567", True),
        ("+14155552671", True),
        ("22123456", True),
        ("TIGO", False),
        ("Entel", False),
        ("222", False),
        ("8010", False),
        ("7123456", False),
        ("+59151234567", False),  # possible length, but no Bolivian range starts with 5
        ("+591", False),
        ("", False),
        ("  ", False),
        ("+", False),
    ],
)
def test_is_replyable(sender: str, replyable: bool) -> None:
    assert is_replyable(sender, region="BO") is replyable


def test_letters_are_never_read_as_a_keypad_number() -> None:
    # phonenumbers alone would turn "TIGO" into 8446 (vanity numbers); senders with letters are
    # names, and must never be answered.
    assert normalize_sender("TIGO", region="BO") == "TIGO"
    assert not is_replyable("TIGO", region="BO")
    assert not is_replyable("1-800-FLOWERS", region="BO")


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+59171234567", "71234567"),
        ("+59122123456", "2 2123456"),
        ("+14155552671", "+1 415-555-2671"),
        ("TIGO", "TIGO"),
        ("222", "222"),
    ],
)
def test_format_for_display(e164: str, shown: str) -> None:
    assert format_for_display(e164, region="BO") == shown


@pytest.mark.parametrize("typed", ["71234567", "+591 71234567", "591-7123-4567", "00591 71234567", "7123 4567",
                                   "(+591) 7123-4567", "0059171234567", " 71234567 "])
def test_a_number_typed_by_staff_any_usual_way(typed: str) -> None:
    assert normalize_typed(typed, "BO") == "+59171234567"


@pytest.mark.parametrize("typed", ["", "7123", "TIGO", "hola", "12345678901234567890", "+591", "222", "7123456x"])
def test_what_is_not_a_phone_number_is_none(typed: str) -> None:
    assert normalize_typed(typed, "BO") is None


def test_a_typed_number_abroad_keeps_its_country() -> None:
    assert normalize_typed("+1 415 555 2671", "BO") == "+14155552671"
