"""Sender addresses: one spelling per phone, and whether we may answer it.

The network, the modem and Gammu write the same phone in many ways ("+59171234567",
"59171234567", "71234567", "0059171234567", "01071234567" with a carrier-selection prefix).
Cases, rate limits and duplicate detection key on the sender, so every spelling of a phone must
become the same E.164 string.  Senders that are not phones ("TIGO", short code "222") are kept
as they came (stripped): their messages are stored, but they are never answered.

All number knowledge comes from ``phonenumbers`` (Google's libphonenumber metadata); Bolivia's
national prefix "0", international prefixes "00"/"001X" and carrier selection "01X" are in it.
"""

from __future__ import annotations

import logging
import re
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

__all__ = ["DEFAULT_REGION", "normalize_sender", "normalize_typed", "is_replyable", "format_for_display"]

log = logging.getLogger(__name__)

# Characters a number may be written with besides digits.  Anything else (letters above all)
# means "not a phone": phonenumbers would otherwise read "TIGO" as the keypad number 8446.
# The country a fresh installation assumes ([gateway] region's default, declared once): Bolivia.
# Everything else takes the configured region as an argument, never a default of its own.
DEFAULT_REGION: Final = "BO"

_NUMBER_CHARS: Final = re.compile(r"\+?[0-9()\s.\-/]+")
_DIGITS_ONLY: Final = re.compile(r"[0-9]+")
# A person also writes the "+" inside brackets: "(+591) 7123-4567".
_TYPED_CHARS: Final = re.compile(r"[0-9()\s.\-/+]+")
# A bare digit string this long cannot be a Bolivian national number nor a short code; it is an
# international number whose "+" the network dropped (e.g. "5491123456789").
_MIN_INTERNATIONAL_DIGITS: Final = 10


def _parse(sender: str, region: str) -> PhoneNumber | None:
    """The phone number ``sender`` spells, or None if it is not (recognisably) one."""
    if not _NUMBER_CHARS.fullmatch(sender):
        return None
    try:
        number = phonenumbers.parse(sender, region)
    except NumberParseException:
        return None
    if phonenumbers.is_valid_number(number):
        return number
    # Written in international form by the network: a number even if our metadata does not know
    # its range yet (a new operator block); keep its E.164 spelling stable across updates.
    if sender.startswith("+") and phonenumbers.is_possible_number(number):
        return number
    digits = re.sub(r"[^0-9]", "", sender)
    if _DIGITS_ONLY.fullmatch(sender) and len(digits) >= _MIN_INTERNATIONAL_DIGITS:
        try:
            number = phonenumbers.parse("+" + digits, None)
        except NumberParseException:
            return None
        if phonenumbers.is_valid_number(number):
            return number
    return None


def normalize_sender(sender: str, region: str) -> str:
    """E.164 (``+591…``) for a phone number written any usual way; else ``sender.strip()``.

    >>> normalize_sender("01071234567", "BO")
    '+59171234567'
    >>> normalize_sender(" TIGO ", "BO")
    'TIGO'
    """
    stripped = sender.strip()
    number = _parse(stripped, region)
    if number is None:
        return stripped
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def normalize_typed(typed: str, region: str) -> str | None:
    """E.164 for a phone number a person typed ("7123 4567", "591-7123-4567"), else None.

    Stricter and more forgiving than :func:`normalize_sender`: a name or short code is not a
    number here (None: staff typed a phone to look for), but a country code typed without its
    "+" between separators counts, as a person writes it from a business card.

    >>> normalize_typed("591-7123-4567", "BO")
    '+59171234567'
    >>> normalize_typed("7123", "BO") is None
    True
    """
    stripped = typed.strip()
    number = _parse(stripped, region)
    if number is None and _TYPED_CHARS.fullmatch(stripped) and stripped.count("+") <= 1:
        digits = re.sub(r"[^0-9]", "", stripped)
        if len(digits) >= _MIN_INTERNATIONAL_DIGITS:
            number = _parse(digits, region)
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def is_replyable(sender: str, region: str) -> bool:
    """True only for a full, valid phone number: never for short codes, names or empty senders.

    Answering a short code or an operator's alphanumeric sender costs money and can start an
    endless exchange with an automatic service.
    """
    number = _parse(sender.strip(), region)
    return number is not None and phonenumbers.is_valid_number(number)


def format_for_display(e164: str, region: str) -> str:
    """How staff read a sender: "71234567" for a Bolivian number, "+1 415-555-2671" abroad.

    Non-numbers come back unchanged.
    """
    number = _parse(e164.strip(), region)
    if number is None:
        return e164.strip()
    if phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
