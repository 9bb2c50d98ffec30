"""GSM 03.38: septet counting (cross-checked with Gammu) and making text GSM-7 safe."""

from __future__ import annotations

import random

import pytest

from barriosms.domain.gsm import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SMS_SEPTETS,
    is_gsm7,
    septet_count,
    to_gsm7,
)

gammu = pytest.importorskip("gammu")


def gammu_coding(text: str) -> list[str]:
    """The coding Gammu picks for each part when it chooses by itself (as gammu-smsd does)."""
    parts = gammu.EncodeSMS({"Class": -1, "Entries": [{"ID": "ConcatenatedAutoTextLong", "Buffer": text}]})
    return [part["Coding"] for part in parts]


def test_alphabet_sizes() -> None:
    assert SMS_SEPTETS == 160
    assert len(GSM7_BASIC) == 127  # 128 codes minus the escape 0x1B
    assert GSM7_EXTENSION == frozenset("\x0c^{}\\[]~|€")


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 0),
        ("hola", 4),
        ("ñandú", None),  # ú is not GSM-7
        ("Ñuñoa, ¿qué pasó?", None),  # ó
        ("Ñuñoa, ¿qué paso?", 17),
        ("¡Gracias! é É ü Ü à è ì ò ù Ç", 29),
        ("á", None),
        ("Í", None),
        ("€", 2),
        ("[]{}~\\^|", 16),
        ("\x0c", 2),
        ("a\nb\rc", 5),
        ("@£$¥¤§ΔΦΓΛΩΠΨΣΘΞ_", 17),
        ("\x1b", None),  # the escape itself is not a character
        ("ç", None),  # only capital Ç is in the alphabet
        ("`", None),
        ("\u2019", None),
        ("😀", None),
        ("a" * 160, 160),
        ("€" * 80, 160),
    ],
)
def test_septet_count(text: str, count: int | None) -> None:
    assert septet_count(text) == count
    assert is_gsm7(text) is (count is not None)


CROSS_CHECK = [
    "hola",
    "B12 hay un bache grande en la calle 3",
    "Señor, ¿cuándo arreglan?".replace("á", "a"),
    "¡Gracias! é É ü Ü à è ì ò ù Ç Ñ ñ ¿",
    "Precio: 5€ [caso] {nota} ~ ^ | \\",
    "form\x0cfeed",
    "línea 1\nlínea 2".replace("í", "i"),
    "@£$¥¤§ΔΦΓΛΩΠΨΣΘΞ_ÆæßÉÅåØøÄÖäö",
    "a" * 159 + "€",  # 161 septets: two parts
    "a" * 158 + "€",  # exactly 160
    "a" * 160,
    "a" * 161,
    "€" * 80,
    "€" * 81,
    "x" * 400,
]


@pytest.mark.parametrize("text", CROSS_CHECK)
def test_septet_count_agrees_with_gammu(text: str) -> None:
    count = septet_count(text)
    assert count is not None
    parts, free = gammu.SMSCounter(text)
    if count <= SMS_SEPTETS:
        assert (parts, free) == (1, SMS_SEPTETS - count)
    else:
        assert parts > 1
    assert set(gammu_coding(text)) == {"Default_No_Compression"}


@pytest.mark.parametrize("text", ["árbol", "Ú", "comilla \u2019", "ç", "`", "😀", "\u2014"])
def test_unencodable_text_makes_gammu_use_unicode(text: str) -> None:
    # What septet_count calls None is exactly what would switch the SMS to UCS-2 (70 chars).
    assert septet_count(text) is None
    assert gammu_coding(text) == ["Unicode_No_Compression"]
    assert gammu_coding(to_gsm7(text)) == ["Default_No_Compression"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("está aquí", "esta aqui"),
        ("ÁÍÓÚ áíóú", "AIOU aiou"),
        ("ñandú Ñuñoa", "ñandu Ñuñoa"),
        ("¿Qué pasó? ¡Sí!", "¿Qué paso? ¡Si!"),
        ("pingüino PINGÜINO é É", "pingüino PINGÜINO é É"),
        ("à è ì ò ù", "à è ì ò ù"),
        ("camión", "camion"),
        ("“comillas” ‘simples’ «latinas» „bajas“", '"comillas" \'simples\' "latinas" "bajas"'),
        ("el `acento´", "el 'acento'"),
        ("a – b — c ‐ d − e", "a - b - c - d - e"),
        ("espere…", "espere..."),
        ("N° 5, 2º piso, 1ª cuadra", "No 5, 2o piso, 1a cuadra"),
        ("français ç Ç", "francais c Ç"),
        ("Ångström ÄÖ ø", "Ångström ÄÖ ø"),  # all in the GSM alphabet already
        ("ﬁn", "fin"),
        ("m²", "m2"),
        ("ã õ â ê î ô û ý", "a o a e i o u y"),
        ("🙂 gracias", "? gracias"),
        ("中文", "??"),
        ("½", "?"),
        ("  muchos   espacios\t\ty\nlineas\r\n ", "muchos espacios y lineas"),
        ("no\u00a0break\u2003em", "no break em"),
        ("zero\u200bwidth \ufeffbom", "zerowidth bom"),
        ("a \u200d b", "a b"),
        ("e\u0301 (decomposed)", "é (decomposed)"),
        ("a\u0301", "a"),
        ("5€ [x] {y}", "5€ [x] {y}"),
        ("", ""),
    ],
)
def test_to_gsm7(text: str, expected: str) -> None:
    result = to_gsm7(text)
    assert result == expected
    assert is_gsm7(result)


def test_to_gsm7_is_idempotent_and_always_encodable() -> None:
    rng = random.Random(3)
    # Latin-1, Latin Extended, punctuation, Greek, CJK, emoji, controls.
    pool = [chr(c) for c in [*range(0, 0x250), *range(0x2000, 0x2070), *range(0x370, 0x3d0)]]
    pool += ["😀", "👍🏽", "中", "\u200d", "\ufe0f"]
    for _ in range(2000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 40)))
        once = to_gsm7(text)
        assert is_gsm7(once), repr(text)
        assert to_gsm7(once) == once, repr(text)
        assert "  " not in once and once == once.strip()


@pytest.mark.parametrize("decoded, real", [
    ("B12 [calle] {3} € ~\x00odos ", "B12 [calle] {3} € ~"),
    ("hola [x] €\x00\x00\x00", "hola [x] €"),
    ("sin extension", "sin extension"),
    ("", ""),
    ("[", "["),
    ("a[b", "a[b"),  # not padded (no NUL): left whole
])
def test_trim_decoder_padding(decoded, real):
    from barriosms.domain.gsm import trim_decoder_padding

    assert trim_decoder_padding(decoded) == real


def test_one_table_gives_every_code_a_character_and_both_directions_agree():
    from barriosms.domain.gsm import GSM7_BASIC, GSM7_CODE_ORDER, GSM7_EXTENSION, gsm_decode, gsm_encode

    assert len(GSM7_CODE_ORDER) == 128 and len(set(GSM7_CODE_ORDER)) == 128
    assert len(GSM7_BASIC) == 127  # the escape is not a character
    every = "".join(sorted(GSM7_BASIC | GSM7_EXTENSION))
    assert gsm_decode(gsm_encode(every)) == every
    assert gsm_encode("€") == b"\x1b\x65" and gsm_encode("á") == b"?"
