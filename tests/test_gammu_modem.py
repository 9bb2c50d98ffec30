"""GammuModem against Gammu's own dummy driver (a modem made of files) and, in the slow tests, against
the simulated AT modem over a pty: real python-gammu, no mocks."""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import time

import gammu
import pytest

from barriosms.config import GatewaySettings, ModemSettings
from barriosms.modem.gammu_modem import GammuModem, to_received, write_gammurc
from barriosms.modem.gammu_output import QUEUE_PLACES, GammuOutput
from barriosms.pipeline.gateway import Gateway
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.sim.rig import Rig, wait_for
from barriosms.store.models import Case, InboundMessage, OutboundMessage
from barriosms.templates.loader import load_categories, load_templates

WHEN = dt.datetime(2026, 11, 24, 10, 0, 0)


def put_sms(folder, n: int, number: str, text: str, when=WHEN, udh=None):
    """Drop an inbound SMS into the dummy phone the way Gammu's own tests do: an SMS-backup file."""
    sms = {"Number": number, "Text": text, "SMSC": {"Location": 1}, "Folder": 1, "Location": 0,
           "State": "UnRead", "DateTime": when, "Coding": "Default_No_Compression"}
    if udh:
        sms["UDH"] = udh
    tmp = folder / "sms" / "1" / f".{n}.tmp"
    gammu.SaveSMSBackup(str(tmp), [sms])
    tmp.rename(folder / "sms" / "1" / str(n))


@pytest.fixture
def modem(tmp_path):
    folder = tmp_path / "phone"
    folder.mkdir()
    m = GammuModem(ModemSettings(device=str(folder), connection="none"))
    identity = m.connect()
    assert identity.model  # Gammu's dummy model name
    yield m, folder
    m.disconnect()


def test_gammurc_for_a_usb_modem(tmp_path):
    rc = write_gammurc(ModemSettings(device="/dev/ttyUSB0", gammu_options={"logformat": "textall"}), tmp_path)
    assert rc.read_text() == "[gammu]\ndevice = /dev/ttyUSB0\nconnection = at\nmodel = at\nlogformat = textall\n"


def test_read_delete_and_status(modem):
    m, folder = modem
    put_sms(folder, 1, "+59171234567", "B12 hay un bache")
    put_sms(folder, 2, "71234568", "Estado 1234567")
    found = m.read_all()
    assert [(s.sender, s.text) for s in found] == [("+59171234567", "B12 hay un bache"), ("71234568", "Estado 1234567")]
    assert found[0].smsc_time == WHEN and not found[0].is_part
    m.delete(found[0])
    assert [s.text for s in m.read_all()] == ["Estado 1234567"]
    status = m.status()
    assert status.sim_used == 1 and status.signal_percent is not None and status.network_state


def test_concatenated_parts_keep_their_udh(modem):
    m, folder = modem
    text = "B12 " + "se rompio la cañeria y el agua corre por toda la calle " * 4
    parts = gammu.EncodeSMS({"Class": -1, "Unicode": True,
                             "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}]})
    assert len(parts) > 1
    for i, part in enumerate(parts, start=1):
        put_sms(folder, i, "+59171234567", part["Text"], udh=part["UDH"])
    found = m.read_all()
    assert {s.part_number for s in found} == set(range(1, len(parts) + 1))
    assert {s.total_parts for s in found} == {len(parts)} and len({s.concat_ref for s in found}) == 1
    assert "".join(s.text for s in sorted(found, key=lambda s: s.part_number)) == text


def test_send_returns_a_reference(modem):
    m, _ = modem
    result = m.send("+59171234567", "Su numero de caso es 1234567")
    assert result.parts == 1 and result.references[0] >= 0
    long = m.send("+59171234567", "á" * 100)  # not GSM-7: UCS-2, 67 characters per part
    assert long.parts == 2


def test_whole_gateway_on_the_dummy_driver(modem, hoods):
    m, folder = modem
    put_sms(folder, 1, "+59171234567", "B12 hay un bache grande en la calle 3")
    put_sms(folder, 2, "TIGO", "Promocion")
    g = Gateway(m, Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(5)), GatewaySettings())
    assert g.receive() == 2
    assert m.read_all() == []
    assert Case.select().count() == 1 and InboundMessage.select().count() == 2
    assert g.send_due() == 1
    assert OutboundMessage.get().status == "sent"


def test_to_received_strips_extension_padding():
    sms = {"Location": 3, "Folder": 1, "Number": "+59171234567", "Text": "B12 [calle] {3}\x00\x00\x00\x00",
           "UDH": {"Type": "NoUDH"}, "DateTime": dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))}
    r = to_received(sms)
    assert r.text == "B12 [calle] {3}" and r.smsc_time == dt.datetime(2026, 1, 1, 12, 0)


@pytest.fixture
def at_modem(tmp_path):
    """GammuModem on the simulated AT modem (a process on a pty), with room for a burst."""
    rig = Rig(tmp_path / "sim", slots=60)
    rig.start_sim()
    m = GammuModem(ModemSettings(device=str(rig.device)))
    try:
        m.connect()  # asks for +CMTI notifications, as the daemon does
        yield m, rig
    finally:
        m.disconnect()
        rig.stop()


@pytest.mark.slow
def test_a_burst_beyond_python_gammus_queue_loses_no_sms(at_modem, hoods, caplog, capfd):
    """45 +CMTI lines wait unread (the modem thread was busy) and reach Gammu in one ReadDevice:
    python-gammu keeps 10 notifications and drops 35, yet every message is stored and deleted."""
    m, rig = at_modem
    burst = 45
    g = Gateway(m, Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(5)), GatewaySettings())
    caplog.set_level(logging.WARNING, logger="barriosms.modem.gammu_output")
    with GammuOutput():
        for i in range(burst):
            rig.text(f"+5916{i:07d}", f"B12 hay un bache numero {i} en la calle")
        wait_for(lambda: rig.sim_status()["used"] == burst, 10, "the burst on the SIM")
        time.sleep(0.3)  # the modem's last +CMTI lines reach the pty after it has answered the control socket
        stored = 0
        deadline = time.monotonic() + 30
        while stored < burst and time.monotonic() < deadline:
            # The modem thread's turn (daemon.ModemThread._work): a notification means "read the SIM".
            if m.poll_events():
                stored += g.receive()
    assert stored == burst and InboundMessage.select().count() == burst
    assert {msg.sender for msg in InboundMessage.select()} == {f"+5916{i:07d}" for i in range(burst)}
    assert m.read_all() == [] and rig.sim_status()["used"] == 0
    [told] = [r.getMessage() for r in caplog.records if r.name == "barriosms.modem.gammu_output"]
    assert re.search(rf"queue of {QUEUE_PLACES} notifications was full and it dropped {burst - QUEUE_PLACES} more", told)
    assert "queue overflow" not in capfd.readouterr().out


def test_the_operator_is_named_from_gammus_table_when_the_modem_gives_no_name():
    from barriosms.modem.gammu_modem import operator_name

    assert operator_name({"NetworkCode": "736 02", "NetworkName": "Entel S.A."}) == "Entel S.A."
    assert operator_name({"NetworkCode": "736 02", "NetworkName": ""}) == "Entel"  # Gammu 1.42 leaves it empty
    assert operator_name({"NetworkCode": "736 09", "NetworkName": ""}) == "736 09"  # in no table: the code
    assert operator_name({}) == ""
