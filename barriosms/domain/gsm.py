"""GSM 03.38 (3GPP TS 23.038) default alphabet: counting septets and making text fit it.

Why this matters here: a single character outside the GSM default alphabet (``á``, ``í``, ``ó``,
``ú``, a curly quote pasted from a word processor, an emoji) makes the phone network send the
whole SMS as UCS-2, which holds 70 characters instead of 160, so a reply silently becomes two or
three SMS (and costs more), or arrives with "?" on a basic phone.  Replies therefore go through
:func:`to_gsm7`.  Inbound text is *never* changed with it: residents' words are stored as sent.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = [
    "SMS_SEPTETS",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "GSM7_CODE_ORDER",
    "GSM7_EXTENSION_CODES",
    "gsm_encode",
    "gsm_decode",
    "septet_count",
    "is_gsm7",
    "to_gsm7",
]

SMS_SEPTETS: Final = 160
"""Septets in one SMS without a user-data header (a concatenated part carries 153)."""

# The default alphabet in code order (position = 7-bit code).  0x1B is the escape to the
# extension table, not a character, so it is left out of GSM7_BASIC.
GSM7_CODE_ORDER: Final = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                          "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_BASIC: Final = frozenset(GSM7_CODE_ORDER) - {"\x1b"}
# Extension table, character -> code after the escape: each costs two septets.  "\x0c" is form feed.
GSM7_EXTENSION_CODES: Final = {"\x0c": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
                               "]": 0x3E, "|": 0x40, "€": 0x65}
GSM7_EXTENSION: Final = frozenset(GSM7_EXTENSION_CODES)
_EXTENSION_BY_CODE: Final = {code: ch for ch, code in GSM7_EXTENSION_CODES.items()}

# Look-alikes that word processors and phones produce; NFKD does not map these to ASCII.
_REPLACEMENTS: Final[dict[str, str]] = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\u2022": "-",
    "\u2026": "...",
    # "N°" (degree sign) is how many people write "número" in Bolivia; "º" decomposes to "o" anyway.
    "\u00b0": "o",
}

_WHITESPACE_RUN: Final = re.compile(r"\s+")
_SPACE_RUN: Final = re.compile(" {2,}")
# Invisible characters that carry nothing a reader would miss: zero-width joiners, BOM, emoji
# variation selectors, stray combining marks, control characters.
_DROP_CATEGORIES: Final = frozenset({"Mn", "Me", "Cf", "Cc"})


def septet_count(text: str) -> int | None:
    """Septets ``text`` needs in the GSM default alphabet; ``None`` if some character is not in it.

    Extension characters (``€[]{}~\\^|`` and form feed) count 2.
    """
    count = 0
    for ch in text:
        if ch in GSM7_BASIC:
            count += 1
        elif ch in GSM7_EXTENSION:
            count += 2
        else:
            return None
    return count


def is_gsm7(text: str) -> bool:
    """True if ``text`` can be sent as GSM-7 (default alphabet + extension table)."""
    return septet_count(text) is not None


def _gsm_char(ch: str) -> str:
    """The GSM-7 spelling of one (non-whitespace) character."""
    if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
        # Covers ñ Ñ é É ü Ü ¿ ¡ à è ì ò ù: Spanish keeps them for free.
        return ch
    if ch in _REPLACEMENTS:
        return _REPLACEMENTS[ch]
    if unicodedata.category(ch) in _DROP_CATEGORIES:
        return ""
    # á → a, Í → I, ç → c, "ﬁ" → "fi", "²" → "2": compatibility decomposition minus the accents.
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if base and all(c in GSM7_BASIC for c in base):
        return base
    return "?"


def to_gsm7(text: str) -> str:
    """``text`` rewritten so that every character is GSM-7 (one SMS holds 160 of them).

    Whitespace runs (spaces, tabs, line breaks, no-break spaces) become one space and the ends
    are trimmed, so a template written over several indented lines in the INI file reads as one
    paragraph.  The result is not shortened: that is :mod:`barriosms.domain.replies`' job.
    """
    # NFC first, so "a" + combining acute (as some phones send it) is treated like "á".
    text = _WHITESPACE_RUN.sub(" ", unicodedata.normalize("NFC", text))
    out = "".join(_gsm_char(ch) for ch in text)
    # Again, because a dropped invisible character may have stood between two spaces.
    return _SPACE_RUN.sub(" ", out).strip()


def trim_decoder_padding(text: str) -> str:
    """Drop what Gammu appends to a decoded GSM-7 text that contains extension characters.

    Gammu sizes the decoded text by the septet count, and each extension character (two septets)
    leaves one extra character at the end: a NUL, or leftover bytes of an earlier message. The real
    text is the prefix whose length plus its extension characters equals the decoded length, and
    the padding starts with the NUL that ended Gammu's string; a text without that NUL (from a
    Gammu that gets this right) is left whole.
    """
    total = len(text)
    length = 0
    extensions = 0
    while length < total:
        if length + extensions == total:
            return text[:length] if text[length] == "\x00" else text
        if text[length] in GSM7_EXTENSION:
            extensions += 1
        length += 1
    return text


def gsm_encode(text: str) -> bytes:
    """Text as GSM 03.38 codes, one byte each (extension characters as ESC + code); '?' if absent.

    The unpacked form AT+CSCS="GSM" uses for text-mode message text.
    """
    out = bytearray()
    for ch in text:
        if ch in GSM7_EXTENSION_CODES:
            out += bytes((0x1B, GSM7_EXTENSION_CODES[ch]))
        else:
            code = GSM7_CODE_ORDER.find(ch)
            out.append(code if code >= 0 and ch != "\x1b" else 0x3F)
    return bytes(out)


def gsm_decode(data: bytes) -> str:
    """GSM 03.38 codes (one byte each, ESC + code for the extension table) as text."""
    out, escape = [], False
    for byte in data:
        if escape:
            out.append(_EXTENSION_BY_CODE.get(byte, " "))  # 23.038: an unknown extension reads as a space
            escape = False
        elif byte == 0x1B:
            escape = True
        else:
            out.append(GSM7_CODE_ORDER[byte & 0x7F])
    return "".join(out)
