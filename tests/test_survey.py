"""The satisfaction question after resolving: asked once, answered 1/2, counted by `stats`."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from test_intake import NEIGHBOUR, RESIDENT, Resident, answer_to, fresh, make_intake

from barriosms.cases import casework
from barriosms.config import ServiceSettings
from barriosms.domain.parsing import Unroutable
from barriosms.pipeline import survey
from barriosms.pipeline.intake import rules_from_settings
from barriosms.reporting import reports
from barriosms.store.models import Case, CaseEvent, CaseQuestion, InboundMessage, OutboundMessage, utcnow, write_tx
from barriosms.templates.loader import load_templates

T0 = dt.datetime(2026, 11, 24, 12, 0)
RESOLVED = T0 + dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
SERVICE = ServiceSettings()
TEMPLATES = load_templates()
ASKED = ("Aviso de la Alcaldia: su reclamo {t} ahora esta resuelto. ¿Se arreglo de verdad? Responda 1 si, 2 no")


@pytest.fixture
def desk(hoods):
    return Resident(make_intake())


def report(desk, text="B12 hay un bache grande en la calle 3", sender=RESIDENT, at=T0) -> Case:
    msg = desk.says(text, at, sender=sender)
    return fresh(msg.case)


def resolve(case: Case, at=RESOLVED, service=SERVICE, note="") -> casework.CaseChange:
    return casework.change_status(case.tracking, "resolved", TEMPLATES, note=note, actor="ana", now=at,
                                  service=service, region="BO")


def status_sms(case: Case) -> list[str]:
    return [m.text for m in OutboundMessage.select().where((OutboundMessage.case == case)
                                                           & (OutboundMessage.kind == "status_update"))
            .order_by(OutboundMessage.id)]


def surveys(case: Case) -> list[CaseQuestion]:
    return list(CaseQuestion.select().where((CaseQuestion.case == case) & (CaseQuestion.kind == "survey")))


# -- asking --------------------------------------------------------------------------------------

def test_resolving_asks_in_the_status_sms_once_per_case(desk):
    case = report(desk)
    change = resolve(case)
    assert change.surveyed == (RESIDENT,)
    [sms] = change.notifications
    assert sms.text == ASKED.format(t=case.tracking)
    [question] = surveys(case)
    assert (question.phone, question.status, question.outbound_id, question.actor) == (RESIDENT, "open", sms.id, "ana")
    assert (question.asked_at, question.expires_at) == (RESOLVED, RESOLVED + dt.timedelta(days=7))
    event = CaseEvent.get(CaseEvent.kind == "survey_asked")
    assert not event.public and RESIDENT in event.note

    # Reopened and resolved again: the usual status SMS, not the question a second time.
    casework.change_status(case.tracking, "in_progress", TEMPLATES, now=RESOLVED + HOUR, service=SERVICE, region="BO")
    again = resolve(case, at=RESOLVED + 2 * HOUR)
    assert again.surveyed == ()
    assert again.notifications[0].text == (f"Aviso de la Alcaldia: su reclamo {case.tracking} ahora esta resuelto. "
                                           f"Para saber como va, envie {case.tracking}")
    assert len(surveys(case)) == 1 and CaseEvent.select().where(CaseEvent.kind == "survey_asked").count() == 1


def test_the_question_with_a_public_note(desk):
    case = report(desk)
    [sms] = resolve(case, note="Bache tapado").notifications
    assert sms.text == (f"Aviso de la Alcaldia: su reclamo {case.tracking} esta resuelto. Nota: Bache tapado "
                        "¿Se arreglo? Responda 1 si, 2 no")


def test_only_reporters_who_can_receive_sms_are_asked(desk):
    case = report(desk)
    desk.says("B12 el bache de la calle 3 sigue", T0 + HOUR, sender=NEIGHBOUR)
    dup = Case.select().order_by(Case.id.desc()).get()
    casework.merge(dup.tracking, case.tracking, TEMPLATES, now=T0 + 2 * HOUR, region="BO")
    desk.says("BAJA", T0 + 3 * HOUR)
    change = resolve(case)
    assert change.surveyed == (NEIGHBOUR,) and change.skipped == {RESIDENT: "opted out (BAJA)"}
    assert [q.phone for q in surveys(case)] == [NEIGHBOUR]


@pytest.mark.parametrize("service", [ServiceSettings(satisfaction_survey=False), None])
def test_no_question_when_the_survey_is_off_or_no_settings_are_given(desk, service):
    case = report(desk)
    change = resolve(case, service=service)
    assert change.surveyed == () and not surveys(case)
    assert "Responda" not in change.notifications[0].text and "resuelto" in change.notifications[0].text


def test_no_question_for_other_statuses(desk):
    case = report(desk)
    change = casework.change_status(case.tracking, "in_progress", TEMPLATES, now=RESOLVED, service=SERVICE, region="BO")
    assert change.surveyed == () and not surveys(case)


# -- answers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["1", "si, gracias", "Sí", " 1 ya esta bien"])
def test_yes_confirms_and_thanks(desk, text):
    case = report(desk)
    resolve(case)
    msg = desk.says(text, RESOLVED + 2 * HOUR)
    assert (msg.intent, msg.case_id) == ("survey_yes", case.id)
    assert answer_to(msg) == f"Gracias por confirmar que se arreglo su reclamo {case.tracking}."
    [question] = surveys(case)
    assert (question.status, question.answer, question.answered_at, question.answer_message_id) == (
        "answered", "yes", RESOLVED + 2 * HOUR, msg.id)
    case = fresh(case)
    assert (case.status, case.unseen_replies) == ("resolved", 0)
    event = CaseEvent.get(CaseEvent.kind == "survey")
    assert event.note == "confirmado: " + " ".join(text.split()) and not event.public and event.actor == RESIDENT


def test_no_reopens_the_resolved_case_with_the_residents_words(desk, caplog):
    case = report(desk)
    resolve(case)
    caplog.set_level(logging.WARNING, logger="barriosms.pipeline.survey")
    msg = desk.says("2 sigue igual, el bache  esta peor", RESOLVED + 3 * HOUR)
    assert (msg.intent, msg.case_id) == ("survey_no", case.id)
    assert answer_to(msg) == (f"Su reclamo {case.tracking} fue reabierto. La Alcaldia lo revisara otra vez. "
                              f"Para saber como va, envie {case.tracking}")
    case = fresh(case)
    assert (case.status, case.unseen_replies, case.resolved_at) == ("reviewing", 1, RESOLVED)
    assert case.updated_at == RESOLVED + 3 * HOUR
    event = CaseEvent.get(CaseEvent.kind == "reopen")
    assert (event.old_status, event.new_status, event.note, event.public, event.actor) == (
        "resolved", "reviewing", "2 sigue igual, el bache esta peor", False, RESIDENT)
    assert surveys(case)[0].answer == "no"
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning == (f"case {case.tracking} reopened: the resident {RESIDENT} says it is not fixed: "
                       f"'2 sigue igual, el bache esta peor'; see barriosms cases show {case.tracking}")


def test_a_plain_no_also_reopens(desk):
    case = report(desk)
    resolve(case)
    desk.says("No", RESOLVED + HOUR)
    assert fresh(case).status == "reviewing"


def test_no_after_staff_closed_the_case_is_kept_and_flagged_without_reopening(desk, caplog):
    case = report(desk)
    resolve(case)
    casework.change_status(case.tracking, "closed", TEMPLATES, now=RESOLVED + HOUR, service=SERVICE, region="BO")
    caplog.set_level(logging.WARNING, logger="barriosms.pipeline.survey")
    msg = desk.says("2 nadie vino", RESOLVED + 2 * HOUR)
    case = fresh(case)
    assert (case.status, case.unseen_replies) == ("closed", 1)
    assert CaseEvent.get(CaseEvent.kind == "survey").note == "2 nadie vino"
    assert answer_to(msg) == (f"Gracias, su respuesta quedo en su reclamo {case.tracking}. "
                              "La Alcaldia la revisara.")
    assert "is closed, not reopened" in caplog.records[0].getMessage()


def test_an_answer_after_the_window_is_an_ordinary_message(desk):
    case = report(desk)
    resolve(case)
    msg = desk.says("1", RESOLVED + dt.timedelta(days=7, minutes=1))
    assert msg.intent == "invalid_tracking" and msg.case_id is None
    [question] = surveys(case)
    assert (question.status, question.answer) == ("expired", "")
    assert fresh(case).status == "resolved"


def test_a_report_that_starts_with_no_is_a_new_report(desk):
    case = report(desk)
    resolve(case)
    msg = desk.says("no hay luz en B12 desde ayer", RESOLVED + HOUR)
    assert msg.intent == "report" and msg.case_id != case.id
    assert surveys(case)[0].status == "open" and fresh(case).status == "resolved"
    # A digit first is always the answer.
    assert desk.says("2 B12 sigue el hueco", RESOLVED + 2 * HOUR).intent == "survey_no"


def test_another_message_is_not_an_answer(desk):
    case = report(desk)
    resolve(case)
    assert desk.says("AYUDA", RESOLVED + HOUR).intent == "help"
    assert desk.says(case.tracking, RESOLVED + 2 * HOUR).intent == "status"
    assert surveys(case)[0].status == "open"


def test_several_open_questions_ask_which_case_until_a_number_says(desk):
    first = report(desk)
    second = report(desk, "B06 no hay agua desde el lunes", at=T0 + HOUR)
    resolve(first)
    resolve(second, at=RESOLVED + HOUR)
    msg = desk.says("2", RESOLVED + 2 * HOUR)
    assert (msg.intent, msg.case_id) == ("which_case", None)
    assert answer_to(msg).startswith(f"¿De cual reclamo habla? {first.tracking}, {second.tracking}.")
    assert {q.status for q in surveys(first) + surveys(second)} == {"open"}

    msg = desk.says(f"{second.tracking} 2 sigue sin agua", RESOLVED + 3 * HOUR)
    assert (msg.intent, msg.case_id) == ("survey_no", second.id)
    assert (fresh(first).status, fresh(second).status) == ("resolved", "reviewing")
    assert CaseEvent.get(CaseEvent.kind == "reopen").note == "2 sigue sin agua"
    # One question left: a plain answer now goes to it.
    assert desk.says("1", RESOLVED + 4 * HOUR).case_id == first.id
    assert surveys(first)[0].answer == "yes"


def test_words_answer_a_newer_staff_question_but_digits_answer_the_survey(desk):
    case = report(desk)
    resolve(case)
    with write_tx():
        CaseQuestion.create(case=case, phone=RESIDENT, kind="question", text="¿Frente a que numero?",
                            asked_at=RESOLVED + HOUR, expires_at=RESOLVED + 3 * dt.timedelta(days=3))
    rules = desk.intake.rules
    now = RESOLVED + 2 * HOUR
    words = InboundMessage(phone=RESIDENT, text="no se, cerca de la escuela")
    with write_tx():
        assert survey.route(words, Unroutable(words.text), now, rules, {}) is None
    assert surveys(case)[0].status == "open"
    assert desk.says("2 no se arreglo", now).intent == "survey_no"


# -- through the staff CLI -----------------------------------------------------------------------

def test_cli_status_says_who_was_asked_and_stats_counts_the_answer(ready, ini):
    from barriosms import config

    intake = make_intake()
    intake.rules = rules_from_settings(config.load(ini))
    assert intake.rules.service.satisfaction_survey
    Resident(intake).says("B12 hay un bache grande en la calle 3", utcnow())
    tracking = Case.get().tracking
    out = json.loads(ready("cases", "status", tracking, "resolved", "--json").output)
    assert out["survey_asked"] == [RESIDENT]
    assert out["notifications"][0]["text"] == ASKED.format(t=tracking)

    Resident(intake).says("1", utcnow())
    sat = json.loads(ready("stats", "--json").output)["satisfaction"]
    assert {k: sat[k] for k in ("asked", "answered", "yes", "no", "confirmed_share")} == {
        "asked": 1, "answered": 1, "yes": 1, "no": 0, "confirmed_share": 1.0}
    assert sat["by_category"]["vias"]["yes"] == 1 and sat["by_district"]["San Antonio"]["answered"] == 1
    text = ready("stats").output
    assert "fixes confirmed by residents: 1 of 1 answer(s) (100%), 0 not fixed; 1 asked" in text
    assert "vias      1      1         1    0   100%" in text


def test_cli_status_without_survey(ready, ini):
    ini.write_text(ini.read_text() + "[service]\nsatisfaction_survey = no\n")
    Resident(make_intake()).says("B12 hay un bache grande en la calle 3", utcnow())
    tracking = Case.get().tracking
    out = ready("cases", "status", tracking, "resolved").output
    assert "asked" not in out and "SMS queued to" in out
    assert json.loads(ready("stats", "--json").output)["satisfaction"]["asked"] == 0
    assert "no resident was asked yet whether a fix worked" in ready("stats").output


# -- statistics -----------------------------------------------------------------------------------

def test_satisfaction_per_category_and_district_with_medians(desk):
    phones = [f"+5917100000{i}" for i in range(6)]
    texts = ["B12 bache en la calle 3", "B12 bache en la avenida", "B06 no hay agua", "B06 falta agua potable",
             "B01 no hay luz en la plaza"]
    cases = [report(desk, text, sender=phone, at=T0) for text, phone in zip(texts, phones)]
    assert [c.category for c in cases] == ["vias", "vias", "agua", "agua", "alumbrado"]
    for case in cases[:4]:
        resolve(case)
    resolve(cases[4], at=RESOLVED + dt.timedelta(days=6))
    desk.says("1", RESOLVED + 2 * HOUR, sender=phones[0])
    desk.says("si", RESOLVED + 6 * HOUR, sender=phones[1])
    desk.says("2 sigue sin agua", RESOLVED + HOUR, sender=phones[2])
    # phones[3] never answers: expired at `now`; phones[4] still may.
    now = RESOLVED + dt.timedelta(days=8)

    s = survey.satisfaction(now=now)
    assert s.overall == survey.SurveyCounts(asked=5, answered=3, yes=2, no=1, waiting=1, expired=1,
                                            median_seconds_to_yes=4 * 3600)
    assert s.overall.confirmed_share == pytest.approx(2 / 3)
    assert list(s.by_category) == ["agua", "vias", "alumbrado"]
    assert s.by_category["vias"] == survey.SurveyCounts(asked=2, answered=2, yes=2, median_seconds_to_yes=4 * 3600)
    assert s.by_category["agua"] == survey.SurveyCounts(asked=2, answered=1, no=1, expired=1)
    assert s.by_category["agua"].confirmed_share == 0.0 and s.by_category["alumbrado"].confirmed_share is None
    assert s.by_district["San Antonio"].yes == 2 and s.by_district["Sur"].no == 1
    assert s.by_district["Centro"].waiting == 1

    # Odd count: the middle one. The same figures come with `reports.stats`, `since` included.
    desk.says("1", RESOLVED + dt.timedelta(days=6, hours=10), sender=phones[4])
    assert survey.satisfaction(now=now).overall.median_seconds_to_yes == 6 * 3600
    assert reports.stats(now=now).satisfaction == survey.satisfaction(now=now)
    assert reports.stats(since=T0 + HOUR, now=now).satisfaction.overall.asked == 0
    assert survey.satisfaction(now=RESOLVED).overall.expired == 0
