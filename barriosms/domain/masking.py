"""Phone numbers and e-mail addresses hidden in what residents and staff write, before anyone sees it.

Descriptions and public notes are shown on the website and through Open311; a resident often
writes a number to call back ("mi cel 7654 - 3210") or an address ("juan arroba gmail punto com").
People write them every way there is, so the rules are about shape, not about one format:

* Phones: a run of digits with separators between them (spaces, dashes, dots, slashes,
  underscores, parentheses, "+", any mix, up to MAX_GAP of them in a row) is hidden when it holds
  7 or more digits: a landline without its area code has 7 (244-1234), with it 8 (2 2441234), a
  mobile 8 (7654 3210), and +591 / 00591 / 591 only add more. Digits of every script count
  (fullwidth, Arabic-Indic, superscript ², circled ①), and invisible characters (a zero-width
  space, a soft hyphen) are dropped first: they would split a number the page shows whole.
  phonenumbers' PhoneNumberMatcher is not enough alone: it misses "7654_3210", local numbers
  without an area code ("244-1234") and any digits that are not ASCII.
* E-mails: an address with "@" (spaces around it allowed, the part before it may be missing),
  "arroba" or "(at)"; dots written "." or " punto "; a missing top-level domain ("juan@example").

Privacy wins when in doubt: a 7-digit tracking number in a note is hidden like the landline it
could be. What stays: short numbers ("calle 3", "casa 45", "B12"), amounts after "Bs" or "$us"
("Bs 1.250.000"), and dates ("12/03/2024") or year ranges ("2019-2024") whose digits could not
be a Bolivian phone number.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

__all__ = ["EMAIL_MASK", "PHONE_MASK", "mask"]

PHONE_MASK = "[número oculto]"
EMAIL_MASK = "[correo oculto]"
MIN_DIGITS = 7  # a landline without its area code; anything longer is a phone or could be one
MAX_GAP = 6  # separators in a row between two digits of one number ("7654  -  3210" has 5)

# Every character with a digit value: \d (decimal digits of all scripts) and those \d leaves out
# (superscripts, subscripts, circled, Ethiopic...); tests/test_masking.py checks it against
# unicodedata, so a new Unicode version cannot slip one past.
DIGIT = ("[\\d\u00b2\u00b3\u00b9\u1369-\u1371\u19da\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468"
         "\u2474-\u247c\u2488-\u2490\u24ea\u24f5-\u24fd\u24ff\u2776-\u277e\u2780-\u2788\u278a-\u2792"
         "\U00010a40-\U00010a43\U00010e60-\U00010e68\U00011052-\U0001105a\U0001f100-\U0001f10a]")
# What people put between the digits of one number (commas are left out: "casas 12, 14, 16").
SEPARATOR = "[\\s\\-\u2010-\u2015\u2212\uff0d.\u00b7\u2024\u30fb\uff0e/\\\\\uff0f_\uff3f()\\[\\]\uff08\uff09+\uff0b*]"

_DIGIT = re.compile(DIGIT)
_RUN = re.compile(rf"(?:[+\uff0b(\uff08]\s?){{0,2}}{DIGIT}(?:{SEPARATOR}{{0,{MAX_GAP}}}{DIGIT})*[)\uff09]?")
_FIRST_GROUP = re.compile(rf"{DIGIT}+{SEPARATOR}+")
_CURRENCY_BEFORE = re.compile(r"(?:\bBs\.?|\$us|US\$|\$|\bUSD)\s*$", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(r"^\s*(?:Bs\b|bolivianos\b|d[oó]lares\b|\$us\b|USD\b)", re.IGNORECASE)
_AMOUNT = re.compile(r"[0-9]{1,3}(?:[.\s][0-9]{3})+|[0-9]+")
_DATE = re.compile(r"([0-9]{1,2})([/.-])([0-9]{1,2})\2((?:19|20)[0-9]{2})")
_YEARS = re.compile(r"(?:19|20)[0-9]{2}\s*[-\u2013/]\s*(?:19|20)[0-9]{2}")

# Bounded and possessive (a failed match is never retried shorter): the work from each start is
# bounded, so masking stays linear in the text's length whatever a resident writes (no address
# has a part longer than 64 characters, RFC 5321, or more than a few dots).
_ATOM = r"[\w+\-]{1,64}+"
_PARTS = "{0,8}+"
_AT = (r"(?:\s*[@\uff20\ufe6b]\s*"  # @ (also fullwidth and small), spaces around it or not
       r"|\s*[(\[{<]\s*(?:arroba|at)\s*[)\]}>]\s*"  # (arroba), [at]
       r"|\s+arroba\s+(?!de\b(?!\s*(?:\.|punto\b|dot\b))))")  # "una arroba de papa" is a weight
_LOCAL_DOT = r"(?:\.|\s+\.\s+|\s*[(\[]\s*(?:punto|dot)\s*[)\]]\s*|\s+(?:punto|dot)\s+)"
_TLD = r"(?:com|net|org|edu|gob|gov|bo|es|info|io|co|mx|ar|pe|cl|br|us|me|biz)\b"
_DOMAIN_DOT = rf"(?:\.|\s+\.\s+|\s*\.\s*(?={_TLD})|\s*[(\[]\s*(?:punto|dot)\s*[)\]]\s*|\s+(?:punto|dot)\s+)"
# The local part starts only where a word does (not again inside "juan"); "@juan" is hidden too.
_EMAIL = re.compile(
    rf"(?:(?<![\w+\-]){_ATOM}(?:{_LOCAL_DOT}{_ATOM}){_PARTS}{_AT}|[@\uff20\ufe6b]\s*)"
    rf"{_ATOM}(?:{_DOMAIN_DOT}{_ATOM}){_PARTS}",
    re.IGNORECASE)


def mask(text: str) -> str:
    """`text` with phone numbers and e-mail addresses replaced by PHONE_MASK and EMAIL_MASK."""
    text = _visible(text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    return _RUN.sub(_hide_number, text)


def _visible(text: str) -> str:
    """Without invisible characters (format and control ones, but line breaks and tabs)."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(c for c in text if c in "\t\n\r" or unicodedata.category(c) not in ("Cc", "Cf"))


def _digits(run: str) -> str:
    """The run's digits as ASCII ("７" and "²" as "7" and "2")."""
    return "".join(str(unicodedata.digit(c)) for c in _DIGIT.findall(run))


def _hide_number(match: re.Match[str]) -> str:
    run = match.group()
    if len(_digits(run)) < MIN_DIGITS or _harmless(match):
        return run
    before = match.string[match.start() - 1] if match.start() else ""
    if before.isalpha():
        # "B12 7654 3210": the neighbourhood code stays when the rest is a number on its own.
        first = _FIRST_GROUP.match(run)
        if first and len(_digits(run[first.end():])) >= MIN_DIGITS:
            return run[:first.end()] + PHONE_MASK
    return PHONE_MASK


def _harmless(match: re.Match[str]) -> bool:
    """An amount in bolivianos or dollars, or a date or span of years that cannot be a phone."""
    run, text = match.group().strip(), match.string
    if _AMOUNT.fullmatch(run) and (_CURRENCY_BEFORE.search(text[max(0, match.start() - 12):match.start()])
                                   or _CURRENCY_AFTER.match(text[match.end():match.end() + 12])):
        return True
    date = _DATE.fullmatch(run)
    if date and not (1 <= int(date.group(1)) <= 31 and 1 <= int(date.group(3)) <= 12):
        return False
    return bool(date or _YEARS.fullmatch(run)) and not _could_be_phone(_digits(run))


def _could_be_phone(digits: str) -> bool:
    """Whether these 7 or 8 digits are a valid Bolivian number (a 7-digit one with some area code)."""
    candidates = [digits] if len(digits) == 8 else [area + digits for area in "234"] if len(digits) == 7 else []
    return not candidates or any(phonenumbers.is_valid_number(phonenumbers.parse(c, "BO")) for c in candidates)
