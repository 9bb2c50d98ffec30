"""Whatever a client sends, the website answers below 500 and never repeats a forged Host.

Every route of the application's url_map is driven with hostile query strings, forms and headers,
so a route added later is fuzzed without touching this file. Which parameters a route reads is
found by asking it (`reads_of`: plausible requests, recording every name the code looks up in
`request.args` or `request.form`), so a new parameter is fuzzed too. Flask's test client against a
real SQLite file with the sample neighbourhoods and a few cases; the real server (waitress) only
for what only it parses.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import urllib.parse
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import ImmutableMultiDict

from barriosms import config
from barriosms.cases import casework
from barriosms.staff.webreports import WebReport, submit
from barriosms.store.models import Case
from barriosms.templates.loader import load_templates
from barriosms.web import create_app
from barriosms.web.pages import FORM_FIELDS
from barriosms.web.server import WebServer

BIG = 2000  # the slow suite's example count (as tests/conftest.py's BIG)
FORGED_HOST = "evil-host.example"  # a name no generated value contains, so any echo is the Host's
FAST = "submissions_per_hour = 100000\nsubmissions_per_day = 100000\n"

# Keywords of Flask's url_for and werkzeug's builder: a page that passed the query string on to
# url_for would let a client pick an absolute URL (_external) or crash it (endpoint, _method).
URL_FOR_KEYWORDS = ("_external", "_scheme", "_anchor", "_method", "endpoint", "values")
# What a client could send that a parser meets at its edges.
NASTY = ["", " ", "²", "²²", "٣", "１２", "⁷¹²³⁴⁵⁶⁷", "9" * 5000, "-" + "9" * 5000, "0", "-1", "1_0", "0x10",
         "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999", "1e-999", "+16.5", "1" * 7, "9" * 19,
         "\u200b7", "a\x01b", "%", "%zz", "\ufeff1", "<script>", "'\"", "..", "/", "\\", "a" * 20_000,
         "2026-02-30", "9999-12-31", "0001-01-01", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
         "٢٠٢٦-٠١-٠١", "2026-01-01T10:00:00 99:00", "open,closed,", ",,,", "B02", "agua", FORGED_HOST[:4]]
# The sharpest of them, for the fast sweep (the slow one sends them all).
SHARPEST = ["", "²", "٣", "9" * 5000, "0", "-1", "1_0", "nan", "1e999", "\u200b7", "a" * 20_000, "9999-12-31",
            "0001-01-01T00:00:00+14:00", "1" * 7, "%zz"]


# --- the application under test ----------------------------------------------------------------


def make_app(db, tmp_path, web: str = FAST):
    ini = tmp_path / "web.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n[web]\n{web}")
    return create_app(config.load(ini))


@pytest.fixture
def app(db, hoods, tmp_path):
    app = make_app(db, tmp_path)
    rules = app.extensions["barriosms"].rules
    for i in range(3):
        done = submit(WebReport("B02", f"Hay un bache grande en la calle {i + 3}"), rules)
        casework.add_note(done.case.tracking, "Cuadrilla enviada", load_templates(), public=True, region="BO")
    return app


def body_of(response) -> bytes:
    data = response.get_data()
    return gzip.decompress(data) if response.headers.get("Content-Encoding") == "gzip" else data


def assert_answered_calmly(response, path: str) -> None:
    """Below 500; a refusal in Spanish, as the spec's error list under /open311."""
    assert response.status_code < 500, (path, response.status_code, body_of(response)[:300])
    if response.status_code >= 400:
        body = body_of(response).decode("utf-8")
        if path.startswith("/open311/"):
            assert "<errors>" in body or body.startswith('[{"code": '), body[:300]
        elif path.startswith("/personal/api/"):  # the back-office's data: a JSON error in Spanish
            assert json.loads(body)["error"], body[:300]
        else:
            assert 'lang="es"' in body, body[:300]


def assert_no_forged_host(response) -> None:
    everything = body_of(response) + repr(list(response.headers.items())).encode()
    assert FORGED_HOST.encode() not in everything, everything[:500]


# --- building requests for any rule of the url_map ---------------------------------------------

_PLACEHOLDER = re.compile(r"<(?:([^:<>]+):)?(\w+)>")
PATH_VALUES = {"number": ["1234567"], "numero": ["1234567"], "code": ["B02", "agua", "b-02"], "name": ["site.css", "leaflet.js"]}


@dataclass(frozen=True)
class Route:
    """One method of one rule of the url_map, and the parameters its code reads."""

    rule: str
    method: str
    reads: tuple[str, ...]

    def path(self, pick=None) -> str:
        """The rule's path, each placeholder replaced by pick(converter, name) (quoted), or a
        plausible value."""
        def plausible(converter, name):
            return choices_of(converter)[0] if choices_of(converter) else PATH_VALUES.get(name, ["x"])[0]
        return _PLACEHOLDER.sub(lambda m: (pick or plausible)(m.group(1), m.group(2)), self.rule)


def choices_of(converter: str | None) -> list[str] | None:
    """The values of an any(...) converter, else None."""
    if converter and converter.startswith("any("):
        return [c.strip() for c in converter[4:-1].split(",")]
    return None


def quoted(value: str | bytes) -> str:
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    return urllib.parse.quote_from_bytes(raw, safe="")


def query(pairs: list[tuple[str, str | bytes]]) -> str:
    return "&".join(f"{quoted(k)}={quoted(v)}" for k, v in pairs)


def send(client, method: str, path: str, pairs, headers: dict | None = None, multipart: bool = False):
    if method == "GET":
        return client.get(path + ("?" + query(pairs) if pairs else ""), headers=headers or {})
    if multipart:
        data = {k: v.decode("utf-8", "replace") if isinstance(v, bytes) else v for k, v in pairs}
        return client.post(path, data=data, headers=headers or {}, content_type="multipart/form-data")
    return client.post(path, data=query(pairs).encode(), headers=headers or {},
                       content_type="application/x-www-form-urlencoded")


def plausible(app) -> dict[str, list[str]]:
    """Values that get a request past the first checks, so that hostile ones reach deeper code."""
    tracking = Case.select(Case.tracking).order_by(Case.id).scalar()
    return {"pagina": ["1", "2"], "q": ["sopocachi", ""], "barrio": ["B02", "Sopocachi"], "categoria": ["agua"],
            "estado": ["abiertos"], "lat": ["-16.5", "-16.51"], "lon": ["-68.13"], "long": ["-68.13"],
            "numero": [tracking], "nuevo": ["1"], "sms": ["1"],
            "service_request_id": [tracking, f"{tracking},{tracking}"], "service_code": ["vias", "agua,vias"],
            "status": ["open", "closed"], "address_id": ["B02"], "address_string": ["Sopocachi"],
            "description": ["Hay un bache grande"], "descripcion": ["Hay un bache grande"],
            "start_date": ["2026-11-20", "2026-11-20T00:00:00Z"], "end_date": ["2026-12-01T00:00:00-04:00"],
            "page": ["1"], "page_size": ["10"], "phone": ["71234567"], "telefono": ["71234567", ""],
            "token": [app.extensions["barriosms"].tokens.issue()]}  # a fresh one each call: one use each


class _Reads(ImmutableMultiDict):
    """request.args or request.form, noting every name the code asks for (present or not)."""

    def __init__(self, data, seen: set[str]):
        super().__init__(data)
        self.seen = seen

    def get(self, key, *args, **kwargs):
        self.seen.add(key)
        return super().get(key, *args, **kwargs)

    def getlist(self, key, *args, **kwargs):
        self.seen.add(key)
        return super().getlist(key, *args, **kwargs)

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.seen.add(key)
        return super().__contains__(key)


def routes_of(app) -> list[Route]:
    """Every rule and method of the app, with the names its code reads: asked with plausible
    values until no new name turns up (a name read only after others passed is found too)."""
    seen: set[str] = set()
    original = app.request_class

    class Recording(original):
        @property
        def args(self):
            return _Reads(super().args, seen)

        @property
        def form(self):
            return _Reads(super().form, seen)

    app.request_class = Recording
    try:
        routes = []
        client = app.test_client()
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            for method in sorted(m for m in rule.methods if m in ("GET", "POST")):
                route, reads = Route(rule.rule, method, ()), set()
                for _ in range(5):
                    seen.clear()
                    values = plausible(app)
                    send(client, method, route.path(), [(n, values.get(n, ["1"])[0]) for n in sorted(reads)])
                    if seen <= reads:
                        break
                    reads |= seen
                routes.append(Route(rule.rule, method, tuple(sorted(reads))))
        return routes
    finally:
        app.request_class = original


def test_routes_are_found_with_the_parameters_their_code_reads(app):
    reads = {(r.rule, r.method): set(r.reads) for r in routes_of(app)}
    assert {"barrio", "categoria", "estado", "pagina"} <= reads[("/casos", "GET")]
    assert {"q", "pagina"} <= reads[("/", "GET")] and {"lat", "lon"} <= reads[("/mapa", "GET")]
    assert set(FORM_FIELDS) | {"token"} <= reads[("/reportar", "POST")]
    assert {"start_date", "end_date", "page", "page_size", "service_request_id", "service_code", "status"} \
        <= reads[("/open311/v2/requests.<any(json, xml):fmt>", "GET")]
    # A name read only once the others passed (the point, after service_code) is found too.
    assert {"service_code", "lat", "long", "address_id", "address_string", "description", "phone"} \
        <= reads[("/open311/v2/requests.<any(json, xml):fmt>", "POST")]


# --- regressions: each failed on the code before the fix ----------------------------------------


@pytest.mark.parametrize("path", ["/casos?pagina=²", "/casos?pagina=" + "9" * 5000, "/?q=a&pagina=²",
                                  "/?q=a&pagina=" + "9" * 5000, "/casos?pagina=١٢"])
def test_a_page_number_in_other_digits_or_thousands_long_is_the_first_page(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 200
    page = body_of(response).decode()
    assert ("calle 3" in page) if path.startswith("/casos") else ("Sopocachi" in page)


@pytest.mark.parametrize("name", ["page", "page_size"])
@pytest.mark.parametrize("value", ["9" * 5000, "²", "１"])
def test_open311_paging_numbers_too_long_or_not_ascii_are_a_400(app, name, value):
    response = app.test_client().get("/open311/v2/requests.json?" + query([(name, value)]))
    assert response.status_code == 400
    assert response.get_json() == [{"code": 400, "description": f"{name} debe ser un numero entre 1 y "
                                                               f"{1000 if name == 'page_size' else 1_000_000}."}]


@pytest.mark.parametrize("extra", [{"endpoint": "x"}, {"_method": "POST"}, {"values": "1"}, {"_anchor": "x"},
                                   {"_external": "1"}, {"_external": "1", "_scheme": "javascript"}])
def test_pagination_links_carry_only_the_pages_filters(app, hoods, extra):
    rules = app.extensions["barriosms"].rules
    for i in range(60):
        submit(WebReport("B03", f"Basura en la esquina numero {i}"), rules)
    client = app.test_client()
    response = client.get("/casos?" + urllib.parse.urlencode({"pagina": "2", "estado": "abiertos", **extra}),
                          headers={"Host": FORGED_HOST})
    assert response.status_code == 200
    assert_no_forged_host(response)
    links = re.findall(r'href="([^"]*pagina=[^"]*)"', body_of(response).decode())
    assert links and all(link.startswith("/casos?") and "#" not in link for link in links), links
    assert all(set(urllib.parse.parse_qs(urllib.parse.urlsplit(link.replace("&amp;", "&")).query))
               <= {"pagina", "estado", "barrio", "categoria"} for link in links), links


@pytest.mark.parametrize("path", ["/barrio//B02", "//casos", "/open311//discovery.json", "/static//site.css",
                                  "/mapa//datos.geojson"])
def test_a_doubled_slash_never_redirects_to_the_hosts_name(app, path):
    response = app.test_client().get(path, headers={"Host": FORGED_HOST})
    assert_no_forged_host(response)
    assert response.status_code < 500


def test_open311_discovery_never_uses_the_host_header(app):
    for fmt in ("json", "xml"):
        response = app.test_client().get(f"/open311/discovery.{fmt}",
                                         headers={"Host": FORGED_HOST, "X-Forwarded-Host": FORGED_HOST})
        assert response.status_code == 200
        assert_no_forged_host(response)
    found = app.test_client().get("/open311/discovery.json", headers={"Host": FORGED_HOST}).get_json()
    # Without [web] public_url: a reference relative to the discovery document's own address.
    assert found["endpoints"][0]["url"] == "/open311/v2"


def test_open311_discovery_uses_the_public_url_whatever_the_host(db, hoods, tmp_path):
    app = make_app(db, tmp_path, FAST + "public_url = https://reclamos.lapaz.bo\n")
    response = app.test_client().get("/open311/discovery.json", headers={"Host": FORGED_HOST})
    assert response.get_json()["endpoints"][0]["url"] == "https://reclamos.lapaz.bo/open311/v2"
    assert "https://reclamos.lapaz.bo/" in response.get_json()["contact"]
    assert_no_forged_host(response)


@pytest.mark.parametrize("path", ["/static/" + "a" * 300 + ".css", "/static/leaflet/" + "9" * 5000])
def test_a_static_name_too_long_for_the_file_system_is_a_404(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 404 and 'lang="es"' in body_of(response).decode()


@pytest.mark.parametrize("origin", ["http://[", "http://[::1", "http://[zz]:80", "http://a:99999"])
def test_a_malformed_origin_on_the_form_is_refused_as_cross_site(app, origin):
    token = app.extensions["barriosms"].tokens.issue()
    response = app.test_client().post("/reportar", headers={"Origin": origin}, data={
        "barrio": "B02", "descripcion": "Hay un bache grande", "token": token})
    assert response.status_code == 403
    assert "solo se puede enviar desde esta página" in body_of(response).decode()


@pytest.mark.parametrize("lat, lon", [("-١٦.٥", "-٦٨.١"), ("-1_6.5", "-6_8.1"), ("-１６.５", "-６８.１")])
def test_coordinates_in_other_digits_are_not_a_point(app, lat, lon):
    client = app.test_client()
    before = Case.select().count()
    token = app.extensions["barriosms"].tokens.issue()
    form = client.post("/reportar", data={"barrio": "B02", "descripcion": "Hay un bache grande", "token": token,
                                          "lat": lat, "lon": lon})
    assert form.status_code == 422 and "punto del mapa no es válido" in body_of(form).decode()
    api = client.post("/open311/v2/requests.json", data={"service_code": "vias", "address_id": "B02",
                                                        "description": "Hay un bache grande", "lat": lat, "long": lon})
    assert api.status_code == 400 and "lat y long" in api.get_json()[0]["description"]
    assert Case.select().count() == before
    page = client.get("/mapa?" + query([("lat", lat), ("lon", lon)]))
    assert page.status_code == 200 and 'data-punto="1"' not in body_of(page).decode()
    assert 'data-punto="1"' in body_of(client.get("/mapa?lat=-16.5&lon=-68.1")).decode()


# --- fuzzing: the deterministic sweep and the property ------------------------------------------


def sweep(app, values: list[str], headers: dict | None = None) -> list[tuple]:
    """Each route × each parameter it reads (and url_for's keywords) × each value, the other
    parameters plausible; and each value in the route's path. What answered 5xx."""
    client = app.test_client()
    failures = []
    for route in routes_of(app):
        for name in route.reads + URL_FOR_KEYWORDS:
            for value in values:
                good = plausible(app)
                pairs = [(n, good.get(n, ["1"])[0]) for n in route.reads if n != name] + [(name, value)]
                response = send(client, route.method, route.path(), pairs, headers)
                if response.status_code >= 500:
                    failures.append((route.method, route.rule, name, value[:30], response.status_code))
        for value in values if "<" in route.rule else ():
            path = route.path(lambda c, n, value=value: choices_of(c)[0] if choices_of(c) else quoted(value or "x"))
            response = send(client, route.method, path, [], headers)
            if response.status_code >= 500:
                failures.append((route.method, route.rule, "<path>", value[:30], response.status_code))
    return failures


def test_the_sweep_finds_a_new_route_that_parses_carelessly(app):
    """What makes the fuzzing worth having: a route added later, and its parameter, are found."""
    from flask import request

    app.add_url_rule("/_roto", "roto", lambda: str(int(request.args.get("n", "0"))))
    assert ("GET", "/_roto", "n", "²", 500) in sweep(app, ["²"])


def test_every_route_survives_the_sharpest_values_in_every_parameter(app):
    assert sweep(app, SHARPEST) == []


@pytest.mark.slow
def test_every_route_survives_every_nasty_value_in_every_parameter(app):
    assert sweep(app, NASTY) == []


def test_every_route_never_repeats_a_forged_host(app):
    client = app.test_client()
    for route in routes_of(app):
        good = plausible(app)
        pairs = [(n, good.get(n, ["1"])[-1]) for n in route.reads + URL_FOR_KEYWORDS]
        for path in (route.path(), route.path().replace("/", "//", 2), route.path() + "/"):
            response = send(client, route.method, path, pairs, {"Host": FORGED_HOST, "X-Forwarded-Host": FORGED_HOST})
            assert response.status_code < 500, (route.method, path)
            assert_no_forged_host(response)


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=40),
        st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=12),  # ², ٣, １
        st.integers(min_value=19, max_value=6000).map(lambda n: "9" * n),
        st.integers().map(str),
        st.floats().map(repr),
        st.datetimes().map(lambda d: d.isoformat()),
        st.text(alphabet="0123456789-T:+Z. ,", max_size=30),
        st.integers(min_value=1000, max_value=30_000).map(lambda n: "a" * n),
        st.sampled_from(NASTY),
    )


def hostile_value() -> st.SearchStrategy[str | bytes]:
    """Text, or raw bytes percent-encoded as they are (invalid UTF-8, an encoded surrogate, NUL)."""
    raw = st.one_of(st.binary(max_size=12), st.sampled_from([b"\xed\xa0\x80", b"\x00", b"\xff\xfe", b"\xc0\xaf"]))
    return st.one_of(hostile_text(), hostile_text(), raw)


_PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126)
HEADERS = st.fixed_dictionaries({}, optional={
    "Host": st.sampled_from([FORGED_HOST, FORGED_HOST + ":8443", "localhost", "[", "a b"]),
    "X-Forwarded-Host": st.just(FORGED_HOST),
    "Origin": st.one_of(st.sampled_from(["http://localhost", "https://evil.example", "null", "http://[",
                                         "http://[::1", "http://a:99999", ""]), st.text(_PRINTABLE, max_size=30)),
    "Sec-Fetch-Site": st.sampled_from(["same-origin", "cross-site", "same-site", "none", "", "x"]),
    "X-Forwarded-For": st.text(_PRINTABLE, max_size=60),
    "Accept-Encoding": st.sampled_from(["gzip", "gzip;q=nan", "gzip;q=1e999", "gzip;q=" + "9" * 500, "x", "*"]),
    "If-None-Match": st.text(_PRINTABLE, max_size=30),
    "If-Modified-Since": st.sampled_from(["Mon, 99 Foo 99999 99:99:99 GMT", "0", "", "Thu, 01 Jan 1970 00:00:00 GMT"]),
})


@st.composite
def hostile_requests(draw, app, routes: list[Route]):
    """(route, path, pairs, headers, multipart): some of the route's parameters hostile (repeated,
    or unknown ones added), the others plausible or left out; sometimes the path itself."""
    route = draw(st.sampled_from(routes))
    good = plausible(app)

    def pick(converter, name):
        if choices_of(converter):
            return draw(st.sampled_from(choices_of(converter)))
        return quoted(draw(st.one_of(st.sampled_from(PATH_VALUES.get(name, ["x"])), hostile_value())) or "x")

    path = route.path(pick)
    pairs = []
    for name in route.reads:
        how = draw(st.sampled_from(["plausible", "plausible", "absent", "hostile"]))
        if how != "absent":
            pairs += [(name, draw(hostile_value()) if how == "hostile" else draw(st.sampled_from(good[name])
                                                                                 if name in good else hostile_value()))]
    names = st.one_of(st.sampled_from(route.reads + URL_FOR_KEYWORDS), st.text(max_size=10))
    pairs += draw(st.lists(st.tuples(names, hostile_value()), max_size=4))  # repeated and unknown names
    return route, path, draw(st.permutations(pairs)), draw(HEADERS), draw(st.booleans())


def fuzz_once(app, routes: list[Route], data) -> None:
    route, path, pairs, headers, multipart = data.draw(hostile_requests(app, routes))
    response = send(app.test_client(), route.method, path, pairs, headers, multipart)
    assert_answered_calmly(response, path)
    if FORGED_HOST in headers.get("Host", "") or "X-Forwarded-Host" in headers:
        assert_no_forged_host(response)


@pytest.fixture
def routes(app) -> list[Route]:
    return routes_of(app)


@settings(max_examples=300)
@given(data=st.data())
def test_hostile_input_on_any_route_is_never_a_5xx(app, routes, data):
    fuzz_once(app, routes, data)


@pytest.mark.slow
@settings(max_examples=BIG)
@given(data=st.data())
def test_hostile_input_on_any_route_is_never_a_5xx_many(app, routes, data):
    fuzz_once(app, routes, data)


# --- what only the real server parses ----------------------------------------------------------


@pytest.fixture
def server(db, hoods, tmp_path):
    ini = tmp_path / "web.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n[web]\nlisten = 127.0.0.1:0\n{FAST}")
    web = WebServer(config.load(ini))
    thread = threading.Thread(target=web.serve_forever, name="test-web", daemon=True)
    thread.start()
    yield web
    web.stop()
    thread.join(15)


def raw_http(port: int, request: bytes) -> bytes:
    """The whole answer to `request` sent as it is (headers no client library would send)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("length", [b"abc", b"-5", b"1e3", "²".encode(), b"9" * 40, b"5, 5", b" 5"])
def test_a_bad_content_length_is_a_4xx(server, length):
    answer = raw_http(server.port, b"POST /open311/v2/requests.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                   b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + length
                      + b"\r\n\r\nabcde")
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:200]


@pytest.mark.parametrize("path", ["/open311/discovery.json", "/casos?pagina=2&_external=1", "/barrio//B02"])
def test_over_http_a_forged_host_is_never_repeated(server, path):
    answer = raw_http(server.port, f"GET {path} HTTP/1.1\r\nHost: {FORGED_HOST}\r\nConnection: close\r\n\r\n"
                      .encode())
    assert answer.startswith(b"HTTP/1.1 ") and int(answer.split(b" ", 2)[1]) < 500
    assert FORGED_HOST.encode() not in answer
