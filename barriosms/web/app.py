"""The WSGI application: Flask, with the website's pages and the Open311 GeoReport v2 API.

It shares the database with the daemon and the CLI and never touches the modem: an SMS it wants
sent (a tracking number for a web report) goes into the outbox, and the daemon sends it.
Every answer carries the security headers; bad input gets a 4xx in plain Spanish (JSON errors as
Open311 defines them under /open311), never a 5xx.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import cast
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, redirect, render_template, request
from flask.json.provider import DefaultJSONProvider
from peewee import DatabaseError as PeeweeDatabaseError
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from barriosms.cases.learning import with_learning
from barriosms.config import Settings
from barriosms.pipeline.intake import rules_from_settings
from barriosms.store import database as store
from barriosms.store.models import database
from barriosms.web import assets, open311, pages, staffauth, staffcases, staffreports  # noqa: F401 - staffcases, staffreports add routes
from barriosms.web import staff as staff_pages
from barriosms.web.context import WebContext
from barriosms.web.security import FormTokens, SubmissionLimiter, security_headers, site_secret

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # a report is a few lines; anything bigger is refused with 413


SITES = ("public", "staff")


def create_app(settings: Settings, *, open_db: bool = True, site: str = "public") -> Flask:
    """The application for `settings`; opens the database (schema checked) unless told not to.

    site "public": the website, Open311, and the back-office under /personal/ to [staff] networks
    (unless it has its own address, [staff] listen, or is disabled); "staff": only the back-office
    (its pages and the static files), for the listener on [staff] listen.
    """
    if site not in SITES:
        raise ValueError(f"site must be one of {', '.join(SITES)}, not {site!r}")
    if open_db:
        store.open_database(settings.database.target)
    app = Flask(__name__, static_folder=None)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_MEMORY_SIZE=MAX_BODY,
        MAX_FORM_PARTS=50,
        JSON_SORT_KEYS=False,
        TEMPLATES_AUTO_RELOAD=False,
    )
    # werkzeug answers "//casos" or "/casos/" with a redirect to an absolute address built from
    # the Host header, which a client chooses: without these redirects such a path is a 404.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.url_map.redirect_defaults = False
    json_provider = cast(DefaultJSONProvider, app.json)  # Flask's default, typed as its base class
    json_provider.ensure_ascii = False
    json_provider.sort_keys = False
    web = settings.web
    staff = settings.staff
    staff_gate = "none" if not staff.enabled else ("all" if site == "staff" else (
        "networks" if staff.listen is None else "none"))
    app.extensions["barriosms"] = WebContext(
        settings=settings,
        # The model learnt from staff's corrections as the site starts (the daemon relearns nightly).
        rules=with_learning(rules_from_settings(settings)) if open_db else rules_from_settings(settings),
        tokens=FormTokens(site_secret()),
        limiter=SubmissionLimiter(web.submissions_per_hour, web.submissions_per_day),
        staff_gate=staff_gate,
        login_tokens=FormTokens(site_secret(), form="entrar") if open_db and staff_gate != "none" else None,
    )
    if web.trusted_proxies:
        # request.remote_addr becomes the address the Nth proxy from us saw (the Nth entry from
        # the right of X-Forwarded-For; entries further left are whatever the client wrote), so
        # submission limits count the resident. Without proxies the header is ignored: a client
        # could otherwise choose the address it is counted under.
        # X-Forwarded-Proto too: the back-office marks its session cookie Secure when the proxy
        # says the browser used HTTPS (the documented nginx set-up sets it). Not the host: the
        # site never builds an address from it (links are relative, [web] public_url for the
        # rest), the Origin check compares the Host the proxy passes through, and the documented
        # set-up does not overwrite X-Forwarded-Host, so believing it would believe the client.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=web.trusted_proxies,  # type: ignore[method-assign]
                                x_proto=web.trusted_proxies, x_host=0, x_port=0, x_prefix=0)
    headers = security_headers(web.tile_url)
    follow_file = _FileFollower(None if settings.database.url else settings.database.path)

    @app.before_request
    def _connect_and_check_input():
        follow_file()
        # peewee keeps one connection per thread; waitress's threads live long, so reuse it.
        database.connect(reuse_if_open=True)
        _refuse_malformed_input()

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store" if request.method != "GET" else "no-cache"
        return response

    @app.teardown_request
    def _drop_broken_connection(exc):
        if exc is not None and not database.is_closed():
            # A failed request may have left the connection unusable (a PostgreSQL restart):
            # the next request on this thread opens a fresh one.
            try:
                database.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                pass

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return _error_response(exc.code or 500, _spanish(exc))

    @app.errorhandler(PeeweeDatabaseError)
    def _database_down(exc: Exception):
        log.error("the website cannot use the database %s: %s; check that it is reachable "
                  "(`barriosms doctor`)", store.describe(), str(exc).strip() or type(exc).__name__)
        response = _error_response(503, "El sistema no está disponible en este momento. Intente otra vez "
                                        "en unos minutos.")
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(Exception)
    def _crash(exc: Exception):
        log.exception("the website failed on %s %s", request.method, request.path)
        return _error_response(500, "Ocurrió un error en el servidor. Intente otra vez en unos minutos.")

    if site == "public":
        app.register_blueprint(pages.blueprint)
        app.register_blueprint(open311.blueprint, url_prefix="/open311")
    else:
        app.register_blueprint(assets.blueprint)
        app.add_url_rule("/", "to_staff", lambda: redirect(staffauth.HOME, code=303))
    if staff_gate != "none":
        app.register_blueprint(staff_pages.blueprint)
    return app


class _FileFollower:
    """Reopen this thread's SQLite connection when the database file was replaced.

    `barriosms restore` puts a backup in place under the same name (a new file): a long-lived
    connection would go on reading the old one. One stat per request notices it.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self._local = threading.local()

    def __call__(self) -> None:
        if self.path is None:
            return
        try:
            inode = os.stat(self.path).st_ino
        except OSError:
            return  # the open connection answers, or the request fails with the real error
        seen = getattr(self._local, "inode", None)
        if seen is not None and seen != inode and not database.is_closed():
            log.info("the database file %s was replaced (a restore?): reopening it", self.path)
            database.close()
        self._local.inode = inode


def _refuse_malformed_input() -> None:
    """Invalid UTF-8 or NUL characters anywhere in the query or the form: 400, before any handler."""
    raw_query = request.query_string
    try:
        unquote_to_bytes(raw_query.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("La dirección tiene caracteres no válidos.") from None
    if request.method in ("POST", "PUT", "PATCH"):
        ctype = request.mimetype
        if ctype == "application/x-www-form-urlencoded":
            body = request.get_data(cache=True)
            try:
                unquote_to_bytes(body.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest("El formulario tiene caracteres no válidos (no es UTF-8).") from None
        elif ctype not in ("multipart/form-data", ""):
            raise BadRequest("Envíe el formulario como application/x-www-form-urlencoded.")
    sources = [request.args] + ([request.form] if request.method in ("POST", "PUT", "PATCH") else [])
    for values in sources:
        for key, value in values.items(multi=True):
            # A multipart part whose name werkzeug cannot read (a CR inside it) comes as key None.
            if not isinstance(key, str) or not isinstance(value, str) or any(
                    bad in text for bad in ("\x00", "\ufffd") for text in (key, value)):
                raise BadRequest("El formulario tiene caracteres no válidos.")


_SPANISH = {
    400: "La solicitud no es válida.",
    403: "No se puede hacer esto desde aquí.",
    404: "No encontramos esta página.",
    405: "Este método no se usa aquí.",
    413: "Lo enviado es demasiado grande.",
    415: "Formato no aceptado.",
    429: "Demasiados envíos desde esta conexión. Espere un rato y vuelva a intentar.",
}


def _spanish(exc: HTTPException) -> str:
    # Our own aborts carry a Spanish description; werkzeug's defaults are English.
    own = exc.description if exc.description and exc.description != type(exc).description else ""
    return own or _SPANISH.get(exc.code or 500, "Ocurrió un error.")


def _error_response(code: int, message: str):
    if request.path.startswith("/open311/"):
        return open311.error_response(code, message)
    if request.path.startswith(f"{staffauth.PREFIX}/api/"):
        return Response(json.dumps({"error": message}, ensure_ascii=False), status=code, mimetype="application/json")
    try:
        body = render_template("error.html", code=code, message=message)
    except Exception:  # noqa: BLE001 - the error page itself must never fail
        body = f"<!doctype html><meta charset=utf-8><title>Error {code}</title><p>{code}: error</p>"
    return Response(body, status=code, mimetype="text/html")
