"""The back-office's defences over real HTTP (web/staffauth.py): a WebServer with the back-office on
its own port, a migrated SQLite file, accounts of each role.

Every staff route without a session; every POST without or with a wrong CSRF token; a viewer
trying each action; session fixation; resident text with HTML on every staff page; no password
and no session token in any log line.
"""

from __future__ import annotations

import gzip
import http.client
import logging
import re
import threading
import urllib.parse

import pytest

from barriosms import config
from barriosms.staff import accounts
from barriosms.store.models import AuditEntry, Case, CaseEvent, OutboundMessage
from barriosms.web.server import WebServer

PASSWORD = "correct horse 42"
ACTIONS = ("estado", "nota", "asignar", "preguntar", "mensaje", "unir", "corregir")


class Browser:
    """An HTTP client with one cookie jar for the back-office (what a browser would keep)."""

    def __init__(self, port: int):
        self.port = port
        self.cookie = ""
        self.wire = 0

    def request(self, method: str, path: str, fields: dict | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        sent = dict(headers or {})
        if self.cookie:
            sent["Cookie"] = f"barriosms_personal={self.cookie}"
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=sent)
            resp = conn.getresponse()
            raw = resp.read()
            self.wire = len(raw)  # bytes as transferred (compressed or not)
            if resp.getheader("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            text = raw.decode("utf-8", "replace")
        finally:
            conn.close()
        found = re.search(r"barriosms_personal=([^;]*)", resp.getheader("Set-Cookie") or "")
        if found:
            self.cookie = found.group(1)
        return resp, text

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, fields: dict, **headers: str):
        return self.request("POST", path, fields, headers)

    def login(self, user: str, password: str = PASSWORD):
        _, page = self.get("/personal/entrar")
        token = re.search(r'name="token" value="([^"]+)"', page).group(1)
        return self.post("/personal/entrar", {"usuario": user, "clave": password, "token": token})

    def csrf(self) -> str:
        _, page = self.get("/personal/")
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.fixture
def server(tmp_path, db, hoods, report):
    accounts.add("ana", "Ana Quispe", "staff", PASSWORD, actor="root")
    accounts.add("vic", "Víctor", "viewer", PASSWORD, actor="root")
    accounts.add("adm", "Administración", "admin", PASSWORD, actor="root")
    ini = tmp_path / "web.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n"
                   "[web]\nlisten = 127.0.0.1:0\n[staff]\nlisten = 127.0.0.1:0\n")
    web = WebServer(config.load(ini))
    thread = threading.Thread(target=web.serve_forever, name="web-test", daemon=True)
    thread.start()
    yield web
    web.stop()
    thread.join(15)


@pytest.fixture
def cases(report):
    a = report("+59171234567", 'B12 <script>alert("x")</script> bache en la calle 3')
    b = report("+59171234568", "B12 <img src=x onerror=alert(1)> el mismo bache")
    return a, b


def _staff_routes(web: WebServer) -> list[tuple[str, str]]:
    """(method, path) of every back-office route, with real values in place of the variables."""
    app = web.staff_app
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/personal") or rule.rule == "/personal/entrar":
            continue
        path = rule.rule.replace("<numero>", "1234567").replace("<int:message_id>", "1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


def test_the_back_office_has_its_own_port_and_the_public_site_has_no_personal(server):
    assert server.staff_port and server.staff_port != server.port
    public = Browser(server.port)
    assert public.get("/personal/entrar")[0].status == 404
    assert Browser(server.staff_port).get("/personal/entrar")[0].status == 200


def test_every_staff_route_without_a_session_goes_to_the_login_or_is_401(server, cases):
    routes = _staff_routes(server)
    assert len(routes) >= 10, routes
    anonymous = Browser(server.staff_port)
    for method, path in routes:
        resp, _ = anonymous.request(method, path, {} if method == "POST" else None)
        if path.startswith("/personal/api/"):
            assert resp.status == 401, (method, path)
        else:
            assert resp.status == 303 and resp.getheader("Location").startswith("/personal/entrar"), (method, path)
    assert not CaseEvent.select().where(CaseEvent.kind != "created").exists()


@pytest.mark.parametrize("bad", ["missing", "wrong", "another session's", "cross-site"])
def test_a_post_without_the_sessions_csrf_token_changes_nothing(server, cases, bad):
    a, b = cases
    ana = Browser(server.staff_port)
    ana.login("ana")
    other = Browser(server.staff_port)
    other.login("ana")
    token = {"missing": None, "wrong": "x" * 43, "another session's": other.csrf(), "cross-site": ana.csrf()}[bad]
    headers = {"Origin": "https://evil.example"} if bad == "cross-site" else {}
    fields = {"estado": "en_proceso", "texto": "hola", "a": "Cuadrilla", "en": b.tracking, "categoria": "agua",
              "barrio": "B04"}
    if token is not None:
        fields["csrf"] = token
    for action in ACTIONS:
        resp, _ = ana.post(f"/personal/caso/{a.tracking}/{action}", fields, **headers)
        assert resp.status == 403, action
    assert ana.post("/personal/salir", {"csrf": token or ""}, **headers)[0].status == 403
    case = Case.get_by_id(a.id)
    assert (case.status, case.assignee, case.category) == ("received", "", a.category)
    assert OutboundMessage.select().count() == 0
    assert not AuditEntry.select().where(AuditEntry.action.startswith("cases.")).exists()


def test_a_viewer_trying_each_action_is_refused(server, cases):
    a, b = cases
    vic = Browser(server.staff_port)
    vic.login("vic")
    token = vic.csrf()
    from barriosms.store.models import InboundMessage

    msg = InboundMessage.select().first()
    fields = {"csrf": token, "estado": "en_proceso", "texto": "hola", "a": "Cuadrilla", "en": b.tracking,
              "categoria": "agua", "barrio": "B04", "confirmar": "1"}
    posts = [path.replace("1234567", a.tracking).replace("/mensaje/1/", f"/mensaje/{msg.id}/")
             for method, path in _staff_routes(server) if method == "POST" and path != "/personal/salir"]
    assert len(posts) >= len(ACTIONS) + 3, posts  # the case actions, triage and the notice's two steps
    for path in posts:
        resp, page = vic.post(path, fields)
        assert resp.status == 403 and "no puede hacer esto" in page, path
    assert OutboundMessage.select().count() == 0 and Case.get_by_id(a.id).status == "received"
    assert not AuditEntry.select().where(AuditEntry.actor == "vic", AuditEntry.action != "login").exists()
    assert vic.post("/personal/salir", {"csrf": token})[0].status == 303  # a viewer may log out


def test_session_fixation_a_planted_id_is_never_the_session(server, cases):
    victim = Browser(server.staff_port)
    victim.cookie = "chosen-by-the-attacker-0123456789abcdef0123456789"
    resp, _ = victim.login("ana")
    assert resp.status == 303 and victim.cookie != "chosen-by-the-attacker-0123456789abcdef0123456789"
    attacker = Browser(server.staff_port)
    attacker.cookie = "chosen-by-the-attacker-0123456789abcdef0123456789"
    assert attacker.get("/personal/api/yo")[0].status == 401
    assert victim.get("/personal/api/yo")[0].status == 200
    # Logging in again (another user on the same browser) also gets a new id, and ends the old one.
    before = victim.cookie
    stale = Browser(server.staff_port)
    stale.cookie = before
    _, form = Browser(server.staff_port).get("/personal/entrar")  # a logged-in browser is sent past the form
    token = re.search(r'name="token" value="([^"]+)"', form).group(1)
    assert victim.post("/personal/entrar", {"usuario": "vic", "clave": PASSWORD, "token": token})[0].status == 303
    assert victim.cookie != before and stale.get("/personal/api/yo")[0].status == 401


def test_resident_html_is_escaped_on_every_staff_page(server, cases):
    a, b = cases
    from barriosms.cases import casework
    from barriosms.templates.loader import load_templates

    casework.add_note(a.tracking, '<b onmouseover="alert(2)">nota</b>', load_templates(), public=False, region="BO")
    adm = Browser(server.staff_port)
    adm.login("adm")
    pages = [p.replace("1234567", a.tracking) for method, p in _staff_routes(server)
             if method == "GET" and not p.startswith("/personal/api/") and not p.endswith(".svg")]
    pages += ["/personal/?vista=todos", f"/personal/caso/{b.tracking}", "/personal/?buscar=71234567"]
    shown = 0
    for path in pages:
        resp, page = adm.get(path)
        assert resp.status == 200, path
        assert "<script>alert" not in page and "<img src=x" not in page and "<b onmouseover" not in page, path
        shown += ("&lt;script&gt;" in page or "&lt;img" in page or "&lt;b onmouseover" in page)
    assert shown >= 4, "the residents' text is on the Bandeja, the case pages and the search"


def test_no_password_or_session_token_in_any_log_line(server, cases, caplog):
    a, _ = cases
    caplog.set_level(logging.DEBUG)  # peewee's queries with their parameters too
    ana = Browser(server.staff_port)
    ana.login("ana", "wrong password 1")
    ana.login("ana")
    cookie, token = ana.cookie, ana.csrf()
    ana.post(f"/personal/caso/{a.tracking}/nota", {"csrf": token, "texto": "revisado", "interna": "1"})
    ana.post("/personal/salir", {"csrf": token})
    assert caplog.records, "nothing was logged: the check would prove nothing"
    lines = [r.getMessage() for r in caplog.records]
    assert any("logged in" in line for line in lines) and any("staff_session" in line for line in lines)
    assert len(cookie) >= 40
    for secret in (PASSWORD, "wrong password 1", cookie, token):
        assert not [line for line in lines if secret in line], secret


def test_every_staff_page_weighs_less_than_60_kb_with_its_styles(server, report, unmatched):
    for i in range(60):
        report(f"+5917100{i:04d}", f"B{i % 15 + 1:02d} hay un bache grande en la calle {i} " + "x" * 200)
    for i in range(20):
        unmatched(f"+5917200{i:04d}", f"hay basura en la esquina numero {i} " + "y" * 100)
    ana = Browser(server.staff_port)
    ana.login("adm")  # an admin sees every page
    tracking = Case.select().first().tracking
    for path in [p for method, p in _staff_routes(server) if method == "GET" and "<" not in p
                 and not p.startswith("/personal/api/") and not p.endswith(".svg")] + [f"/personal/caso/{tracking}"]:
        path = path.replace("1234567", tracking)
        resp, page = ana.request("GET", path, headers={"Accept-Encoding": "gzip"})
        assert resp.status == 200, path
        weight = ana.wire
        styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
        assert styles, path
        for url in styles:
            asset = Browser(server.staff_port)
            assert asset.request("GET", url.replace("&amp;", "&"), headers={"Accept-Encoding": "gzip"})[0].status == 200
            weight += asset.wire
        assert 0 < weight < 60 * 1024, (path, weight)
        assert "<script>" not in page and " style=" not in page, path  # the CSP forbids both
