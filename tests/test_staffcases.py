"""The case page's refusals in Spanish (web/staffcases.py), from the real services' errors."""

from __future__ import annotations

import pytest
from test_staff_web import PASSWORD, csrf, login

from barriosms import config
from barriosms.cases import casework
from barriosms.pipeline import conversations
from barriosms.staff import accounts
from barriosms.store.models import AuditEntry, OutboundMessage
from barriosms.templates.loader import load_templates
from barriosms.web import create_app
from barriosms.web.staffcases import spanish_error


@pytest.fixture
def app(hoods, tmp_path, db):
    accounts.add("ana", "Ana Quispe", "staff", PASSWORD, actor="root")
    ini = tmp_path / "web.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n")
    return create_app(config.load(ini))


@pytest.fixture
def case(report):
    return report("+59171234567", "B12 hay un bache grande en la calle 3")


def _refusal(call) -> str:
    with pytest.raises(casework.CaseError) as err:
        call()
    return spanish_error(err.value)


def test_the_services_refusals_read_in_spanish(case, report):
    t = load_templates()
    assert _refusal(lambda: casework.change_status(case.tracking, "closed", t, region="BO")) == (
        "No se pudo: un caso recibido no puede pasar a cerrado; puede pasar a: en revisión, en proceso, resuelto, "
        "rechazado.")
    assert _refusal(lambda: conversations.ask(case.tracking, "x" * 200, t, None, region="BO")).startswith(
        "No se pudo: el texto tiene 200 caracteres,")
    assert _refusal(lambda: casework.merge(case.tracking, case.tracking, t, region="BO")) == (
        "No se pudo: un caso no se puede unir consigo mismo.")
    other = report("+59171234568", "B12 el mismo bache")
    casework.merge(other.tracking, case.tracking, t, region="BO")
    assert _refusal(lambda: casework.add_note(other.tracking, "hola", t, public=True, region="BO")) == (
        f"No se pudo: el caso fue unido al caso {case.tracking}: trabaje en ese caso.")
    assert spanish_error(ValueError("something new")) == "No se pudo: something new"


def test_a_refused_action_shows_the_reason_on_the_page_and_records_nothing(app, case):
    client = app.test_client()
    login(client)
    done = client.post(f"/personal/caso/{case.tracking}/preguntar", data={"csrf": csrf(client), "texto": "y" * 250})
    assert done.status_code == 409
    assert "el texto tiene 250 caracteres" in done.get_data(as_text=True)
    assert OutboundMessage.select().count() == 0
    assert not AuditEntry.select().where(AuditEntry.action == "cases.ask").exists()
