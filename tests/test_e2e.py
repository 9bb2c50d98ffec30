"""End to end: the real daemon (`barriosms run`) as a subprocess, real Gammu, the simulated modem
(`barriosms sim serve`) on a pseudo-terminal, and the staff CLI as a subprocess."""

from __future__ import annotations

import re

import pytest
from conftest import SAMPLE_CSV, started_rig

from barriosms.domain.tracking import is_valid_tracking
from barriosms.sim.rig import Rig, wait_for

pytestmark = pytest.mark.slow

RESIDENT = "+59171234567"
TRACKING = re.compile(r"\b\d{7}\b")


def sent_to(rig: Rig, number: str, count: int, timeout: float = 30) -> list[dict]:
    return rig.sent_to(number, count, timeout)


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    yield from started_rig(tmp_path_factory.mktemp("e2e"), poll_seconds=5)


def test_report_gets_tracking_number_and_status_flows_by_sms(rig):
    rig.text(RESIDENT, "B12 hay un bache grande en la calle 3")
    [reply] = sent_to(rig, RESIDENT, 1)
    tracking = TRACKING.search(reply["text"]).group()
    assert is_valid_tracking(tracking)
    assert reply["parts"] == 1 and len(reply["text"]) <= 160

    [case] = rig.cli_json("cases", "list", "--neighborhood", "B12")
    assert (case["tracking"], case["status"], case["category"], case["phone"]) == (tracking, "received", "vias", RESIDENT)
    assert case["text"] == "hay un bache grande en la calle 3"

    # Staff move the case from the CLI; the daemon tells the resident.
    rig.cli("cases", "status", tracking, "in_progress", "--note", "La cuadrilla ira el lunes")
    update = sent_to(rig, RESIDENT, 2)[1]
    assert tracking in update["text"] and "lunes" in update["text"]

    # The resident (or a neighbour) asks by SMS.
    rig.text("+59176543210", f"estado {tracking}")
    [answer] = sent_to(rig, "+59176543210", 1)
    assert tracking in answer["text"] and "proceso" in answer["text"].lower()
    assert RESIDENT not in answer["text"]

    shown = rig.cli_json("cases", "show", tracking)
    assert [h["to"] for h in shown["history"]] == ["received", "in_progress"]
    assert {m["direction"] for m in shown["messages"]} == {"in", "out"}
    assert wait_for(lambda: all(m["status"] == "sent" for m in rig.cli_json("cases", "show", tracking)["messages"]
                                if m["direction"] == "out"), 10, "outbox rows marked sent")


def test_unknown_code_gets_the_format_and_is_kept_for_staff(rig):
    number = "+59160000001"
    rig.text(number, "Z99 se cayo un poste")
    [reply] = sent_to(rig, number, 1)
    assert "B12" in reply["text"] or "codigo" in reply["text"].lower()
    kept = rig.query("SELECT text, needs_staff, intent FROM inbound_message WHERE phone = ?", (number,))
    assert kept == [("Z99 se cayo un poste", 1, "unroutable")]
    assert rig.query("SELECT COUNT(*) FROM \"case\" WHERE phone = ?", (number,)) == [(0,)]


def test_three_part_ucs2_message_becomes_one_case(rig):
    number = "+59160000002"
    text = ("B07 Señores de la alcaldía: el muro de contención de la calle 12 se está cayendo "
            "después de la lluvia, hay piedras en la acera y los niños pasan por ahí todos los días. ¡Ayuda!")
    assert 134 < len(text) <= 201  # three UCS-2 parts of 67 characters
    injected = rig.text(number, text)
    assert injected["parts"] == 3
    [reply] = sent_to(rig, number, 1)
    tracking = TRACKING.search(reply["text"]).group()
    case = rig.cli_json("cases", "show", tracking)
    assert case["neighborhood"] == "B07"
    [inbound] = [m for m in case["messages"] if m["direction"] == "in"]
    assert inbound["text"] == text and inbound["parts"] == 3 and not inbound["incomplete"]


def test_operator_messages_are_never_answered(rig):
    before = len(rig.sent())
    rig.text("TIGO", "TIGO: Recarga Bs 10 y recibe 1GB")
    wait_for(lambda: rig.query("SELECT COUNT(*) FROM inbound_message WHERE sender = 'TIGO'") == [(1,)], 15,
             "the operator message stored")
    rig.text("+59160000003", "AYUDA")  # something that is answered, to know the daemon went past it
    sent_to(rig, "+59160000003", 1)
    assert [m for m in rig.sent()[before:] if m["to"] == "TIGO"] == []


def test_kill_9_mid_processing_loses_nothing_and_duplicates_nothing(tmp_path):
    with Rig(tmp_path / "crash", slots=30, poll_seconds=2) as rig:
        rig.setup(SAMPLE_CSV)
        rig.start_sim()
        senders = [f"+591700000{i:02d}" for i in range(30)]
        for i, sender in enumerate(senders):
            rig.text(sender, f"B{(i % 15) + 1:02d} problema numero {i} en la calle {i}")
        assert rig.sim_status()["used"] == 30  # the SIM is full

        rig.start_daemon(wait_connected=False)
        def stored() -> int:
            rows = rig.query("SELECT COUNT(*) FROM inbound_message")
            return rows[0][0] if rows else 0

        wait_for(lambda: stored() >= 3, 60, "the daemon to start storing", interval=0.005)
        rig.kill_daemon()
        at_kill = stored()
        print(f"killed with {at_kill} of 30 stored and {len(rig.sent())} replies sent")
        assert at_kill < 30 or len(rig.sent()) < 30, "the kill came after everything was done"

        rig.start_daemon()
        wait_for(lambda: len({m["to"] for m in rig.sent()}) == 30, 120, "a reply to every reporter")
        wait_for(lambda: rig.query("SELECT COUNT(*) FROM outbound_message WHERE status != 'sent'") == [(0,)],
                 30, "the outbox to empty")
        assert rig.query("SELECT COUNT(*) FROM \"case\"") == [(30,)]
        assert rig.query("SELECT COUNT(DISTINCT phone) FROM \"case\"") == [(30,)]
        assert rig.sim_status()["used"] == 0
        replies = [m["to"] for m in rig.sent()]
        assert sorted(replies) == sorted(senders), "each reporter answered exactly once"
        codes = rig.stop()
        assert codes["daemon"] == 0


def test_sighup_reloads_and_reconnects_without_losing_messages(rig):
    import signal

    rig.daemon_proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded configuration" in rig.daemon_log.read_text(), 15, "the reload")
    number = "+59160000004"
    rig.text(number, "AYUDA")  # may arrive while the modem is being reopened
    [reply] = sent_to(rig, number, 1, timeout=30)
    assert "Ejemplo" in reply["text"]
    assert rig.daemon_proc.poll() is None
