from __future__ import annotations

from zoneinfo import ZoneInfo

import click

from .. import casework
from ..domain.replies import Templates
from ..domain.statuses import STATUSES
from ..store.models import Case
from .common import CliState, actor, clip, emit_json, json_option, limit_option, local_time, pass_state, short_time, table


def case_dict(case: Case, zone: ZoneInfo) -> dict:
    return {
        "tracking": case.tracking,
        "status": case.status,
        "neighborhood": case.neighborhood.code,
        "neighborhood_name": case.neighborhood.name,
        "category": case.category,
        "phone": case.phone,
        "text": case.text,
        "created_at": local_time(case.created_at, zone),
        "updated_at": local_time(case.updated_at, zone),
    }


@click.group()
def cases() -> None:
    """Residents' reports: list, inspect, move along.

    Example: barriosms cases status 1234567 in_progress --note "Cuadrilla asignada"
    """


@cases.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only cases in this status.")
@click.option("--neighborhood", metavar="CODE", help="Only cases of this neighbourhood code.")
@click.option("--category", metavar="C", help="Only cases of this category (vias, agua, ...).")
@limit_option
@json_option
@pass_state
def list_(state: CliState, status: str | None, neighborhood: str | None, category: str | None,
          limit: int | None, as_json: bool) -> None:
    """List cases, newest first.

    Example: barriosms cases list --status received --neighborhood B12
    """
    settings = state.open_db()
    try:
        rows = casework.list_cases(status=status, neighborhood=neighborhood, category=category, limit=limit)
    except casework.CaseError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json([case_dict(c, settings.zone) for c in rows])
        return
    table(["tracking", "status", "hood", "category", "created", "phone", "text"],
          [[c.tracking, c.status, c.neighborhood.code, c.category, short_time(c.created_at, settings.zone),
            c.phone, clip(c.text, 40)] for c in rows], empty="no cases match")


@cases.command()
@click.argument("tracking")
@json_option
@pass_state
def show(state: CliState, tracking: str, as_json: bool) -> None:
    """Show one case with its history and every SMS in and out.

    Example: barriosms cases show 1234567
    """
    settings = state.open_db()
    zone = settings.zone
    try:
        case = casework.find_case(tracking)
    except casework.CaseError as exc:
        raise click.ClickException(str(exc)) from None
    events = casework.history(case)
    inbound, outbound = casework.messages(case)
    if as_json:
        data = case_dict(case, zone)
        data["history"] = [{"at": local_time(e.at, zone), "kind": e.kind, "from": e.old_status, "to": e.new_status,
                            "note": e.note, "public": e.public, "by": e.actor} for e in events]
        data["messages"] = (
            [{"direction": "in", "at": local_time(m.received_at, zone), "phone": m.phone, "text": m.text,
              "parts": m.parts, "incomplete": m.incomplete} for m in inbound]
            + [{"direction": "out", "at": local_time(m.sent_at or m.created_at, zone), "phone": m.recipient,
                "text": m.text, "status": m.status, "delivery": m.delivery or None, "attempts": m.attempts,
                "error": m.last_error}
               for m in outbound])
        emit_json(data)
        return
    click.echo(f"Case {case.tracking}  [{case.status}]")
    click.echo(f"  neighbourhood: {case.neighborhood.code} {case.neighborhood.name}")
    click.echo(f"  category:      {case.category}")
    click.echo(f"  reporter:      {case.phone}")
    click.echo(f"  opened:        {short_time(case.created_at, zone)}   updated: {short_time(case.updated_at, zone)}")
    click.echo(f"  text:          {case.text}")
    click.echo("History:")
    for e in events:
        change = f"{e.old_status or '-'} -> {e.new_status}" if e.kind == "status" else e.kind
        click.echo(f"  {short_time(e.at, zone)}  {change}  {e.actor}" + (f"  \"{e.note}\"" if e.note else ""))
    click.echo("Messages:")
    for m in inbound:
        click.echo(f"  {short_time(m.received_at, zone)}  in   {m.phone}: {m.text}")
    for m in outbound:
        state = f"{m.status}, {m.delivery}" if m.delivery else m.status
        click.echo(f"  {short_time(m.sent_at or m.created_at, zone)}  out  [{state}] {m.recipient}: {m.text}"
                   + (f"  (error: {m.last_error})" if m.last_error else ""))


@cases.command()
@click.argument("tracking")
@click.argument("status", type=click.Choice(STATUSES))
@click.option("--note", default="", help="Public note: sent to the resident and given to status queries.")
@json_option
@pass_state
def status(state: CliState, tracking: str, status: str, note: str, as_json: bool) -> None:
    """Change a case's status and queue an SMS telling the reporter.

    The daemon sends the SMS; this command only writes to the database.

    Example: barriosms cases status 1234567 in_progress --note "La cuadrilla ira el lunes"
    """
    settings = state.open_db()
    try:
        templates = state.templates()
        change = casework.change_status(tracking, status, templates, note=note, actor=actor(),
                                        region=settings.gateway.region)
    except casework.CaseError as exc:
        raise click.ClickException(str(exc)) from None
    sms = change.notification
    if as_json:
        data = case_dict(change.case, settings.zone)
        data["notification"] = ({"id": sms.id, "to": sms.recipient, "text": sms.text, "status": sms.status}
                                if sms else None)
        emit_json(data)
        return
    click.echo(f"case {change.case.tracking}: {change.event.old_status} -> {status}")
    if sms:
        click.echo(f"SMS queued to {sms.recipient}: {sms.text}")
    else:
        click.echo(f"no SMS: the reporter {change.case.phone} cannot receive one")
