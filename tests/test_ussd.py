"""USSD requests through the database, run by the modem thread; balance checks."""

from __future__ import annotations

import threading
import time

import pytest
from fakemodem import FakeModem

from barriosms import config
from barriosms.daemon.modem_thread import ModemThread
from barriosms.operations import health, ussd
from barriosms.store.models import ModemHealth, UssdRequest


@pytest.mark.parametrize("code, ok", [("*105#", True), ("*#100#", True), ("#123*1#", True),
                                      ("105", False), ("*105", False), ("*10a#", False), ("", False)])
def test_codes(code, ok):
    assert ussd.valid_code(code) is ok


@pytest.mark.parametrize("answer, amount", [
    ("Su saldo es Bs 12.50. Vigencia 30/12", 12.5),
    ("Saldo: 3,20 Bs", 3.2),
    ("Estimado cliente, su credito es 0 Bs", 0.0),
    ("Servicio no disponible", None),
])
def test_parse_balance(answer, amount):
    assert ussd.parse_balance(answer) == amount


def test_bad_code_is_refused_before_it_reaches_the_daemon(db):
    with pytest.raises(ussd.UssdError, match="e.g. \\*105#"):
        ussd.queue("105")
    assert UssdRequest.select().count() == 0


@pytest.fixture
def running(db, tmp_path):
    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/fake\n"
                   "[gateway]\nbalance_ussd = *105#\nbalance_warn_below = 10\n")
    settings = config.load(ini)
    modem = FakeModem(ussd_answers={"*105#": "Su saldo es Bs 4.50", "*111#": "Hola"})
    stop = threading.Event()
    thread = ModemThread(settings, stop, modem_factory=lambda s: modem)
    thread.start()
    yield settings, thread
    stop.set()
    thread.join(5)


def wait_status(request_id, timeout=5):
    row = ussd.wait(request_id, timeout, interval=0.02)
    assert row.status in ("done", "failed"), row.status
    return row


def test_request_is_run_by_the_modem_thread(running):
    settings, thread = running
    ok = ussd.queue("*111#")
    missing = ussd.queue("*999#")
    thread.requests.ask("send")  # what the scheduler does every second
    assert wait_status(ok.id).answer == "Hola"
    failed = wait_status(missing.id)
    assert failed.status == "failed" and "no answer" in failed.error


def test_balance_check_records_and_warns_when_low(running):
    settings, thread = running
    thread.requests.ask("balance")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (ModemHealth.get_or_none() is None or ModemHealth.get().balance is None):
        time.sleep(0.02)
    row = ModemHealth.get()
    assert row.balance == 4.5 and "4.50" in row.balance_text
    verdict = health.assess(row, settings.gateway.heartbeat_seconds,
                            balance_warn_below=settings.gateway.balance_warn_below)
    assert any("credit is low: 4.50" in p for p in verdict.problems)


def test_on_a_shared_database_each_gateway_dials_its_own_requests(db):
    from barriosms.daemon.ussd_runner import UssdRunner

    ModemHealth.create(name="norte")
    ModemHealth.create(name="sur")
    theirs = ussd.queue("*105#", purpose="balance", modem="sur")
    mine = ussd.queue("*105#", purpose="balance", modem="norte")
    anyone = ussd.queue("*111#")  # from before requests named a modem
    modem = FakeModem(ussd_answers={"*105#": "Su saldo es Bs 22.00", "*111#": "Hola"})
    modem.connect()
    UssdRunner("norte").run(modem, balance_warn_below=None)
    rows = {r.id: r.status for r in UssdRequest.select()}
    assert rows == {theirs.id: "queued", mine.id: "done", anyone.id: "done"}
    # The balance goes to the row of the modem that dialled it, not to another gateway's.
    assert (ModemHealth.get(name="norte").balance, ModemHealth.get(name="sur").balance) == (22.0, None)
    # A request another daemon already took is left to it.
    taken = ussd.queue("*111#", modem="norte")
    assert ussd.take(UssdRequest.get_by_id(taken.id))
    assert not ussd.take(UssdRequest.get_by_id(taken.id))
