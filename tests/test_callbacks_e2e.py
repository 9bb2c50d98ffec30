"""End to end, a resident who calls instead of writing: the real daemon (Gammu's AT driver) on the
simulated modem, the call made through the modem's control socket, staff's `callbacks` commands as
processes. Each test uses its own phone numbers."""

from __future__ import annotations

import pytest
from conftest import started_rig

from barriosms.sim.rig import Rig, wait_for

pytestmark = pytest.mark.slow

TEXT = "Recibimos su llamada. La Alcaldia lo llamara pronto."


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    yield from started_rig(tmp_path_factory.mktemp("callbacks"), poll_seconds=5)


def hung_up(rig: Rig, count: int) -> list[dict]:
    """Wait until the daemon has hung up `count` calls; every call the modem got."""
    return wait_for(lambda: (lambda calls: calls if sum(c["ended_by"] == "modem" for c in calls) >= count else None)(
        rig.calls()), 15, f"the daemon to hang up {count} call(s)")


def requests_of(rig: Rig, phone: str) -> list[tuple]:
    return rig.query("SELECT id, calls, status, sms_id FROM callback WHERE phone = ? ORDER BY id", (phone,))


def test_a_missed_call_is_hung_up_and_becomes_one_request_with_one_sms(rig):
    phone = "+59171000401"
    rig.call(phone)
    [call] = [c for c in hung_up(rig, 1) if c["number"] == phone]
    assert call["ended_by"] == "modem" and call["ended_epoch"] - call["started_epoch"] < 3  # hung up at once
    [sms] = rig.sent_to(phone, 1)
    assert sms["text"] == TEXT and sms["parts"] == 1
    [(request_id, calls, status, sms_id)] = requests_of(rig, phone)
    assert (calls, status) == (1, "pending") and sms_id is not None
    [listed] = [c for c in rig.cli_json("callbacks", "list", "--pending") if c["phone"] == phone]
    assert listed["id"] == request_id and listed["sms"]["status"] == "sent"
    assert rig.query("SELECT COUNT(*) FROM event WHERE kind = 'callback.requested'")[0][0] >= 1

    # Calls again within the window (24 h): still one request, the calls counted, no second SMS.
    for n in (2, 3):
        rig.call(phone)
        hung_up(rig, n)
        wait_for(lambda n=n: requests_of(rig, phone)[0][1] == n, 10, f"call {n} counted")
    assert rig.settled(phone, seconds=3) == [sms]
    assert [(r[1], r[2]) for r in requests_of(rig, phone)] == [(3, "pending")]

    done = rig.cli_json("callbacks", "done", str(request_id), "--note", "le llamamos, todo bien")
    assert (done["status"], done["note"]) == ("done", "le llamamos, todo bien")
    assert phone not in [c["phone"] for c in rig.cli_json("callbacks", "list", "--pending")]


def test_a_withheld_call_is_hung_up_and_recorded_without_sms(rig):
    sent_before = len(rig.sent())
    before = rig.query("SELECT COUNT(*) FROM callback WHERE phone = ''")[0][0]
    rig.call("")
    wait_for(lambda: rig.query("SELECT COUNT(*) FROM callback WHERE phone = ''")[0][0] == before + 1, 15,
             "the withheld call recorded")
    assert rig.calls()[-1]["withheld"] and rig.calls()[-1]["ended_by"] == "modem"
    assert len(rig.sent()) == sent_before
