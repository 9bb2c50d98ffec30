"""The staff back-office, /personal/: logging in and out, the Bandeja (the day's work), triage.

Spanish, server-rendered, usable without JavaScript. Every route but the login is wrapped by
staffauth.staff_only (session, CSRF token, role). The work is done by the same service functions
as the CLI (cases.casework, staff.inbox, ...), with the account as the actor and "web" as the
source of the audit entry. The case page and its actions are in staffcases.py; the reports,
the outbox, the modem, the audit trail and the notices to a neighbourhood in staffreports.py.

URLs: /personal/entrar (GET, POST), /personal/salir (POST), /personal/ (?vista=&barrio=&categoria=
&estado=&asignado=&buscar=), /personal/mensaje/<id>/abrir (POST), /personal/api/yo.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request

from barriosms.cases import casework
from barriosms.cases.opening import tracking_lengths
from barriosms.domain import throttle
from barriosms.domain.masking import mask
from barriosms.domain.phones import format_for_display, normalize_typed
from barriosms.domain.roles import may
from barriosms.domain.statuses import OPEN_STATUSES, STATUSES, UnknownStatus, parse_status
from barriosms.domain.tracking import LONGEST, digits_phrase
from barriosms.reporting import public
from barriosms.staff import audit, inbox, logins, sessions
from barriosms.store.models import Case, CaseEvent, Neighborhood
from barriosms.web import assets, pages, staffauth
from barriosms.web.context import context, from_another_site, submitter
from barriosms.web.staffauth import account, staff_only

log = logging.getLogger(__name__)

blueprint = Blueprint("personal", __name__, url_prefix=staffauth.PREFIX)

ROWS = 200  # cases on one Bandeja page: a day's work, not the archive (filters narrow it)

STATUS_LABEL = {"received": "recibido", "reviewing": "en revisión", "in_progress": "en proceso",
                "resolved": "resuelto", "closed": "cerrado", "rejected": "rechazado"}
VIEWS = (("abiertos", "Abiertos"), ("nuevos", "Nuevos"), ("sin_asignar", "Sin asignar"),
         ("esperando", "Esperando al vecino"), ("respuestas", "Respuestas nuevas"), ("reabiertos", "Reabiertos"),
         ("todos", "Todos"))
NAV = ((staffauth.HOME, "Bandeja", "bandeja"), (f"{staffauth.HOME}#mensajes", "Mensajes sin barrio", "mensajes"),
       (f"{staffauth.PREFIX}/difusion", "Difusión", "difusion"), (f"{staffauth.PREFIX}/focos", "Focos", "focos"),
       (f"{staffauth.PREFIX}/estadisticas", "Estadísticas", "estadisticas"),
       (f"{staffauth.PREFIX}/salida", "Salida de SMS", "salida"), (f"{staffauth.PREFIX}/modem", "Módem", "modem"),
       (f"{staffauth.PREFIX}/talleres", "Talleres", "talleres"),
       (f"{staffauth.PREFIX}/auditoria", "Auditoría", "auditoria"))
# The pages of NAV that need more than "read" (staffreports.py): the menu leaves them out for others.
NAV_NEEDS = {"difusion": "broadcast"}


@blueprint.before_request
def _gate() -> None:
    staffauth.gate()


@blueprint.context_processor
def _layout() -> dict[str, Any]:
    ctx = context()
    web = ctx.settings.web
    if not staffauth.admitted():
        # The "not found" page of someone outside [staff] networks says nothing of the back-office.
        return {"site_name": web.site_name, "sms_number": web.sms_number, "asset_url": assets.asset_url,
                "nav": pages.NAV}
    session = staffauth.current()
    return {"site_name": web.site_name, "sms_number": "", "asset_url": assets.asset_url, "nav": _nav(),
            "leaflet_url": assets.leaflet_url, "tiles": web.tile_url, "atribucion": web.tile_attribution,
            "persona": session.account if session else None, "csrf": session.csrf if session else "",
            "rol": staffauth.ROLE_LABEL, "estado_es": STATUS_LABEL, "puede": _may, "etiqueta": ctx.categories.label}


def _nav() -> tuple[tuple[str, str, str], ...]:
    """NAV without the pages this account may not open (all but those of NAV_NEEDS before logging in)."""
    return tuple(item for item in NAV if item[2] not in NAV_NEEDS or _may(NAV_NEEDS[item[2]]))


def _may(action: str) -> bool:
    session = staffauth.current()
    return session is not None and may(session.account.role, action)


blueprint.add_app_template_filter(pages.local_time, "hora_personal")
blueprint.after_request(pages.compress)


def shown_phone(e164: str) -> str:
    """A resident's phone as this account may see it: whole for staff and admins, the last 3
    digits for viewers."""
    if _may("cases"):
        return format_for_display(e164, context().settings.gateway.region)
    digits = [c for c in e164 if c.isdigit()]
    return "•••• " + "".join(digits[-3:]) if digits else "••••"


def shown_text(text: str) -> str:
    """What a resident wrote, with phone numbers and e-mail addresses masked for viewers."""
    return text if _may("cases") else mask(text)


blueprint.add_app_template_filter(shown_phone, "telefono")
blueprint.add_app_template_filter(shown_text, "texto")


# ---------------------------------------------------------------------------------------------
# Logging in and out


def _login_tokens():
    tokens = context().login_tokens
    assert tokens is not None, "the back-office is served without its login tokens"
    return tokens


def _login_page(message: str = "", status: int = 200, username: str = "", retry_after: int = 0) -> Response:
    body = render_template("personal/entrar.html", token=_login_tokens().issue(), mensaje=message,
                           usuario=username, siguiente=staffauth.safe_next(request.values.get("siguiente")))
    response = Response(body, status=status, mimetype="text/html")
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@blueprint.route("/entrar", methods=["GET"])
def login_form():
    if staffauth.current() is not None:
        return redirect(staffauth.safe_next(request.args.get("siguiente")), code=303)
    return _login_page()


@blueprint.route("/entrar", methods=["POST"])
def login():
    form = request.form
    username = form.get("usuario", "")[:200]
    if from_another_site() or _login_tokens().check(form.get("token", "")):
        return _login_page("El formulario venció. Escriba otra vez su usuario y su clave.", 400, username)
    address = submitter()
    outcome = logins.attempt(username, form.get("clave", ""), address=address)
    if outcome.account is None:
        if outcome.retry_after:
            return _login_page(f"Demasiados intentos fallidos. Espere {throttle.spanish_wait(outcome.retry_after)} "
                               "y vuelva a intentar.", 429, username, outcome.retry_after)
        return _login_page("Usuario o clave incorrectos.", 401, username)
    started = sessions.start(outcome.account, idle_minutes=context().settings.staff.session_minutes,
                             address=address, replacing=staffauth.cookie_token())
    log.info("staff %s logged in to the back-office from %s", outcome.account.username, address)
    response = redirect(staffauth.safe_next(form.get("siguiente")), code=303)
    staffauth.set_cookie(response, started.token)  # type: ignore[arg-type]
    return response


@blueprint.route("/salir", methods=["POST"])
@staff_only("read")
def logout():
    who = account().username
    sessions.end(staffauth.cookie_token())
    audit.record(who, "web", "logout", who, submitter())
    response = redirect(staffauth.LOGIN, code=303)
    staffauth.clear_cookie(response)  # type: ignore[arg-type]
    return response


@blueprint.route("/api/yo")
@staff_only("read")
def me():
    who = account()
    return jsonify({"usuario": who.username, "nombre": who.full_name, "rol": who.role})


# ---------------------------------------------------------------------------------------------
# The Bandeja


def _filters() -> dict[str, str]:
    args = request.args
    return {key: args.get(key, "").strip()[:80] for key in ("vista", "barrio", "categoria", "estado", "asignado",
                                                              "buscar")}


def _cases(f: dict[str, str]) -> tuple[list[Case], str]:
    """The cases of the view and filters, newest first, and a problem with a filter (Spanish)."""
    q = Case.select(Case, Neighborhood).join(Neighborhood).order_by(Case.created_at.desc(), Case.id.desc())
    problem = ""
    view = f["vista"] or "abiertos"
    if view != "todos":
        q = q.where(Case.status.in_(sorted(OPEN_STATUSES)), Case.merged_into.is_null())
    if view == "nuevos":
        q = q.where(Case.status == "received")
    elif view == "sin_asignar":
        q = q.where(Case.assignee == "")
    elif view == "esperando":
        q = q.where(Case.awaiting_resident == True)  # noqa: E712
    elif view == "respuestas":
        q = q.where(Case.unseen_replies > 0)
    elif view == "reabiertos":
        q = q.where(Case.id.in_(CaseEvent.select(CaseEvent.case).where(CaseEvent.kind == "reopen")))
    if f["estado"]:
        try:
            q = q.where(Case.status == parse_status(f["estado"]))
        except UnknownStatus:
            problem = f"No existe el estado «{f['estado']}»."
    if f["barrio"]:
        q = q.where(Neighborhood.code == f["barrio"].upper().replace("-", "").replace(" ", ""))
    if f["categoria"]:
        q = q.where(Case.category == f["categoria"].lower())
    if f["asignado"]:
        q = q.where(Case.assignee == ("" if f["asignado"] == "-" else f["asignado"]))
    return list(q.limit(ROWS)), problem


@blueprint.route("/")
@staff_only("read")
def bandeja():
    f = _filters()
    found_phone = ""
    if f["buscar"]:
        target = _search(f["buscar"])
        if isinstance(target, Response):
            return target
        found_phone, problem = target
        if found_phone:
            rows = casework.list_cases(phone=found_phone, limit=ROWS)
            messages = inbox.list_messages(phone=found_phone, limit=50)
        else:
            rows, messages = [], []
    else:
        rows, problem = _cases(f)
        messages = inbox.list_messages(unmatched=True, limit=50)
    counts = {"nuevos": Case.select().where(Case.status == "received", Case.merged_into.is_null()).count(),
              "respuestas": Case.select().where(Case.unseen_replies > 0).count(),
              "mensajes": len(inbox.list_messages(unmatched=True, limit=500))}
    ctx = context()
    return render_template(
        "personal/bandeja.html", casos=rows, mensajes=messages, filtros=f, problema=problem, vistas=VIEWS,
        vista=f["vista"] or "abiertos", cuentas=counts, buscado=found_phone, limite=ROWS,
        barrios=list(Neighborhood.select().order_by(Neighborhood.code).limit(2000)),
        categorias=list(ctx.categories.names),
        estados=[(s, STATUS_LABEL[s]) for s in STATUSES], seccion="bandeja")


def _search(typed: str) -> Response | tuple[str, str]:
    """A tracking number opens its case; a phone (any format) lists what it sent; else a problem."""
    digits = "".join(c for c in typed if c not in " .-")
    if digits.isascii() and digits.isdigit() and len(digits) <= LONGEST and not typed.strip().startswith("+"):
        try:
            tracking = public.check_tracking(typed)
        except public.NotFound as err:
            if len(digits) == 7:
                return "", err.message
        else:
            if Case.select().where(Case.tracking == tracking).exists():
                return redirect(f"{staffauth.PREFIX}/caso/{tracking}", code=303)  # type: ignore[return-value]
            return "", f"No hay ningún caso con el número {tracking}."
    phone = normalize_typed(typed, context().settings.gateway.region)
    if phone is None:
        return "", (f"Escriba un número de seguimiento ({digits_phrase(tracking_lengths())} cifras) o un "
                    "teléfono, como lo dicte el vecino.")
    return phone, ""


# ---------------------------------------------------------------------------------------------
# Triage: a message without a neighbourhood becomes a case


@blueprint.route("/mensaje/<int:message_id>/abrir", methods=["POST"])
@staff_only("inbox")
def open_from_message(message_id: int):
    if message_id > 2**62:
        abort(404)
    ctx = context()
    code = request.form.get("barrio", "").strip()
    category = request.form.get("categoria", "").strip() or None
    if not code:
        abort(400, description="Elija el barrio del mensaje.")
    who = account().username
    try:
        with audit.recorded(who, "web", "inbox.assign", str(message_id)) as entry:
            assigned = inbox.route(message_id, code, ctx.rules, category=category, actor=who)
            entry.detail = f"case {assigned.case.tracking}"
    except inbox.InboxError as err:
        abort(409, description=f"No se pudo abrir el caso: {err}")
    except casework.CaseError as err:
        abort(400, description=f"No se pudo abrir el caso: {err}")
    except LookupError as err:
        abort(400, description=f"No se pudo abrir el caso: {err}")
    sent = 1 if assigned.reply is not None else 0
    return redirect(f"{staffauth.PREFIX}/caso/{assigned.case.tracking}?hecho=abierto&sms={sent}", code=303)
