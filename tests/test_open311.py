"""The Open311 GeoReport v2 API, over real HTTP against `barriosms web` (waitress) on a free port.

Shapes are checked against the specification's own example documents, re-typed below from
http://wiki.open311.org/GeoReport_v2 and http://wiki.open311.org/Service_Discovery.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from barriosms import config
from barriosms.cases import casework
from barriosms.domain.tracking import damm_check_digit
from barriosms.staff.webreports import WebReport, submit
from barriosms.store.models import Case, OutboundMessage, utcnow
from barriosms.templates.loader import load_templates
from barriosms.web.server import WebServer

# --- the specification's examples --------------------------------------------------------------
# Re-typed from http://wiki.open311.org/GeoReport_v2 ("Example response" of each method) and
# http://wiki.open311.org/Service_Discovery ("Examples"). The page writes identifiers as bare
# numbers ("service_code":001, which is not even valid JSON); the spec's Swagger description
# (GeoReport_v2.1_Swagger, data/georeport_v2-1.yaml) types service_code, service_request_id,
# address_id, zipcode and account_id as strings, so they are strings here.

SPEC_SERVICES_JSON = [
    {"service_code": "001", "service_name": "Cans left out 24x7",
     "description": "Garbage or recycling cans that have been left out for more than 24 hours after collection. "
                    "Violators will be cited.",
     "metadata": True, "type": "realtime", "keywords": "lorem, ipsum, dolor", "group": "sanitation"},
    {"service_code": "002", "metadata": True, "type": "realtime", "keywords": "lorem, ipsum, dolor",
     "group": "street", "service_name": "Construction plate shifted",
     "description": "Metal construction plate covering the street or sidewalk has been moved."},
]
SPEC_SERVICES_XML = """<?xml version="1.0" encoding="utf-8"?>
<services>
    <service>
        <service_code>001</service_code>
        <service_name>Cans left out 24x7</service_name>
        <description>Garbage or recycling cans that have been left out for more than 24 hours after collection. Violators will be cited.</description>
        <metadata>true</metadata>
        <type>realtime</type>
        <keywords>lorem, ipsum, dolor</keywords>
        <group>sanitation</group>
    </service>
    <service>
        <service_code>002</service_code>
        <metadata>true</metadata>
        <type>realtime</type>
        <keywords>lorem, ipsum, dolor</keywords>
        <group>street</group>
        <service_name>Construction plate shifted</service_name>
        <description>Metal construction plate covering the street or sidewalk has been moved.</description>
    </service>
</services>"""

SPEC_SERVICE_DEFINITION_JSON = {
    "service_code": "DMV66",
    "attributes": [{"variable": True, "code": "WHISHETN", "datatype": "singlevaluelist", "required": True,
                    "datatype_description": None, "order": 1,
                    "description": "What is the ticket/tag/DL number?",
                    "values": [{"key": 123, "name": "Ford"}, {"key": 124, "name": "Chrysler"}]}],
}

SPEC_POST_RESPONSE_JSON = [
    {"service_request_id": "293944",
     "service_notice": "The City will inspect and require the responsible party to correct within 24 hours and/or "
                       "issue a Correction Notice or Notice of Violation of the Public Works Code",
     "account_id": None},
]
SPEC_POST_RESPONSE_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
    <request>
        <service_request_id>293944</service_request_id>
        <service_notice>
            The City will inspect and require the responsible party to correct within 24 hours and/or issue a Correction Notice or Notice of Violation of the Public Works Code
        </service_notice>
        <account_id/>
    </request>
</service_requests>"""

SPEC_REQUESTS_JSON = [  # the first of the page's two requests (the second has the same fields)
    {"service_request_id": "638344", "status": "closed", "status_notes": "Duplicate request.",
     "service_name": "Sidewalk and Curb Issues", "service_code": "006", "description": None,
     "agency_responsible": None, "service_notice": None,
     "requested_datetime": "2010-04-14T06:37:38-08:00", "updated_datetime": "2010-04-14T06:37:38-08:00",
     "expected_datetime": "2010-04-15T06:37:38-08:00", "address": "8TH AVE and JUDAH ST",
     "address_id": "545483", "zipcode": "94122", "lat": 37.762221815, "long": -122.4651145,
     "media_url": "http://city.gov.s3.amazonaws.com/requests/media/638344.jpg "},
]
SPEC_REQUESTS_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
    <request>
        <service_request_id>638344</service_request_id>
        <status>closed</status>
        <status_notes>Duplicate request.</status_notes>
        <service_name>Sidewalk and Curb Issues</service_name>
        <service_code>006</service_code>
        <description></description>
        <agency_responsible></agency_responsible>
        <service_notice></service_notice>
        <requested_datetime>2010-04-14T06:37:38-08:00</requested_datetime>
        <updated_datetime>2010-04-14T06:37:38-08:00</updated_datetime>
        <expected_datetime>2010-04-15T06:37:38-08:00</expected_datetime>
        <address>8TH AVE and JUDAH ST</address>
        <address_id>545483</address_id>
        <zipcode>94122</zipcode>
        <lat>37.762221815</lat>
        <long>-122.4651145</long>
        <media_url>http://city.gov.s3.amazonaws.com/requests/media/638344.jpg </media_url>
    </request>
</service_requests>"""

SPEC_ERRORS_JSON = [{"code": 403, "description": "Invalid api_key received -- can't proceed with create_request."}]
SPEC_ERRORS_XML = """<?xml version="1.0" encoding="utf-8"?>
<errors>
    <error>
        <code>403</code>
        <description>Invalid api_key received -- can't proceed with create_request.</description>
    </error>
</errors>"""

SPEC_DISCOVERY_JSON = {
    "changeset": "2011-02-03 14:18",
    "contact": "You can email or call for assistance api@mycity.org +1 (555) 555-5555",
    "key_service": "You can request a key here: http://api.mycity.gov/api_key/request",
    "endpoints": [
        {"specification": "http://wiki.open311.org/GeoReport_v2", "url": "http://open311.mycity.gov/v2",
         "changeset": "2010-11-23 09:01", "type": "production", "formats": ["text/xml"]},
        {"specification": "http://wiki.open311.org/GeoReport_v2", "url": "http://open311.mycity.gov/test/v2",
         "changeset": "2010-10-02 09:01", "type": "test", "formats": ["text/xml", "application/json"]},
    ],
}
SPEC_DISCOVERY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<discovery>
    <changeset>2011-02-03 14:18</changeset>
    <contact>You can email or call for assistance api@mycity.org +1 (555) 555-5555</contact>
    <key_service>You can request a key here: http://api.mycity.gov/api_key/request</key_service>
    <endpoints>
        <endpoint>
            <specification>http://wiki.open311.org/GeoReport_v2</specification>
            <url>http://open311.mycity.gov/v2</url>
            <changeset>2010-11-23 09:01</changeset>
            <type>production</type>
            <formats>
                <format>text/xml</format>
            </formats>
        </endpoint>
        <endpoint>
            <specification>http://wiki.open311.org/GeoReport_v2</specification>
            <url>http://open311.mycity.gov/test/v2</url>
            <changeset>2010-10-02 09:01</changeset>
            <type>test</type>
            <formats>
                <format>text/xml</format>
                <format>application/json</format>
            </formats>
        </endpoint>
    </endpoints>
</discovery>"""


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def assert_same_shape(ours, spec, where="") -> None:
    """The same keys in every object as the spec's example, and the same JSON types where both
    have a value (null is how the spec writes a field left empty)."""
    if isinstance(spec, list):
        assert isinstance(ours, list), where
        for i, item in enumerate(ours):
            assert_same_shape(item, spec[0], f"{where}[{i}]")
        return
    if isinstance(spec, dict):
        assert isinstance(ours, dict), where
        assert set(ours) == set(spec), f"{where}: {sorted(set(ours) ^ set(spec))}"
        for key, value in spec.items():
            if value is not None and ours[key] is not None:
                if isinstance(value, (list, dict)) and value and ours[key]:
                    assert_same_shape(ours[key], value, f"{where}.{key}")
                else:
                    assert _kind(ours[key]) == _kind(value), f"{where}.{key}: {ours[key]!r} vs {value!r}"


def xml_shape(element: ET.Element):
    """An element's name and its children's shapes (repeated items collapse into one)."""
    return element.tag, frozenset(xml_shape(child) for child in element)


def assert_same_xml(body: bytes, spec: str) -> ET.Element:
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    ours = ET.fromstring(body)
    assert xml_shape(ours) == xml_shape(ET.fromstring(spec.encode()))
    return ours


# --- a real server -----------------------------------------------------------------------------

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(url: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers or {})
    if body is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    try:
        with _NO_PROXY.open(req, timeout=20) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def get_json(url: str, status: int = 200):
    code, headers, body = call(url)
    assert code == status, body
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(body)


@pytest.fixture
def start(tmp_path, db, hoods):
    """start(**web_keys) → the /open311 address of a `barriosms web` serving the test database."""
    servers = []

    def run(**web) -> str:
        keys = {"listen": "127.0.0.1:0", **web}
        ini = tmp_path / f"web{len(servers)}.ini"
        ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n[web]\n"
                       + "".join(f"{k} = {v}\n" for k, v in keys.items()))
        server = WebServer(config.load(ini))
        thread = threading.Thread(target=server.serve_forever, name="test-web", daemon=True)
        thread.start()
        servers.append((server, thread))
        return server.url + "/open311"

    yield run
    for server, thread in servers:
        server.stop()
        thread.join(15)


@pytest.fixture
def api(start):
    return start(site_name="Alcaldia de La Paz")


@pytest.fixture
def rules():
    from barriosms.pipeline.intake import IntakeRules
    from barriosms.templates.loader import load_categories

    return IntakeRules(templates=load_templates(), categories=load_categories(None), region="BO")


def post(api: str, fmt: str = "json", headers: dict | None = None, **fields) -> tuple[int, dict, bytes]:
    return call(f"{api}/v2/requests.{fmt}", fields, headers)


def w3c(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def unused_tracking() -> str:
    for n in range(100000, 999999):
        t = f"{n}{damm_check_digit(str(n))}"
        if not Case.select().where(Case.tracking == t).exists():
            return t
    raise AssertionError("no free tracking number")


# --- discovery and services --------------------------------------------------------------------


def test_discovery_has_the_spec_fields_in_json_and_xml(api):
    found = get_json(f"{api}/discovery.json")
    assert_same_shape(found, SPEC_DISCOVERY_JSON)
    (endpoint,) = found["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    # No [web] public_url: relative to the discovery's own address, never from the Host header.
    assert endpoint["url"] == "/open311/v2" and endpoint["type"] == "production"
    assert urllib.parse.urljoin(f"{api}/discovery.json", endpoint["url"]) == f"{api}/v2"
    assert found["contact"] == "Alcaldia de La Paz"
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    assert "No se necesita clave" in found["key_service"]
    code, headers, body = call(f"{api}/discovery.xml")
    assert code == 200 and headers["Content-Type"] == "text/xml; charset=utf-8"
    ours = assert_same_xml(body, SPEC_DISCOVERY_XML)
    assert [f.text for f in ours.iter("format")] == ["application/json", "text/xml"]


def test_discovery_uses_the_public_url_when_configured(start):
    api = start(public_url="https://reclamos.lapaz.bo", open311_api_keys="k" * 20)
    found = get_json(f"{api}/discovery.json")
    assert found["endpoints"][0]["url"] == "https://reclamos.lapaz.bo/open311/v2"
    assert "api_key" in found["key_service"] and "No se necesita" not in found["key_service"]


def test_services_are_the_categories_with_the_spec_fields(api):
    found = get_json(f"{api}/v2/services.json")
    assert_same_shape(found, SPEC_SERVICES_JSON)
    assert [s["service_code"] for s in found] == ["riesgos", "agua", "alumbrado", "residuos", "vias", "otros"]
    agua = found[1]
    assert (agua["service_name"], agua["metadata"], agua["type"], agua["group"]) == \
        ("Agua y alcantarillado", False, "realtime", "")
    assert agua["keywords"].startswith("agua, alcantarilla") and agua["description"]
    # Words without their weights ("agua:0.5"); otros has keywords since issue 13 (perros, ruido...).
    assert found[4]["service_name"] == "Vías y aceras" and found[5]["keywords"].startswith("perro, ")
    assert ":" not in agua["keywords"]
    assert found[4]["service_code"] == "vias" and found[0]["service_name"] == "Riesgos (derrumbes, riadas)"
    assert found[4]["description"].startswith("Reclamos de vías y aceras: bache, ")
    code, headers, body = call(f"{api}/v2/services.xml")
    assert code == 200 and headers["Content-Type"] == "text/xml; charset=utf-8"
    ours = assert_same_xml(body, SPEC_SERVICES_XML)
    assert [s.findtext("service_code") for s in ours] == [s["service_code"] for s in found]
    assert {s.findtext("metadata") for s in ours} == {"false"}


def test_a_service_definition_has_no_attributes_and_an_unknown_service_is_404(api):
    found = get_json(f"{api}/v2/services/agua.json")
    assert set(found) == set(SPEC_SERVICE_DEFINITION_JSON) and found == {"service_code": "agua", "attributes": []}
    code, _, body = call(f"{api}/v2/services/agua.xml")
    root = ET.fromstring(body)
    assert code == 200 and root.tag == "service_definition" and [c.tag for c in root] == ["service_code", "attributes"]
    errors = get_json(f"{api}/v2/services/nope.json", 404)
    assert_same_shape(errors, SPEC_ERRORS_JSON)
    assert errors[0]["code"] == 404
    code, _, body = call(f"{api}/v2/services/nope.xml")
    assert code == 404 and assert_same_xml(body, SPEC_ERRORS_XML).findtext("error/code") == "404"


# --- creating service requests -----------------------------------------------------------------


def test_a_post_opens_an_open311_case_that_the_gets_show(api):
    code, headers, body = post(api, service_code="vias", address_id="b02",
                               description="Bache grande frente a la escuela")
    assert code == 200 and headers["Content-Type"] == "application/json; charset=utf-8", body
    answer = json.loads(body)
    assert_same_shape(answer, SPEC_POST_RESPONSE_JSON)
    tracking = answer[0]["service_request_id"]
    assert answer[0]["account_id"] is None and tracking in answer[0]["service_notice"]
    case = Case.get(Case.tracking == tracking)
    assert (case.channel, case.category, case.neighborhood.code, case.phone) == ("open311", "vias", "B02", "")

    listed = get_json(f"{api}/v2/requests.json")
    assert [r["service_request_id"] for r in listed] == [tracking]
    (one,) = get_json(f"{api}/v2/requests/{tracking}.json")
    assert one == listed[0]
    assert (one["status"], one["service_code"], one["service_name"], one["address_id"]) == \
        ("open", "vias", "Vías y aceras", "B02")
    assert one["address"].startswith("Sopocachi (B02)") and one["agency_responsible"] == "Alcaldia de La Paz"
    assert one["description"] == "Bache grande frente a la escuela"


def test_a_post_in_xml_answers_in_xml(api):
    code, headers, body = post(api, "xml", service_code="agua", address_string="Calle 3, Miraflores, La Paz",
                               description="No hay agua desde ayer")
    assert code == 200 and headers["Content-Type"] == "text/xml; charset=utf-8"
    ours = assert_same_xml(body, SPEC_POST_RESPONSE_XML)
    tracking = ours.findtext("request/service_request_id")
    assert Case.get(Case.tracking == tracking).neighborhood.code == "B03"
    assert ours.find("request/account_id").text is None


def test_a_point_finds_the_nearest_neighbourhood_and_is_kept(api):
    code, _, body = post(api, service_code="alumbrado", lat="-16.5110", long="-68.1270",
                         description="No hay luz en la plaza")
    assert code == 200, body
    case = Case.get(Case.tracking == json.loads(body)[0]["service_request_id"])
    assert case.neighborhood.code == "B02" and (case.lat, case.lon) == (-16.511, -68.127)
    (one,) = get_json(f"{api}/v2/requests/{case.tracking}.json")
    assert (one["lat"], one["long"]) == (-16.511, -68.127)
    # An address_string that names no neighbourhood: the point decides.
    code, _, body = post(api, service_code="vias", address_string="Av. Arce 2500", lat="-16.4990", long="-68.1200",
                         description="Bache grande")
    assert code == 200 and Case.get(Case.tracking == json.loads(body)[0]["service_request_id"]).neighborhood.code == "B03"


def test_a_post_with_a_phone_queues_the_tracking_sms_and_keeps_no_other_personal_data(api, db):
    code, _, body = post(api, service_code="residuos", address_id="B01", description="Basura en la esquina",
                         phone="71234567", email="ana@correo.bo", first_name="Ana", last_name="Quispe",
                         device_id="device-77", account_id="acct-88", media_url="http://example.org/foto.jpg")
    assert code == 200, body
    answer = json.loads(body)[0]
    assert "SMS" in answer["service_notice"]
    sms = OutboundMessage.get()
    assert sms.recipient == "+59171234567" and answer["service_request_id"] in sms.text
    assert Case.get().phone == "+59171234567"
    with sqlite3.connect(db) as raw:
        dump = "\n".join(raw.iterdump())
    for secret in ("ana@correo.bo", "Quispe", "device-77", "acct-88", "foto.jpg"):
        assert secret not in dump


@pytest.mark.parametrize("fields, status, says", [
    ({"address_id": "B02", "description": "Bache grande"}, 400, "service_code"),
    ({"service_code": "nope", "address_id": "B02", "description": "Bache grande"}, 404, "nope"),
    ({"service_code": "vias", "description": "Bache grande"}, 400, "ubicacion"),
    ({"service_code": "vias", "address_id": "Z99", "description": "Bache grande"}, 400, "Z99"),
    ({"service_code": "vias", "address_string": "Narnia", "description": "Bache grande"}, 400, "Narnia"),
    ({"service_code": "vias", "lat": "-17.9", "long": "-67.1", "description": "Bache grande"}, 400, "km"),
    ({"service_code": "vias", "lat": "-16.5", "description": "Bache grande"}, 400, "long"),
    ({"service_code": "vias", "lat": "nan", "long": "1", "description": "Bache grande"}, 400, "lat"),
    ({"service_code": "vias", "address_id": "B02"}, 400, "problema"),
    ({"service_code": "vias", "address_id": "B02", "description": "Bache", "phone": "123"}, 400, "teléfono"),
])
def test_bad_posts_get_the_spec_error_list_and_store_nothing(api, fields, status, says):
    for fmt in ("json", "xml"):
        code, _, body = post(api, fmt, **fields)
        assert code == status, body
        if fmt == "json":
            errors = json.loads(body)
            assert_same_shape(errors, SPEC_ERRORS_JSON)
            assert errors[0]["code"] == status and says in errors[0]["description"]
        else:
            assert assert_same_xml(body, SPEC_ERRORS_XML).findtext("error/code") == str(status)
    assert Case.select().count() == 0


@pytest.mark.parametrize("browser", [{"Origin": "https://otro-sitio.example"}, {"Sec-Fetch-Site": "cross-site"},
                                     {"Origin": "null"}, {"Origin": "http://["},
                                     {"Origin": "https://otro-sitio.example", "Sec-Fetch-Site": "same-site"}])
def test_a_post_from_a_page_on_another_site_is_refused_like_the_form(api, browser):
    report = {"service_code": "vias", "address_id": "B02", "description": "Bache grande"}
    for fmt in ("json", "xml"):
        code, _, body = post(api, fmt, browser, **report)
        assert code == 403, body
        if fmt == "json":
            assert "otro sitio" in json.loads(body)[0]["description"]
        else:
            assert assert_same_xml(body, SPEC_ERRORS_XML).findtext("error/code") == "403"
    assert Case.select().count() == 0


def test_a_post_from_a_server_or_from_this_site_is_accepted(api):
    report = {"service_code": "vias", "address_id": "B02", "description": "Bache grande"}
    origin = api.removesuffix("/open311")
    for headers in ({}, {"Sec-Fetch-Site": "same-origin", "Origin": origin}, {"Origin": origin}):
        code, _, body = post(api, "json", headers, **report)
        assert code == 200, (headers, body)
    assert Case.select().count() == 3


def test_api_keys_are_required_when_configured(start):
    key = "una-clave-larga-de-prueba-1234"
    api = start(open311_api_keys=f"otra-clave-larga-0000000, {key}")
    report = {"service_code": "vias", "address_id": "B02", "description": "Bache grande"}
    for given in ({}, {"api_key": "wrong"}):
        code, _, body = post(api, **report, **given)
        errors = json.loads(body)
        assert code == 403 and errors[0]["code"] == 403 and "api_key" in errors[0]["description"]
    code, _, body = post(api, "xml", **report)
    assert code == 403 and assert_same_xml(body, SPEC_ERRORS_XML).findtext("error/code") == "403"
    assert Case.select().count() == 0
    code, _, body = post(api, **report, api_key=key)
    assert code == 200, body
    assert len(get_json(f"{api}/v2/requests.json")) == 1  # reading needs no key


def test_no_key_is_needed_when_none_is_configured(api):
    code, _, body = post(api, service_code="vias", address_id="B02", description="Bache grande", api_key="any")
    assert code == 200, body


def test_submissions_are_limited_per_address_and_refusals_do_not_count(start):
    api = start(submissions_per_hour=2, submissions_per_day=2)
    report = {"service_code": "vias", "address_id": "B02", "description": "Bache grande"}
    assert post(api, **{**report, "description": ""})[0] == 400
    assert post(api, **report)[0] == 200 and post(api, **report)[0] == 200
    code, headers, body = post(api, **report)
    assert code == 429 and int(headers["Retry-After"]) > 0
    errors = json.loads(body)
    assert_same_shape(errors, SPEC_ERRORS_JSON)
    assert errors[0]["code"] == 429
    assert Case.select().count() == 2


# --- reading service requests ------------------------------------------------------------------


def test_requests_have_the_spec_fields_in_json_and_xml(api, rules):
    a = submit(WebReport("B02", "Hay un bache grande en la calle 3"), rules, channel="open311").case
    b = submit(WebReport("B03", "No hay agua desde ayer"), rules).case
    casework.change_status(a.tracking, "resolved", load_templates(), note="Bache tapado", region="BO")
    found = get_json(f"{api}/v2/requests.json")
    assert_same_shape(found, SPEC_REQUESTS_JSON)
    by_id = {r["service_request_id"]: r for r in found}
    closed, opened = by_id[a.tracking], by_id[b.tracking]
    assert (closed["status"], closed["status_notes"]) == ("closed", "Bache tapado")
    assert (opened["status"], opened["status_notes"], opened["service_code"]) == ("open", "", "agua")
    for r in found:
        assert r["requested_datetime"].endswith("-04:00") and r["updated_datetime"].endswith("-04:00")
        assert r["expected_datetime"] is None and r["zipcode"] is None and r["media_url"] == ""
        assert isinstance(r["lat"], float) and isinstance(r["long"], float)
    created = Case.get_by_id(b.id).created_at.replace(tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(opened["requested_datetime"]) == created.replace(microsecond=0)
    code, headers, body = call(f"{api}/v2/requests.xml")
    assert code == 200 and headers["Content-Type"] == "text/xml; charset=utf-8"
    ours = assert_same_xml(body, SPEC_REQUESTS_XML)
    assert {r.findtext("service_request_id") for r in ours} == set(by_id)
    (one,) = assert_same_xml(call(f"{api}/v2/requests/{a.tracking}.xml")[2], SPEC_REQUESTS_XML)
    assert one.findtext("status") == "closed" and one.find("expected_datetime").text is None


def test_filters_by_service_status_and_ids(api, rules):
    vias = submit(WebReport("B02", "Hay un bache grande"), rules).case.tracking
    agua = submit(WebReport("B02", "No hay agua desde ayer"), rules).case.tracking
    luz = submit(WebReport("B03", "No hay luz en la plaza"), rules).case.tracking
    casework.change_status(luz, "resolved", load_templates(), region="BO")

    def ids(query: str) -> set[str]:
        return {r["service_request_id"] for r in get_json(f"{api}/v2/requests.json?{query}")}

    assert ids("service_code=vias") == {vias}
    assert ids("service_code=vias,alumbrado") == ids("service_code=vias&service_code=alumbrado") == {vias, luz}
    assert ids("service_code=riesgos") == set()
    assert ids("status=open") == {vias, agua} and ids("status=closed") == {luz}
    assert ids("status=open,closed") == ids("") == {vias, agua, luz}
    # service_request_id overrides every other argument; mistyped or unknown numbers are left out.
    assert ids(f"service_request_id={vias},{luz}&status=open&service_code=agua") == {vias, luz}
    assert ids(f"service_request_id={unused_tracking()},1234567") == set()
    assert ids("page_size=2") | ids("page_size=2&page=2") == {vias, agua, luz}
    assert len(ids("page_size=2")) == 2
    assert call(f"{api}/v2/requests.json?page_size=2")[1]["X-Total-Count"] == "3"


def test_dates_filter_and_default_to_the_last_90_days(api, rules):
    now = utcnow()
    old = submit(WebReport("B02", "Bache muy antiguo"), rules, now=now - dt.timedelta(days=100)).case.tracking
    mid = submit(WebReport("B02", "Bache de hace diez dias"), rules, now=now - dt.timedelta(days=10)).case.tracking
    new = submit(WebReport("B02", "Bache de hoy"), rules, now=now).case.tracking

    def ids(query: str) -> set[str]:
        return {r["service_request_id"] for r in get_json(f"{api}/v2/requests.json?{query}")}

    assert ids("") == {mid, new}
    assert ids(f"start_date={w3c(now - dt.timedelta(days=20))}&end_date={w3c(now - dt.timedelta(days=5))}") == {mid}
    assert ids(f"start_date={w3c(now - dt.timedelta(days=120))}") == {old}  # 90 days from the start
    assert ids(f"end_date={w3c(now - dt.timedelta(days=50))}") == {old}  # 90 days up to the end
    assert ids(f"service_request_id={old}") == {old}
    # La Paz time and offsets: a date alone is a whole day in La Paz; an unescaped "+" arrives as a space.
    day = (now - dt.timedelta(days=10)).replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=-4)))
    assert ids(f"start_date={day:%Y-%m-%d}&end_date={day:%Y-%m-%d}") == {mid}
    plus = (now - dt.timedelta(days=11)).replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert ids(f"start_date={plus.isoformat(timespec='seconds')}") == {mid, new}


@pytest.mark.parametrize("query", [
    "start_date=ayer", "end_date=2026-13-01", "start_date=2026-11-20T10", "start_date=0001-01-01T00:00:00%2B04:00",
    "start_date=2026-01-01T00:00:00Z&end_date=2025-12-01T00:00:00Z",
    "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
    "status=pending", "page=0", "page_size=5000", "page_size=abc",
])
def test_bad_queries_are_400_with_the_spec_error_list(api, query):
    for fmt in ("json", "xml"):
        code, _, body = call(f"{api}/v2/requests.{fmt}?{query}")
        assert code == 400, body
        if fmt == "json":
            errors = json.loads(body)
            assert_same_shape(errors, SPEC_ERRORS_JSON)
            assert errors[0]["code"] == 400
        else:
            assert assert_same_xml(body, SPEC_ERRORS_XML).findtext("error/code") == "400"


@pytest.mark.parametrize("number", ["1234567", "12", "abcdefg", "unused"])
def test_a_mistyped_or_unknown_request_id_is_404(api, number):
    number = unused_tracking() if number == "unused" else number
    for fmt in ("json", "xml"):
        code, headers, body = call(f"{api}/v2/requests/{number}.{fmt}")
        assert code == 404 and headers["Content-Type"].startswith("application/json" if fmt == "json" else "text/xml")
        if fmt == "json":
            assert_same_shape(json.loads(body), SPEC_ERRORS_JSON)
        else:
            assert_same_xml(body, SPEC_ERRORS_XML)


def test_unknown_addresses_under_open311_answer_with_the_error_list(api):
    errors = get_json(f"{api}/v2/nothing.json", 404)
    assert_same_shape(errors, SPEC_ERRORS_JSON)
    code, _, body = call(f"{api}/v2/nothing.xml")
    assert code == 404 and assert_same_xml(body, SPEC_ERRORS_XML)


def test_a_merged_case_is_closed_and_points_at_the_case_that_stays(api, rules):
    keep = submit(WebReport("B02", "Hay un bache grande"), rules).case.tracking
    dup = submit(WebReport("B02", "Otro bache grande"), rules).case.tracking
    casework.merge(dup, keep, load_templates(), region="BO")
    assert {r["service_request_id"] for r in get_json(f"{api}/v2/requests.json")} == {keep}
    (one,) = get_json(f"{api}/v2/requests/{dup}.json")
    assert one["status"] == "closed" and keep in one["status_notes"]


def test_no_phone_number_leaves_through_any_get(api, rules):
    phone_words = ("71234567", "59171234567", "72223333")
    done = submit(WebReport("B02", "Bache frente a mi casa, llamen al 72223333", phone="71234567"), rules,
                  channel="open311")
    casework.add_note(done.case.tracking, "Vecino del 71234567 avisado", load_templates(), public=True, region="BO")
    casework.add_note(done.case.tracking, "llamar al 59171234567", load_templates(), public=False, region="BO")
    t = done.case.tracking
    bodies = [call(f"{api}/v2/requests.{fmt}")[2] for fmt in ("json", "xml")]
    bodies += [call(f"{api}/v2/requests/{t}.{fmt}")[2] for fmt in ("json", "xml")]
    bodies += [call(f"{api}/v2/requests.json?service_request_id={t}")[2]]
    for body in bodies:
        assert t.encode() in body
        for word in phone_words:
            assert word.encode() not in body, body
    (one,) = get_json(f"{api}/v2/requests/{t}.json")
    assert one["status_notes"] == "Vecino del [número oculto] avisado"
    assert one["description"] == "Bache frente a mi casa, llamen al [número oculto]"


def test_descriptions_are_left_out_when_the_site_hides_them(start, rules):
    api = start(show_descriptions="no")
    submit(WebReport("B02", "Hay un bache grande"), rules)
    (one,) = get_json(f"{api}/v2/requests.json")
    assert one["description"] == ""
