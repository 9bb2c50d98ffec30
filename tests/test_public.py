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


def test_pages_of_the_list_follow_the_order_and_leave_out_merged_duplicates(hoods, rules):
    import datetime as dt

    from barriosms.store.models import Case

    made = [submit(WebReport("B02" if i % 3 else "B03", f"Hay un bache numero {i}"), rules).case for i in range(12)]
    start = dt.datetime(2026, 11, 1, 8, 0)
    for i, c in enumerate(made):  # two at each time: the id decides between them
        Case.update(created_at=start + dt.timedelta(hours=i // 2)).where(Case.id == c.id).execute()
    casework.merge(made[5].tracking, made[4].tracking, load_templates(), region="BO")
    live = [c.tracking for c in reversed(made) if c.tracking != made[5].tracking]  # newest first
    pages = [[c.tracking for c in public.listing(public.CaseFilter(), offset=o, limit=4)] for o in (0, 4, 8, 12)]
    assert pages == [live[:4], live[4:8], live[8:], []]
    oldest = public.listing(public.CaseFilter(), limit=3, newest_first=False)
    assert [c.tracking for c in oldest] == live[::-1][:3]
    b03 = [c.tracking for c in reversed(made) if made.index(c) % 3 == 0]
    assert [c.tracking for c in public.listing(public.CaseFilter(neighborhood="B03"), offset=1, limit=2)] == b03[1:3]
    assert public.listing(public.CaseFilter(neighborhood="Z99")) == []
    assert public.cases(public.CaseFilter(), limit=0) == ([], 11)


def test_a_count_can_stop_past_a_limit(hoods, rules):
    for i in range(7):
        submit(WebReport("B02", f"Hay un bache numero {i}"), rules)
    assert public.count(public.CaseFilter()) == 7
    assert public.count(public.CaseFilter(), up_to=5) == 6  # above 5: "more than 5"
    assert public.count(public.CaseFilter(), up_to=7) == 7 and public.count(public.CaseFilter(), up_to=100) == 7
    assert public.count(public.CaseFilter(neighborhood="B02", state="cerrados"), up_to=5) == 0


def test_the_lists_and_counts_agree_with_the_cases_on_both_databases(either_db):
    """Pages (ids from migration 18's indexes, then the cases) and counts, against the cases one by
    one: several at one time (the id decides), merged duplicates left out, every filter."""
    import datetime as dt
    import random

    from conftest import SAMPLE_CSV

    from barriosms.staff.neighborhoods import import_csv
    from barriosms.store.models import Case, Neighborhood

    import_csv(SAMPLE_CSV)
    hoods = {n.code: n for n in Neighborhood.select()}
    rng = random.Random(3)
    start = dt.datetime(2026, 10, 1, 8, 0)
    statuses = public.OPEN + public.DONE
    for i in range(80):
        created = start + dt.timedelta(hours=rng.randrange(30))  # many at the same time
        Case.create(tracking=str(3000001 + i), neighborhood=hoods[rng.choice(["B01", "B03", "B12"])],
                    category=rng.choice(["vias", "agua"]), text="hay un bache", phone=f"+5917{i:07d}",
                    status=rng.choice(statuses), created_at=created, updated_at=created)
    first = Case.select().order_by(Case.id).first()
    Case.update(merged_into=first).where(Case.id.in_([first.id + 1, first.id + 7])).execute()
    every = sorted((c for c in Case.select() if c.merged_into_id is None), key=lambda c: (c.created_at, c.id),
                   reverse=True)
    for filters in (public.CaseFilter(), public.CaseFilter(state="abiertos"), public.CaseFilter(category="agua"),
                    public.CaseFilter(neighborhood="B03", state="cerrados"),
                    public.CaseFilter(since=start + dt.timedelta(hours=10), until=start + dt.timedelta(hours=20))):
        wanted = [c.tracking for c in every
                  if c.status in public.STATES[filters.state]
                  and (not filters.neighborhood or c.neighborhood.code == filters.neighborhood)
                  and (not filters.category or c.category == filters.category)
                  and (not filters.since or c.created_at >= filters.since)
                  and (not filters.until or c.created_at < filters.until)]
        assert len(wanted) > 7, filters
        for offset in (0, 7, len(wanted) - 3):
            got = public.listing(filters, offset=offset, limit=7)
            assert [c.tracking for c in got] == wanted[offset:offset + 7], (filters, offset)
        oldest = public.listing(filters, limit=5, newest_first=False)
        assert [c.tracking for c in oldest] == wanted[::-1][:5]
        assert public.count(filters) == len(wanted)
        assert public.count(filters, up_to=5) == 6 and public.count(filters, up_to=len(wanted)) == len(wanted)
