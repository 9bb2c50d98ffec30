"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): the cases as service requests.

Every category is a service (service_code = the category name, service_name = its label from the
categories file's [labels]); a case is a service request (service_request_id = its tracking
number); the neighbourhood is the address (address_id = its code). JSON or XML by the URL's
extension, errors as the spec's error list. What goes out is what the website shows (public.py):
never a phone number, a reporter, an assignee or an internal note. A POST opens a case like the
web form does (webreports.submit, channel "open311"); the personal fields the spec lets clients
send (email, names, device and account ids) are not stored. See docs/open311.md.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from flask import Blueprint, Response, current_app, request

from barriosms.cases.lookup import nearest_neighborhood
from barriosms.domain.inputs import ascii_int, degrees
from barriosms.domain.matching import normalize_code
from barriosms.reporting import public
from barriosms.staff.webreports import ReportError, WebReport, submit, typed_neighborhood
from barriosms.store.models import Case, CaseEvent, Neighborhood, utcnow
from barriosms.web.cache import forget_counts
from barriosms.web.context import context, from_another_site, submitter

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MAX_REQUESTS = 1000  # the spec's default limit: "90 days or first 1000 requests, whichever is smallest"
SPAN = dt.timedelta(days=90)
NEAREST_KM = 3.0  # a lat/long further than this from every neighbourhood is refused
MIME = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
FORMATS = ("application/json", "text/xml")
FMT = "<any(json, xml):fmt>"
# XML: the element of each item of a list, named by the list's element (the spec's names).
_ITEM = {"services": "service", "service_requests": "request", "errors": "error", "endpoints": "endpoint",
         "formats": "format", "attributes": "attribute"}
# Characters XML 1.0 cannot carry (an SMS may have them): left out of XML answers.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

blueprint = Blueprint("open311", __name__)


@blueprint.record_once
def _remember_start(state) -> None:
    # Services only change with the configuration, read once at start: the discovery changeset.
    state.app.extensions["open311_changeset"] = utcnow()


class Refused(Exception):
    """An answer with the spec's error list: `code` is the HTTP status and the error's code."""

    def __init__(self, code: int, message: str, retry_after: int = 0):
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after


@blueprint.errorhandler(Refused)
def _refused(exc: Refused):
    response = error_response(exc.code, exc.message)
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@blueprint.after_request
def _readable_from_other_sites(response: Response) -> Response:
    # Public data without cookies: browser apps on other sites (dashboards, maps) may read it.
    if request.method in ("GET", "HEAD"):
        response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response


def error_response(code: int, message: str):
    """The spec's error list, as XML for a .xml address and as JSON otherwise."""
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return _answer([{"code": code, "description": message}], "errors", fmt, status=code)


# --- output ------------------------------------------------------------------------------------


def _answer(data, root: str, fmt: str, status: int = 200) -> Response:
    if fmt == "xml":
        element = ET.Element(root)
        _fill(element, data)
        body = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")
    else:
        body = json.dumps(data, ensure_ascii=False)
    return Response(body.encode("utf-8"), status=status, content_type=MIME[fmt])


def _fill(element: ET.Element, value) -> None:
    """XML as the spec writes it: a dict's keys are elements, a list's items are named by _ITEM,
    None is an empty element, booleans are true/false."""
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, _ITEM[element.tag]), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _NOT_XML.sub("", str(value))


def _local(when: dt.datetime) -> dt.datetime:
    """A stored time (naive UTC) in La Paz time."""
    return when.replace(tzinfo=dt.UTC).astimezone(context().settings.zone)


def _w3c(when: dt.datetime) -> str:
    """A stored time as the spec writes it, with the La Paz offset: 2026-11-20T10:15:00-04:00."""
    return _local(when).isoformat(timespec="seconds")


def service_name(code: str) -> str:
    """The category as people read it: its [labels] entry in the categories file ("Vías y aceras")."""
    return context().categories.label(code)


# --- discovery and services --------------------------------------------------------------------


def _base_url() -> str:
    """Where the site is, for the discovery's addresses: [web] public_url, else "" (the addresses
    are then relative, "/open311/v2", resolved by clients against the discovery's own address).

    Never the request's Host header: a client chooses it, and a cache or a proxy could then hand
    other clients a discovery that sends them (and their reports) to another server.
    """
    return context().settings.web.public_url


@blueprint.get(f"/discovery.{FMT}")
def discovery(fmt: str):
    web = context().settings.web
    started = current_app.extensions.get("open311_changeset") or utcnow()
    changeset = _local(started).strftime("%Y-%m-%d %H:%M")
    base = _base_url()
    contact = web.site_name + (f": {base}/" if base else "") + (
        f" - reclamos por SMS al {web.sms_number}" if web.sms_number else "")
    if web.open311_api_keys:
        key_service = f"Para crear reclamos se necesita una clave (api_key): pidala a {web.site_name}."
    else:
        key_service = "No se necesita clave (api_key) para crear reclamos; hay un limite de envios por conexion."
    return _answer({
        "changeset": changeset,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": f"{base}/open311/v2",
            "changeset": changeset,
            "type": "production",
            "formats": list(FORMATS),
        }],
    }, "discovery", fmt)


def _service(code: str, keywords: tuple[str, ...]) -> dict:
    name = service_name(code)
    description = (f"Reclamos de {name.lower()}: {', '.join(keywords)}." if keywords
                   else f"{name}: reclamos que no son de las demas categorias.")
    return {"service_code": code, "service_name": name, "description": description, "metadata": False,
            "type": "realtime", "keywords": ", ".join(keywords), "group": ""}


@blueprint.get(f"/v2/services.{FMT}")
def services(fmt: str):
    categories = context().categories
    return _answer([_service(code, categories.keywords(code)) for code in categories.names], "services", fmt)


@blueprint.get(f"/v2/services/<code>.{FMT}")
def service_definition(code: str, fmt: str):
    # No service has metadata (extra fields), so a known one has an empty list of attributes.
    if code not in context().categories.names:
        raise Refused(404, f"No hay ningun servicio con el codigo {code}: vea services.{fmt}.")
    return _answer({"service_code": code, "attributes": []}, "service_definition", fmt)


# --- reading service requests ------------------------------------------------------------------


@dataclass(frozen=True)
class _Filter(public.CaseFilter):
    """The public list's filter, with several categories (service_code=agua,vias)."""

    categories: tuple[str, ...] = ()

    def where(self, query):
        query = super().where(query)
        if self.categories:
            query = query.where(Case.category.in_(self.categories))
        return query


def _values(name: str) -> list[str]:
    """A parameter declared once with commas or several times: service_code=agua,vias."""
    return [v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()]


# ASCII digits only: \d would also let other scripts' digits through to fromisoformat.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
                       r"(Z|[+-][0-9]{2}:[0-9]{2})?")


def _when(name: str) -> tuple[dt.datetime, bool] | None:
    """A w3c date or datetime parameter as naive UTC, and whether it was a date alone."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    # An unescaped "+" of an offset arrives as a space: 2026-11-20T10:00:00 04:00.
    raw = re.sub(r" ([0-9]{2}:[0-9]{2})$", r"+\1", raw)
    day = _DATE.fullmatch(raw) is not None
    try:
        if not day and not _DATETIME.fullmatch(raw):
            raise ValueError(raw)
        when = dt.datetime.fromisoformat(raw)
        if when.tzinfo is None:  # a date, or a time without offset: La Paz time
            when = when.replace(tzinfo=context().settings.zone)
        return when.astimezone(dt.UTC).replace(tzinfo=None), day
    except ValueError:
        raise Refused(400, f"{name} no es una fecha valida: use el formato w3c, por ejemplo "
                           f"2026-11-20T00:00:00-04:00 o 2026-11-20T04:00:00Z.") from None
    except OverflowError:
        raise Refused(400, f"{name} esta fuera de rango.") from None


def _span() -> tuple[dt.datetime, dt.datetime | None]:
    """start_date and end_date as [since, until): 90 days at most, the last 90 days by default."""
    start, end = _when("start_date"), _when("end_date")
    try:
        since = start[0] if start else None
        until = None
        if end:
            until = end[0] + (dt.timedelta(days=1) if end[1] else dt.timedelta(microseconds=1))  # end included
        if since is None and until is None:
            return utcnow() - SPAN, None
        if since is None:
            assert until is not None  # both None returned above
            return until - SPAN, until
        if until is None:
            return since, since + SPAN
    except OverflowError:
        raise Refused(400, "La fecha esta fuera de rango.") from None
    if until <= since:
        raise Refused(400, "end_date es anterior a start_date.")
    if until - since > SPAN + dt.timedelta(seconds=1):
        raise Refused(400, "Entre start_date y end_date puede haber 90 dias como maximo.")
    return since, until


def _state() -> str:
    wanted = {s.lower() for s in _values("status")}
    if wanted - {"open", "closed"}:
        raise Refused(400, "status puede ser open, closed o open,closed.")
    return "abiertos" if wanted == {"open"} else "cerrados" if wanted == {"closed"} else "todos"


def _number(name: str, default: int, high: int) -> int:
    raw = request.args.get(name) or ""
    if not raw.strip():
        return default
    value = ascii_int(raw, 1, high)
    if value is None:
        raise Refused(400, f"{name} debe ser un numero entre 1 y {high}.")
    return value


def _status_notes(cases: list[public.PublicCase]) -> dict[str, str]:
    """The last public note of each case (masked like everything residents or staff wrote)."""
    notes: dict[str, str] = {}
    for c in cases:
        if c.merged_into:
            notes[c.tracking] = f"Reclamo duplicado: se atiende en el caso {c.merged_into}."
        elif c.notes:
            notes[c.tracking] = c.notes[-1].text
    wanted = [c.tracking for c in cases if c.tracking not in notes]
    for i in range(0, len(wanted), 500):  # SQLite allows a limited number of parameters
        rows = (CaseEvent.select(Case.tracking, CaseEvent.note).join(Case)
                .where(Case.tracking.in_(wanted[i:i + 500]), CaseEvent.public == True,  # noqa: E712
                       CaseEvent.note != "")
                .order_by(CaseEvent.at, CaseEvent.id).tuples())
        for tracking, note in cast("Iterable[tuple[str, str]]", rows):  # types-peewee: tuples() yields models
            notes[tracking] = public.mask(note)
    return notes


def _service_request(c: public.PublicCase, notes: dict[str, str]) -> dict:
    address = f"{c.neighborhood_name} ({c.neighborhood_code})" + (f", {c.district}" if c.district else "")
    return {
        "service_request_id": c.tracking,
        "status": "open" if c.is_open else "closed",
        "status_notes": notes.get(c.tracking, ""),
        "service_name": service_name(c.category),
        "service_code": c.category,
        "description": c.description,
        "agency_responsible": context().settings.web.site_name,
        "service_notice": "",
        "requested_datetime": _w3c(c.created_at),
        "updated_datetime": _w3c(c.updated_at),
        "expected_datetime": None,
        "address": address,
        "address_id": c.neighborhood_code,
        "zipcode": None,
        "lat": c.lat,
        "long": c.lon,
        "media_url": "",
    }


def _requests_answer(cases: list[public.PublicCase], fmt: str) -> Response:
    notes = _status_notes(cases)
    return _answer([_service_request(c, notes) for c in cases], "service_requests", fmt)


@blueprint.get(f"/v2/requests.{FMT}")
def service_requests(fmt: str):
    show = context().settings.web.show_descriptions
    ids = _values("service_request_id")
    if ids:  # "This overrides all other arguments."
        if len(ids) > MAX_REQUESTS:
            raise Refused(400, f"Pida como maximo {MAX_REQUESTS} service_request_id a la vez.")
        return _requests_answer(public.by_tracking([re.sub(r"[\s.-]", "", i) for i in ids],
                                                   show_descriptions=show), fmt)
    since, until = _span()
    page = _number("page", 1, 1_000_000)
    size = _number("page_size", MAX_REQUESTS, MAX_REQUESTS)
    filters = _Filter(state=_state(), since=since, until=until, categories=tuple(_values("service_code")))
    cases, total = public.cases(filters, offset=(page - 1) * size, limit=size, show_descriptions=show)
    response = _requests_answer(cases, fmt)
    response.headers["X-Total-Count"] = str(total)
    return response


@blueprint.get(f"/v2/requests/<number>.{FMT}")
def service_request(number: str, fmt: str):
    try:
        found = public.case(number, show_descriptions=context().settings.web.show_descriptions)
    except public.NotFound as exc:
        raise Refused(404, exc.message) from None
    return _requests_answer([found], fmt)


# --- creating a service request ----------------------------------------------------------------


def _check_api_key() -> None:
    keys = context().settings.web.open311_api_keys
    if not keys:
        return
    given = request.form.get("api_key") or request.args.get("api_key") or ""
    if not given:
        raise Refused(403, "Falta la clave (api_key): no se puede crear el reclamo.")
    if not any(hmac.compare_digest(given.encode(), key.encode()) for key in keys):
        raise Refused(403, "La clave (api_key) no es valida: no se puede crear el reclamo.")


def _point() -> tuple[float, float] | None:
    raw_lat, raw_lon = (request.form.get("lat") or "").strip(), (request.form.get("long") or "").strip()
    if not raw_lat and not raw_lon:
        return None
    lat, lon = degrees(raw_lat, -90, 90), degrees(raw_lon, -180, 180)
    if lat is None or lon is None:
        raise Refused(400, "lat y long deben ir juntos, en grados WGS84 (por ejemplo lat=-16.5 y long=-68.13).")
    return lat, lon


def _neighborhood(point: tuple[float, float] | None) -> Neighborhood:
    """The location: address_id (a neighbourhood code), else address_string, else lat/long."""
    address_id = (request.form.get("address_id") or "").strip()
    if address_id:
        hood = Neighborhood.get_or_none(Neighborhood.code == normalize_code(address_id))
        if hood is None:
            raise Refused(400, f"address_id {address_id} no es el codigo de ningun barrio.")
        return hood
    address = (request.form.get("address_string") or "").strip()
    if address:
        try:
            return typed_neighborhood(address)
        except ReportError as exc:
            if point is None:
                raise Refused(400, exc.message) from None
    if point is not None:
        hood = nearest_neighborhood(*point, within_km=NEAREST_KM)
        if hood is None:
            raise Refused(400, f"El punto lat/long esta a mas de {NEAREST_KM:g} km de todos los barrios que "
                               "conocemos: envie address_id o address_string.")
        return hood
    raise Refused(400, "Falta la ubicacion: envie address_id (el codigo del barrio), address_string o lat y long.")


@blueprint.post(f"/v2/requests.{FMT}")
def create_service_request(fmt: str):
    ctx = context()
    if from_another_site():  # refused like the website's own form (see security.cross_site)
        raise Refused(403, "Un reclamo no se puede enviar desde una pagina de otro sitio: envielo desde un "
                           "servidor (sin Origin ni Sec-Fetch-Site) o desde la pagina Reportar de este sitio.")
    _check_api_key()
    who = submitter()
    verdict = ctx.limiter.check(who)
    if not verdict.allowed:
        raise Refused(429, "Demasiados reclamos desde esta conexion. Espere un rato y vuelva a intentar.",
                      retry_after=verdict.retry_after)
    code = (request.form.get("service_code") or "").strip()
    if not code:
        raise Refused(400, "Falta service_code: elija un servicio de services.json.")
    if code not in ctx.categories.names:
        raise Refused(404, f"No hay ningun servicio con el codigo {code}: vea services.{fmt}.")
    point = _point()
    hood = _neighborhood(point)
    # email, first_name, last_name, device_id, account_id and media_url are not stored (privacy).
    report = WebReport(neighborhood=hood.code, description=request.form.get("description") or "",
                       category=code, phone=request.form.get("phone") or "",
                       lat=repr(point[0]) if point else "", lon=repr(point[1]) if point else "")
    try:
        done = submit(report, ctx.rules, channel="open311")
    except ReportError as exc:
        raise Refused(400, exc.message) from None
    ctx.limiter.record(who)
    forget_counts()  # the website's map and lists count the new case at once
    notice = f"Recibimos el reclamo: su numero de seguimiento es {done.case.tracking}."
    if done.sms == "queued":
        notice += " Se lo enviamos por SMS y le avisaremos por SMS cuando cambie su estado."
    return _answer([{"service_request_id": done.case.tracking, "service_notice": notice, "account_id": None}],
                   "service_requests", fmt)
