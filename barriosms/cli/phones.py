from __future__ import annotations

import click

from barriosms.cases import subscribers
from barriosms.cli.common import CliState, emit_json, json_option, local_time, pass_state, short_time, table
from barriosms.domain.phones import normalize_sender


@click.group()
def phones() -> None:
    """Residents' phones: who opted out of status SMS (BAJA), who was silenced as a machine.

    Example: barriosms phones list
    """


@phones.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """List phones that opted out or were silenced, and since when.

    Example: barriosms phones list --json
    """
    settings = state.open_db()
    zone = settings.zone
    rows = subscribers.list_states()
    if as_json:
        emit_json([{"phone": s.phone, "opted_out": s.opted_out, "opted_out_at": local_time(s.opted_out_at, zone),
                    "muted_until": local_time(s.muted_until, zone), "mute_reason": s.mute_reason or None}
                   for s in rows])
        return
    table(["phone", "opted out", "silenced until", "why"],
          [[s.phone, short_time(s.opted_out_at, zone) if s.opted_out else "no",
            short_time(s.muted_until, zone), s.mute_reason or "-"] for s in rows],
          empty="no phone opted out or was silenced")


@phones.command()
@click.argument("phone")
@json_option
@pass_state
def unmute(state: CliState, phone: str, as_json: bool) -> None:
    """Answer a phone again that was silenced as a suspected machine (it was a person).

    Example: barriosms phones unmute +59171234567
    """
    settings = state.open_db()
    number = normalize_sender(phone, settings.gateway.region)
    if not subscribers.unmute(number):
        raise click.ClickException(f"{number} is not silenced (see `barriosms phones list`)")
    if as_json:
        emit_json({"phone": number, "unmuted": True})
    else:
        click.echo(f"{number}: answered again from its next message")
