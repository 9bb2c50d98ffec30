"""The back-office's reports and operations pages (staffreports.py) through Flask's test client.

Difusión (the plan, then the confirmation that queues the notice and writes its audit entry),
Focos and its SVG map, Estadísticas, Salida de SMS, Módem, Talleres and Auditoría: each with real
rows in a real SQLite file, for a viewer, an admin and nobody, and what a viewer may not see.
"""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest
from test_staff_web import PASSWORD, csrf, login
from test_web_fuzz import SHARPEST, body_of

from barriosms import config
from barriosms.cases import casework, outbox
from barriosms.domain.phones import format_for_display
from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.staff import accounts, audit
from barriosms.store.models import (
    AuditEntry,
    Broadcast,
    Case,
    ModemHealth,
    OutboundMessage,
    PracticeMessage,
    utcnow,
)
from barriosms.templates.loader import load_categories, load_templates
from barriosms.web import create_app

RESIDENT, NEIGHBOUR, OTHER, TRAINEE = "+59171234567", "+59172345678", "+59173456789", "+59176543210"
BUDGET = 10
GET_PAGES = ["/personal/focos", "/personal/focos.svg", "/personal/estadisticas", "/personal/salida",
             "/personal/modem", "/personal/talleres", "/personal/auditoria"]


@pytest.fixture
def app(hoods, tmp_path, db):
    accounts.add("ana", "Ana Quispe", "staff", PASSWORD, actor="root")
    accounts.add("vic", "Víctor Mamani", "viewer", PASSWORD, actor="root")
    accounts.add("adm", "Alicia Admin", "admin", PASSWORD, actor="root")
    ini = tmp_path / "web.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n"
                   f"[service]\ndaily_sms_budget = {BUDGET}\nquiet_hours = 22:00-07:00\n")
    return create_app(config.load(ini))


def practise(phone: str, text: str) -> None:
    """A PRUEBA message read off the SIM, as the intake stores it."""
    intake = Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(3))
    at = dt.datetime(2026, 11, 25, 10, 0)
    intake.store(ReceivedSms(location=77, sender=phone, text=text, smsc_time=at), now=at)


@pytest.fixture
def data(app, report):
    """Two open cases in B12, one resolved in B02, a practice message, an SMS held by the quiet
    hours, one that failed, the modem's health, and two audit entries."""
    report(RESIDENT, "B12 hay un bache grande en la calle 3")
    report(NEIGHBOUR, "B12 no hay agua desde ayer en la plaza")
    fixed = report(OTHER, "B02 hay basura en la esquina hace una semana")
    practise(TRAINEE, "PRUEBA hay mucha basura en la esquina")
    assert PracticeMessage.select().count() == 1
    OutboundMessage.delete().execute()
    casework.change_status(fixed.tracking, "resolved", load_templates(), region="BO", actor="ana")
    held = OutboundMessage.get(OutboundMessage.kind == "status_update")
    outbox.hold(held, utcnow() + dt.timedelta(hours=3), "quiet hours (22:00-07:00) until 07:00")
    failed = outbox.queue(NEIGHBOUR, "Su caso tiene una nota nueva", kind="note")
    OutboundMessage.update(status="failed", attempts=5, last_error="+CMS ERROR: 38 network out of order").where(
        OutboundMessage.id == failed.id).execute()
    ModemHealth.create(name="default", updated_at=utcnow(), connected=True, since=utcnow() - dt.timedelta(hours=2),
                       manufacturer="huawei", model="E3131", operator="Entel", signal_percent=5, signal_dbm=-107,
                       sim_used=30, sim_total=30, last_error="+CME ERROR: 10 SIM not inserted",
                       last_error_at=utcnow() - dt.timedelta(minutes=30), balance=3.5, balance_text="Saldo Bs 3.50",
                       balance_at=utcnow() - dt.timedelta(hours=1))
    audit.record("ana", "cli", "cases.status", fixed.tracking, "received -> resolved")
    audit.record("root", "cli", "accounts.add", "vic", "viewer")
    return fixed


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return body_of(response).decode()


def logged_in(app, user: str):
    client = app.test_client()
    assert login(client, user).status_code == 303
    return client


# --- who may open what ------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login(app):
    client = app.test_client()
    for path in [*GET_PAGES, "/personal/difusion"]:
        response = client.get(path)
        assert response.status_code == 303 and response.headers["Location"].startswith("/personal/entrar"), path
    for path in ("/personal/difusion", "/personal/difusion/confirmar"):
        response = client.post(path, data={"barrio": "B12", "texto": "Corte de agua", "confirmar": "1"})
        assert response.status_code == 303 and response.headers["Location"].startswith("/personal/entrar"), path
    assert OutboundMessage.select().count() == 0 and Broadcast.select().count() == 0


def test_every_page_renders_for_a_viewer_with_its_entry_in_the_menu(app, data):
    client = logged_in(app, "vic")
    home = page(client, "/personal/")
    for path in GET_PAGES:
        page(client, path)
        if not path.endswith(".svg"):
            assert f'href="{path}"' in home, path
    assert 'href="/personal/difusion"' not in home  # a viewer cannot send notices: not in the menu
    assert "Auditoría" in home and "Salida de SMS" in home and "Módem" in home
    assert 'href="/personal/difusion"' in page(logged_in(app, "adm"), "/personal/")


@pytest.mark.parametrize("user", ["vic", "ana"])
def test_only_an_admin_may_send_a_notice(app, data, user):
    client = logged_in(app, user)
    assert client.get("/personal/difusion").status_code == 403
    token = csrf(client)
    before = OutboundMessage.select().count()
    for path in ("/personal/difusion", "/personal/difusion/confirmar"):
        refused = client.post(path, data={"csrf": token, "barrio": "B12", "texto": "Corte de agua el martes",
                                          "confirmar": "1"})
        assert refused.status_code == 403 and "no puede hacer esto" in body_of(refused).decode()
    assert OutboundMessage.select().count() == before
    assert not OutboundMessage.select().where(OutboundMessage.kind == "broadcast").exists()
    assert Broadcast.select().count() == 0 and not AuditEntry.select().where(AuditEntry.action == "broadcast").exists()


# --- Difusión ---------------------------------------------------------------------------------


def test_an_admin_sees_the_plan_then_confirms_and_the_notice_is_queued_and_audited(app, data):
    client = logged_in(app, "adm")
    form = page(client, "/personal/difusion")
    assert 'action="/personal/difusion"' in form and '<option value="B12">' in form
    token = csrf(client, "/personal/difusion")
    waiting = OutboundMessage.select().where(OutboundMessage.status.in_(("queued", "sending"))).count()
    assert waiting >= 1  # the held status SMS counts against today's budget
    shown = client.post("/personal/difusion", data={"csrf": token, "barrio": "b12",
                                                    "texto": "Corte de agua el martes de 8 a 14"})
    assert shown.status_code == 200
    plan = body_of(shown).decode()
    assert "<strong>2 SMS</strong> a 2 teléfono(s), 1 SMS por teléfono" in plan
    assert f"{BUDGET} SMS por día; quedan hoy {BUDGET - waiting} SMS." in plan
    assert "22:00-07:00" in plan
    assert 'action="/personal/difusion/confirmar"' in plan and 'name="confirmar" value="1"' in plan
    assert not OutboundMessage.select().where(OutboundMessage.kind == "broadcast").exists()  # nothing sent yet

    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">',
                             plan.split('action="/personal/difusion/confirmar"', 1)[1].split("</form>", 1)[0]))
    assert hidden["barrio"] == "B12" and hidden["costo"] == "2" and hidden["ultimo"] == "0"
    done = client.post("/personal/difusion/confirmar", data={**hidden, "confirmar": "1"})
    assert done.status_code == 303
    notice = Broadcast.get()
    assert done.headers["Location"] == f"/personal/difusion?aviso={notice.id}"
    sent = OutboundMessage.select().where(OutboundMessage.kind == "broadcast")
    assert sorted(m.recipient for m in sent) == [RESIDENT, NEIGHBOUR]
    assert {m.text for m in sent} == {"Corte de agua el martes de 8 a 14"} and not any(m.urgent for m in sent)
    assert (notice.actor, notice.neighborhood.code, notice.recipients) == ("adm", "B12", 2)
    entry = AuditEntry.get(AuditEntry.action == "broadcast")
    assert (entry.actor, entry.source, entry.target) == ("adm", "web", "B12")
    assert entry.detail.startswith(f"notice {notice.id}: 2 SMS to 2 resident(s)")
    after = page(client, done.headers["Location"])
    assert f"Aviso {notice.id} en cola: 2 SMS" in after and "Corte de agua el martes de 8 a 14" in after

    again = client.post("/personal/difusion/confirmar", data={**hidden, "confirmar": "1"})  # a double click
    assert again.status_code == 409
    assert f"Este aviso ya está en cola (aviso {notice.id}, de adm): no se envió otra vez." in body_of(again).decode()
    assert OutboundMessage.select().where(OutboundMessage.kind == "broadcast").count() == 2
    assert Broadcast.select().count() == 1 and AuditEntry.select().where(AuditEntry.action == "broadcast").count() == 1
    replanned = body_of(client.post("/personal/difusion", data={"csrf": token, "barrio": "B12",
                                                                "texto": "Corte de agua el martes de 8 a 14"})).decode()
    assert f'name="ultimo" value="{notice.id}"' in replanned  # on purpose, the same notice may go again


def test_an_urgent_notice_is_queued_urgent(app, data):
    client = logged_in(app, "adm")
    done = client.post("/personal/difusion/confirmar", data={
        "csrf": csrf(client), "barrio": "B12", "texto": "Evacuen la zona baja", "urgente": "1", "confirmar": "1"})
    assert done.status_code == 303
    assert [m.urgent for m in OutboundMessage.select().where(OutboundMessage.kind == "broadcast")] == [True, True]
    assert "(urgent)" in AuditEntry.get(AuditEntry.action == "broadcast").detail


BAD_NOTICES = [
    ({"barrio": "Z99", "texto": "Corte de agua"}, "No existe ningún barrio con el código «Z99»."),
    ({"barrio": "B12", "texto": "   "}, "Escriba el texto del aviso."),
    ({"barrio": "B12", "texto": "corte de agua " * 40}, "El aviso tiene 559 caracteres: serían 4 SMS por vecino"),
    ({"barrio": "", "texto": "Corte de agua"}, "Elija el barrio"),
    ({"barrio": "B12", "texto": "x" * 3000}, "El aviso es demasiado largo"),
]


@pytest.mark.parametrize("path", ["/personal/difusion", "/personal/difusion/confirmar"])
@pytest.mark.parametrize(("fields", "said"), BAD_NOTICES)
def test_a_notice_that_cannot_be_planned_is_a_400_in_spanish(app, data, path, fields, said):
    client = logged_in(app, "adm")
    before = OutboundMessage.select().count()
    response = client.post(path, data={"csrf": csrf(client), "confirmar": "1", **fields})
    text = body_of(response).decode()
    assert response.status_code == 400 and said in text and 'class="aviso aviso-error"' in text, text[:3000]
    assert 'action="/personal/difusion/confirmar"' not in text
    assert OutboundMessage.select().count() == before and Broadcast.select().count() == 0


@pytest.mark.parametrize(("fields", "status", "said"), [
    ({"barrio": "B12", "confirmar": ""}, 400, "El aviso no se envió: confírmelo con el botón"),
    ({"barrio": "B12", "confirmar": "1", "costo": "1"}, 409, "El aviso no se envió: ahora serían 2 SMS, no 1."),
    ({"barrio": "B01", "confirmar": "1"}, 409, "No hay a quién avisar en B01"),
])
def test_a_confirmation_that_cannot_go_says_why_and_sends_nothing(app, data, fields, status, said):
    client = logged_in(app, "adm")
    before = OutboundMessage.select().count()
    response = client.post("/personal/difusion/confirmar", data={"csrf": csrf(client), "texto": "Corte de agua",
                                                                 **fields})
    text = body_of(response).decode()
    assert response.status_code == status and said in text and 'class="aviso aviso-error"' in text, text[:3000]
    assert OutboundMessage.select().count() == before and Broadcast.select().count() == 0
    assert not AuditEntry.select().where(AuditEntry.action == "broadcast").exists()


def test_a_plan_with_nobody_to_tell_offers_no_confirmation(app, data):
    client = logged_in(app, "adm")
    shown = client.post("/personal/difusion", data={"csrf": csrf(client), "barrio": "B01", "texto": "Corte de agua"})
    text = body_of(shown).decode()
    assert shown.status_code == 200
    assert "<strong>0 SMS</strong> a 0 teléfono(s)" in text and "No hay a quién avisar en B01" in text
    assert 'action="/personal/difusion/confirmar"' not in text


# --- the report pages -------------------------------------------------------------------------


def test_focos_ranks_the_open_cases_and_draws_them(app, data):
    client = logged_in(app, "vic")
    text = page(client, "/personal/focos")
    rows = re.findall(r"<tr><td class=\"n\">(\d+)</td><td><a [^>]+>(B\d+) ", text)
    assert rows == [("1", "B12"), ("2", "B12")]  # two categories in B12; B02's case is resolved
    assert '<img src="/personal/focos.svg"' in text
    assert re.search(r"<td>B12 [^<]+</td><td>[^<]*</td><td class=\"n\">2</td>", text)
    assert "B02 Sopocachi" not in text  # no open case there
    filtered = page(client, "/personal/focos?distrito=" + data.neighborhood.district)
    assert "No hay casos abiertos." in filtered
    unknown = page(client, "/personal/focos?distrito=Atlantida")
    assert "Ningún barrio es del distrito «Atlantida»." in unknown


def test_the_map_is_an_svg_in_spanish_without_scripts(app, data):
    response = logged_in(app, "vic").get("/personal/focos.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = body_of(response).decode()
    assert svg.startswith("<?xml") and "<svg" in svg and "Casos abiertos por barrio" in svg
    assert ">B12 2</text>" in svg and "Área del círculo: número de casos abiertos" in svg
    assert "Circle area" not in svg and "<script" not in svg
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_estadisticas_counts_by_status_and_category_with_the_time_to_resolve(app, data):
    client = logged_in(app, "vic")
    text = page(client, "/personal/estadisticas")
    assert "<strong>3 caso(s)</strong>" in text
    assert re.search(r"<td>recibido</td><td class=\"n\">2</td>", text)
    assert re.search(r"<td>resuelto</td><td class=\"n\">1</td>", text)
    assert "Mediana: <strong>" in text and "sobre 1 caso(s) resuelto(s)" in text
    future = page(client, "/personal/estadisticas?desde=2999-01-01")
    assert "<strong>0 caso(s)</strong> reportados desde el 2999-01-01" in future and 'value="2999-01-01"' in future
    bad = page(client, "/personal/estadisticas?desde=ayer")
    assert "La fecha «ayer» no es válida" in bad and "<strong>3 caso(s)</strong>" in bad


def test_salida_says_why_an_sms_waits_and_what_failed(app, data):
    client = logged_in(app, "ana")
    text = page(client, "/personal/salida")
    assert "retenido" in text and "horario de silencio (22:00-07:00): sale a las 07:00" in text
    assert "falló" in text and "+CMS ERROR: 38 network out of order" in text
    assert re.search(r"<td class=\"n\">5</td>", text)  # the failed one's attempts
    assert format_for_display(OTHER, "BO") in text  # staff see the whole number
    sent_only = page(client, "/personal/salida?estado=sent")
    assert "No hay SMS en esta vista." in sent_only
    odd = page(client, "/personal/salida?estado=listo")
    assert "No existe la vista «listo»" in odd and "horario de silencio" in odd


def test_a_viewer_sees_only_the_last_digits_of_a_phone(app, data):
    client = logged_in(app, "vic")
    for path in ("/personal/salida", "/personal/talleres"):
        text = page(client, path)
        for phone in (OTHER, NEIGHBOUR, TRAINEE):
            assert phone not in text and format_for_display(phone, "BO") not in text, (path, phone)
    assert "•••• 789" in page(client, "/personal/salida") and "•••• 678" in page(client, "/personal/salida")
    assert "•••• 210" in page(client, "/personal/talleres")


def test_modem_shows_its_health_and_problems_in_spanish(app, data):
    text = page(logged_in(app, "vic"), "/personal/modem")
    assert "Conectado" in text and "Entel" in text
    assert "5 % (-107 dBm)" in text and "30 de 30 lugares para mensajes ocupados" in text
    assert "La SIM está llena (30/30)" in text and "Señal muy débil (5 %)" in text
    assert "+CME ERROR: 10 SIM not inserted" in text and "<dd>3,50 (" in text
    assert "hace " in text and " s)" in text


def test_modem_without_a_daemon_says_so(app, data):
    ModemHealth.update(updated_at=utcnow() - dt.timedelta(hours=1)).execute()
    text = page(logged_in(app, "vic"), "/personal/modem")
    assert "El servicio no está funcionando" in text and "No hay latido desde hace" in text
    ModemHealth.delete().execute()
    assert "nunca funcionó con esta base de datos" in page(logged_in(app, "vic"), "/personal/modem")


def test_talleres_counts_practice_per_phone(app, data):
    client = logged_in(app, "ana")
    text = page(client, "/personal/talleres")
    assert format_for_display(TRAINEE, "BO") in text and "sin barrio: 1" in text
    assert "No hay mensajes de práctica desde el 2999-01-01" in page(client, "/personal/talleres?desde=2999-01-01")


def test_auditoria_lists_and_filters_the_trail(app, data):
    client = logged_in(app, "vic")
    everything = page(client, "/personal/auditoria")
    assert "accounts.add" in everything and f"/personal/caso/{data.tracking}" in everything
    assert everything.index("accounts.add") < everything.index("cases.status")  # newest first
    ana = page(client, "/personal/auditoria?usuario=ANA")
    assert "cases.status" in ana and "accounts.add" not in ana
    assert "No hay entradas que coincidan." in page(client, "/personal/auditoria?desde=2999-01-01")
    assert "accounts.add" not in page(client, "/personal/auditoria?accion=cases")


def test_my_pages_answer_hostile_parameters_calmly(app, data):
    client = logged_in(app, "adm")
    token = csrf(client)
    for path in ("/personal/estadisticas", "/personal/talleres", "/personal/auditoria", "/personal/salida",
                 "/personal/focos", "/personal/difusion"):
        for name in ("desde", "usuario", "accion", "estado", "distrito", "aviso"):
            for value in SHARPEST:
                response = client.get(path, query_string={name: value})
                assert response.status_code == 200, (path, name, value[:20])
    for path in ("/personal/difusion", "/personal/difusion/confirmar"):
        for name in ("barrio", "texto", "costo", "ultimo", "confirmar", "urgente"):
            for value in SHARPEST:
                fields = {"csrf": token, "barrio": "B12", "texto": "Corte de agua", "costo": "0", name: value}
                response = client.post(path, data=fields)
                assert response.status_code in (200, 400, 409), (path, name, value[:20], response.status_code)
    assert Broadcast.select().count() == 0  # without confirmar=1, or with a cost of 0, nothing goes
    assert Case.select().count() == 3


def test_low_credit_is_said_in_spanish(app, data, tmp_path, db):
    ini = tmp_path / "credito.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n[gateway]\nbalance_warn_below = 10\n")
    ModemHealth.update(sim_used=2, signal_percent=80).execute()
    text = page(logged_in(create_app(config.load(ini)), "vic"), "/personal/modem")
    assert "Queda poco saldo en la SIM: 3,50 (aviso por debajo de 10,00). Recárguela" in text
    assert "La SIM está llena" not in text and "Señal muy débil" not in text


def test_modem_page_on_a_shared_database_shows_the_other_gateways(pg_db, tmp_path):
    from barriosms.store import database as store

    store.open_database(pg_db)
    accounts.add("vic", "Víctor Mamani", "viewer", PASSWORD, actor="root")
    ModemHealth.create(name="norte", updated_at=utcnow(), connected=True, host="pi-norte", pid=4, operator="Entel")
    ModemHealth.create(name="sur", updated_at=utcnow(), connected=True, host="pi-sur (77aa01ff)", pid=9,
                       operator="Tigo")
    ini = tmp_path / "web.ini"
    ini.write_text(f"[database]\nurl = {pg_db}\n[gateway]\nname = norte\n[modem]\ndevice = /dev/null\n")
    text = page(logged_in(create_app(config.load(ini)), "vic"), "/personal/modem")
    assert "Módem norte</h2>" in text and "Entel" in text
    assert "Módem sur <small>(otra pasarela, en pi-sur (77aa01ff))</small>" in text and "Tigo" in text
