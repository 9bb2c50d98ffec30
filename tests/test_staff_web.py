"""The staff back-office (/personal/) through Flask's test client, on a real SQLite file.

Logging in and out, the cookie's flags, the back-off, the gate by network, the Bandeja and its
search, triage, and each action on the case page with the service it uses and its audit entry.
Over real HTTP, with every route and each role: test_staff_web_security.py.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest

from barriosms import config
from barriosms.staff import accounts
from barriosms.store.models import AuditEntry, Case, CaseEvent, LoginThrottle, OutboundMessage, StaffSession
from barriosms.web import create_app

PASSWORD = "correct horse 42"


def _app(db, tmp_path, extra: str = ""):
    ini = tmp_path / "web.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n{extra}")
    return create_app(config.load(ini))


@pytest.fixture
def app(hoods, tmp_path, db):
    accounts.add("ana", "Ana Quispe", "staff", PASSWORD, actor="root")
    accounts.add("vic", "Víctor Mamani", "viewer", PASSWORD, actor="root")
    return _app(db, tmp_path)


def _token(page: str, name: str = "token") -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def login(client, user: str = "ana", password: str = PASSWORD, **extra):
    form = client.get("/personal/entrar").get_data(as_text=True)
    return client.post("/personal/entrar", data={"usuario": user, "clave": password, "token": _token(form), **extra})


def csrf(client, path: str = "/personal/") -> str:
    return _token(client.get(path).get_data(as_text=True), "csrf")


def test_anonymous_pages_go_to_the_login_and_data_is_401(app):
    client = app.test_client()
    page = client.get("/personal/?vista=nuevos")
    assert page.status_code == 303 and page.headers["Location"].startswith("/personal/entrar?siguiente=")
    assert client.get("/personal/api/yo").status_code == 401
    assert client.post("/personal/salir").status_code == 303


def test_login_sets_a_strict_httponly_cookie_and_comes_back_to_the_page_asked_for(app):
    client = app.test_client()
    first = client.get("/personal/?vista=nuevos")
    target = first.headers["Location"].split("siguiente=", 1)[1]
    done = login(client, siguiente=urllib.parse.unquote(target))
    assert done.status_code == 303 and done.headers["Location"] == "/personal/?vista=nuevos"
    cookie = done.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/personal" in cookie
    assert "Secure" not in cookie  # plain HTTP on this machine; see the HTTPS test
    assert client.get("/personal/api/yo").get_json() == {"usuario": "ana", "nombre": "Ana Quispe", "rol": "staff"}
    assert [e.action for e in AuditEntry.select().where(AuditEntry.action.startswith("login"))] == ["login"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/personal/", "/casos", "/personal/\\x",
                                    "javascript:alert(1)"])
def test_after_login_only_a_back_office_page(app, target):
    done = login(app.test_client(), siguiente=target)
    assert done.headers["Location"] == "/personal/"


def test_the_cookie_is_secure_when_configured_or_over_https(hoods, tmp_path, db):
    accounts.add("ana", "Ana", "staff", PASSWORD, actor="root")
    secure = _app(db, tmp_path, "[staff]\nsecure_cookie = yes\n")
    assert "Secure" in login(secure.test_client()).headers["Set-Cookie"]
    proxied = _app(db, tmp_path, "[web]\ntrusted_proxies = 1\n")
    client = proxied.test_client()
    form = client.get("/personal/entrar", headers={"X-Forwarded-For": "127.0.0.1"}).get_data(as_text=True)
    done = client.post("/personal/entrar", data={"usuario": "ana", "clave": PASSWORD, "token": _token(form)},
                       headers={"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https"})
    assert done.status_code == 303 and "Secure" in done.headers["Set-Cookie"]


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(app):
    wrong = login(app.test_client(), password="not the password")
    unknown = login(app.test_client(), user="nadie")
    assert wrong.status_code == unknown.status_code == 401

    def strip(response) -> str:
        return re.sub(r'value="[^"]*"', "", response.get_data(as_text=True))

    assert "Usuario o clave incorrectos." in strip(wrong)
    assert strip(wrong).replace("ana", "") == strip(unknown).replace("nadie", "")
    assert "Set-Cookie" not in wrong.headers


def test_repeated_failures_lock_with_the_wait_on_the_page(app):
    client = app.test_client()
    codes = [login(client, password=f"wrong {i} password").status_code for i in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    locked = login(client)  # even the right password waits now
    assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 30
    assert "Espere" in locked.get_data(as_text=True) and "segundos" in locked.get_data(as_text=True)
    assert StaffSession.select().count() == 0
    LoginThrottle.delete().execute()  # the wait is over
    assert login(client).status_code == 303


def test_the_login_form_needs_its_token_and_our_origin(app):
    client = app.test_client()
    assert client.post("/personal/entrar", data={"usuario": "ana", "clave": PASSWORD}).status_code == 400
    form = client.get("/personal/entrar").get_data(as_text=True)
    forged = client.post("/personal/entrar", data={"usuario": "ana", "clave": PASSWORD, "token": _token(form)},
                         headers={"Origin": "https://evil.example"})
    assert forged.status_code == 400 and StaffSession.select().count() == 0


def test_a_login_replaces_a_planted_session_id(app):
    client = app.test_client()
    client.set_cookie("barriosms_personal", "planted-by-an-attacker", path="/personal")
    done = login(client)
    new = re.search(r"barriosms_personal=([^;]+)", done.headers["Set-Cookie"]).group(1)
    assert new != "planted-by-an-attacker" and len(new) >= 40


def test_logout_needs_csrf_and_ends_the_session(app):
    client = app.test_client()
    login(client)
    assert client.post("/personal/salir").status_code == 403
    assert client.post("/personal/salir", data={"csrf": "wrong"}).status_code == 403
    out = client.post("/personal/salir", data={"csrf": csrf(client)})
    assert out.status_code == 303 and out.headers["Location"] == "/personal/entrar"
    assert StaffSession.select().count() == 0
    assert client.get("/personal/api/yo").status_code == 401
    assert AuditEntry.select().where(AuditEntry.action == "logout").get().actor == "ana"


def test_outside_the_networks_personal_does_not_exist(hoods, tmp_path, db):
    app = _app(db, tmp_path, "[staff]\nnetworks = 10.1.0.0/16\n")
    client = app.test_client()
    assert client.get("/personal/entrar").status_code == 404
    assert client.get("/personal/entrar", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    page = client.get("/personal/", environ_base={"REMOTE_ADDR": "192.0.2.1"}).get_data(as_text=True)
    assert "Bandeja" not in page and "Salir" not in page


def test_with_its_own_address_the_public_site_has_no_personal(hoods, tmp_path, db):
    public = _app(db, tmp_path, "[staff]\nlisten = 127.0.0.1:0\n")
    assert public.test_client().get("/personal/entrar").status_code == 404
    ini = tmp_path / "web.ini"
    own = create_app(config.load(ini), site="staff")
    client = own.test_client()
    assert client.get("/personal/entrar").status_code == 200
    assert client.get("/").headers["Location"] == "/personal/"
    assert client.get("/reportar").status_code == 404  # only the back-office there
    assert client.get("/static/site.css").status_code == 200


def test_disabled_back_office_is_not_served(hoods, tmp_path, db):
    assert _app(db, tmp_path, "[staff]\nenabled = no\n").test_client().get("/personal/entrar").status_code == 404


# -- the work -------------------------------------------------------------------------------------


def test_bandeja_lists_open_cases_and_unmatched_messages(app, report, unmatched):
    case = report("+59171234567", "B12 hay un bache grande en la calle 3")
    unmatched("+59171234568", "hay basura en la esquina")  # no neighbourhood: waits for staff
    client = app.test_client()
    login(client)
    page = client.get("/personal/").get_data(as_text=True)
    assert case.tracking in page and "hay basura en la esquina" in page and "Abrir caso" in page
    assert case.tracking in client.get("/personal/?vista=nuevos&barrio=b12").get_data(as_text=True)
    assert case.tracking not in client.get("/personal/?barrio=B04").get_data(as_text=True)
    assert "No existe el estado" in client.get("/personal/?estado=listo").get_data(as_text=True)


@pytest.mark.parametrize("typed", ["7123 4567", "+591 71234567", "591-7123-4567", "0059171234567"])
def test_search_finds_a_resident_by_the_phone_as_dictated(app, report, typed):
    case = report("+59171234567", "B12 hay un bache grande en la calle 3")
    client = app.test_client()
    login(client)
    page = client.get("/personal/", query_string={"buscar": typed}).get_data(as_text=True)
    assert case.tracking in page and "hay un bache grande" in page


def test_search_by_tracking_opens_the_case_and_a_typo_says_so(app, report):
    case = report("+59171234567", "B12 hay un bache grande en la calle 3")
    client = app.test_client()
    login(client)
    found = client.get("/personal/", query_string={"buscar": case.tracking})
    assert found.status_code == 303 and found.headers["Location"] == f"/personal/caso/{case.tracking}"
    typo = case.tracking[:-1] + str((int(case.tracking[-1]) + 1) % 10)
    assert "no es válido" in client.get("/personal/", query_string={"buscar": typo}).get_data(as_text=True)


def test_viewers_see_phones_masked_staff_see_them_whole(app, report):
    case = report("+59171234567", "B12 bache, llamen al 7654 3210")
    viewer, staff = app.test_client(), app.test_client()
    login(viewer, "vic")
    login(staff, "ana")
    seen = viewer.get(f"/personal/caso/{case.tracking}").get_data(as_text=True)
    assert "71234567" not in seen and "•••• 567" in seen and "7654 3210" not in seen
    full = staff.get(f"/personal/caso/{case.tracking}").get_data(as_text=True)
    assert "71234567" in full and "7654 3210" in full


def test_triage_opens_a_case_and_queues_its_tracking_number(app, unmatched):
    msg = unmatched("+59171234568", "hay basura en la esquina")
    client = app.test_client()
    login(client)
    done = client.post(f"/personal/mensaje/{msg.id}/abrir", data={"csrf": csrf(client), "barrio": "B12"})
    assert done.status_code == 303
    case = Case.get(Case.source_message == msg)
    assert case.neighborhood.code == "B12" and done.headers["Location"].startswith(f"/personal/caso/{case.tracking}")
    assert OutboundMessage.select().where(OutboundMessage.recipient == "+59171234568").count() == 1
    entry = AuditEntry.select().where(AuditEntry.action == "inbox.assign").get()
    assert (entry.actor, entry.source, entry.detail) == ("ana", "web", f"case {case.tracking}")


def test_status_with_notes_queues_sms_and_records_who(app, report):
    case = report("+59171234567", "B12 hay un bache grande en la calle 3")
    client = app.test_client()
    login(client)
    page = client.get(f"/personal/caso/{case.tracking}").get_data(as_text=True)
    assert "Cambiar estado (1 SMS)" in page
    done = client.post(f"/personal/caso/{case.tracking}/estado",
                       data={"csrf": csrf(client), "estado": "en_proceso", "nota": "La cuadrilla va el lunes",
                             "nota_interna": "Pedir material"})
    assert done.status_code == 303 and "hecho=estado&sms=1" in done.headers["Location"]
    assert Case.get_by_id(case.id).status == "in_progress"
    sms = OutboundMessage.get(OutboundMessage.case == case.id)
    assert "La cuadrilla va el lunes" in sms.text and "Pedir material" not in sms.text
    event = CaseEvent.select().where(CaseEvent.kind == "status").get()
    assert event.actor == "ana"
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Estado cambiado. SMS en cola: 1." in shown and "por <strong>ana</strong>" in shown
    hood = case.neighborhood  # an SMS report has no point of its own: the neighbourhood's stands for it
    assert f'id="punto" class="mapa punto" data-lat="{hood.lat}" data-lon="{hood.lon}"' in shown
    assert "/static/punto.js" in shown and "(el barrio)" in shown


def test_an_impossible_status_is_refused_in_spanish_and_changes_nothing(app, report):
    case = report("+59171234567", "B12 hay un bache grande en la calle 3")
    client = app.test_client()
    login(client)
    done = client.post(f"/personal/caso/{case.tracking}/estado", data={"csrf": csrf(client), "estado": "cerrado"})
    assert done.status_code == 409 and "No se pudo" in done.get_data(as_text=True)
    assert Case.get_by_id(case.id).status == "received" and OutboundMessage.select().count() == 0
    assert not AuditEntry.select().where(AuditEntry.action == "cases.status").exists()


def test_note_assign_ask_merge_and_correct(app, report):
    a = report("+59171234567", "B12 hay un bache grande en la calle 3")
    b = report("+59171234568", "B12 el mismo bache de la calle 3")
    client = app.test_client()
    login(client)
    token = csrf(client)

    def post(case, action, **data):
        return client.post(f"/personal/caso/{case.tracking}/{action}", data={"csrf": token, **data})

    assert post(a, "nota", texto="Revisado en sitio", interna="1").status_code == 303
    assert post(a, "asignar", a="Cuadrilla 3").status_code == 303
    assert post(a, "preguntar", texto="¿Es frente al mercado?").status_code == 303
    assert post(b, "unir", en=a.tracking).status_code == 303
    assert post(a, "corregir", categoria="alumbrado", barrio="B12", nota="era un poste").status_code == 303
    case = Case.get_by_id(a.id)
    assert case.assignee == "Cuadrilla 3" and case.awaiting_resident and case.category == "alumbrado"
    assert Case.get_by_id(b.id).merged_into_id == a.id
    actions = [e.action for e in AuditEntry.select().where(AuditEntry.source == "web", AuditEntry.actor == "ana")
               .order_by(AuditEntry.id)]
    assert actions == ["login", "cases.note", "cases.assign", "cases.ask", "cases.merge", "cases.edit"]


def test_a_viewer_reads_but_cannot_act(app, report):
    case = report("+59171234567", "B12 hay un bache grande en la calle 3")
    client = app.test_client()
    login(client, "vic")
    page = client.get(f"/personal/caso/{case.tracking}").get_data(as_text=True)
    assert "Cambiar el estado" not in page
    done = client.post(f"/personal/caso/{case.tracking}/estado", data={"csrf": csrf(client), "estado": "en_proceso"})
    assert done.status_code == 403 and "no puede hacer esto" in done.get_data(as_text=True)
    assert Case.get_by_id(case.id).status == "received"


def test_resident_html_is_escaped_on_every_staff_page(app, report, unmatched):
    case = report("+59171234567", 'B12 <script>alert("x")</script> bache')
    unmatched("+59171234568", '<img src=x onerror=alert(1)> basura')
    client = app.test_client()
    login(client)
    for path in ("/personal/", f"/personal/caso/{case.tracking}", "/personal/?vista=todos"):
        body = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in body and "<img src=x" not in body
        assert "&lt;script&gt;" in body or "&lt;img" in body
