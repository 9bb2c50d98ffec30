"""The back-office's case page, /personal/caso/<numero>, and what staff do there.

The page shows the case, its reporters, its point, and one timeline of its history and SMS (the
same `casework.timeline` as `cases show`). Each action is a POST form with the session's CSRF
token, done by the same service function as the CLI command (cases.casework, cases.editing,
pipeline.conversations), recorded in the audit trail with the account, and followed by a 303 back
to the page saying what was done and how many SMS were queued. Each form says beforehand how
many SMS it will send and to whom.

Actions (POST /personal/caso/<numero>/<accion>): estado, nota, asignar, preguntar, mensaje, unir,
corregir.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from flask import Response, abort, redirect, render_template, request

from barriosms.cases import casework, editing
from barriosms.cases.reporters import reach
from barriosms.domain.roles import may
from barriosms.domain.statuses import STATUSES, TRANSITIONS, UnknownStatus, is_status, parse_status
from barriosms.pipeline import conversations
from barriosms.staff import audit
from barriosms.store.models import Case, Neighborhood
from barriosms.web import staffauth
from barriosms.web.context import context
from barriosms.web.staff import STATUS_LABEL, blueprint
from barriosms.web.staffauth import account, staff_only

log = logging.getLogger(__name__)

MAX_NOTE = 1000  # a note is a few lines; a public one must fit an SMS anyway (the service says so)

DONE = {"estado": "Estado cambiado", "nota": "Nota agregada", "asignar": "Asignación guardada",
        "preguntar": "Pregunta enviada", "mensaje": "Mensaje enviado", "unir": "Caso unido",
        "corregir": "Corrección guardada", "nada": "No había nada que cambiar", "abierto": "Caso abierto"}
# An SMS's state (outbox status, then the network's delivery report) as the office says it.
SMS_LABEL = {"queued": "en cola", "sending": "enviándose", "sent": "enviado", "failed": "falló",
             "pending": "entrega pendiente", "delivered": "entregado", "undelivered": "no entregado"}
KIND_LABEL = {"created": "caso abierto", "status": "estado", "note": "nota", "assign": "asignación",
              "merge": "unido a otro caso", "merged_from": "se le unió un caso", "reopen": "reabierto",
              "reporter": "otro vecino reportó lo mismo", "correction": "corrección", "question": "pregunta al vecino",
              "message": "mensaje al vecino", "answer": "respuesta del vecino"}


# The services word their refusals for the technician, in English; staff read them in Spanish. A
# refusal not listed here is shown as the service wrote it, after "No se pudo".
_SPANISH_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), es) for p, es in (
    (r"a case that is (\w+) cannot go to (\w+); a case that is \w+ can go to: (.*)$",
     "un caso {0} no puede pasar a {1}; puede pasar a: {2}."),
    (r"already (\w+)(?: \(|$)", "el caso ya está {0}."),
    (r"the (?:question|message) is (\d+) characters, (\d+) too many: .* at most (\d+) fit",
     "el texto tiene {0} caracteres, {1} de más: caben {2} en un SMS con el número del caso. Acórtelo."),
    (r"the (?:note|question|message) is empty", "escriba el texto."),
    (r"was merged into (\d+)", "el caso fue unido al caso {0}: trabaje en ese caso."),
    (r"no reporter can receive an SMS", "ningún vecino de este caso puede recibir SMS; no se envió nada."),
    (r"is already assigned to (.+)$", "el caso ya está asignado a {0}."),
    (r"cannot be merged into itself", "un caso no se puede unir consigo mismo."),
    (r"case (\d+) is (\w+): merge into an open case", "el caso {0} está {1}: únalo a un caso abierto, o "
                                                       "reábralo antes."),
    (r"no case with tracking number (\S+)", "no hay ningún caso con el número {0}."),
    (r"unknown neighbourhood code '([^']*)'", "no hay ningún barrio con el código «{0}»."),
    (r"unknown category '([^']*)'", "no existe la categoría «{0}»."),
))


def spanish_error(err: Exception) -> str:
    """A service's refusal as staff read it on the page."""
    text = str(err)
    for pattern, spanish in _SPANISH_ERRORS:
        found = pattern.search(text)
        if found:
            groups = [", ".join(STATUS_LABEL.get(w.strip(), w.strip()) for w in g.split(",")) for g in found.groups()]
            return "No se pudo: " + spanish.format(*groups)
    return f"No se pudo: {text}"


def _tracking(numero: str) -> str:
    digits = numero.strip()
    if not (digits.isascii() and digits.isdigit() and 5 <= len(digits) <= 12):
        abort(404, description=f"No hay ningún caso con el número {digits[:20]}.")
    return digits


def _case(numero: str) -> Case:
    try:
        return casework.find_case(_tracking(numero))
    except casework.CaseError:
        abort(404, description=f"No hay ningún caso con el número {numero[:20]}.")


def _page(case: Case, *, error: str = "", status: int = 200) -> Response:
    ctx = context()
    region = ctx.settings.gateway.region
    events = casework.history(case)
    inbound, outbound = casework.messages(case)
    people = casework.reporters(case)
    reached, skipped = reach(people, region)
    asked = conversations.conversation(case)
    if case.unseen_replies and staffauth.current() is not None and _may_act():
        conversations.mark_seen(case)  # a viewer's look does not count as staff having seen them
    old = case.status
    next_statuses = [s for s in STATUSES if is_status(old) and s in TRANSITIONS[old]]
    body = render_template(
        "personal/caso.html", caso=case, linea=casework.timeline(events, inbound, outbound), vecinos=people,
        alcanzados=reached, sin_sms=skipped, preguntas=asked, siguientes=[(s, STATUS_LABEL[s]) for s in next_statuses],
        categorias=list(ctx.categories.names), barrios=list(Neighborhood.select().order_by(Neighborhood.code).limit(2000)),
        hecho=DONE.get(request.args.get("hecho", ""), ""), sms=request.args.get("sms", ""), error=error,
        tipos=KIND_LABEL, sms_es=SMS_LABEL, unido_a=case.merged_into.tracking if case.merged_into_id else "", seccion="bandeja")
    return Response(body, status=status, mimetype="text/html")


def _may_act() -> bool:
    return may(account().role, "cases")


@blueprint.route("/caso/<numero>")
@staff_only("read")
def case_page(numero: str):
    return _page(_case(numero))


def _text(name: str) -> str:
    value = request.form.get(name, "")
    if len(value) > MAX_NOTE:
        abort(413, description=f"El texto es demasiado largo (más de {MAX_NOTE} caracteres).")
    return value.strip()


def _act(numero: str, action: str, audit_action: str, work: Callable[[str, audit.Pending], Any]) -> Response:
    """Run one action on a case in one transaction with its audit entry; back to the page."""
    tracking = _tracking(numero)
    who = account().username
    try:
        with audit.recorded(who, "web", audit_action, tracking) as entry:
            queued = work(who, entry)
    except (casework.CaseError, UnknownStatus, ValueError) as err:
        log.info("staff %s: %s on case %s refused: %s", who, action, tracking, err)
        return _page(_case(numero), error=spanish_error(err), status=409)
    done = "nada" if entry.skip else action
    return redirect(f"{staffauth.PREFIX}/caso/{tracking}?hecho={done}&sms={queued}", code=303)  # type: ignore[return-value]


@blueprint.route("/caso/<numero>/estado", methods=["POST"])
@staff_only("cases")
def change_status(numero: str):
    ctx = context()
    try:
        status = parse_status(request.form.get("estado", ""))
    except UnknownStatus:
        abort(400, description="Elija el nuevo estado.")
    note, internal = _text("nota"), _text("nota_interna")

    def work(who: str, entry: audit.Pending) -> int:
        change = casework.change_status(numero.strip(), status, ctx.templates, note=note, internal_note=internal,
                                        actor=who, region=ctx.settings.gateway.region, service=ctx.settings.service)
        entry.detail = f"{change.event.old_status} -> {status}" + (f"; note: {note}" if note else "") + (
            f"; internal note: {internal}" if internal else "")
        return len(change.notifications)

    return _act(numero, "estado", "cases.status", work)


@blueprint.route("/caso/<numero>/nota", methods=["POST"])
@staff_only("cases")
def add_note(numero: str):
    ctx = context()
    text, internal = _text("texto"), request.form.get("interna") == "1"
    if not text:
        abort(400, description="Escriba la nota.")

    def work(who: str, entry: audit.Pending) -> int:
        change = casework.add_note(numero.strip(), text, ctx.templates, public=not internal, actor=who,
                                   region=ctx.settings.gateway.region)
        entry.detail = f"{'internal' if internal else 'public'}: {text}"
        return len(change.notifications)

    return _act(numero, "nota", "cases.note", work)


@blueprint.route("/caso/<numero>/asignar", methods=["POST"])
@staff_only("cases")
def assign(numero: str):
    assignee = _text("a")[:120]

    def work(who: str, entry: audit.Pending) -> int:
        change = casework.assign(numero.strip(), assignee, actor=who)
        entry.detail = change.case.assignee or "(nobody)"
        return 0

    return _act(numero, "asignar", "cases.assign", work)


def _ask(numero: str, kind: str) -> Response:
    ctx = context()
    text = _text("texto")
    if not text:
        abort(400, description="Escriba el texto para el vecino.")

    def work(who: str, entry: audit.Pending) -> int:
        asked = conversations.ask(numero.strip(), text, ctx.templates, ctx.settings.service, actor=who,
                                  region=ctx.settings.gateway.region, kind=kind)
        entry.detail = text
        return len(asked.notifications)

    return _act(numero, "preguntar" if kind == "question" else "mensaje",
                "cases.ask" if kind == "question" else "cases.message", work)


@blueprint.route("/caso/<numero>/preguntar", methods=["POST"])
@staff_only("cases")
def ask(numero: str):
    return _ask(numero, "question")


@blueprint.route("/caso/<numero>/mensaje", methods=["POST"])
@staff_only("cases")
def message(numero: str):
    return _ask(numero, "message")


@blueprint.route("/caso/<numero>/unir", methods=["POST"])
@staff_only("cases")
def merge(numero: str):
    ctx = context()
    into = "".join(c for c in request.form.get("en", "") if c not in " .-")[:20]
    if not into:
        abort(400, description="Escriba el número del caso que queda.")

    def work(who: str, entry: audit.Pending) -> int:
        change = casework.merge(numero.strip(), into, ctx.templates, actor=who, region=ctx.settings.gateway.region)
        entry.detail = f"into {change.case.merged_into.tracking}"
        return len(change.notifications)

    return _act(numero, "unir", "cases.merge", work)


@blueprint.route("/caso/<numero>/corregir", methods=["POST"])
@staff_only("cases")
def correct(numero: str):
    ctx = context()
    case = _case(numero)
    category = request.form.get("categoria", "").strip() or None
    code = request.form.get("barrio", "").strip() or None
    category = None if category == case.category else category
    code = None if code and code.upper() == case.neighborhood.code else code
    note, notify = _text("nota"), request.form.get("avisar") == "1"
    if category is None and code is None:
        return redirect(f"{staffauth.PREFIX}/caso/{case.tracking}?hecho=nada", code=303)

    def work(who: str, entry: audit.Pending) -> int:
        done = editing.edit_case(case.tracking, ctx.templates, ctx.categories, category=category, neighborhood=code,
                                 note=note, notify=notify, actor=who, region=ctx.settings.gateway.region)
        entry.detail = "; ".join(c.describe() for c in done.changes) + (f"; note: {note}" if note else "")
        entry.skip = not done.changed
        return len(done.notifications)

    return _act(numero, "corregir", "cases.edit", work)
