"""End to end, the service residents and staff use: the real daemon (`barriosms run`), real Gammu,
the simulated modem on a pseudo-terminal and the staff CLI, all as processes.

Each test uses its own phone numbers, so they share one gateway (Gammu's start-up takes seconds).
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from conftest import SAMPLE_CSV

from barriosms.domain.tracking import is_valid_tracking
from barriosms.sim.rig import Rig, wait_for

pytestmark = pytest.mark.slow

TRACKING = re.compile(r"\b\d{7}\b")
SERVICE = {"replies_per_hour": 4, "replies_per_day": 10, "loop_repeats": 3, "loop_fast_seconds": 2,
           "pending_report_minutes": 10, "reopen_days": 30}
# Two neighbourhoods with the same name in different districts: a name alone cannot tell them apart.
EXTRA_CSV = ("code,name,district,lat,lon,aliases\n"
             "B16,Santa Rosa,Max Paredes,-16.4900,-68.1500,\n"
             "B17,Santa Rosa,Periférica,-16.4800,-68.1200,\n")


def sent_to(rig: Rig, number: str, count: int, timeout: float = 30) -> list[dict]:
    return rig.sent_to(number, count, timeout)


def settled(rig: Rig, number: str, seconds: float = 4) -> list[dict]:
    return rig.settled(number, seconds)


def tracking_in(sms: dict) -> str:
    number = TRACKING.search(sms["text"]).group()
    assert is_valid_tracking(number)
    return number


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    folder = tmp_path_factory.mktemp("service")
    r = Rig(folder, poll_seconds=5, service_options=SERVICE)
    r.setup(SAMPLE_CSV)
    extra = folder / "extra.csv"
    extra.write_text(EXTRA_CSV, encoding="utf-8")
    r.cli("neighborhoods", "import", str(extra))
    r.start_sim()
    r.start_daemon()
    yield r
    codes = r.stop()
    assert codes["daemon"] == 0, r.daemon_log.read_text()[-3000:]


def test_neighbourhood_by_name_with_accents_and_a_typo(rig):
    rig.text("+59171000101", "hay un bache enorme en SOPOCACHI frente al mercado")
    tracking = tracking_in(sent_to(rig, "+59171000101", 1)[0])
    assert rig.cli_json("cases", "show", tracking)["neighborhood"] == "B02"

    rig.text("+59171000102", "se cayo un poste en villa fatma")  # Villa Fátima, one letter missing
    tracking = tracking_in(sent_to(rig, "+59171000102", 1)[0])
    assert rig.cli_json("cases", "show", tracking)["neighborhood"] == "B04"


def test_ambiguous_name_asks_which_one_and_the_code_completes_it(rig):
    phone = "+59171000103"
    rig.text(phone, "no hay agua en santa rosa desde ayer")
    [question] = sent_to(rig, phone, 1)
    assert "B16" in question["text"] and "B17" in question["text"]
    assert rig.query('SELECT COUNT(*) FROM "case" WHERE phone = ?', (phone,)) == [(0,)]
    rig.text(phone, "B17")
    answer = sent_to(rig, phone, 2)[1]
    case = rig.cli_json("cases", "show", tracking_in(answer))
    assert case["neighborhood"] == "B17" and "no hay agua" in case["text"]


def test_two_step_report_without_neighbourhood(rig):
    phone = "+59171000104"
    rig.text(phone, "hay mucha basura acumulada en la esquina")
    [ask] = sent_to(rig, phone, 1)
    assert "barrio" in ask["text"].lower() and not TRACKING.search(ask["text"])
    unmatched = rig.cli_json("inbox", "list", "--unmatched")
    assert [m["text"] for m in unmatched if m["phone"] == phone] == ["hay mucha basura acumulada en la esquina"]

    rig.text(phone, "b-05")
    confirmation = sent_to(rig, phone, 2)[1]
    case = rig.cli_json("cases", "show", tracking_in(confirmation))
    assert (case["neighborhood"], case["text"], case["category"]) == ("B05", "hay mucha basura acumulada en la esquina",
                                                                      "residuos")
    assert [m["phone"] for m in rig.cli_json("inbox", "list", "--unmatched")].count(phone) == 0


def test_staff_route_an_unmatched_message_and_the_resident_gets_the_number(rig):
    phone = "+59171000105"
    rig.text(phone, "Z99 se rompio la tuberia")  # a code that does not exist
    [ask] = sent_to(rig, phone, 1)
    assert "Z99" in ask["text"]
    [msg] = [m for m in rig.cli_json("inbox", "list", "--unmatched") if m["phone"] == phone]
    routed = rig.cli_json("inbox", "assign", str(msg["id"]), "--neighborhood", "B08", "--category", "agua")
    answer = sent_to(rig, phone, 2)[1]
    assert tracking_in(answer) == routed["tracking"]
    assert rig.cli_json("cases", "show", routed["tracking"])["category"] == "agua"


def test_opt_out_and_back_in(rig):
    phone = "+59171000106"
    rig.text(phone, "B03 no hay luz en la plaza")
    tracking = tracking_in(sent_to(rig, phone, 1)[0])
    rig.text(phone, "BAJA")
    assert "ALTA" in sent_to(rig, phone, 2)[1]["text"]
    change = rig.cli_json("cases", "status", tracking, "reviewing")
    assert change["notifications"] == [] and change["not_notified"][0]["phone"] == phone
    assert len(settled(rig, phone)) == 2, "no status SMS after BAJA"

    rig.text(phone, "alta")
    assert "BAJA" in sent_to(rig, phone, 3)[2]["text"]
    rig.cli("cases", "status", tracking, "in_progress", "--note", "Cuadrilla manana")
    update = sent_to(rig, phone, 4)[3]
    assert tracking in update["text"] and "Cuadrilla" in update["text"]


def test_reply_budget_per_phone(rig):
    phone = "+59171000107"
    for i in range(6):  # four replies an hour allowed (SERVICE)
        rig.text(phone, f"B01 bache numero {i} en la calle {i}")
    replies = settled(rig, phone, seconds=5)
    assert len(replies) == 4
    stored = rig.query("SELECT COUNT(*) FROM inbound_message WHERE phone = ?", (phone,))
    assert stored == [(6,)], "every message is stored, answered or not"
    why = [m["unanswered"] for m in rig.cli_json("inbox", "list", "--unanswered", "--phone", phone)]
    assert why == ["phone_hour_budget", "phone_hour_budget"]


def test_auto_reply_loop_with_a_machine_stops_within_a_few_messages(rig):
    machine = "+59171000108"
    # Not a thank-you: one ("Gracias por su mensaje...") is stored unanswered, which ends a loop by itself.
    rig.autoresponder(machine, "Mensaje automatico: no disponible. Le respondere a la brevedad.", delay=0.5)
    rig.text(machine, "hola")
    replies = settled(rig, machine, seconds=6)
    assert 1 <= len(replies) <= 4, [m["text"] for m in replies]
    assert len(settled(rig, machine, seconds=4)) == len(replies), "the loop stopped"
    rig.autoresponder(machine, None)
    [state] = [p for p in rig.cli_json("phones", "list") if p["phone"] == machine]
    assert state["muted_until"] and state["mute_reason"] in ("loop_repeat", "loop_fast")
    assert rig.cli_json("inbox", "list", "--unanswered", "--phone", machine), "staff see what was not answered"


def test_resident_reopens_a_resolved_case(rig):
    phone = "+59171000109"
    rig.text(phone, "B10 el bache volvio a abrirse")
    tracking = tracking_in(sent_to(rig, phone, 1)[0])
    rig.cli("cases", "status", tracking, "resolved", "--note", "Bache tapado")
    sent_to(rig, phone, 2)
    rig.text("+59171000110", f"REABRIR {tracking}")  # not the reporter
    refusal = sent_to(rig, "+59171000110", 1)[0]
    assert "Solo" in refusal["text"]
    rig.text(phone, f"reabrir {tracking} sigue igual")
    reopened = sent_to(rig, phone, 3)[2]
    assert "reabierto" in reopened["text"]
    case = rig.cli_json("cases", "show", tracking)
    assert case["status"] == "reviewing"
    assert case["history"][-1]["kind"] == "reopen" and "sigue igual" in case["history"][-1]["note"]


def test_merge_tells_the_duplicate_reporter_and_both_follow_the_case(rig):
    first, second = "+59171000111", "+59171000112"
    rig.text(first, "B06 hay un derrumbe en la avenida")
    keep = tracking_in(sent_to(rig, first, 1)[0])
    rig.text(second, "B06 derrumbe grande en la avenida principal")
    dup = tracking_in(sent_to(rig, second, 1)[0])
    rig.cli("cases", "merge", dup, keep)
    told = sent_to(rig, second, 2)[1]
    assert keep in told["text"] and dup in told["text"]
    rig.cli("cases", "status", keep, "in_progress")
    assert keep in sent_to(rig, first, 2)[1]["text"]
    assert keep in sent_to(rig, second, 3)[2]["text"]
    rig.text(second, dup)  # asking with the old number points to the case that stays
    assert keep in sent_to(rig, second, 4)[3]["text"]


def test_broadcast_reaches_reporters_who_did_not_opt_out(rig):
    a, b, c = "+59171000113", "+59171000114", "+59171000115"
    for phone in (a, b, c):
        rig.text(phone, "B09 falta alumbrado en el pasaje")
        sent_to(rig, phone, 1)
    rig.text(c, "STOP")
    sent_to(rig, c, 2)
    result = rig.cli_json("broadcast", "--neighborhood", "B09", "--yes", "Corte de agua el martes de 8 a 14 horas")
    assert (result["recipients"], result["cost"], result["opted_out"]) == (2, 2, 1)
    assert "Corte de agua" in sent_to(rig, a, 2)[1]["text"]
    assert "Corte de agua" in sent_to(rig, b, 2)[1]["text"]
    assert len(settled(rig, c)) == 2


def test_quiet_hours_hold_status_sms_until_they_end(rig):
    phone = "+59171000116"
    rig.text(phone, "B11 hay un bache en la subida")
    tracking = tracking_in(sent_to(rig, phone, 1)[0])
    now = dt.datetime.now(ZoneInfo("America/La_Paz"))
    window = f"{now - dt.timedelta(hours=1):%H:%M}-{now + dt.timedelta(hours=2):%H:%M}"
    rig.write_config({**SERVICE, "quiet_hours": window})
    rig.reload()
    try:
        rig.cli("cases", "status", tracking, "reviewing")
        wait_for(lambda: [m for m in rig.cli_json("outbox", "list", "--status", "queued") if m["held"]], 15,
                 "the status SMS held")
        [held] = [m for m in rig.cli_json("outbox", "list", "--status", "queued") if m["to"] == phone]
        assert "quiet hours" in held["held"]
        # A resident who writes now is still answered: a reply is urgent.
        rig.text("+59171000117", "AYUDA")
        sent_to(rig, "+59171000117", 1)
        assert len(settled(rig, phone)) == 1
    finally:
        rig.write_config(SERVICE)
        rig.reload()
    update = sent_to(rig, phone, 2)[1]
    assert tracking in update["text"]
