"""Staff ask, residents answer: `conversations.ask` and the routing of the answers through the intake."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from barriosms.cases import casework
from barriosms.cases.casework import CaseError
from barriosms.config import ServiceSettings
from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline import conversations
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.store.models import Case, CaseEvent, CaseQuestion, InboundMessage, OutboundMessage
from barriosms.templates.loader import load_categories, load_templates

T0 = dt.datetime(2026, 11, 24, 12, 0, 0)
MIN = dt.timedelta(minutes=1)
RESIDENT = "+59171234567"
NEIGHBOUR = "+59171234568"
TEMPLATES = load_templates()
SERVICE = ServiceSettings()
QUESTION = "¿El bache esta frente a la escuela o en la esquina?"


@pytest.fixture
def desk(hoods):
    return Desk()


class Desk:
    """A resident's phone and the staff desk, against a real SQLite database."""

    def __init__(self):
        self.intake = Intake(IntakeRules(TEMPLATES, load_categories(), service=SERVICE, region="BO"), rng=random.Random(7))
        self.loc = 0

    def says(self, text: str, when: dt.datetime, phone: str = RESIDENT) -> InboundMessage:
        self.loc += 1
        self.intake.store(ReceivedSms(location=self.loc, sender=phone, text=text, smsc_time=when), now=when)
        return InboundMessage.select().order_by(InboundMessage.id.desc()).get()

    def report(self, text: str, when: dt.datetime = T0, phone: str = RESIDENT) -> Case:
        return self.says(text, when, phone).case

    def ask(self, case: Case, text: str = QUESTION, when: dt.datetime = T0 + MIN, kind: str = "question"):
        return conversations.ask(case.tracking, text, TEMPLATES, SERVICE, actor="ana", now=when, kind=kind, region="BO")


def last_sms(phone: str = RESIDENT) -> OutboundMessage | None:
    return (OutboundMessage.select().where(OutboundMessage.recipient == phone)
            .order_by(OutboundMessage.id.desc()).first())


def fresh(case: Case) -> Case:
    return Case.get_by_id(case.id)


# -- asking -------------------------------------------------------------------------------------


def test_ask_queues_the_question_and_waits_for_the_resident(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    asked = desk.ask(case)
    [sms] = asked.notifications
    assert sms.text == (f"Alcaldia, reclamo {case.tracking}: ¿El bache esta frente a la escuela o en la esquina? "
                        "Responda con un SMS a este numero.")
    assert (sms.recipient, sms.kind, sms.urgent, sms.case_id) == (RESIDENT, "question", False, case.id)
    [q] = CaseQuestion.select()
    assert (q.phone, q.kind, q.status, q.actor, q.outbound_id) == (RESIDENT, "question", "open", "ana", sms.id)
    assert q.expires_at == T0 + MIN + dt.timedelta(hours=72)
    event = casework.history(case)[-1]
    assert (event.kind, event.note, event.public, event.actor) == ("question", QUESTION, False, "ana")
    assert fresh(case).awaiting_resident is True


def test_a_message_is_not_a_question(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    asked = desk.ask(case, "La cuadrilla pasara el lunes", kind="message")
    assert asked.notifications[0].text == f"Alcaldia, reclamo {case.tracking}: La cuadrilla pasara el lunes"
    assert asked.notifications[0].kind == "staff_message"
    assert casework.history(case)[-1].kind == "message"
    assert fresh(case).awaiting_resident is False


def test_text_that_does_not_fit_one_sms_is_refused_with_how_many_characters_fit(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    # "Alcaldia, reclamo 1234567: " and " Responda con un SMS a este numero." leave 98 characters.
    desk.ask(case, "x" * 98)
    with pytest.raises(CaseError) as exc:
        desk.ask(case, "á" * 100, when=T0 + 2 * MIN)
    assert str(exc.value) == (f"the question is 100 characters, 2 too many: with case {case.tracking}'s number at most "
                              "98 fit in one SMS ([ ] { } ~ ^ | \\ and the euro sign count twice). Shorten it")
    with pytest.raises(CaseError, match="at most 133 fit"):
        desk.ask(case, "y" * 134, kind="message")
    assert CaseQuestion.select().count() == 1


def test_opted_out_reporter_is_skipped_and_nobody_reachable_stores_nothing(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    dup = desk.report("B12 bache en la calle 3 otra vez", T0 + MIN, phone=NEIGHBOUR)
    casework.merge(dup.tracking, case.tracking, TEMPLATES, now=T0 + 2 * MIN, region="BO")
    desk.says("BAJA", T0 + 3 * MIN, phone=NEIGHBOUR)
    asked = desk.ask(case, when=T0 + 4 * MIN)
    assert [m.recipient for m in asked.notifications] == [RESIDENT]
    assert asked.skipped == {NEIGHBOUR: "opted out (BAJA)"}
    assert [q.phone for q in CaseQuestion.select()] == [RESIDENT]

    desk.says("BAJA", T0 + 5 * MIN)
    before = (CaseQuestion.select().count(), CaseEvent.select().count(), OutboundMessage.select().count())
    with pytest.raises(CaseError, match="no reporter can receive an SMS .*opted out.*nothing was sent"):
        desk.ask(case, "¿Sigue el bache?", when=T0 + 6 * MIN)
    assert (CaseQuestion.select().count(), CaseEvent.select().count(), OutboundMessage.select().count()) == before


def test_merged_case_names_the_case_that_stays(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    dup = desk.report("B12 bache en la calle 3", T0 + MIN, phone=NEIGHBOUR)
    casework.merge(dup.tracking, case.tracking, TEMPLATES, now=T0 + 2 * MIN, region="BO")
    with pytest.raises(CaseError, match=f"case {dup.tracking} was merged into {case.tracking}"):
        desk.ask(dup)
    with pytest.raises(CaseError, match="the question is empty"):
        desk.ask(case, "   ")


# -- answering ----------------------------------------------------------------------------------


def test_the_answer_is_attached_to_the_case(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    desk.ask(case)
    msg = desk.says("si, frente a la escuela", T0 + 10 * MIN)
    assert (msg.intent, msg.case_id, msg.needs_staff) == ("answer", case.id, False)
    assert last_sms().text == f"Gracias, su respuesta quedo en su reclamo {case.tracking}. La Alcaldia la revisara."
    assert last_sms().kind == "reply" and last_sms().case_id == case.id
    assert Case.select().count() == 1
    q = CaseQuestion.get()
    assert (q.status, q.answer, q.answered_at, q.answer_message_id) == ("answered", "si, frente a la escuela",
                                                                        T0 + 10 * MIN, msg.id)
    event = casework.history(case)[-1]
    assert (event.kind, event.note, event.public, event.actor) == ("answer", "si, frente a la escuela", False, RESIDENT)
    case = fresh(case)
    assert (case.awaiting_resident, case.unseen_replies) == (False, 1)
    # The question is answered: the next message is the resident's as usual.
    desk.says("hay otro bache en la esquina", T0 + 20 * MIN)
    assert "falta el barrio" in last_sms().text


def test_an_answer_that_names_a_neighbourhood_further_on_is_still_an_answer(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    desk.ask(case)
    msg = desk.says("si, en Sopocachi frente a la escuela", T0 + 10 * MIN)
    assert (msg.intent, msg.case_id) == ("answer", case.id)
    assert Case.select().count() == 1


def test_an_answer_starting_with_a_code_is_a_new_report(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    desk.ask(case)
    msg = desk.says("B12 hay otro bache en la esquina", T0 + 10 * MIN)
    assert msg.intent == "report" and msg.case_id != case.id
    assert last_sms().text.startswith("Gracias, su reclamo quedo registrado. Numero: " + msg.case.tracking)
    assert CaseQuestion.get().status == "open" and fresh(case).awaiting_resident is True
    assert desk.says("frente a la escuela", T0 + 11 * MIN).case_id == case.id


def test_a_short_number_answers_but_a_tracking_number_asks_the_status(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    other = desk.report("B03 no hay luz en la plaza", T0 + MIN)
    desk.ask(case, "¿Cuantos metros mide?", when=T0 + 2 * MIN)
    status = desk.says(other.tracking, T0 + 3 * MIN)  # another case: its status
    assert status.intent == "status" and last_sms().text == f"Su reclamo {other.tracking} esta recibido."
    status = desk.says(case.tracking, T0 + 4 * MIN)  # this case's number alone: its status too
    assert status.intent == "status" and CaseQuestion.get().status == "open"
    wrong = case.tracking[:-1] + str((int(case.tracking[-1]) + 1) % 10)
    assert desk.says(wrong, T0 + 5 * MIN).intent == "invalid_tracking"
    assert desk.says("hola", T0 + 6 * MIN).intent == "help"
    msg = desk.says("5", T0 + 7 * MIN)
    assert (msg.intent, msg.case_id) == ("answer", case.id) and CaseQuestion.get().answer == "5"


def test_another_case_number_in_front_is_not_this_answer(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    other = desk.report("B03 no hay luz en la plaza", T0 + MIN)
    desk.ask(case, when=T0 + 2 * MIN)
    msg = desk.says(f"{other.tracking} sigue sin luz", T0 + 3 * MIN)
    assert msg.intent != "answer" and msg.case_id != case.id
    assert CaseQuestion.get().status == "open"


def test_no_answer_after_the_window(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    desk.ask(case)
    late = T0 + MIN + dt.timedelta(hours=72, minutes=1)
    msg = desk.says("si, frente a la escuela", late)
    assert msg.intent == "unroutable" and msg.case_id is None
    assert CaseQuestion.get().status == "expired"
    assert fresh(case).awaiting_resident is False and fresh(case).unseen_replies == 0


def test_expire_overdue_closes_every_phone_s_questions(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    desk.ask(case)
    assert conversations.expire_overdue(T0 + dt.timedelta(hours=72)) == 0
    assert conversations.expire_overdue(T0 + dt.timedelta(hours=73)) == 1
    assert fresh(case).awaiting_resident is False


def test_thanks_after_a_message_are_attached_without_an_answer(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    desk.ask(case, "La cuadrilla pasara el lunes", kind="message")
    sent = OutboundMessage.select().count()
    msg = desk.says("gracias", T0 + 10 * MIN)
    assert (msg.intent, msg.case_id) == ("answer", case.id)
    assert OutboundMessage.select().count() == sent  # no SMS for a "gracias"
    assert CaseQuestion.get().status == "answered" and fresh(case).unseen_replies == 1


def test_thanks_after_a_question_do_not_answer_it(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    desk.ask(case)
    sent = OutboundMessage.select().count()
    assert desk.says("ok gracias", T0 + 10 * MIN).case_id == case.id
    assert OutboundMessage.select().count() == sent
    assert CaseQuestion.get().status == "open" and fresh(case).awaiting_resident is True
    assert desk.says("frente a la escuela", T0 + 11 * MIN).case_id == case.id
    assert CaseQuestion.get().answer == "frente a la escuela" and fresh(case).unseen_replies == 2


def test_two_waiting_cases_ask_which_and_the_number_settles_it(desk):
    first = desk.report("B12 hay un bache grande en la calle 3")
    second = desk.report("B03 no hay luz en la plaza", T0 + MIN)
    desk.ask(first, when=T0 + 2 * MIN)
    desk.ask(second, "¿Desde cuando no hay luz?", when=T0 + 3 * MIN)
    unsure = desk.says("frente a la plaza", T0 + 10 * MIN)
    assert (unsure.intent, unsure.case_id) == ("which_case", None)
    assert last_sms().text == (f"¿De cual reclamo habla? {first.tracking} Villa San Antonio, {second.tracking} "
                               "Miraflores. Envie otra vez su respuesta con el numero del reclamo adelante.")
    assert Case.select().count() == 2 and CaseQuestion.select().where(CaseQuestion.status == "open").count() == 2

    msg = desk.says(f"{second.tracking} frente a la plaza", T0 + 12 * MIN)
    assert (msg.intent, msg.case_id) == ("answer", second.id)
    assert InboundMessage.get_by_id(unsure.id).case_id == second.id  # the message that waited goes along
    assert last_sms().text.startswith(f"Gracias, su respuesta quedo en su reclamo {second.tracking}.")
    q1, q2 = CaseQuestion.select().order_by(CaseQuestion.id)
    assert (q1.status, q2.status, q2.answer) == ("open", "answered", "frente a la plaza")
    assert (fresh(first).unseen_replies, fresh(second).unseen_replies) == (0, 1)
    assert (fresh(first).awaiting_resident, fresh(second).awaiting_resident) == (True, False)
    # One case is left waiting: the next message is its answer.
    assert desk.says("en la esquina de la escuela", T0 + 13 * MIN).case_id == first.id


def test_the_number_alone_after_which_case_attaches_what_waited(desk):
    first = desk.report("B12 hay un bache grande en la calle 3")
    second = desk.report("B03 no hay luz en la plaza", T0 + MIN)
    desk.ask(first, when=T0 + 2 * MIN)
    desk.ask(second, when=T0 + 3 * MIN)
    unsure = desk.says("desde el viernes", T0 + 10 * MIN)
    msg = desk.says(f"nro {first.tracking}", T0 + 11 * MIN)
    assert (msg.intent, msg.case_id) == ("answer", first.id)
    assert InboundMessage.get_by_id(unsure.id).case_id == first.id
    assert casework.history(first)[-1].note == "desde el viernes"
    assert CaseQuestion.get(CaseQuestion.case == first).answer == "desde el viernes"


def test_a_number_in_front_picks_the_case_straight_away(desk):
    first = desk.report("B12 hay un bache grande en la calle 3")
    second = desk.report("B03 no hay luz en la plaza", T0 + MIN)
    desk.ask(first, when=T0 + 2 * MIN)
    desk.ask(second, when=T0 + 3 * MIN)
    msg = desk.says(f"{first.tracking}: si, en la esquina", T0 + 10 * MIN)
    assert (msg.intent, msg.case_id) == ("answer", first.id)
    assert CaseQuestion.get(CaseQuestion.case == first).answer == "si, en la esquina"
    assert desk.says("gracias", T0 + 11 * MIN).case_id == second.id  # one case left


def test_thanks_with_two_waiting_cases_are_not_answered(desk):
    first = desk.report("B12 hay un bache grande en la calle 3")
    second = desk.report("B03 no hay luz en la plaza", T0 + MIN)
    desk.ask(first, when=T0 + 2 * MIN, kind="message")
    desk.ask(second, when=T0 + 3 * MIN, kind="message")
    sent = OutboundMessage.select().count()
    msg = desk.says("gracias", T0 + 10 * MIN)
    assert (msg.intent, msg.case_id) == ("courtesy", None) and OutboundMessage.select().count() == sent


def test_the_answer_of_a_merged_case_goes_to_the_case_that_stays(desk):
    case = desk.report("B12 hay un bache grande en la calle 3", phone=NEIGHBOUR)
    dup = desk.report("B12 bache en la calle 3", T0 + MIN)
    desk.ask(dup, when=T0 + 2 * MIN)
    casework.merge(dup.tracking, case.tracking, TEMPLATES, now=T0 + 3 * MIN, region="BO")
    msg = desk.says("si, frente a la escuela", T0 + 10 * MIN)
    assert msg.case_id == case.id and fresh(case).unseen_replies == 1
    assert last_sms().text.startswith(f"Gracias, su respuesta quedo en su reclamo {case.tracking}.")


def test_the_satisfaction_question_is_not_routed_here(desk):
    case = desk.report("B12 hay un bache grande en la calle 3")
    CaseQuestion.create(case=case, phone=RESIDENT, kind="survey", text="", asked_at=T0,
                        expires_at=T0 + dt.timedelta(days=7))
    msg = desk.says("frente a la escuela", T0 + 10 * MIN)
    assert msg.case_id is None and msg.intent == "unroutable"
    assert conversations.expire_overdue(T0 + dt.timedelta(days=8)) == 0


# -- the staff command line ---------------------------------------------------------------------


def test_cli_ask_list_and_show(ready):
    intake = Intake(IntakeRules(TEMPLATES, load_categories(), region="BO"), rng=random.Random(5))
    intake.store(ReceivedSms(location=1, sender=RESIDENT, text="B12 hay un bache grande en la calle 3"))
    tracking = Case.get().tracking

    out = ready("cases", "ask", tracking, QUESTION).output
    assert f"case {tracking}: question to 1 reporter(s); their SMS within 72 h are attached" in out
    assert f"SMS queued to {RESIDENT}: Alcaldia, reclamo {tracking}: ¿El bache" in out
    assert "waiting" in ready("cases", "list").output
    assert ready("cases", "list", "--has-new-replies").output.strip() == "no case has new replies"

    intake.store(ReceivedSms(location=2, sender=RESIDENT, text="si, frente a la escuela"))
    [listed] = json.loads(ready("cases", "list", "--has-new-replies", "--json").output)
    assert (listed["tracking"], listed["unseen_replies"], listed["awaiting_resident"]) == (tracking, 1, False)
    assert "1 new" in ready("cases", "list", "--has-new-replies", "--neighborhood", "b12").output
    assert json.loads(ready("cases", "list", "--has-new-replies", "--json", "--status", "closed").output) == []

    shown = json.loads(ready("cases", "show", tracking, "--json", "--keep-unseen").output)
    assert [(h["kind"], h["direction"]) for h in shown["history"]] == [("created", None), ("question", "out"),
                                                                      ("answer", "in")]
    [conv] = shown["conversation"]
    assert (conv["kind"], conv["status"], conv["answer"]) == ("question", "answered", "si, frente a la escuela")
    assert len(json.loads(ready("cases", "list", "--has-new-replies", "--json").output)) == 1
    human = ready("cases", "show", tracking).output
    assert "answer (from resident)" in human and "question (to resident)" in human
    assert 'answered' in human and "1 new answer(s) (now seen)" in human
    assert json.loads(ready("cases", "list", "--has-new-replies", "--json").output) == []


def test_cli_message_and_errors(ready):
    intake = Intake(IntakeRules(TEMPLATES, load_categories(), region="BO"), rng=random.Random(5))
    intake.store(ReceivedSms(location=1, sender=RESIDENT, text="B12 hay un bache grande en la calle 3"))
    tracking = Case.get().tracking
    data = json.loads(ready("cases", "message", tracking, "La cuadrilla pasara el lunes", "--json").output)
    assert data["notifications"][0]["text"] == f"Alcaldia, reclamo {tracking}: La cuadrilla pasara el lunes"
    assert [q["kind"] for q in data["questions"]] == ["message"] and data["awaiting_resident"] is False
    out = ready("cases", "ask", tracking, "z" * 120, code=1).output
    assert "Error: the question is 120 characters, 22 too many" in out and "at most 98 fit" in out
    assert "no case with tracking number 1234567" in ready("cases", "ask", "1234567", "hola", code=1).output


def test_the_daemon_closes_expired_questions_every_hour(hoods, caplog):
    import datetime as dt
    import logging
    import threading
    from types import SimpleNamespace

    from barriosms.config import ServiceSettings
    from barriosms.daemon.process import Daemon
    from barriosms.pipeline import conversations
    from barriosms.pipeline.intake import IntakeRules
    from barriosms.staff.webreports import WebReport, submit
    from barriosms.store.models import Case, CaseQuestion, utcnow
    from barriosms.templates.loader import load_categories, load_templates

    rules = IntakeRules(templates=load_templates(), categories=load_categories(None), region="BO")
    case = submit(WebReport("B12", "Hay un bache grande", phone="71234567"), rules).case
    long_ago = utcnow() - dt.timedelta(days=10)
    conversations.ask(case.tracking, "¿Frente a que numero?", load_templates(), ServiceSettings(), now=long_ago, region="BO")
    assert Case.get_by_id(case.id).awaiting_resident
    caplog.set_level(logging.INFO, logger="barriosms.daemon.process")
    result = []
    worker = threading.Thread(target=lambda: result.append(Daemon.expire_questions(SimpleNamespace())))
    worker.start()
    worker.join()
    assert result == [1] and CaseQuestion.get().status == "expired"
    assert not Case.get_by_id(case.id).awaiting_resident
    assert "1 question(s) to residents expired unanswered" in caplog.text


def test_questions_wait_out_quiet_hours_and_answers_keep_to_the_phone_budget(hoods):
    """The exchange uses the protections already in place: quiet hours hold a staff question (it is
    not a reply); a resident over the per-phone reply budget gets no thanks, yet the answer is kept."""
    from zoneinfo import ZoneInfo

    from barriosms.config import QuietHours
    from barriosms.pipeline.sendpolicy import SendPolicy

    desk = Desk()
    case = desk.report("B12 hay un bache grande en la calle 3")
    [question] = desk.ask(case).notifications
    quiet = ServiceSettings(quiet_hours=QuietHours(dt.time(21, 0), dt.time(7, 0)))
    night = dt.datetime(2026, 11, 25, 3, 0)  # 23:00 in La Paz
    held = SendPolicy(quiet, ZoneInfo("America/La_Paz")).hold(question, night)
    assert held is not None and "quiet" in held.reason

    tight = ServiceSettings(replies_per_hour=1, replies_per_day=1)
    desk.intake = Intake(IntakeRules(TEMPLATES, load_categories(), service=tight, region="BO"), rng=random.Random(8))
    answer = desk.says("si, frente a la escuela", T0 + 5 * MIN)  # the report's reply used the budget
    assert answer.case_id == case.id and answer.intent == "answer"
    assert answer.unanswered == "phone_hour_budget" and fresh(case).unseen_replies == 1
    assert not OutboundMessage.select().where(OutboundMessage.in_reply_to == answer).exists()
