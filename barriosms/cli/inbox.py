from __future__ import annotations

import click

from barriosms.cases.learning import with_learning
from barriosms.cli.common import (
    CliState,
    actor,
    audited,
    emit_json,
    json_option,
    limit_option,
    local_time,
    pass_state,
    phone_option,
    short_time,
    table,
    typed_phone,
    wide_option,
)
from barriosms.domain.errors import TemplateError
from barriosms.staff import inbox as inbox_mod
from barriosms.templates.rules import rules_from_settings

# What `unanswered` values mean, for the table.
WHY = {
    "phone_hour_budget": "reply budget of this phone (per hour) used up",
    "phone_day_budget": "reply budget of this phone (per day) used up",
    "loop_repeat": "same text again and again: suspected machine, phone silenced",
    "loop_fast": "answers faster than a person can read and type: suspected machine, phone silenced",
    "loop_echo": "sends our own SMS back: suspected machine, phone silenced",
    "muted": "phone silenced as a suspected machine",
}

# Why a message waits for staff (`triage`), for the table; "error: ..." carries its own text.
TRIAGE = {
    "no_neighborhood": "no neighbourhood given (the resident did not answer in time)",
    "unknown_code": "a neighbourhood code we do not know",
    "ambiguous": "the neighbourhood could be one of several",
    "case_limit": "this phone opened [service] cases_per_phone_hour cases in the last hour",
}
# Messages stored before migration 10 have no triage: their intent says it.
_TRIAGE_OF_INTENT = {"unroutable": "no_neighborhood", "ambiguous": "ambiguous"}


def triage_reason(message) -> str:
    """Why ``message`` waits for staff, as a short key ("" when it does not)."""
    if not message.needs_staff:
        return ""
    return message.triage or _TRIAGE_OF_INTENT.get(message.intent, "")


def triage_why(reason: str) -> str | None:
    if not reason:
        return None
    return TRIAGE.get(reason, reason)


@click.group("inbox")
def inbox_group() -> None:
    """Residents' messages: what could not be routed or was not answered, and routing by hand.

    Example: barriosms inbox list --unmatched
    """


@inbox_group.command("list")
@click.option("--unmatched", is_flag=True, help="Only messages with no neighbourhood and no case yet.")
@click.option("--unanswered", is_flag=True, help="Only messages that got no SMS back, with the reason.")
@phone_option("Only messages from this phone (or from this sender name, e.g. an operator's TIGO).")
@click.option("--practice", is_flag=True,
              help="Also workshops' practice messages (PRUEBA ...; see `barriosms workshop report`).")
@limit_option
@wide_option
@json_option
@pass_state
def list_(state: CliState, unmatched: bool, unanswered: bool, phone: str | None, practice: bool, limit: int | None,
          wide: bool, as_json: bool) -> None:
    """List residents' messages, newest first (practice messages from workshops left out).

    With --unmatched, the messages that wait for staff and why: no neighbourhood, an unknown or
    ambiguous code, the phone's hourly case limit, or an error while handling it. The table fits 80
    columns (or the terminal): long texts are cut with …, and columns not asked for are left out
    if need be (WAITS BECAUSE with --unanswered, NOT ANSWERED with --unmatched); --wide shows everything.

    Example: barriosms inbox list --unanswered --phone "7123 4567" --limit 20
    """
    settings = state.open_db()
    zone = settings.zone
    sender = _sender(phone, settings.gateway.region) if phone is not None else None
    rows = inbox_mod.list_messages(unmatched=unmatched, unanswered=unanswered, phone=sender, limit=limit,
                                   practice=practice)
    if as_json:
        emit_json([{
            "id": m.id, "phone": m.phone, "sender": m.sender, "text": m.text, "intent": m.intent,
            "received_at": local_time(m.received_at, zone), "case": m.case.tracking if m.case_id else None,
            "needs_staff": m.needs_staff, "triage": triage_reason(m) or None,
            "triage_why": triage_why(triage_reason(m)),
            "unanswered": m.unanswered or None,
            "unanswered_why": WHY.get(m.unanswered) if m.unanswered else None,
        } for m in rows])
        return
    table(["id", "received", "phone", "intent", "case", "waits because", "not answered", "text"],
          [[m.id, short_time(m.received_at, zone), m.phone, m.intent, m.case.tracking if m.case_id else "-",
            triage_reason(m) or "-", m.unanswered or "-", m.text] for m in rows],
          empty="no messages match", shrink=["text", "waits because", "not answered"], wide=wide,
          drop=_optional_columns(unmatched, unanswered))
    if unmatched and any(triage_reason(m) for m in rows):
        click.echo("\nwhy they wait:", err=True)
        for reason in sorted({triage_reason(m) for m in rows} - {""}):
            if reason in TRIAGE:
                click.echo(f"  {reason}: {TRIAGE[reason]}", err=True)
        click.echo("open a case: barriosms inbox assign ID --neighborhood CODE", err=True)


def _optional_columns(unmatched: bool, unanswered: bool) -> list[str]:
    """The columns that may be left out to fit the table, least needed first: never the reason asked for."""
    if unanswered and not unmatched:
        return ["waits because", "intent", "case"]
    if unmatched and not unanswered:
        return ["not answered", "intent", "case"]
    return ["not answered", "waits because", "intent"]


def _sender(typed: str, region: str) -> str:
    """What --phone looks for: the E.164 phone typed; a name with letters as it is (operators and services
    send as "TIGO" and are stored so, see domain.phones); anything else is a ClickException."""
    if any(c.isalpha() for c in typed):
        return typed.strip()
    return typed_phone(typed, region)


@inbox_group.command("assign")
@click.argument("message", type=int)
@click.option("--neighborhood", "code", required=True, metavar="CODE", help="The neighbourhood code of the report.")
@click.option("--category", metavar="C", help="The category (default: guessed from the text).")
@json_option
@pass_state
def assign(state: CliState, message: int, code: str, category: str | None, as_json: bool) -> None:
    """Open a case for a message that could not be routed, and SMS the resident its tracking number.

    Example: barriosms inbox assign 42 --neighborhood B12 --category vias
    """
    settings = state.open_db()
    try:
        rules = with_learning(rules_from_settings(settings))
    except TemplateError as exc:
        raise click.ClickException(f"{exc} (run `barriosms config check`)") from None
    try:
        with audited("inbox.assign", f"message {message}") as entry:
            routed = inbox_mod.route(message, code, rules, category=category, actor=actor())
            entry.detail = f"case {routed.case.tracking} ({routed.case.neighborhood.code}, {routed.case.category})"
    except inbox_mod.InboxError as exc:
        raise click.ClickException(str(exc)) from None
    case, reply = routed.case, routed.reply
    if as_json:
        emit_json({"message": message, "tracking": case.tracking, "neighborhood": case.neighborhood.code,
                   "category": case.category,
                   "reply": {"id": reply.id, "to": reply.recipient, "text": reply.text} if reply else None})
        return
    click.echo(f"message {message}: case {case.tracking} opened ({case.neighborhood.code}, {case.category})")
    click.echo(f"SMS queued to {reply.recipient}: {reply.text}" if reply else
               f"no SMS: {routed.message.sender} cannot receive one")
