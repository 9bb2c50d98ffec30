"""What the public sees: masked descriptions, no personal data, filters and counts."""

from __future__ import annotations

import pytest

from barriosms.cases import casework
from barriosms.pipeline.intake import IntakeRules
from barriosms.reporting import public
from barriosms.staff.webreports import WebReport, submit
from barriosms.templates.loader import load_categories, load_templates


@pytest.fixture
def rules():
    return IntakeRules(templates=load_templates(), categories=load_categories(None), region="BO")


def test_mask_hides_phones_and_emails():
    assert public.mask("llamar al 71234567 o +591 7 123 4567, ana@correo.bo") == \
        "llamar al [número oculto] o [número oculto], [correo oculto]"
    assert public.mask("calle 3 numero 45") == "calle 3 numero 45"


def test_a_case_shows_public_notes_only_and_no_phone(hoods, rules):
    done = submit(WebReport("B02", "Bache frente a mi casa, mi celular 71234567", phone="71234567"), rules)
    t = done.case.tracking
    casework.add_note(t, "Cuadrilla enviada", load_templates(), public=True, region="BO")
    casework.add_note(t, "la vecina es muy insistente", load_templates(), public=False, region="BO")
    seen = public.case(t)
    assert [n.text for n in seen.notes] == ["Cuadrilla enviada"]
    assert "71234567" not in repr(seen) and "insistente" not in repr(seen)
    assert seen.description == "Bache frente a mi casa, mi celular [número oculto]"
    assert public.case(t, show_descriptions=False).description == ""


@pytest.mark.parametrize("typed, reason", [("", "invalid"), ("123", "invalid"), ("abcdefg", "invalid")])
def test_mistyped_numbers_are_invalid(db, typed, reason):
    with pytest.raises(public.NotFound) as err:
        public.case(typed)
    assert err.value.reason == reason


def test_a_swapped_digit_is_invalid_not_another_case(hoods, rules):
    t = submit(WebReport("B02", "Hay un bache grande"), rules).case.tracking
    swapped = t[:2] + t[3] + t[2] + t[4:] if t[2] != t[3] else t[:-1] + str((int(t[-1]) + 1) % 10)
    with pytest.raises(public.NotFound) as err:
        public.case(swapped)
    assert err.value.reason == "invalid"


def test_counts_and_filters(hoods, rules):
    a = submit(WebReport("B02", "Hay un bache grande"), rules).case
    submit(WebReport("B02", "No hay agua desde ayer"), rules)
    submit(WebReport("B03", "Basura en la esquina"), rules)
    casework.change_status(a.tracking, "resolved", load_templates(), region="BO")
    by_code = {c.code: c for c in public.counts()}
    assert (by_code["B02"].open, by_code["B02"].done, by_code["B03"].open, by_code["B01"].total) == (1, 1, 1, 0)
    rows, total = public.cases(public.CaseFilter(neighborhood="B02", state="abiertos"))
    assert total == 1 and rows[0].category == "agua"
    rows, total = public.cases(public.CaseFilter(state="cerrados"))
    assert [r.tracking for r in rows] == [a.tracking]
    geo = public.map_geojson(state="abiertos")
    props = {f["properties"]["code"]: f["properties"] for f in geo["features"]}
    assert props["B02"]["open"] == 1 and props["B02"]["done"] == 0


def test_neighborhood_search_ignores_accents(hoods):
    assert [h.code for h in public.neighborhoods("fatima")] == ["B04"]
    assert [h.code for h in public.neighborhoods("b 04")] == ["B04"]


def test_a_reopening_shows_as_a_change_of_status_without_the_residents_words(hoods, rules):
    import datetime as dt

    from barriosms.store.models import Case, utcnow

    done = submit(WebReport("B02", "Hay un bache grande", phone="71234567"), rules)
    t = done.case.tracking
    casework.change_status(t, "resolved", load_templates(), region="BO")
    case = Case.get(Case.tracking == t)
    casework.reopen(case, "+59171234567", "sigue el bache, mi casa es la 45", utcnow() + dt.timedelta(seconds=1))
    seen = public.case(t)
    assert seen.status == "reviewing"
    assert [status for _at, status in seen.history] == ["received", "resolved", "reviewing"]
    assert "sigue el bache" not in repr(seen)


def test_the_web_takes_8_digit_numbers_and_says_how_many_digits_numbers_have(hoods):
    from barriosms.reporting.public import NotFound, check_tracking
    from barriosms.store.models import TrackingFill

    assert check_tracking("1264 6895") == "12646895"
    with pytest.raises(NotFound, match="tiene 7 cifras"):
        check_tracking("240891")
    TrackingFill.create(length=8, used=1)
    with pytest.raises(NotFound, match="tiene 7 u 8 cifras"):
        check_tracking("240891")
    with pytest.raises(NotFound, match="no es válido"):
        check_tracking("1264695")  # a digit left out of an 8-digit number is no 7-digit case
