"""Reports that arrive through the website or the Open311 API instead of an SMS.

The same case as an SMS report opens (tracking number, category, reporters, history), only the
neighbourhood and category come from form fields. A phone given for updates becomes a reporter,
so it gets the tracking number by SMS now and every status change later, through the outbox
(the website never touches the modem). A form's one-time token makes a double submit return the
case the first submit opened.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass

from barriosms.cases import lookup, outbox, subscribers
from barriosms.cases.lookup import NeighborhoodAmbiguous, NeighborhoodNotFound
from barriosms.cases.opening import open_case
from barriosms.cases.reporters import add_reporter
from barriosms.domain.inputs import degrees
from barriosms.domain.phones import is_replyable, normalize_sender
from barriosms.store.models import Case, CaseEvent, Neighborhood, OutboundMessage, WebSubmission, utcnow, write_tx
from barriosms.templates.rules import IntakeRules

log = logging.getLogger(__name__)

MAX_DESCRIPTION = 1000  # characters; a report is a few sentences, not an essay
MIN_DESCRIPTION = 5
CHANNELS = ("web", "open311")


class ReportError(Exception):
    """A field the resident must correct: `field` names it, `message` says what to do, in Spanish.

    `choices` lists (code, name) when the neighbourhood was ambiguous, so a form can offer them.
    """

    def __init__(self, field: str, message: str, choices: tuple[tuple[str, str], ...] = ()):
        super().__init__(message)
        self.field = field
        self.message = message
        self.choices = choices


@dataclass(frozen=True)
class WebReport:
    """What a form or an Open311 client sent, as text (nothing validated yet)."""

    neighborhood: str
    description: str
    category: str = ""
    phone: str = ""
    lat: str = ""
    lon: str = ""


@dataclass(frozen=True)
class Submitted:
    """The case a submission opened (or had opened: `created` False for a repeated token).

    sms: "queued" (the tracking number goes out by SMS), "" (no phone given), or why not:
    "opted_out", "phone_budget".
    """

    case: Case
    created: bool
    sms: str


def typed_neighborhood(text: str) -> Neighborhood:
    """The neighbourhood a resident typed, by code or by name (typos forgiven as for SMS)."""
    text = " ".join(text.split())
    if not text:
        raise ReportError("neighborhood", "Escriba el nombre o el código de su barrio.")
    if len(text) > 100:
        raise ReportError("neighborhood", "El barrio es demasiado largo: escriba solo su nombre o código.")
    try:
        return lookup.find_neighborhood(text)
    except NeighborhoodNotFound:
        raise ReportError("neighborhood", f"No encontramos el barrio \"{text}\". Revise el nombre o busque su "
                                          "código en la lista de barrios.") from None
    except NeighborhoodAmbiguous as exc:
        raise ReportError("neighborhood", "Hay varios barrios con ese nombre: elija uno por su código ("
                          + ", ".join(f"{c} {name}" for c, name in exc.choices) + ").", exc.choices) from None


def _coordinate(raw: str, low: float, high: float, field: str) -> float | None:
    if not raw.strip():
        return None
    value = degrees(raw, low, high)  # ASCII decimals only: float() would take "٣", "1_0" or "nan"
    if value is None:
        raise ReportError(field, "El punto del mapa no es válido: márquelo otra vez o deje el mapa vacío.")
    return value


def validate(report: WebReport, rules: IntakeRules) -> tuple[Neighborhood, str, str, str, float | None, float | None]:
    """Check every field; the first problem raises ReportError. Returns the values to store."""
    hood = typed_neighborhood(report.neighborhood)
    description = " ".join(report.description.split())
    if len(description) < MIN_DESCRIPTION:
        raise ReportError("description", "Cuente cuál es el problema y dónde está (por ejemplo: hay un bache "
                                         "grande en la calle 3).")
    if len(description) > MAX_DESCRIPTION:
        raise ReportError("description", f"La descripción es demasiado larga ({len(description)} letras): "
                                         f"use como máximo {MAX_DESCRIPTION}.")
    category = report.category.strip().lower()
    if category and category not in rules.categories.names:
        raise ReportError("category", "Elija un tipo de problema de la lista.")
    phone = ""
    if report.phone.strip():
        phone = normalize_sender(report.phone, rules.region)
        if not is_replyable(phone, rules.region):
            raise ReportError("phone", "El teléfono no es válido: escriba un celular como 71234567, o deje el "
                                       "campo vacío.")
    lat = _coordinate(report.lat, -90, 90, "lat")
    lon = _coordinate(report.lon, -180, 180, "lon")
    if (lat is None) != (lon is None):
        raise ReportError("lat", "El punto del mapa no es válido: márquelo otra vez o deje el mapa vacío.")
    return hood, description, category, phone, lat, lon


def _sms_budget_left(phone: str, rules: IntakeRules, now: dt.datetime) -> bool:
    """Whether this phone may get one more SMS: the per-phone reply budget also guards against a
    web form used to send SMS to someone else's phone again and again."""
    s = rules.service
    for limit, span in ((s.replies_per_hour, dt.timedelta(hours=1)), (s.replies_per_day, dt.timedelta(days=1))):
        if limit and (OutboundMessage.select()
                      .where((OutboundMessage.recipient == phone) & (OutboundMessage.created_at >= now - span))
                      .count()) >= limit:
            return False
    return True


def submit(report: WebReport, rules: IntakeRules, *, channel: str = "web", token: str | None = None,
           now: dt.datetime | None = None, rng: random.Random | None = None) -> Submitted:
    """Open a case for a web or Open311 report (ReportError when a field must be corrected).

    `token`: the form's identity (the web's signed nonce); a second submit with it returns the first case. `rng`
    draws the tracking number (default: SystemRandom).
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    now = now or utcnow()
    hood, description, category, phone, lat, lon = validate(report, rules)
    with write_tx():
        if token:
            earlier = WebSubmission.get_or_none(WebSubmission.token == token)
            if earlier is not None:
                return Submitted(Case.get_by_id(earlier.case_id), False, "")
        case = open_case(None, hood, description, now, categories=rules.categories, rng=rng,
                         category=category or None, actor=channel, learned=rules.learned)
        case.channel, case.lat, case.lon = channel, lat, lon
        case.save(only=[Case.channel, Case.lat, Case.lon])
        if token:
            WebSubmission.create(token=token, case=case, created_at=now)
        sms = ""
        if phone:
            case.phone = phone
            case.save(only=[Case.phone])
            add_reporter(case, phone, channel, None, now)
            if subscribers.opted_out([phone]):
                sms = "opted_out"
            elif not _sms_budget_left(phone, rules, now):
                sms = "phone_budget"
            else:
                text = rules.templates.render("web_received", tracking=case.tracking, barrio=hood.name,
                                              category=case.category)
                # Urgent like a reply: the resident is looking at the page, waiting for it.
                outbox.queue(phone, text, kind="reply", case=case, now=now, urgent=True)
                sms = "queued"
            if sms != "queued":
                CaseEvent.create(case=case, at=now, kind="note", public=False, actor=channel,
                                 note=f"no SMS with the tracking number: {sms}")
    log.info("case %s opened from the %s (%s, %s)%s", case.tracking, channel, hood.code, case.category,
             f"; SMS {sms}" if phone else "")
    return Submitted(case, True, sms)
