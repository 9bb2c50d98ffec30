"""Reply templates: the shipped texts fit one GSM-7 SMS in the worst case; edits are checked."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from barriosms.domain.gsm import SMS_SEPTETS, is_gsm7, septet_count, to_gsm7
from barriosms.domain.replies import (
    ELLIPSIS,
    REQUIRED_TEMPLATES,
    SHORTENABLE,
    TemplateError,
    Templates,
)
from barriosms.domain.statuses import STATUSES
from barriosms.domain.tracking import damm_valid
from barriosms.templates.loader import load_templates

gammu = pytest.importorskip("gammu")

ROOT = Path(__file__).resolve().parent.parent
CONFIG_COPY = ROOT / "config" / "replies.es.ini"
TRACKING = "2408917"
# The longest tracking numbers (9 digits, once 7 and 8 are half taken) still fit in every reply.
LONGEST_TRACKING = "280340638"

BARRIO_40 = "Señor de Mayo Ñuñoa Pampahasi Alto Sánch"  # 40 characters, ñ and an á
LONG_NOTE = (
    "Se inspeccionó el lugar el martes; la cuadrilla de mantenimiento vial volverá con "
    "maquinaria cuando termine la época de lluvias, según el cronograma del distrito. "
) * 4  # ~ 660 characters, accents, semicolons
NUMBER_20 = "12345678901234567890"


@pytest.fixture(scope="module")
def templates() -> Templates:
    return load_templates()


def longest_label(templates: Templates) -> str:
    return max((templates.status_label(s) for s in STATUSES), key=len)


def worst_values(templates: Templates) -> dict[str, str]:
    return {
        "tracking": LONGEST_TRACKING,
        "status": longest_label(templates),
        "barrio": BARRIO_40,
        "category": "alumbrado",  # longest default category name
        "code": "ABCD1234",  # longest possible code
        "note": LONG_NOTE,
        "number": NUMBER_20,
        "description": LONG_NOTE,
        "options": "B04 Villa Fatima Alta, B10 Villa Copacabana, B16 Villa Armonia, B17 Villa San Antonio Bajo",
        "into": "863972502",
        "days": "365",
        "digits": "7, 8 o 9",
        "minutes": "1440",  # a crew's longest lock (cases.crews.MAX_LOCK)
        # Staff's own text is never cut (`cases ask`/`message` refuse what does not fit): a long one.
        "question": "¿El bache esta frente a la escuela o frente a la plaza principal?",
        "message": "La cuadrilla ira el lunes temprano; por favor deje libre la entrada del garaje.",
    }


def gammu_parts(text: str) -> list[str]:
    parts = gammu.EncodeSMS({"Class": -1, "Entries": [{"ID": "ConcatenatedAutoTextLong", "Buffer": text}]})
    return [part["Coding"] for part in parts]


def test_config_copy_is_identical_to_package_default() -> None:
    packaged = resources.files("barriosms.templates").joinpath("replies.es.ini").read_bytes()
    assert CONFIG_COPY.read_bytes() == packaged
    assert load_templates(CONFIG_COPY).names == load_templates().names


def test_names_and_labels(templates: Templates) -> None:
    assert templates.names == tuple(REQUIRED_TEMPLATES)
    assert {s: templates.status_label(s) for s in STATUSES} == {
        "received": "recibido",
        "reviewing": "en revision",
        "in_progress": "en proceso",
        "resolved": "resuelto",
        "closed": "cerrado",
        "rejected": "rechazado",
    }
    with pytest.raises(ValueError):
        templates.status_label("recibido")


@pytest.mark.parametrize("name", list(REQUIRED_TEMPLATES))
def test_every_template_fits_one_gsm7_sms_with_worst_case_values(templates: Templates, name: str) -> None:
    values = worst_values(templates)
    text = templates.render(name, **values)
    count = septet_count(text)
    assert count is not None and count <= SMS_SEPTETS, (count, text)
    assert is_gsm7(text)
    assert gammu.SMSCounter(text) == (1, SMS_SEPTETS - count)
    assert gammu_parts(text) == ["Default_No_Compression"]  # one part, never UCS-2
    fields = templates.fields(name)
    if "tracking" in fields:
        assert LONGEST_TRACKING in text
    if "status" in fields:
        assert values["status"] in text
    if "number" in fields:
        assert NUMBER_20 in text  # 20 digits still fit: nothing needed cutting


@pytest.mark.parametrize("name", list(REQUIRED_TEMPLATES))
@pytest.mark.parametrize("status", STATUSES)
def test_every_template_with_every_status(templates: Templates, name: str, status: str) -> None:
    values = worst_values(templates) | {"status": templates.status_label(status)}
    text = templates.render(name, **values)
    assert (septet_count(text) or 999) <= SMS_SEPTETS


def test_40_character_barrio_is_not_truncated(templates: Templates) -> None:
    text = templates.render("report_received", tracking=TRACKING, barrio=BARRIO_40, category="alumbrado")
    assert "Señor de Mayo Ñuñoa Pampahasi Alto Sanch" in text  # only the á became a
    assert ELLIPSIS not in text
    assert text.count(TRACKING) == 2


def test_shipped_templates_leave_room(templates: Templates) -> None:
    # Typical values: every reply well under one SMS, so longer names and notes still fit.
    typical = {
        "tracking": TRACKING, "status": "en proceso", "barrio": "Villa Fatima", "category": "vias",
        "code": "B12", "note": "Bacheo programado para el lunes.", "number": "1234576",
        "options": "B04 Villa Fatima, B10 Villa Copacabana", "into": "7654321", "days": "30", "minutes": "15", "digits": "7",
        "question": "¿El bache esta frente a la escuela?", "message": "La cuadrilla ira el lunes.",
    }
    for name in templates.names:
        count = septet_count(templates.render(name, **typical)) or 999
        assert count <= 150, (name, count)


def test_long_note_is_cut_at_a_word_boundary(templates: Templates) -> None:
    text = templates.render("status_note", tracking=TRACKING, status="en proceso", note=LONG_NOTE)
    count = septet_count(text) or 999
    assert SMS_SEPTETS - 15 <= count <= SMS_SEPTETS  # fills the SMS, losing at most one word
    note = text.split("Nota: ", 1)[1]
    assert note.endswith(ELLIPSIS)
    kept = note.removesuffix(ELLIPSIS)
    clean = to_gsm7(LONG_NOTE)
    assert clean.startswith(kept)
    assert clean[len(kept)] in " ,;."  # the word before ".." is whole
    assert not kept.endswith((" ", ",", ";"))


def test_short_values_are_not_touched(templates: Templates) -> None:
    text = templates.render("status_note", tracking=TRACKING, status="resuelto", note="Listo.")
    assert text == f"Su reclamo {TRACKING} esta resuelto. Nota: Listo."


def test_rendering_makes_values_gsm7(templates: Templates) -> None:
    text = templates.render(
        "status_note", tracking=TRACKING, status="en revisión", note="“Llegó” la cuadrilla… ok 👍"
    )
    assert text == f'Su reclamo {TRACKING} esta en revision. Nota: "Llego" la cuadrilla... ok ?'


def test_extra_values_are_ignored_missing_ones_are_an_error(templates: Templates) -> None:
    assert templates.render("help", tracking=TRACKING) == templates.render("help")
    with pytest.raises(ValueError, match="status"):
        templates.render("status", tracking=TRACKING)
    with pytest.raises(KeyError):
        templates.render("no_such_template")


def test_examples_never_show_a_real_tracking_number(templates: Templates) -> None:
    # A resident copying an example must not get someone else's case.
    for name in templates.names:
        for number in re.findall(r"\d{7}", templates.template(name)):
            assert not damm_valid(number), (name, number)


@pytest.mark.parametrize("name", list(REQUIRED_TEMPLATES))
def test_templates_themselves_are_plain_gsm7(templates: Templates, name: str) -> None:
    # Written without á í ó ú on purpose, so what the technician reads is what is sent.
    assert is_gsm7(templates.template(name))


# --- shortening rules (independent of the shipped texts) -----------------------------------------

LABELS = {"received": "recibido", "reviewing": "en revision", "in_progress": "en proceso",
          "resolved": "resuelto", "closed": "cerrado", "rejected": "rechazado"}
SIMPLE = {name: " ".join(f"{{{f}}}" for f in sorted(fields)) or name for name, fields in REQUIRED_TEMPLATES.items()}


def make(**overrides: str) -> Templates:
    return Templates(SIMPLE | overrides, LABELS, source="test.ini")


def test_longest_value_is_shortened_first() -> None:
    t = make(report_received="{tracking} {barrio} {category}")
    barrio = "Villa " + "x" * 10
    category = " ".join(["palabra"] * 30)  # 239 characters
    text = t.render("report_received", tracking=TRACKING, barrio=barrio, category=category)
    assert septet_count(text) is not None and (septet_count(text) or 999) <= SMS_SEPTETS
    assert text.startswith(f"{TRACKING} {barrio} palabra")  # barrio intact, category cut
    assert text.endswith("palabra..")


def test_all_shortenable_values_can_be_cut_or_emptied() -> None:
    t = make(report_received="{tracking} " + "y" * 140 + " {barrio} {category}")
    text = t.render("report_received", tracking=TRACKING, barrio="b" * 100, category="c" * 100)
    assert (septet_count(text) or 999) <= SMS_SEPTETS
    assert TRACKING in text


def test_single_long_word_is_cut_hard() -> None:
    t = make(invalid_tracking="El numero {number} no es valido.")
    text = t.render("invalid_tracking", number="9" * 400)
    assert (septet_count(text) or 999) == SMS_SEPTETS
    assert "9" * 100 in text and ".. no es valido." in text


def test_extension_characters_count_double_when_cutting() -> None:
    t = make(status_note="{tracking} {status} {note}")
    text = t.render("status_note", tracking=TRACKING, status="x", note="€ " * 200)
    assert (septet_count(text) or 999) <= SMS_SEPTETS


def test_tracking_and_status_are_never_shortened() -> None:
    assert "tracking" not in SHORTENABLE and "status" not in SHORTENABLE
    t = make(status="{tracking} {status}")
    with pytest.raises(TemplateError, match=r"test\.ini: \[replies\] status: .*Fix:"):
        t.render("status", tracking="1" * 200, status="x")


# --- an edited copy with mistakes --------------------------------------------------------------


def edited(tmp_path: Path, old: str, new: str) -> Path:
    text = CONFIG_COPY.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "replies.es.ini"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "section_key", "hint"),
    [
        # A template deleted.
        ("status_note = Su reclamo {tracking} esta {status}. Nota: {note}\n", "",
         "[replies] status_note", "missing"),
        # A placeholder misspelt / not allowed in this template.
        ("Nota: {note}\n\nstatus_changed", "Nota: {nota}\n\nstatus_changed",
         "[replies] status_note", "unknown placeholder {nota}"),
        ("El numero {number} no es valido", "El numero {tracking} no es valido",
         "[replies] invalid_tracking", "unknown placeholder {tracking}"),
        # The tracking number removed from the confirmation.
        ("Numero: {tracking}.\n    Barrio {barrio} ({category}).\n    Para saber como va, envie {tracking}",
         "Barrio {barrio} ({category}).", "[replies] report_received", "must contain {tracking}"),
        # Format specs, unclosed braces.
        ("El numero {number}", "El numero {number:>30}", "[replies] invalid_tracking", "format"),
        ("El numero {number}", "El numero {number", "[replies] invalid_tracking", "brace"),
        # A template name misspelt.
        ("unroutable =", "unroutabel =", "[replies] unroutabel", "unknown template"),
        # Too long for one SMS.
        ("help = Para reclamar,", "help = " + "Estimado vecino, " * 4 + "para reclamar,",
         "[replies] help", "one SMS holds 160"),
        # Statuses.
        ("closed = cerrado\n", "", "[statuses] closed", "no label"),
        ("closed = cerrado", "closed =", "[statuses] closed", "no label"),
        ("closed = cerrado", "cerrado = cerrado", "[statuses] cerrado", "unknown status"),
        ("[statuses]", "[estados]", "[statuses]", "missing"),
        ("[statuses]", "[statuses]\nclosed = cerrada", "[statuses] closed", "twice"),
        ("[statuses]", "[statuses]\nsolo texto", "line(s)", "key = value"),
    ],
)
def test_edited_copy_errors_name_file_key_and_fix(
    tmp_path: Path, old: str, new: str, section_key: str, hint: str
) -> None:
    path = edited(tmp_path, old, new)
    with pytest.raises(TemplateError) as excinfo:
        load_templates(path)
    message = str(excinfo.value)
    assert message.startswith(str(path) + ":"), message
    assert section_key in message, message
    assert hint in message, message
    assert "Fix:" in message, message


def test_edited_copy_that_is_fine_loads(tmp_path: Path) -> None:
    path = edited(tmp_path, "status = Su reclamo {tracking} esta {status}.",
                  "status = Su reclamo {tracking} está {status}. 100% seguro, caso #1.")
    t = load_templates(path)
    assert t.render("status", tracking=TRACKING, status="en proceso") == (
        f"Su reclamo {TRACKING} esta en proceso. 100% seguro, caso #1."
    )


def test_template_error_is_a_value_error_with_fields(tmp_path: Path) -> None:
    path = edited(tmp_path, "Nota: {note}\n\nstatus_changed", "Nota: {nota}\n\nstatus_changed")
    with pytest.raises(ValueError) as excinfo:
        load_templates(path)
    error = excinfo.value
    assert isinstance(error, TemplateError)
    assert (error.path, error.section, error.key) == (str(path), "replies", "status_note")


def test_an_older_edited_copy_gets_the_newer_texts_and_keywords_from_the_package(tmp_path: Path) -> None:
    text = CONFIG_COPY.read_text(encoding="utf-8")
    # A copy made before the resident/staff workflow: no [keywords], no newer templates.
    head, _, statuses = text.partition("[keywords]")
    old = head.split("ambiguous =")[0] + "[statuses]" + statuses.split("[statuses]", 1)[1]
    path = tmp_path / "replies.es.ini"
    path.write_text(old, encoding="utf-8")
    t = load_templates(path)
    assert "opted_out" in t.defaulted and "merged" in t.defaulted
    assert t.render("opted_out") == load_templates().render("opted_out")
    assert t.keywords["optout"] == ("baja", "stop")


@pytest.mark.parametrize(
    ("old", "new", "hint"),
    [
        ("optout = baja, stop", "optout = baja, alta", "also given for"),
        ("optout = baja, stop", "optout = dar de baja", "one word"),
        ("optout = baja, stop", "optout =", "no keyword"),
        ("optin = alta", "entrar = alta", "unknown keyword name"),
    ],
)
def test_keyword_mistakes_name_the_key_and_fix(tmp_path: Path, old: str, new: str, hint: str) -> None:
    path = edited(tmp_path, old, new)
    with pytest.raises(TemplateError) as excinfo:
        load_templates(path)
    assert hint in str(excinfo.value) and "[keywords]" in str(excinfo.value)


def test_keywords_are_folded(tmp_path: Path) -> None:
    path = edited(tmp_path, "reopen = reabrir", "reopen = REABRÍR, reclamar")
    assert load_templates(path).keywords["reopen"] == ("reabrir", "reclamar")
