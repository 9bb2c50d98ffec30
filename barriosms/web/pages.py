"""The website's pages: residents report and follow cases, everyone sees the list and the map.

Server-rendered Spanish HTML that works without JavaScript; the two scripts only add maps (the
public map, and a point to mark on the report form). Everything shown comes from barriosms.reporting.public,
which never hands out a phone number, a reporter, an assignee or an internal note.

URLs (other tests and benchmarks rely on them): / (?q=, ?pagina=), /reportar (GET, POST),
/caso/<numero> (?nuevo=1&sms=1), /seguimiento (?numero=), /casos (?barrio=&categoria=&estado=
&pagina=), /mapa (?categoria=&estado=&lat=&lon=), /mapa/datos.geojson, /barrio/<codigo>, /salud,
/static/... (see assets.py).

Counts per neighbourhood and the map's GeoJSON are kept for MAP_CACHE_SECONDS (web.cache) per filter in this
process: with 100,000 cases they cost a grouped query each, and a map a few seconds behind is fine.
A case opened through this process (the form, Open311) empties that cache at once (forget_counts):
whoever just reported and opens the map sees their case there.

Residents read Spanish with its accents here; the SMS texts stay GSM-7 (the status words come from
them: WEB_STATUS puts the accents back) and category names stay keys ([labels] names them).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
from typing import Any, cast
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from peewee import fn

from barriosms.cases.opening import tracking_lengths
from barriosms.domain.inputs import MAX_INT_DIGITS, ascii_int, degrees
from barriosms.domain.matching import normalize_code
from barriosms.domain.tracking import digits_phrase
from barriosms.reporting import public
from barriosms.staff.webreports import MAX_DESCRIPTION, ReportError, WebReport, submit
from barriosms.store.models import Neighborhood, OutboundMessage, WebSubmission, database
from barriosms.web import assets
from barriosms.web.cache import MAP_CACHE_SECONDS, forget_counts, recent
from barriosms.web.context import context, from_another_site, submitter

blueprint = Blueprint("pages", __name__)
blueprint.register_blueprint(assets.blueprint)

PER_PAGE = 50
# The case list's pages by number reach this far (a page number beyond it is this one): the cases
# skipped before a page and the count are read from an index, so its cost grows with the page; the
# count stops past the last page ("más de 100.000 casos"), older cases are found by filtering.
MAX_PAGE = 2_000
COUNT_LIMIT = MAX_PAGE * PER_PAGE
COUNT_ROWS = 200  # neighbourhoods in a counts table (the busiest); keeps a page light with many
DATALIST_MAX = 600  # above this many neighbourhoods the report form has no suggestion list
RECENT_CASES = 10

NAV = (("/", "Inicio", "inicio"), ("/reportar", "Reportar", "reportar"), ("/seguimiento", "Seguimiento", "seguimiento"),
       ("/casos", "Casos", "casos"), ("/mapa", "Mapa", "mapa"))
STATES = (("todos", "Todos"), ("abiertos", "Abiertos"), ("cerrados", "Cerrados"))
PROJECT_STATUS = {"planned": "planificado", "in_progress": "en ejecución", "done": "concluido",
                  "suspended": "paralizado"}
# Status words of the SMS templates (GSM-7, no accents) as the website writes them; any other
# label (a technician's own) is shown as written.
WEB_STATUS = {"en revision": "en revisión"}
# Which form field a webreports.ReportError is about (lat/lon are the optional map point).
FORM_FIELD = {"neighborhood": "barrio", "description": "descripcion", "category": "categoria",
              "phone": "telefono", "lat": "mapa", "lon": "mapa"}
FORM_FIELDS = ("barrio", "categoria", "descripcion", "telefono", "lat", "lon")


# ---------------------------------------------------------------------------------------------
# What every template gets


@blueprint.app_context_processor
def _layout() -> dict:
    web = context().settings.web
    return {"site_name": web.site_name, "sms_number": web.sms_number, "nav": NAV,
            "asset_url": assets.asset_url, "leaflet_url": assets.leaflet_url}


@blueprint.app_template_filter("hora")
def local_time(value: dt.datetime | None) -> str:
    """A stored time (naive UTC) as residents read it: "24/11/2026 15:30" in [gateway] timezone."""
    if value is None:
        return ""
    return value.replace(tzinfo=dt.UTC).astimezone(context().settings.zone).strftime("%d/%m/%Y %H:%M")


@blueprint.app_template_filter("fecha")
def local_date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


@blueprint.app_template_filter("estado")
def status_label(status: str) -> str:
    label = context().templates.status_label(status)
    return WEB_STATUS.get(label, label)


@blueprint.app_template_filter("categoria")
def category_label(name: str) -> str:
    """A category as people read it ("vias" → "Vías y aceras", from the categories file's [labels])."""
    return context().categories.label(name)


@blueprint.app_template_filter("proyecto")
def project_status(status: str) -> str:
    return PROJECT_STATUS.get(status, status)


@blueprint.app_template_filter("bolivianos")
def bolivianos(amount: float | None) -> str:
    """Bs with the Bolivian separators: 1250000 → "Bs 1.250.000", 99.5 → "Bs 99,50"."""
    if amount is None or not math.isfinite(amount):
        return ""
    if abs(amount - round(amount)) < 0.005:
        text = f"{round(amount):,}"
    else:
        text = f"{amount:,.2f}".replace(".", "#")
    return "Bs " + text.replace(",", ".").replace("#", ",")


@blueprint.app_template_filter("miles")
def thousands(n: int) -> str:
    """A whole number with the Bolivian thousands separator: 100000 → "100.000"."""
    return f"{n:,}".replace(",", ".")


@blueprint.app_template_filter("corto")
def shorten(text: str, length: int = 140) -> str:
    return text if len(text) <= length else text[:length - 1].rstrip() + "…"


@blueprint.after_request
def compress(response: Response) -> Response:
    """Pages go gzip-compressed to clients that accept it (a cheap phone on a slow network)."""
    if response.mimetype != "text/html" or response.direct_passthrough or "Content-Encoding" in response.headers:
        return response
    response.vary.add("Accept-Encoding")
    if request.accept_encodings["gzip"] > 0:
        data = response.get_data()
        if len(data) > 1024:
            response.set_data(gzip.compress(data, 6))
            response.headers["Content-Encoding"] = "gzip"
    return response


# ---------------------------------------------------------------------------------------------
# Small helpers


def _arg(name: str, limit: int = 100) -> str:
    return " ".join(request.args.get(name, "").split())[:limit]


def _page_number() -> int:
    """?pagina= as a page from 1 to MAX_PAGE; anything that is not a plain number is page 1."""
    page = ascii_int(request.args.get("pagina"), 1, 10**MAX_INT_DIGITS - 1)
    return min(page, MAX_PAGE) if page else 1


def _pages(total: int, page: int, filters: dict[str, str], *, more: bool = False) -> dict:
    """Pagination for a template: this page, how many, and the links before and after (`more`:
    more than `total` match, beyond the last page).

    The links carry the page's own filters as it understood them, never the query string as sent:
    its names could be url_for's keywords (`_external` would build the link from the Host header).
    """
    count = max(1, math.ceil(total / PER_PAGE))
    kept = {name: value for name, value in filters.items() if name in request.args}
    assert request.endpoint is not None  # a request routed to a view
    here = url_for(request.endpoint, **(request.view_args or {}))

    def link(n: int) -> str:
        return f"{here}?{urlencode({**kept, 'pagina': str(n)})}"

    return {"page": page, "count": count, "total": total, "more": more,
            "previous": link(page - 1) if page > 1 else "", "next": link(page + 1) if page < count else ""}


def _filters() -> tuple[str, str]:
    """The category and state asked for; anything unknown means no filter."""
    category = _arg("categoria").lower()
    if category not in context().categories.names:
        category = ""
    state = _arg("estado").lower()
    return category, state if state in public.STATES else "todos"


def _counts(category: str, state: str) -> list[public.HoodProgress]:
    return recent().get(("counts", category, state), lambda: public.counts(category, state))


def _busiest(counts: list[public.HoodProgress]) -> list[public.HoodProgress]:
    with_cases = [c for c in counts if c.total]
    return sorted(with_cases, key=lambda c: (-c.open, -c.total, c.name))


def _centre() -> tuple[float, float]:
    """Where a map starts: the middle of the neighbourhoods (La Paz when none has coordinates)."""
    placed = Neighborhood.lat.is_null(False) & Neighborhood.lon.is_null(False)
    lat, lon = (Neighborhood.select(fn.AVG(Neighborhood.lat), fn.AVG(Neighborhood.lon)).where(placed)
                .tuples().first() or (None, None))
    return (-16.5, -68.15) if lat is None or lon is None else (round(lat, 5), round(lon, 5))


def _show_descriptions() -> bool:
    return context().settings.web.show_descriptions


def _page(template: str, status: int = 200, headers: dict | None = None, **values) -> Response:
    # How many digits the tracking numbers have: 7, or "7 u 8" once they grew.
    values.setdefault("cifras", digits_phrase(tracking_lengths()))
    return Response(render_template(template, **values), status=status, headers=headers, mimetype="text/html")


# ---------------------------------------------------------------------------------------------
# Home: how to report, and the neighbourhood codes


@blueprint.get("/")
def home() -> Response:
    searched = "q" in request.args
    query = _arg("q")
    page = _page_number()
    found: list[Neighborhood] = public.neighborhoods(query) if searched else []
    first = Neighborhood.select(Neighborhood.code).order_by(Neighborhood.code).first()
    return _page("inicio.html", seccion="inicio", searched=searched, query=query,
                 hoods=found[(page - 1) * PER_PAGE:page * PER_PAGE], pages=_pages(len(found), page, {"q": query}),
                 example_code=first.code if first else "B12")


# ---------------------------------------------------------------------------------------------
# Reporting


def _report_form(values: dict[str, str], *, status: int = 200, message: str = "", errors: dict | None = None,
                 choices: tuple = ()) -> Response:
    hoods = list(Neighborhood.select(Neighborhood.code, Neighborhood.name).order_by(Neighborhood.name)
                 .limit(DATALIST_MAX + 1).tuples())
    lat, lon = _centre()
    return _page("reportar.html", status=status, seccion="reportar", values=values, message=message,
                 errors=errors or {}, choices=choices, token=context().tokens.issue(),
                 categories=context().categories.names, hoods=hoods if len(hoods) <= DATALIST_MAX else [],
                 max_description=MAX_DESCRIPTION, centre_lat=lat, centre_lon=lon,
                 tile_url=context().settings.web.tile_url,
                 tile_attribution=context().settings.web.tile_attribution)


@blueprint.get("/reportar")
def report_form() -> Response:
    values = dict.fromkeys(FORM_FIELDS, "")
    values["barrio"] = _arg("barrio")
    return _report_form(values)


@blueprint.post("/reportar")
def report() -> Response:
    ctx = context()
    if from_another_site():
        abort(403, "Este formulario solo se puede enviar desde esta página. Abra la página Reportar y "
                   "envíelo desde allí.")
    values = {name: request.form.get(name, "") for name in FORM_FIELDS}
    # The choices of an ambiguous name come before the text field, as more `barrio` values.
    values["barrio"] = next((v for v in request.form.getlist("barrio") if v.strip()), "")
    token = request.form.get("token", "")
    problem, form_id = ctx.tokens.verify(token)
    if problem == "expired":
        return _report_form(values, message="El formulario estuvo abierto demasiado tiempo. Revise sus datos y "
                                            "presione Enviar otra vez.")
    if problem:
        return _report_form(values, status=400, message="No pudimos aceptar el formulario: está incompleto o "
                                                        "fue cambiado. Revise sus datos y presione Enviar otra vez.")
    earlier = WebSubmission.get_or_none(WebSubmission.token == form_id)
    if earlier is not None:  # a double submit: the case the first one opened
        sent = OutboundMessage.select().where(OutboundMessage.case == earlier.case_id).exists()
        return _to_new_case(earlier.case.tracking, sent)
    address = submitter()
    verdict = ctx.limiter.check(address)
    if not verdict.allowed:
        return _page("error.html", status=429, headers={"Retry-After": str(verdict.retry_after)}, code=429,
                     message=f"Ya recibimos varios reportes desde esta conexión. Podrá enviar otro "
                             f"{_wait(verdict.retry_after)}. Si es urgente, reporte por SMS.")
    report = WebReport(neighborhood=values["barrio"], description=values["descripcion"], category=values["categoria"],
                       phone=values["telefono"], lat=values["lat"], lon=values["lon"])
    try:
        done = submit(report, ctx.rules, channel="web", token=form_id)
    except ReportError as err:
        field = FORM_FIELD.get(err.field, "barrio")
        message = err.message
        if field == "mapa":  # hidden fields: without the map they could not be corrected
            values["lat"] = values["lon"] = ""
            message += " Quitamos el punto: puede enviar el reporte sin él."
        return _report_form(values, status=422, errors={field: message}, choices=err.choices,
                            message="Revise lo que está marcado abajo.")
    if done.created:
        ctx.limiter.record(address)
        forget_counts()
    return _to_new_case(done.case.tracking, done.sms == "queued")


def _wait(seconds: int) -> str:
    """"en 5 minutos", "en 1 hora", "en unas 3 horas"."""
    minutes = max(1, math.ceil(seconds / 60))
    if minutes < 60:
        return f"en {minutes} minuto{'s' if minutes > 1 else ''}"
    hours = round(minutes / 60)
    return "en 1 hora" if hours <= 1 else f"en unas {hours} horas"


def _to_new_case(tracking: str, sms: bool) -> Response:
    args: dict[str, Any] = {"nuevo": "1", **({"sms": "1"} if sms else {})}
    return _see_other(url_for("pages.case_page", number=tracking, **args))


def _see_other(url: str) -> Response:
    """303 to `url` (werkzeug's redirect says so in English)."""
    body = render_template("redirect.html", url=url)
    return Response(body, status=303, headers={"Location": url}, mimetype="text/html")


# ---------------------------------------------------------------------------------------------
# Following a case


def _timeline(case: public.PublicCase) -> list[tuple[dt.datetime, str, str]]:
    """Status changes and public notes in order: (when, "estado" or "nota", text)."""
    entries = [(at, "estado", status_label(status)) for at, status in case.history]
    entries += [(note.at, "nota", note.text) for note in case.notes]
    return sorted(entries, key=lambda e: (e[0], e[1] == "nota"))


def _follow_form(number: str, error: public.NotFound) -> Response:
    return _page("seguimiento.html", status=400 if error.reason == "invalid" else 404, seccion="seguimiento",
                 number=number[:30], message=error.message)


@blueprint.get("/caso/<number>")
def case_page(number: str) -> Response:
    try:
        found = public.case(number, show_descriptions=_show_descriptions())
    except public.NotFound as err:
        return _follow_form(number, err)
    return _page("caso.html", seccion="seguimiento", case=found, timeline=_timeline(found),
                 new=request.args.get("nuevo") == "1", sms=request.args.get("sms") == "1")


@blueprint.get("/seguimiento")
def follow() -> Response:
    if "numero" not in request.args:
        return _page("seguimiento.html", seccion="seguimiento", number="", message="")
    number = _arg("numero", 30)
    try:
        found = public.case(number, show_descriptions=False)
    except public.NotFound as err:
        return _follow_form(number, err)
    return _see_other(url_for("pages.case_page", number=found.tracking))


# ---------------------------------------------------------------------------------------------
# The public list, the map, a neighbourhood


@blueprint.get("/casos")
def case_list() -> Response:
    category, state = _filters()
    hood = normalize_code(_arg("barrio", 20))
    page = _page_number()
    filters = public.CaseFilter(neighborhood=hood, category=category, state=state)
    total = public.count(filters, up_to=COUNT_LIMIT)
    rows = public.listing(filters, offset=(page - 1) * PER_PAGE, limit=PER_PAGE,
                          show_descriptions=_show_descriptions())
    busiest = _busiest(_counts(category, state))
    pages = _pages(min(total, COUNT_LIMIT), page, {"barrio": hood, "categoria": category, "estado": state},
                   more=total > COUNT_LIMIT)
    return _page("casos.html", seccion="casos", cases=rows, pages=pages, hood=hood, category=category,
                 state=state, categories=context().categories.names, states=STATES, counts=busiest[:COUNT_ROWS],
                 more_counts=max(0, len(busiest) - COUNT_ROWS))


def _coordinate(name: str, low: float, high: float) -> float | None:
    return degrees(request.args.get(name), low, high)


@blueprint.get("/mapa")
def map_page() -> Response:
    category, state = _filters()
    lat, lon = _coordinate("lat", -90, 90), _coordinate("lon", -180, 180)
    point = lat is not None and lon is not None
    if not point:
        lat, lon = _centre()
    busiest = _busiest(_counts(category, state))
    web = context().settings.web
    return _page("mapa.html", seccion="mapa", category=category, state=state, categories=context().categories.names,
                 states=STATES, counts=busiest[:COUNT_ROWS], more_counts=max(0, len(busiest) - COUNT_ROWS),
                 data_url=url_for("pages.map_data", **cast("dict[str, Any]", {"categoria": category} if category else {}),
                                  estado=state),
                 lat=lat, lon=lon, point=point, tile_url=web.tile_url, tile_attribution=web.tile_attribution)


@blueprint.get("/mapa/datos.geojson")
def map_data() -> Response:
    category, state = _filters()

    def make() -> tuple[bytes, bytes]:
        body = json.dumps(public.map_geojson(category, state), ensure_ascii=False, separators=(",", ":")).encode()
        return body, gzip.compress(body, 6)

    body, zipped = recent().get(("geojson", category, state), make)
    response = Response(mimetype="application/geo+json")
    response.headers["Cache-Control"] = f"public, max-age={MAP_CACHE_SECONDS * 2}"
    response.vary.add("Accept-Encoding")
    if request.accept_encodings["gzip"] > 0:
        response.set_data(zipped)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response.set_data(body)
    return response


@blueprint.get("/barrio/<code>")
def neighborhood_page(code: str) -> Response:
    try:
        hood = public.neighborhood(code[:20])
    except public.NotFound as err:
        abort(404, err.message)
    # Counted now, not from the map's cache: a resident who just reported looks here.
    # Each from the index of the neighbourhood's cases (migration 18), not from the cases.
    counts = {state: public.count(public.CaseFilter(neighborhood=hood.code, state=state))
              for state in ("abiertos", "cerrados")}
    recent = public.listing(public.CaseFilter(neighborhood=hood.code), limit=RECENT_CASES,
                            show_descriptions=_show_descriptions())
    total = counts["abiertos"] + counts["cerrados"]  # every status is one or the other
    return _page("barrio.html", seccion="casos", hood=hood, counts=counts, cases=recent, total=total,
                 projects=public.projects(hood))


# ---------------------------------------------------------------------------------------------
# Monitoring


@blueprint.get("/salud")
def health() -> Response:
    try:
        database.execute_sql("SELECT 1").fetchone()
    except Exception:  # noqa: BLE001 - any failure means the site cannot answer
        response = current_app.json.response({"ok": False, "database": "error"})
        response.status_code = 503
    else:
        response = current_app.json.response({"ok": True, "database": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return cast(Response, response)  # the provider builds current_app.response_class
