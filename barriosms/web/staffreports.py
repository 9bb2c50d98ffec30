"""The back-office's reports and operations pages, and the notice to a neighbourhood (difusión).

Each page reads through the same service function as the CLI command that shows the same thing
(`barriosms report`, `stats`, `outbox list`, `modem status`, `workshop report`, `audit list`), and
the notice is planned and queued by `staff.broadcast` as `barriosms broadcast` does: the plan (how
many SMS, to how many phones, today's budget) is shown first, and a second form confirms it. The
confirmation plans again, so it counts the outbox as it is then (a cost other than the one shown
is shown again, not sent; the same form sent twice queues the notice once), and is recorded in the
audit trail with the account and "web" as the source. The services speak English (their messages are
for the technician); the pages say the same in Spanish.

URLs (under /personal): /difusion (GET, POST), /difusion/confirmar (POST, admin), /focos,
/focos.svg, /estadisticas (?desde=), /salida (?estado=), /modem, /talleres (?desde=),
/auditoria (?usuario=&desde=&accion=).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any, cast

from flask import Response, redirect, render_template, request

from barriosms.cases import outbox
from barriosms.domain.gsm import SMS_SEPTETS
from barriosms.domain.ranking import WAITING_STATUSES
from barriosms.operations import health
from barriosms.pipeline import practice
from barriosms.reporting import mapping, reports
from barriosms.staff import audit, broadcast
from barriosms.store.models import Broadcast, ModemHealth, Neighborhood, OutboundMessage, utcnow
from barriosms.web import pages, staffauth
from barriosms.web.context import context
from barriosms.web.staff import blueprint
from barriosms.web.staffauth import account, staff_only

log = logging.getLogger(__name__)

MAX_NOTICE = 2000  # characters typed; the plan refuses anything over 3 SMS anyway
HOTSPOTS = 100  # rows of the ranking on the page
OUTBOX_ROWS = 200
AUDIT_ROWS = 500
RECENT_NOTICES = 10

# ---------------------------------------------------------------------------------------------
# Shared helpers

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _since(name: str = "desde") -> tuple[str, dt.datetime | None, str]:
    """The day typed in ?desde= as (as typed, local midnight in naive UTC, a problem in Spanish)."""
    typed = request.args.get(name, "").strip()[:40]
    if not typed:
        return "", None, ""
    problem = f"La fecha «{typed}» no es válida: escríbala como AAAA-MM-DD, por ejemplo 2026-11-01."
    if not _DAY.fullmatch(typed):
        return typed, None, problem
    try:
        local = dt.datetime.combine(dt.date.fromisoformat(typed), dt.time(0), tzinfo=context().settings.zone)
        return typed, local.astimezone(dt.UTC).replace(tzinfo=None), ""
    except (ValueError, OverflowError):
        return typed, None, problem


def duration(seconds: float | None) -> str:
    """A time to resolve or confirm, in Spanish: hours up to two days, then days ("-" for none)."""
    if seconds is None:
        return "-"
    hours = seconds / 3600
    return (f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} días").replace(".", ",")


def share(part: float | None) -> str:
    return "-" if part is None else f"{part * 100:.0f} %"


def _page(template: str, status: int = 200, **values: Any) -> Response:
    return Response(render_template(template, **values), status=status, mimetype="text/html")


# ---------------------------------------------------------------------------------------------
# Difusión: a notice to every resident who reported in a neighbourhood (admins)

_TOO_LONG = re.compile(r"the notice is (\d+) characters, (\d+) SMS per resident")


def spanish_error(err: broadcast.BroadcastError, code: str) -> str:
    """What staff.broadcast refused, said in Spanish (its message is for the technician)."""
    text = str(err)
    if text.startswith("no neighbourhood with code"):
        return f"No existe ningún barrio con el código «{code}»."
    if text == "the notice is empty":
        return "Escriba el texto del aviso."
    found = _TOO_LONG.match(text)
    if found:
        return (f"El aviso tiene {found[1]} caracteres: serían {found[2]} SMS por vecino. Acórtelo a "
                f"{broadcast.MAX_PARTS * broadcast.PART_SEPTETS} caracteres como máximo ({SMS_SEPTETS} caben "
                "en un solo SMS).")
    if text.startswith("nobody to tell"):
        return (f"No hay a quién avisar en {code}: ningún vecino que reportó allí puede recibir SMS "
                "(o todos enviaron BAJA).")
    return f"No se pudo enviar el aviso: {text}"


def _notice_fields() -> dict[str, Any]:
    form = request.form
    return {"barrio": form.get("barrio", "").strip()[:40], "texto": form.get("texto", ""),
            "urgente": form.get("urgente") == "1"}


def _difusion(status: int = 200, *, campos: dict[str, Any] | None = None, plan: broadcast.Plan | None = None,
              error: str = "", hecho: Broadcast | None = None) -> Response:
    settings = context().settings
    recent = list(Broadcast.select(Broadcast, Neighborhood).join(Neighborhood)
                  .order_by(Broadcast.created_at.desc(), Broadcast.id.desc()).limit(RECENT_NOTICES))
    return _page("personal/difusion.html", status, campos=campos or {"barrio": "", "texto": "", "urgente": False},
                 plan=plan, error=error, hecho=hecho, recientes=recent, ultimo=_last_notice(),
                 barrios=list(Neighborhood.select().order_by(Neighborhood.code).limit(2000)),
                 cupo=settings.service.daily_sms_budget, silencio=settings.service.quiet_hours,
                 max_caracteres=broadcast.MAX_PARTS * broadcast.PART_SEPTETS, seccion="difusion")


def _plan(fields: dict[str, Any]) -> broadcast.Plan | Response:
    """The plan of the notice in the form, or the form again saying what is wrong (400)."""
    if not fields["barrio"]:
        return _difusion(400, campos=fields, error="Elija el barrio al que va el aviso.")
    if len(fields["texto"]) > MAX_NOTICE:
        return _difusion(400, campos=fields, error=f"El aviso es demasiado largo (más de {MAX_NOTICE} caracteres).")
    settings = context().settings
    try:
        return broadcast.plan(fields["barrio"], fields["texto"], region=settings.gateway.region,
                              daily_budget=settings.service.daily_sms_budget, zone=settings.zone)
    except broadcast.BroadcastError as err:
        return _difusion(400, campos=fields, error=spanish_error(err, fields["barrio"]))


def _last_notice() -> int:
    return Broadcast.select(Broadcast.id).order_by(Broadcast.id.desc()).scalar() or 0


def _sent_since_plan(planned: broadcast.Plan, last: str) -> Broadcast | None:
    """The same notice, to the same neighbourhood, queued after the plan was shown (whose last
    notice was `last`, from the form); None when there is none or the form does not say."""
    if not (last.isascii() and last.isdigit() and len(last) <= 12):
        return None
    return (Broadcast.select().where(Broadcast.id > int(last), Broadcast.neighborhood == planned.neighborhood,
                                     Broadcast.text == planned.text).order_by(Broadcast.id).first())


@blueprint.route("/difusion", methods=["GET"])
@staff_only("broadcast")
def notice_form():
    raw = request.args.get("aviso", "")
    done = None
    if raw.isascii() and raw.isdigit() and len(raw) <= 12:
        done = Broadcast.get_or_none(Broadcast.id == int(raw))
    return _difusion(hecho=done)


@blueprint.route("/difusion", methods=["POST"])
@staff_only("broadcast")
def notice_plan():
    fields = _notice_fields()
    planned = _plan(fields)
    if isinstance(planned, Response):
        return planned
    return _difusion(campos=fields, plan=planned)


@blueprint.route("/difusion/confirmar", methods=["POST"])
@staff_only("broadcast")
def notice_send():
    fields = _notice_fields()
    planned = _plan(fields)
    if isinstance(planned, Response):
        return planned
    if request.form.get("confirmar") != "1":
        return _difusion(400, campos=fields, plan=planned,
                         error="El aviso no se envió: confírmelo con el botón «Enviar el aviso».")
    shown = request.form.get("costo", "")
    if shown and shown != str(planned.cost):
        # The outbox or the residents changed since the plan was shown: show the new one first.
        return _difusion(409, campos=fields, plan=planned,
                         error=f"El aviso no se envió: ahora serían {planned.cost} SMS, no {shown[:12]}. "
                               "Revise el plan y confirme otra vez.")
    twin = _sent_since_plan(planned, request.form.get("ultimo", ""))
    if twin is not None:
        # The same form sent twice (a double click, a reload): the notice is already queued.
        return _difusion(409, campos=fields, hecho=twin,
                         error=f"Este aviso ya está en cola (aviso {twin.id}, de {twin.actor or '-'}): no se envió otra vez.")
    who = account().username
    urgent = fields["urgente"]
    try:
        with audit.recorded(who, "web", "broadcast", planned.neighborhood.code) as entry:
            sent = broadcast.send(planned, urgent=urgent, actor=who)
            entry.detail = (f"notice {sent.id}{' (urgent)' if urgent else ''}: {planned.cost} SMS to "
                            f"{len(planned.recipients)} resident(s): {planned.text}")
    except broadcast.BroadcastError as err:
        log.info("staff %s: notice to %s refused: %s", who, planned.neighborhood.code, err)
        return _difusion(409, campos=fields, plan=planned, error=spanish_error(err, planned.neighborhood.code))
    return redirect(f"{staffauth.PREFIX}/difusion?aviso={sent.id}", code=303)


# ---------------------------------------------------------------------------------------------
# Focos: the ranking of what to attend first, the counts per neighbourhood and their map


def _districts() -> list[str]:
    rows = cast("list[tuple[str]]", list(Neighborhood.select(Neighborhood.district).distinct().tuples()))
    return sorted({d for (d,) in rows if d})


@blueprint.route("/focos")
@staff_only("read")
def hotspots_page():
    district = request.args.get("distrito", "").strip()[:80]
    problem = ""
    try:
        spots = reports.hotspots(utcnow(), district=district or None, limit=HOTSPOTS)
    except reports.ReportError:
        spots, problem = [], f"Ningún barrio es del distrito «{district}»."
    counts = reports.hood_counts(WAITING_STATUSES)
    return _page("personal/focos.html", focos=spots, distrito=district, distritos=_districts(), problema=problem,
                 conteos=[c for c in counts if c.count], sin_coordenadas=[c for c in counts if not c.located],
                 limite=HOTSPOTS, seccion="focos")


# The map's few fixed words (reporting.mapping writes them in English for the CLI's file).
_MAP_WORDS = ((">Circle area: number of ", ">Área del círculo: número de "), (">none</text>", ">sin casos</text>"),
              (">Not drawn (no coordinates): ", ">Sin dibujar (sin coordenadas): "))
# The SVG is an image: its own <style>, nothing else (no script, nothing from elsewhere).
_SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


@blueprint.route("/focos.svg")
@staff_only("read")
def hotspots_map():
    settings = context().settings
    svg = mapping.render_svg(reports.hood_counts(WAITING_STATUSES), title="Casos abiertos por barrio",
                             subtitle=f"{pages.local_time(utcnow())} ({settings.gateway.timezone})",
                             noun="casos abiertos")
    for english, spanish in _MAP_WORDS:
        svg = svg.replace(english, spanish)
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = _SVG_POLICY
    return response


# ---------------------------------------------------------------------------------------------
# Estadísticas


@blueprint.route("/estadisticas")
@staff_only("read")
def stats_page():
    typed, since, problem = _since()
    s = reports.stats(since)
    return _page("personal/estadisticas.html", s=s, desde=typed, problema=problem, duracion=duration,
                 porcentaje=share, seccion="estadisticas")


# ---------------------------------------------------------------------------------------------
# Salida de SMS: the outbox

OUTBOX_STATUS = {"queued": "en cola", "sending": "enviándose", "sent": "enviado", "failed": "falló"}
OUTBOX_VIEWS = (("pendientes", "Pendientes y fallidos"), ("queued", "En cola"), ("sending", "Enviándose"),
                ("failed", "Fallidos"), ("sent", "Enviados"), ("todos", "Todos"))
KIND_LABEL = {"reply": "respuesta", "status_update": "cambio de estado", "note": "nota", "merged": "caso unido",
              "broadcast": "difusión", "correction": "corrección", "question": "pregunta", "message": "mensaje",
              "survey": "encuesta"}
_QUIET = re.compile(r"quiet hours \((.+)\) until ([0-9]{2}:[0-9]{2})")
_BUDGET = re.compile(r"daily SMS budget of ([0-9]+) used up; waits until ([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2})")


def spanish_hold(reason: str) -> str:
    """Why a queued SMS waits (pipeline.sendpolicy says it in English), in Spanish."""
    found = _QUIET.fullmatch(reason)
    if found:
        return f"horario de silencio ({found[1]}): sale a las {found[2]}"
    found = _BUDGET.fullmatch(reason)
    if found:
        day = dt.datetime.strptime(found[2], "%Y-%m-%d %H:%M")
        return f"se agotó el cupo diario de {found[1]} SMS: sale desde el {day:%d/%m/%Y %H:%M}"
    return reason


def _outbox(view: str) -> list[OutboundMessage]:
    if view == "todos":
        return outbox.list_messages(None, OUTBOX_ROWS)
    if view in outbox.STATUSES:
        return outbox.list_messages(view, OUTBOX_ROWS)
    waiting = [m for status in ("queued", "sending", "failed") for m in outbox.list_messages(status, OUTBOX_ROWS)]
    return sorted(waiting, key=lambda m: m.id, reverse=True)[:OUTBOX_ROWS]


@blueprint.route("/salida")
@staff_only("read")
def outbox_page():
    view = request.args.get("estado", "").strip()[:40]
    problem = ""
    if view and view not in dict(OUTBOX_VIEWS):
        problem, view = f"No existe la vista «{view}»: se muestran los pendientes y fallidos.", ""
    view = view or "pendientes"
    return _page("personal/salida.html", mensajes=_outbox(view), vista=view, vistas=OUTBOX_VIEWS, problema=problem,
                 estados=OUTBOX_STATUS, tipos=KIND_LABEL, retenido=spanish_hold, ahora=utcnow(), limite=OUTBOX_ROWS,
                 seccion="salida")


# ---------------------------------------------------------------------------------------------
# Módem: each modem's health as the daemon last wrote it (never touches the modem)

def _decimal(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


MODEM_STATE = {
    "ok": "Conectado",
    "modem_down": "Sin conexión con el módem",
    "no_daemon": "El servicio no está funcionando",
    "never_started": "El servicio nunca funcionó con esta base de datos",
}


def spanish_problems(row: ModemHealth | None, verdict: health.Assessment, warn: float | None) -> list[str]:
    """What `health.assess` found, in Spanish (it judged; this only says it)."""
    if verdict.state == "never_started":
        return ["El servicio (daemon) nunca se inició con esta base de datos: inícielo (systemctl start barriosms)."]
    if verdict.state == "no_daemon":
        return [f"No hay latido desde hace {verdict.heartbeat_age or 0:.0f} s: el servicio no está funcionando o "
                "está trabado. Revise `systemctl status barriosms` y `journalctl -u barriosms`."]
    if verdict.state == "modem_down":
        return ["El módem no está conectado: revise el USB, la SIM y el puerto en [modem] device "
                "(`barriosms modem detect` lista los puertos)."]
    said = []
    for problem in verdict.problems:
        if row is not None and problem.startswith("the SIM is full"):
            said.append(f"La SIM está llena ({row.sim_used}/{row.sim_total}): los SMS nuevos esperan en el operador.")
        elif row is not None and problem.startswith("very weak signal"):
            said.append(f"Señal muy débil ({row.signal_percent} %): mueva el módem o use un cable USB de extensión.")
        elif row is not None and row.balance is not None and warn is not None and problem.startswith("SIM credit is low"):
            said.append(f"Queda poco saldo en la SIM: {_decimal(row.balance)} (aviso por debajo de {_decimal(warn)}). "
                        "Recárguela o las respuestas dejarán de salir.")
        else:
            said.append(problem)
    return said


@blueprint.route("/modem")
@staff_only("read")
def modem_page():
    settings = context().settings
    names = [m.name for m in settings.all_modems]
    warn = settings.gateway.balance_warn_below
    modems = []
    rows = [(name, row, "") for name, row in health.configured(settings)]  # as `barriosms modem status` reads them
    if settings.database.shared:  # the other gateways on the database, as `modem status` shows them too
        rows += [(row.name, row, row.host or "?") for row in health.others(names)]
    several = len(rows) > 1
    for name, row, elsewhere in rows:
        verdict = health.assess(row, settings.gateway.heartbeat_seconds, balance_warn_below=warn)
        modems.append({"nombre": name, "fila": row, "estado": verdict.state, "otra_maquina": elsewhere,
                       "estado_es": MODEM_STATE.get(verdict.state, verdict.state),
                       "latido": verdict.heartbeat_age, "problemas": spanish_problems(row, verdict, warn)})
    return _page("personal/modem.html", modems=modems, varios=several, seccion="modem")


# ---------------------------------------------------------------------------------------------
# Talleres: the practice of workshops (PRUEBA ...)

PRACTICE_PROBLEM = {
    "missing_neighborhood": "sin barrio", "missing_description": "sin descripción",
    "unknown_code": "código de barrio que no existe", "ambiguous": "barrio ambiguo",
    "invalid_tracking": "número de seguimiento no válido", "unknown_tracking": "número de seguimiento que no existe",
    "help": "pidió ayuda", "empty": "vacío", "courtesy": "cortesía (gracias, ok)",
}


def _problems(row: practice.PhoneRow) -> str:
    ordered = sorted(row.problems.items(), key=lambda p: (-p[1], p[0]))
    return ", ".join(f"{PRACTICE_PROBLEM.get(outcome, outcome)}: {n}" for outcome, n in ordered)


@blueprint.route("/talleres")
@staff_only("read")
def workshop_page():
    typed, since, problem = _since()
    rows = practice.workshop_report(since)
    return _page("personal/talleres.html", filas=rows, desde=typed, problema=problem, problemas=_problems,
                 seccion="talleres")


# ---------------------------------------------------------------------------------------------
# Auditoría


@blueprint.route("/auditoria")
@staff_only("read")
def audit_page():
    typed, since, problem = _since()
    user = request.args.get("usuario", "").strip()[:120]
    action = request.args.get("accion", "").strip()[:120]
    rows = audit.entries(actor=user or None, since=since, action=action or None, limit=AUDIT_ROWS)
    return _page("personal/auditoria.html", entradas=rows, usuario=user, accion=action, desde=typed,
                 problema=problem, limite=AUDIT_ROWS, seccion="auditoria")
