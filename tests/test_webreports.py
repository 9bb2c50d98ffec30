"""Reports made on the website or through Open311: validation, one case per form, the tracking SMS."""

from __future__ import annotations

import datetime as dt

import pytest

from barriosms.pipeline.intake import IntakeRules
from barriosms.staff.webreports import ReportError, WebReport, submit
from barriosms.store.models import Case, CaseReporter, OutboundMessage, PhoneState
from barriosms.templates.loader import load_categories, load_templates


@pytest.fixture
def rules():
    return IntakeRules(templates=load_templates(), categories=load_categories(None), region="BO")


def test_a_report_by_name_opens_a_web_case_and_queues_the_tracking_sms(hoods, rules):
    done = submit(WebReport("sopocachi", "Hay un bache grande en la calle 3", phone="71234567"), rules)
    case = Case.get()
    assert done.created and done.sms == "queued" and done.case.id == case.id
    assert (case.channel, case.neighborhood.code, case.category, case.phone) == ("web", "B02", "vias", "+59171234567")
    assert [r.phone for r in CaseReporter.select()] == ["+59171234567"]
    sms = OutboundMessage.get()
    assert sms.recipient == "+59171234567" and case.tracking in sms.text and sms.urgent
    assert len(sms.text) <= 160


def test_the_same_form_token_twice_is_one_case(hoods, rules):
    first = submit(WebReport("B02", "No hay luz en la plaza"), rules, token="t-1")
    again = submit(WebReport("B02", "No hay luz en la plaza"), rules, token="t-1")
    assert first.created and not again.created and again.case.tracking == first.case.tracking
    assert Case.select().count() == 1


@pytest.mark.parametrize("report, field", [
    (WebReport("", "Hay un bache grande"), "neighborhood"),
    (WebReport("Narnia", "Hay un bache grande"), "neighborhood"),
    (WebReport("B02", "mal"), "description"),
    (WebReport("B02", "x" * 1001), "description"),
    (WebReport("B02", "Hay un bache grande", category="nope"), "category"),
    (WebReport("B02", "Hay un bache grande", phone="123"), "phone"),
    (WebReport("B02", "Hay un bache grande", lat="-16.5", lon=""), "lat"),
    (WebReport("B02", "Hay un bache grande", lat="nan", lon="1"), "lat"),
    (WebReport("B02", "Hay un bache grande", lat="-16.5", lon="999"), "lon"),
])
def test_bad_fields_are_refused_with_the_field_named_and_nothing_stored(hoods, rules, report, field):
    with pytest.raises(ReportError) as err:
        submit(report, rules)
    assert err.value.field == field and err.value.message
    assert Case.select().count() == 0 and OutboundMessage.select().count() == 0


def test_an_opted_out_phone_is_a_reporter_but_gets_no_sms(hoods, rules):
    PhoneState.create(phone="+59171234567", opted_out=True)
    done = submit(WebReport("B02", "Hay un bache grande", phone="+591 71234567"), rules)
    assert done.sms == "opted_out" and OutboundMessage.select().count() == 0
    assert CaseReporter.get().phone == "+59171234567"


def test_the_phone_budget_stops_a_form_used_to_flood_someone(hoods, rules):
    now = dt.datetime(2026, 11, 20, 15, 0)
    results = [submit(WebReport("B02", f"Hay un bache grande numero {i}", phone="71234567"), rules, now=now).sms
               for i in range(rules.service.replies_per_hour + 2)]
    assert results.count("queued") == rules.service.replies_per_hour
    assert results[-1] == "phone_budget"
    assert Case.select().count() == len(results)  # the reports themselves are kept


def test_a_category_given_beats_the_guess_and_a_point_is_kept(hoods, rules):
    done = submit(WebReport("B02", "Hay un bache grande", category="agua", lat="-16.51", lon="-68.12"), rules)
    assert (done.case.category, done.case.lat, done.case.lon) == ("agua", -16.51, -68.12)


def test_an_ambiguous_name_offers_the_choices(hoods, rules):
    from barriosms.store.models import Neighborhood
    Neighborhood.create(code="B90", name="Sopocachi", district="Otro")
    with pytest.raises(ReportError) as err:
        submit(WebReport("sopocachi", "Hay un bache grande"), rules)
    assert {c for c, _ in err.value.choices} == {"B02", "B90"}
