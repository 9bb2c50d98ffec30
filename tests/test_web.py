"""The website over real HTTP: a WebServer in a thread on a free port, a migrated SQLite file and the
sample neighbourhoods. Residents report and follow cases; the list, the map and a neighbourhood's
page; what must never happen (a phone number shown, markup run, a 5xx, a forged or repeated form
opening cases); the static files and each page's weight."""

from __future__ import annotations

import datetime as dt
import gzip
import http.client
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest

from barriosms import config
from barriosms.cases import casework
from barriosms.domain.tracking import damm_check_digit
from barriosms.store.models import Case, CaseReporter, Neighborhood, OutboundMessage, Project, WebSubmission
from barriosms.templates.loader import load_templates
from barriosms.web.server import WebServer

PAGES = ["/", "/?q=", "/reportar", "/seguimiento", "/casos", "/mapa", "/barrio/B04"]
FAST = "submissions_per_hour = 1000\nsubmissions_per_day = 1000\n"
MARKUP = ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "'; DROP TABLE \"case\"; --"]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes  # decompressed
    sent: int  # bytes on the wire (the body as transferred)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


class Site:
    def __init__(self, server: WebServer):
        self.server = server
        self.port = server.port
        self.origin = f"http://127.0.0.1:{server.port}"

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        sent = len(data)
        if resp.getheader("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return Reply(resp.status, resp.headers, data, sent)

    def get(self, path: str, **headers: str) -> Reply:
        return self.request("GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()})

    def post(self, path: str, fields, headers: dict | None = None) -> Reply:
        body = fields if isinstance(fields, bytes) else urllib.parse.urlencode(fields, doseq=True).encode()
        return self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded",
                                                 **(headers or {})})

    def token(self) -> str:
        page = self.get("/reportar")
        assert page.status == 200
        return re.search(r'name="token" value="([^"]+)"', page.text).group(1)

    def report(self, token: str | None = None, **fields) -> Reply:
        form = {"barrio": "B02", "categoria": "", "descripcion": "Hay un bache grande en la calle 3",
                "telefono": "", "lat": "", "lon": "", "token": self.token() if token is None else token,
                **fields}
        return self.post("/reportar", form)


@pytest.fixture
def start(tmp_path, db, hoods):
    """start(web_settings) → a Site serving the test database; stopped at the end of the test."""
    running: list[tuple[WebServer, threading.Thread]] = []

    def run(web: str = FAST, sms_number: str = "71234567") -> Site:
        ini = tmp_path / f"web{len(running)}.ini"
        ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n"
                       f"[web]\nlisten = 127.0.0.1:0\nsms_number = {sms_number}\n{web}")
        server = WebServer(config.load(ini))
        thread = threading.Thread(target=server.serve_forever, name="web-test", daemon=True)
        thread.start()
        running.append((server, thread))
        return Site(server)

    yield run
    for server, thread in running:
        server.stop()
        thread.join(15)


@pytest.fixture
def site(start) -> Site:
    return start()


def new_case(site: Site, **fields) -> str:
    """Report through the form; the tracking number the redirect names."""
    done = site.report(**fields)
    assert done.status == 303, done.text
    return re.match(r"/caso/(\d{7})\?", done.header("Location")).group(1)


def visible(html: str) -> str:
    """A page's text without tags (what a resident reads), entities left as they are."""
    return re.sub(r"<[^>]+>", " ", html)


# ---------------------------------------------------------------------------------------------
# Pages


def test_every_page_answers_in_spanish(site):
    for path in PAGES:
        page = site.get(path)
        assert page.status == 200, path
        assert page.header("Content-Type") == "text/html; charset=utf-8"
        assert '<html lang="es">' in page.text and 'name="viewport"' in page.text
        for label in ("Inicio", "Reportar", "Seguimiento", "Casos", "Mapa"):
            assert f">{label}</a>" in page.text, (path, label)
        assert "<footer>Alcaldia" in page.text
        assert "style=" not in page.text and "<script>" not in page.text  # the CSP allows neither
    assert site.get("/no-existe").status == 404
    assert "No encontramos esta página" in site.get("/no-existe").text


def test_the_home_page_says_how_to_report_by_sms_and_finds_a_neighbourhood(site):
    home = site.get("/").text
    assert "71234567" in home and "hay un bache en la calle 3" in home
    assert 'href="/reportar"' in home and "Busque el código de su barrio" in home
    found = site.get("/?q=fatima").text
    assert 'href="/barrio/B04"' in found and "Villa Fátima" in found
    assert "/barrio/B02" not in found
    assert "No encontramos ningún barrio" in site.get("/?q=narnia").text
    everyone = site.get("/?q=").text
    assert all(f"/barrio/{code}" in everyone for code in ("B01", "B08", "B15"))


def test_the_home_page_without_an_sms_number(start):
    home = start(sms_number="").get("/").text
    assert "Envíe un SMS\ncon el código" in home and " al " not in visible(home).split("Por internet")[0]


def test_neighbourhood_search_is_paginated_at_50(site):
    for i in range(60):
        Neighborhood.create(code=f"Z{i + 1}", name=f"Zona Nueva {i:02d}", district="Norte")
    first = site.get("/?q=zona+nueva").text
    assert first.count("/barrio/Z") == 2 * 50 and "Página 1 de 2" in first
    second = site.get("/?q=zona+nueva&pagina=2").text
    assert second.count("/barrio/Z") == 2 * 10 and "Zona Nueva 59" in second


def test_the_report_form(site):
    form = site.get("/reportar").text
    for field in ('name="barrio"', 'name="categoria"', 'name="descripcion"', 'name="telefono"',
                  'name="lat"', 'name="lon"', 'name="token"', 'id="enviar"', 'maxlength="1000"'):
        assert field in form
    assert '<option value="">No sé</option>' in form and '<option value="vias">Vías y aceras</option>' in form
    assert '<option value="B04">Villa Fátima</option>' in form  # the datalist
    assert re.search(r'name="token" value="[\w-]+\.[\w-]+\.[\w-]+"', form)
    assert site.token() != site.token()
    assert 'value="B04"' in site.get("/reportar?barrio=B04").text


def test_a_report_opens_a_case_and_its_page_shows_it(site):
    done = site.report(descripcion="No hay luz en la plaza principal", telefono="76543210", categoria="alumbrado",
                       lat="-16.5101", lon="-68.1255")
    assert done.status == 303
    tracking = re.fullmatch(r"/caso/(\d{7})\?nuevo=1&sms=1", done.header("Location")).group(1)
    case = Case.get(Case.tracking == tracking)
    assert (case.channel, case.neighborhood.code, case.category, case.lat) == ("web", "B02", "alumbrado", -16.5101)
    assert OutboundMessage.get().recipient == "+59176543210"
    page = site.get(done.header("Location"))
    assert page.status == 200
    assert f'<span id="numero-seguimiento">{tracking}</span>' in page.text
    assert re.search(r'id="estado"[^>]*>recibido<', page.text)
    assert "Guarde este número" in page.text and "Le enviamos el número por SMS" in page.text
    assert "Sopocachi" in page.text and "<dd>Alumbrado público</dd>" in page.text
    assert "No hay luz en la plaza principal" in page.text
    local = case.created_at.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=-4)))
    assert local.strftime("%d/%m/%Y %H:%M") in page.text  # La Paz time, not UTC
    # Without a phone there is no SMS, and the page does not claim one.
    quiet = site.report()
    assert quiet.header("Location").endswith("?nuevo=1")
    assert "Le enviamos" not in site.get(quiet.header("Location")).text
    # Without ?nuevo=1 the page is just the case.
    assert "Guarde este número" not in site.get(f"/caso/{tracking}").text


def test_the_same_form_sent_twice_is_one_case(site):
    token = site.token()
    first = site.report(token, telefono="76543210")
    again = site.report(token, telefono="76543210")
    assert first.status == again.status == 303
    assert first.header("Location") == again.header("Location")
    assert Case.select().count() == 1 and WebSubmission.select().count() == 1
    assert OutboundMessage.select().count() == 1


def test_a_missing_or_forged_token_is_refused_and_nothing_is_stored(site):
    token = site.token()
    nonce, issued, mac = token.split(".")
    for bad in ("", "nonsense", f"{nonce}x.{issued}.{mac}", f"{nonce}.{issued}x.{mac}", f"{nonce}.{issued}.{mac}x",
                "<b>" * 80):
        page = site.report(bad, descripcion="Un arbol caido en la calle")
        assert page.status == 400, bad
        assert "No pudimos aceptar el formulario" in page.text
        assert "Un arbol caido en la calle" in page.text  # what they typed is still there
        fresh = re.search(r'name="token" value="([\w-]+\.[\w-]+\.[\w-]+)"', page.text)  # a fresh one to try again
        assert fresh and fresh.group(1) != bad
    assert Case.select().count() == 0


def test_an_expired_form_is_shown_again_with_everything_kept(site):
    from barriosms.web.security import FormTokens, site_secret

    old = FormTokens(site_secret(), clock=lambda: time.time() - 2 * 86400).issue()
    page = site.report(old, descripcion="Basura acumulada en la esquina", telefono="76543210")
    assert page.status == 200 and "abierto demasiado tiempo" in page.text
    assert "Basura acumulada en la esquina" in page.text and 'value="76543210"' in page.text
    fresh = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    assert fresh != old and Case.select().count() == 0
    assert site.report(fresh).status == 303


def test_a_cross_site_post_is_refused(site):
    token = site.token()
    form = urllib.parse.urlencode({"barrio": "B02", "descripcion": "Hay un bache grande", "token": token}).encode()
    for headers in ({"Origin": "http://malo.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        page = site.request("POST", "/reportar", form, {"Content-Type": "application/x-www-form-urlencoded",
                                                        **headers})
        assert page.status == 403, headers
        assert "solo se puede enviar desde esta página" in page.text
    assert Case.select().count() == 0
    same = site.request("POST", "/reportar", form, {"Content-Type": "application/x-www-form-urlencoded",
                                                    "Origin": site.origin, "Sec-Fetch-Site": "same-origin"})
    assert same.status == 303
    # What a browser may send for its own form under a strict Referrer-Policy.
    browser = site.request("POST", "/reportar", form.replace(token.encode(), site.token().encode()),
                           {"Content-Type": "application/x-www-form-urlencoded", "Origin": "null",
                            "Sec-Fetch-Site": "same-origin"})
    assert browser.status == 303


@pytest.mark.parametrize("fields, field, message", [
    ({"barrio": "Narnia <b>"}, "barrio", "No encontramos el barrio"),
    ({"barrio": ""}, "barrio", "Escriba el nombre o el código de su barrio"),
    ({"descripcion": "mal"}, "descripcion", "Cuente cuál es el problema"),
    ({"descripcion": "x" * 1001}, "descripcion", "demasiado larga"),
    ({"categoria": "nope"}, "categoria", "Elija un tipo de problema"),
    ({"telefono": "123"}, "telefono", "El teléfono no es válido"),
    ({"lat": "-16.5", "lon": ""}, "mapa", "El punto del mapa no es válido"),
])
def test_a_field_to_correct_is_named_and_what_was_typed_is_kept(site, fields, field, message):
    typed = {"barrio": "Sopocachi", "descripcion": "Hay un bache & un charco", "telefono": "76543210", **fields}
    page = site.report(**typed)
    assert page.status == 422
    assert message in page.text
    if field != "mapa":
        assert re.search(rf'class="campo con-error">\s*<label for="{field}"', page.text)
        assert re.search(r'<p class="error" id="' + field + r'-error">[^<]*' + re.escape(message), page.text)
    else:  # the point cannot be corrected without the map: it is dropped, the rest kept
        assert 'id="lat" name="lat" value=""' in page.text
    assert "Hay un bache &amp; un charco" in page.text or field == "descripcion"
    if field == "barrio" and typed["barrio"]:
        assert 'value="Narnia &lt;b&gt;"' in page.text
    assert Case.select().count() == 0


def test_an_ambiguous_neighbourhood_offers_its_choices(site):
    Neighborhood.create(code="B16", name="Santa Rosa", district="Norte")
    Neighborhood.create(code="B17", name="Santa Rosa", district="Sur")
    token = site.token()
    page = site.report(token, barrio="santa rosa")
    assert page.status == 422 and "Hay varios barrios con ese nombre" in page.text
    assert '<input type="radio" name="barrio" value="B16">' in page.text
    assert '<input type="radio" name="barrio" value="B17">' in page.text
    # Choosing one sends it before the text field, which still says "santa rosa".
    again = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    done = site.report(again, barrio=["B17", "santa rosa"])
    assert done.status == 303 and Case.get().neighborhood.code == "B17"


def test_markup_and_sql_are_shown_escaped_and_stored_as_written(site):
    for payload in MARKUP:
        tracking = new_case(site, descripcion=f"Problema {payload}")
        assert Case.get(Case.tracking == tracking).text == f"Problema {payload}"
        for path in (f"/caso/{tracking}", "/casos", "/barrio/B02"):
            page = site.get(path)
            assert page.status == 200
            assert payload not in page.text, path
            escaped = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
            assert escaped.replace("'", "&#39;") in page.text, path
        for name in ("barrio", "categoria", "telefono", "lat", "lon"):
            page = site.report(**{name: payload})
            assert page.status == 422, (name, payload)
            assert payload not in page.text
        for name in ("q", "numero", "barrio", "categoria", "estado", "pagina"):
            for path in ("/", "/seguimiento", "/casos", "/mapa", "/mapa/datos.geojson"):
                answer = site.get(f"{path}?{urllib.parse.urlencode({name: payload})}")
                assert answer.status < 500 and payload not in answer.text, (path, name)
        assert site.report(payload).status == 400  # as the token
        assert site.get("/caso/" + urllib.parse.quote(payload, safe="")).status in (400, 404)
        assert site.get("/barrio/" + urllib.parse.quote(payload, safe="")).status == 404
    assert Case.select().count() == len(MARKUP)
    assert Case.select().where(Case.text.contains("DROP TABLE")).count() == 1


def test_broken_or_oversized_input_is_refused_with_a_4xx(site):
    token = site.token()
    broken = b"barrio=B02&descripcion=Hay+un+bache+%ff%fe+grande&token=" + token.encode()
    assert site.post("/reportar", broken).status == 400
    raw = b"barrio=B02&descripcion=Hay un bache \xff grande&token=" + token.encode()
    assert site.post("/reportar", raw).status == 400
    assert site.post("/reportar", b"barrio=B02&descripcion=Hay+un%00bache&token=" + token.encode()).status == 400
    assert site.get("/?q=%ff").status == 400
    assert site.get("/seguimiento?numero=%c3").status == 400
    big = site.post("/reportar", {"barrio": "B02", "descripcion": "x" * 100_000, "token": token})
    assert big.status == 413
    assert site.request("POST", "/reportar", b"{}", {"Content-Type": "application/json"}).status in (400, 415)
    assert Case.select().count() == 0


def test_too_many_reports_from_one_address_get_429_with_retry_after(start):
    site = start("submissions_per_hour = 2\nsubmissions_per_day = 10\n")
    first, second = site.token(), site.token()
    assert site.report(first).status == 303
    second_done = site.report(second)
    assert second_done.status == 303
    refused = site.report()
    assert refused.status == 429
    assert 0 < int(refused.header("Retry-After")) <= 3600
    assert "Ya recibimos varios reportes desde esta conexión" in refused.text
    assert Case.select().count() == 2
    # A double submit of a form that was accepted is not a new report: the same case again.
    assert site.report(second).header("Location") == second_done.header("Location")


def report_through(site: Site, forwarded: str) -> Reply:
    """A report whose request carries `forwarded` as X-Forwarded-For (a proxy's, or forged)."""
    form = {"barrio": "B02", "descripcion": "Hay un bache grande en la calle 3", "token": site.token()}
    return site.post("/reportar", form, {"X-Forwarded-For": forwarded})


def test_a_forged_x_forwarded_for_does_not_dodge_the_limit(start):
    site = start("submissions_per_hour = 1\nsubmissions_per_day = 10\n")  # no trusted proxy
    assert report_through(site, "10.1.1.1").status == 303
    assert report_through(site, "10.2.2.2").status == 429  # still the same peer


def test_behind_a_proxy_each_resident_has_a_limit_of_their_own(start):
    site = start("submissions_per_hour = 1\nsubmissions_per_day = 10\ntrusted_proxies = 1\n")
    assert report_through(site, "6.6.6.6, 10.1.1.1").status == 303
    assert report_through(site, "7.7.7.7, 10.1.1.1").status == 429  # the resident wrote the left entry
    assert report_through(site, "10.2.2.2").status == 303  # another resident through the same proxy


def test_following_a_case(site):
    tracking = new_case(site)
    assert site.get(f"/caso/{tracking}").status == 200
    asked = site.get(f"/seguimiento?numero={tracking[:3]}+{tracking[3:]}")
    assert asked.status == 303 and asked.header("Location") == f"/caso/{tracking}"
    typo = tracking[:-1] + str((int(tracking[-1]) + 1) % 10)  # one digit wrong: the check digit catches it
    for page in (site.get(f"/caso/{typo}"), site.get(f"/seguimiento?numero={typo}")):
        assert page.status == 400
        assert "no es válido" in page.text and 'name="numero"' in page.text and f'value="{typo}"' in page.text
    unknown = next(n + damm_check_digit(n) for n in ("100000", "100001") if n + damm_check_digit(n) != tracking)
    for page in (site.get(f"/caso/{unknown}"), site.get(f"/seguimiento?numero={unknown}")):
        assert page.status == 404
        assert f"No encontramos ningún caso con el número {unknown}" in page.text
    empty = site.get("/seguimiento?numero=")
    assert empty.status == 400 and "Escriba el número de seguimiento" in empty.text
    assert site.get("/seguimiento").status == 200


def test_a_case_page_shows_history_public_notes_and_a_merge(site):
    templates = load_templates()
    kept, duplicate = new_case(site), new_case(site, descripcion="Otro bache en la calle 3")
    casework.change_status(kept, "in_progress", templates, note="La cuadrilla va el lunes",
                           internal_note="Llamar a Juan al 70000001", region="BO")
    casework.merge(duplicate, kept, templates, region="BO")
    page = site.get(f"/caso/{kept}").text
    assert re.search(r'id="estado"[^>]*>en proceso<', page)
    assert "Estado: <strong>recibido</strong>" in page and "Estado: <strong>en proceso</strong>" in page
    assert "La cuadrilla va el lunes" in page
    assert "Juan" not in page and "70000001" not in page
    merged = site.get(f"/caso/{duplicate}").text
    assert f'Este caso se unió al caso <a href="/caso/{kept}">{kept}</a>' in merged
    assert duplicate not in site.get("/casos").text  # the surviving case stands for it


def test_descriptions_can_be_left_off_public_pages(start):
    site = start(FAST + "show_descriptions = no\n")
    tracking = new_case(site, descripcion="Hay un bache frente a la casa de la senora Rosa")
    for path in (f"/caso/{tracking}", "/casos", "/barrio/B02"):
        assert "senora Rosa" not in site.get(path).text


def test_no_phone_number_is_ever_shown(site):
    tracking = new_case(site, telefono="76543210",
                        descripcion="Llamen al 76543210 o al +591 7 654 3210, o a vecino@correo.bo, hay un bache")
    assert Case.get().phone == "+59176543210" and CaseReporter.get().phone == "+59176543210"
    paths = [f"/caso/{tracking}", f"/caso/{tracking}?nuevo=1&sms=1", "/casos", "/casos?barrio=B02", "/barrio/B02",
             "/mapa", "/mapa/datos.geojson", "/", "/?q=", "/seguimiento", "/reportar"]
    for path in paths:
        text = site.get(path).text
        digits = re.sub(r"[\s.-]", "", text)
        assert "6543210" not in digits and "vecino@correo.bo" not in text, path
    assert "[número oculto]" in site.get(f"/caso/{tracking}").text


def test_the_case_list_filters_and_paginates(site, hoods):
    from barriosms.pipeline.intake import IntakeRules
    from barriosms.staff.webreports import WebReport, submit
    from barriosms.templates.loader import load_categories

    rules = IntakeRules(templates=load_templates(), categories=load_categories(None), region="BO")
    for i in range(52):
        submit(WebReport("B02" if i % 2 else "B03", f"Hay un bache numero {i}"), rules)
    closed = submit(WebReport("B03", "Poste de luz caido"), rules).case.tracking
    casework.change_status(closed, "resolved", load_templates(), region="BO")
    first = site.get("/casos").text
    assert first.count('<li class="caso">') == 50 and "Página 1 de 2" in first and "53 casos" in first
    assert 'href="/casos?pagina=2"' in first
    assert site.get("/casos?pagina=2").text.count('<li class="caso">') == 3
    b02 = site.get("/casos?barrio=b02").text
    assert "26 casos" in b02 and "/caso/" in b02 and "Miraflores</a> ·" not in b02
    done = site.get("/casos?estado=cerrados").text
    assert "<p>1 caso.</p>" in done and f"/caso/{closed}" in done
    assert "<p>0 casos en el barrio" in site.get("/casos?estado=cerrados&barrio=B02").text
    assert "<p>26 casos en el barrio" in site.get("/casos?estado=abiertos&categoria=vias&barrio=B02").text
    assert "<p>0 casos." in site.get("/casos?categoria=agua").text
    # Counts per neighbourhood under the list: name, open, closed.
    assert re.search(r'/barrio/B03">Miraflores</a> B03</td><td class="n">26</td><td class="n">1</td>', first)


def test_the_map_page_works_without_javascript(site):
    new_case(site)
    page = site.get("/mapa?estado=abiertos")
    text = page.text
    assert '<div id="mapa"' in text and 'data-datos="/mapa/datos.geojson?estado=abiertos"' in text
    assert 'data-tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in text
    assert 'data-atribucion="© OpenStreetMap"' in text
    assert '/static/leaflet/leaflet.js?v=' in text and "/static/map.js?v=" in text
    assert re.search(r'/barrio/B02">Sopocachi</a> B02</td><td class="n">1</td><td class="n">0</td>', text)
    project = site.get("/mapa?lat=-16.5&lon=-68.1").text
    assert 'data-lat="-16.5" data-lon="-68.1" data-punto="1"' in project


def test_the_map_data(site):
    new_case(site)
    reply = site.get("/mapa/datos.geojson", Accept_Encoding="gzip")
    assert reply.status == 200 and reply.header("Content-Type") == "application/geo+json"
    assert reply.header("Cache-Control") == "public, max-age=30" and reply.header("Content-Encoding") == "gzip"
    data = json.loads(reply.body)
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 15
    by_code = {f["properties"]["code"]: f for f in data["features"]}
    b02 = by_code["B02"]
    assert b02["geometry"] == {"type": "Point", "coordinates": [-68.1262, -16.5105]}
    assert b02["properties"] == {"code": "B02", "name": "Sopocachi", "district": "Cotahuma", "open": 1, "done": 0,
                                 "total": 1}
    closed = json.loads(site.get("/mapa/datos.geojson?estado=cerrados&categoria=vias").body)
    assert all(f["properties"]["total"] == 0 for f in closed["features"])
    import geojson

    assert geojson.loads(site.get("/mapa/datos.geojson").text).is_valid


def test_the_map_legend_waits_for_the_map_and_says_more_than_colours(site):
    page = site.get("/mapa").text
    # Hidden until map.js draws a map: without JavaScript there is nothing for it to explain.
    assert re.search(r'<div id="leyenda" class="leyenda" hidden>', page)
    legend = visible(page.split('id="leyenda"')[1].split("</div>")[0])
    assert "Círculos más grandes" not in legend  # reworded: each circle is a neighbourhood
    assert "círculos más grandes: más casos" in legend
    assert "Borde continuo" in legend and "número" in legend and "Borde de rayas" in legend
    assert "naranja" not in legend  # the marked place only when there is one
    assert "naranja" in site.get("/mapa?lat=-16.5&lon=-68.1").text
    # The table says open and closed in words.
    new_case(site)
    assert '<th scope="col" class="n">Abiertos</th><th scope="col" class="n">Cerrados</th>' in site.get("/mapa").text


def test_categories_and_statuses_read_as_words_on_every_page(site):
    tracking = new_case(site, categoria="vias")
    casework.change_status(tracking, "reviewing", load_templates(), region="BO")
    case_page = site.get(f"/caso/{tracking}").text
    assert "<dt>Tipo de problema</dt><dd>Vías y aceras</dd>" in case_page
    assert re.search(r'id="estado"[^>]*>en revisión<', case_page)
    assert "Estado: <strong>en revisión</strong>" in case_page
    for path in ("/casos", "/barrio/B02"):
        assert "Vías y aceras ·" in site.get(path).text, path
    for path in ("/casos", "/mapa", "/reportar"):
        page = site.get(path).text
        for key, label in (("riesgos", "Riesgos (derrumbes, riadas)"), ("agua", "Agua y alcantarillado"),
                           ("alumbrado", "Alumbrado público"), ("residuos", "Basura y escombros"),
                           ("otros", "Otros")):
            assert f'<option value="{key}">{label}</option>' in page, (path, key)
    assert '<option value="vias" selected>Vías y aceras</option>' in site.get("/casos?categoria=vias").text
    assert 'selected>vias<' not in site.get("/mapa?categoria=vias").text
    # The SMS the reporter gets keeps the short name (GSM-7, one SMS): only the web shows labels.
    assert "Vías" not in "".join(m.text for m in OutboundMessage.select())


def test_a_new_report_is_counted_on_the_map_at_once(site, hoods):
    from barriosms.pipeline.intake import IntakeRules
    from barriosms.staff.webreports import WebReport, submit
    from barriosms.templates.loader import load_categories

    def open_in_b02() -> tuple[int, str]:
        data = json.loads(site.get("/mapa/datos.geojson").body)
        count = next(f["properties"]["open"] for f in data["features"] if f["properties"]["code"] == "B02")
        row = re.search(r'/barrio/B02">Sopocachi</a> B02</td><td class="n">(\d+)</td>', site.get("/mapa").text)
        return count, row.group(1) if row else "-"

    assert open_in_b02() == (0, "-")  # now kept for MAP_CACHE_SECONDS
    new_case(site)
    assert open_in_b02() == (1, "1")  # the resident who just reported sees it
    # A case opened elsewhere (an SMS through the daemon) waits for the cache: it stays in use.
    rules = IntakeRules(templates=load_templates(), categories=load_categories(None), region="BO")
    submit(WebReport("B02", "Hay otro bache grande en la calle 4"), rules)
    assert open_in_b02() == (1, "1")
    # Open311 opens one through this process too.
    done = site.post("/open311/v2/requests.json", {"service_code": "vias", "address_id": "B02",
                                                   "description": "Bache grande frente a la escuela"})
    assert done.status == 200, done.text
    assert open_in_b02() == (3, "3")


def test_counts_made_while_a_case_was_opened_are_not_kept():
    from barriosms.web.cache import Recent as _Recent

    cache = _Recent(15)
    assert cache.get(("k",), lambda: "kept") == "kept" and cache.get(("k",), lambda: "new") == "kept"

    def counted_before_a_new_case() -> str:
        cache.clear()  # a report arrives while these counts are being made
        return "old"

    cache.clear()
    assert cache.get(("k",), counted_before_a_new_case) == "old"
    assert cache.get(("k",), lambda: "fresh") == "fresh"


def test_past_its_last_page_the_case_list_says_more_and_how_to_find_older_cases(site, hoods, monkeypatch):
    """The count stops past the last page (at a million cases counting all takes time): "más de"."""
    from barriosms.pipeline.intake import IntakeRules
    from barriosms.staff.webreports import WebReport, submit
    from barriosms.templates.loader import load_categories
    from barriosms.web import pages

    monkeypatch.setattr(pages, "PER_PAGE", 4)
    monkeypatch.setattr(pages, "MAX_PAGE", 2)
    monkeypatch.setattr(pages, "COUNT_LIMIT", 8)
    monkeypatch.setattr(pages, "RECENT_CASES", 3)
    rules = IntakeRules(templates=load_templates(), categories=load_categories(None), region="BO")
    made = [submit(WebReport("B02" if i < 9 else "B03", f"Hay un bache numero {i}"), rules).case.tracking
            for i in range(11)]
    first = site.get("/casos").text
    assert "Más de 8 casos." in first and "Las páginas muestran los 8 más recientes" in first
    assert "Página 1 de 2" in first and first.count('<li class="caso">') == 4
    last = site.get("/casos?pagina=2").text
    assert "Página 2 de 2" in last and 'rel="next"' not in last and last.count('<li class="caso">') == 4
    assert site.get("/casos?pagina=9").text == last  # a page beyond the last is the last
    hood = site.get("/casos?barrio=B02").text  # 9 in B02: more than 8 there too
    assert "Más de 8 casos en el barrio" in hood
    exact = site.get("/casos?barrio=B03").text
    assert "<p>2 casos en el barrio" in exact and "Más de" not in exact
    assert all(f"/caso/{t}" in exact for t in made[9:])
    # A neighbourhood's own page counts exactly, whatever the list's limit.
    assert "<dt>Casos abiertos</dt><dd>9</dd>" in site.get("/barrio/B02").text
    assert "Ver los 9 casos del barrio" in site.get("/barrio/B02").text


def test_large_counts_read_with_the_bolivian_thousands_separator():
    from barriosms.web.pages import thousands

    assert (thousands(0), thousands(999), thousands(100_000), thousands(1_250_000)) == ("0", "999", "100.000", "1.250.000")


def test_a_neighbourhood_page_shows_its_cases_and_projects(site, hoods):
    tracking = new_case(site, barrio="Villa Fatima")
    Project.create(neighborhood=hoods["B04"], title="Enlosetado de la calle 5 <b>", status="in_progress",
                   description="Calle 5 entre avenidas", budget=1_250_000, start_date=dt.date(2026, 3, 1),
                   end_date=dt.date(2026, 12, 15), lat=-16.4875, lon=-68.1150)
    Project.create(neighborhood=hoods["B04"], title="Plaza nueva", status="suspended", budget=99.5)
    page = site.get("/barrio/b04")
    assert page.status == 200
    text = page.text
    assert "<dt>Casos abiertos</dt><dd>1</dd>" in text and "<dt>Casos cerrados</dt><dd>0</dd>" in text
    assert "<h1>Villa Fátima</h1>" in text and "Periférica" in text and f'href="/caso/{tracking}"' in text
    assert "Enlosetado de la calle 5 &lt;b&gt;" in text and "en ejecución" in text and "Bs 1.250.000" in text
    assert "01/03/2026" in text and "15/12/2026" in text and "Calle 5 entre avenidas" in text
    assert 'href="/mapa?lat=-16.4875&amp;lon=-68.115"' in text
    assert "paralizado" in text and "Bs 99,50" in text
    assert 'href="/reportar?barrio=B04"' in text
    missing = site.get("/barrio/Z99")
    assert missing.status == 404 and "No hay ningún barrio con el código Z99" in missing.text


def test_health(site):
    reply = site.get("/salud")
    assert reply.status == 200 and json.loads(reply.body) == {"ok": True, "database": "ok"}
    assert reply.header("Content-Type") == "application/json"


# ---------------------------------------------------------------------------------------------
# Headers, static files, weight


def test_every_answer_carries_the_security_headers(site):
    token = site.token()
    answers = [site.get(p) for p in PAGES + ["/no-existe", "/salud", "/mapa/datos.geojson", "/static/site.css",
                                              "/static/leaflet/leaflet.js", "/caso/1234567"]]
    answers.append(site.post("/reportar", {"token": token}, {"Origin": "http://malo.example"}))
    answers.append(site.report(token))
    for reply in answers:
        csp = reply.header("Content-Security-Policy")
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert reply.header("X-Content-Type-Options") == "nosniff"
        assert reply.header("X-Frame-Options") == "DENY"


def page_weight(site: Site, path: str) -> tuple[int, list[str]]:
    """Bytes transferred (gzip accepted) for a page and every script and stylesheet it links to."""
    page = site.get(path, Accept_Encoding="gzip")
    assert page.status == 200
    linked = re.findall(r'<script src="([^"]+)"', page.text) + re.findall(r'<link rel="stylesheet" href="([^"]+)"',
                                                                         page.text)
    total = page.sent
    for url in linked:
        asset = site.get(url.replace("&amp;", "&"), Accept_Encoding="gzip")
        assert asset.status == 200, url
        total += asset.sent
    return total, linked


def test_every_page_weighs_less_than_60_kb(site, capsys):
    for i in range(60):
        new_case(site, barrio=f"B{i % 15 + 1:02d}", descripcion=f"Hay un bache grande en la calle {i} " + "x" * 200)
    home = site.get("/", Accept_Encoding="gzip")
    assert home.header("Content-Encoding") == "gzip" and "Accept-Encoding" in home.header("Vary")
    weights = {}
    for path in PAGES + ["/casos?estado=abiertos", f"/caso/{new_case(site)}"]:
        weights[path], linked = page_weight(site, path)
        assert weights[path] < 60 * 1024, (path, weights[path], linked)
    assert page_weight(site, "/mapa")[1] == [f"/static/leaflet/leaflet.js?v={_leaflet_version()}",
                                             re.search(r"/static/map\.js\?v=\w+", site.get("/mapa").text).group(0),
                                             re.search(r"/static/site\.css\?v=\w+", site.get("/mapa").text).group(0),
                                             f"/static/leaflet/leaflet.css?v={_leaflet_version()}"]
    with capsys.disabled():
        print("\npage weights (gzip, with scripts and styles):",
              ", ".join(f"{p} {w / 1024:.1f} KB" for p, w in weights.items()))


def _leaflet_version() -> str:
    import xstatic.pkg.leaflet

    return xstatic.pkg.leaflet.VERSION


def test_leaflet_and_our_files_are_served_compressed_and_cached(site):
    import xstatic.pkg.leaflet

    original = (Path(xstatic.pkg.leaflet.BASE_DIR) / "leaflet.js").read_bytes()
    zipped = site.get("/static/leaflet/leaflet.js", Accept_Encoding="gzip, deflate")
    assert zipped.status == 200 and zipped.header("Content-Encoding") == "gzip"
    assert zipped.body == original and zipped.sent < len(original) / 3
    assert zipped.header("Content-Type").startswith("text/javascript")
    assert zipped.header("Cache-Control") == "public, max-age=86400" and "Accept-Encoding" in zipped.header("Vary")
    assert zipped.header("Last-Modified") and zipped.header("ETag")
    plain = site.get("/static/leaflet/leaflet.js")
    assert plain.header("Content-Encoding") == "" and plain.body == original and plain.sent == len(original)
    assert plain.header("ETag") != zipped.header("ETag")
    assert site.get("/static/leaflet/leaflet.js", Accept_Encoding="gzip",
                    If_None_Match=zipped.header("ETag")).status == 304
    assert site.get("/static/leaflet/leaflet.js", If_Modified_Since=plain.header("Last-Modified")).status == 304
    css = site.get("/static/leaflet/leaflet.css", Accept_Encoding="gzip")
    assert css.header("Content-Type").startswith("text/css") and css.header("Content-Encoding") == "gzip"
    png = site.get("/static/leaflet/images/layers.png", Accept_Encoding="gzip")
    assert png.status == 200 and png.header("Content-Type") == "image/png" and png.header("Content-Encoding") == ""
    for name in ("site.css", "map.js", "report.js"):
        ours = site.get(f"/static/{name}", Accept_Encoding="gzip")
        assert ours.status == 200 and ours.header("Content-Encoding") == "gzip", name


def test_no_file_outside_the_static_folders(site):
    for path in ("/static/../pages.py", "/static/%2e%2e/pages.py", "/static/..%2fpages.py",
                 "/static/leaflet/../../__init__.py", "/static/leaflet/..%2f..%2f__init__.py",
                 "/static/%2fetc%2fpasswd", "/static//etc/passwd", "/static/nada.js", "/static/leaflet/", "/static/leaflet/images",
                 "/static/.hidden", "/static/leaflet/%2e%2e/%2e%2e/pages.py"):
        reply = site.get(path)
        if reply.status == 308:  # werkzeug merges "//" first; where it sends is still inside /static/
            moved = urllib.parse.urlsplit(reply.header("Location")).path
            assert moved.startswith("/static/") and ".." not in moved, path
            reply = site.get(moved)
        assert reply.status == 404, path
