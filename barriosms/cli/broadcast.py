from __future__ import annotations

import click

from barriosms.cli.common import CliState, actor, audited, emit_json, json_option, pass_state
from barriosms.staff import broadcast as notices


@click.command("broadcast")
@click.option("--neighborhood", "code", required=True, metavar="CODE", help="The neighbourhood to tell.")
@click.option("--urgent", is_flag=True, help="Send even during the quiet hours (a real emergency).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (scripts).")
@json_option
@click.argument("text")
@pass_state
def broadcast(state: CliState, code: str, urgent: bool, yes: bool, as_json: bool, text: str) -> None:
    """Queue a notice by SMS to every resident who reported in a neighbourhood (not those who sent BAJA).

    Shows how many SMS it will cost, and how many must wait for tomorrow's budget, and asks
    before queueing. The daemon sends them, within the daily budget and outside the quiet hours
    (unless --urgent).

    Example: barriosms broadcast --neighborhood B12 "Corte de agua el martes de 8 a 14"
    """
    settings = state.open_db()
    try:
        p = notices.plan(code, text, region=settings.gateway.region, daily_budget=settings.service.daily_sms_budget,
                         zone=settings.zone)
    except notices.BroadcastError as exc:
        raise click.ClickException(str(exc)) from None
    summary = {"neighborhood": p.neighborhood.code, "text": p.text, "recipients": len(p.recipients),
               "sms_per_recipient": p.parts, "cost": p.cost, "opted_out": p.opted_out,
               "not_replyable": p.not_replyable, "budget_left_today": p.budget_left,
               "wait_for_tomorrow": p.over_budget}
    if not yes:
        if as_json:
            raise click.UsageError("with --json there is no one to confirm: add --yes")
        click.echo(f"Notice to {p.neighborhood.code} {p.neighborhood.name}: {p.text}")
        click.echo(f"{len(p.recipients)} resident(s), {p.parts} SMS each: {p.cost} SMS"
                   + (f" ({p.opted_out} opted out, not sent)" if p.opted_out else ""))
        if p.budget_left is not None:
            click.echo(f"daily budget left today: {p.budget_left} SMS"
                       + (f"; {p.over_budget} will wait until tomorrow" if p.over_budget else ""))
        if not p.recipients:
            raise click.ClickException(f"nobody to tell in {p.neighborhood.code}")
        click.confirm("Queue it?", abort=True)
    try:
        with audited("broadcast", p.neighborhood.code) as entry:
            b = notices.send(p, urgent=urgent, actor=actor())
            entry.detail = (f"notice {b.id}{' (urgent)' if urgent else ''}: {p.cost} SMS to {len(p.recipients)} "
                            f"resident(s): {p.text}")
    except notices.BroadcastError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json({"id": b.id, **summary})
    else:
        click.echo(f"notice {b.id} queued: {p.cost} SMS to {len(p.recipients)} resident(s)")
