"""Events end to end: the real daemon on the simulated modem, a resident's report and staff's
change, delivered to a command and to a local webhook started by the test; the webhook down for a
while, and the daemon killed with SIGKILL: every event still arrives, in order."""

from __future__ import annotations

import json
import re
import sys

import pytest
from conftest import SAMPLE_CSV, SCRIPT_PACE
from eventreceiver import Receiver

from barriosms.sim.rig import Rig, wait_for

pytestmark = pytest.mark.slow

SECRET = "secreto de la prueba de eventos"
TRACKING = re.compile(r"\b\d{7}\b")


@pytest.fixture
def gateway(tmp_path):
    receiver = Receiver(SECRET)
    script = tmp_path / "take.py"
    got = tmp_path / "command.jsonl"
    script.write_text("import sys\nopen(sys.argv[1], 'a').write(sys.stdin.read() + '\\n')\n")
    rig = Rig(tmp_path / "rig", poll_seconds=2, service_options=SCRIPT_PACE)
    with open(rig.config, "a", encoding="utf-8") as config:
        config.write(f"[events]\ncommand = {sys.executable} {script} {got}\nwebhook_url = {receiver.url}\n"
                     f"webhook_secret = {SECRET}\nretry_max_minutes = 1\n")
    rig.setup(SAMPLE_CSV)
    rig.start_sim()
    rig.start_daemon()
    try:
        yield rig, receiver, got
    finally:
        codes = rig.stop()
        receiver.close()
    assert codes["daemon"] == 0, rig.daemon_log.read_text(errors="replace")[-3000:]


def in_order_without_gaps(ids: list[int]) -> list[int]:
    """The ids as first seen; each one once more than that is allowed (a delivery the daemon did
    not get to record before it was killed), never one out of order."""
    firsts: list[int] = []
    for i in ids:
        if i not in firsts:
            assert not firsts or i > firsts[-1], ids
            firsts.append(i)
    assert firsts == list(range(firsts[0], firsts[0] + len(firsts))), ids
    return firsts


def command_ids(got) -> list[int]:
    return [json.loads(line)["id"] for line in got.read_text().splitlines()] if got.exists() else []


def test_events_reach_a_command_and_a_webhook_through_downtime_and_a_kill(gateway):
    rig, receiver, got = gateway
    phone = "+59171000501"
    rig.text(phone, "B12 hay un bache grande en la calle 3")
    tracking = TRACKING.search(rig.sent_to(phone, 1)[0]["text"]).group()
    wait_for(lambda: {"message.received", "case.opened", "sms.sent"} <= {e["kind"] for e in receiver.events}, 30,
             "the report's events at the webhook")
    opened = next(e for e in receiver.events if e["kind"] == "case.opened")
    assert opened["data"]["tracking"] == tracking and opened["data"]["neighborhood"] == "B12"

    # The webhook goes down; staff act meanwhile; the events wait in the database.
    receiver.down = True
    rig.cli("cases", "status", tracking, "in_progress", "--note", "La cuadrilla va el lunes")
    rig.sent_to(phone, 2)
    wait_for(lambda: "failing" in rig.cli("events", "list").stdout, 30, "the webhook's failure to show")
    failing = rig.cli_json("events", "list", "--failed")
    assert [r for r in failing["receivers"] if r["target"] == "webhook"][0]["error"].endswith("HTTP 503")
    assert "case.status" not in [e["kind"] for e in receiver.events]

    # The daemon is killed; a new one takes over; the webhook comes back.
    rig.kill_daemon()
    rig.text(phone, tracking)  # a status query while no daemon runs: it waits on the SIM
    rig.start_daemon()
    receiver.down = False
    rig.cli("events", "retry")
    wait_for(lambda: "case.status" in [e["kind"] for e in receiver.events]
             and receiver.ids()[-1] == rig.query("SELECT MAX(id) FROM event")[0][0], 60,
             "every event at the webhook")
    total = rig.query("SELECT COUNT(*), MIN(id), MAX(id) FROM event")[0]
    webhook = in_order_without_gaps(receiver.ids())
    assert webhook == list(range(total[1], total[2] + 1)) and receiver.bad_signatures == 0
    status = next(e for e in receiver.events if e["kind"] == "case.status")
    assert status["data"] == {"tracking": tracking, "from": "received", "to": "in_progress",
                              "note": "La cuadrilla va el lunes", "by": status["data"]["by"]}
    wait_for(lambda: command_ids(got) and command_ids(got)[-1] == total[2], 30, "every event at the command")
    assert in_order_without_gaps(command_ids(got)) == webhook
