"""`barriosms crews`: the field crews' phones that move cases by SMS with a PIN (cases.crews)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click

from barriosms.cases import crews as service
from barriosms.cli.common import (
    CliState,
    allowed,
    emit_json,
    json_option,
    local_time,
    pass_state,
    short_time,
    table,
    typed_phone,
)
from barriosms.domain.crewcommands import PIN_MAX, PIN_MIN
from barriosms.store.models import Crew, utcnow


def crew_dict(crew: Crew, zone: ZoneInfo) -> dict:
    # Never the hash. A lock that has ended is no lock.
    locked = crew.locked_until if crew.locked_until and crew.locked_until > utcnow() else None
    return {"phone": crew.phone, "name": crew.name, "created_at": local_time(crew.created_at, zone),
            "wrong_pins": crew.failures, "locked_until": local_time(locked, zone),
            "pending_cases": len(service.assigned_cases(crew.name))}


def _run(action):
    try:
        return action()
    except service.CrewError as exc:
        raise click.ClickException(str(exc)) from None


pin_option = click.option(
    "--pin", metavar="DIGITS",
    help=f"The PIN ({PIN_MIN} to {PIN_MAX} digits). Default: a random one of {service.GENERATED_PIN_DIGITS} digits, "
         "shown once.")


def _show_pin(crew: Crew, pin: str, zone: ZoneInfo, as_json: bool, done: str) -> None:
    if as_json:
        emit_json({**crew_dict(crew, zone), "pin": pin})
        return
    click.echo(f"{done}: {crew.name} ({crew.phone})")
    click.echo(f"PIN: {pin}  (shown only now: give it to the crew; `barriosms crews pin {crew.phone}` makes a "
               "new one)")
    click.echo(f'From that phone: "{pin} LISTA", "{pin} NUMERO resuelto nota", "{pin} NUMERO NOTA texto", '
               f'"{pin} NUMERO INTERNA texto"')


@click.group()
def crews() -> None:
    """Field crews: phones that update their cases by SMS with a PIN (PIN NUMERO ESTADO [nota],
    PIN NUMERO NOTA texto, PIN NUMERO INTERNA texto, PIN LISTA).

    Example: barriosms crews add 71234567 --name "Cuadrilla 3"
    """


@crews.command()
@click.argument("phone")
@click.option("--name", required=True,
              help='The crew\'s name, the one its cases are assigned to: cases assign TRACKING "Cuadrilla 3".')
@pin_option
@json_option
@pass_state
def add(state: CliState, phone: str, name: str, pin: str | None, as_json: bool) -> None:
    """Register a crew's phone (any usual spelling: 71234567, +591 7123 4567) and give it a PIN.

    The PIN is shown once and stored only as a hash. Several phones may share one crew name; LISTA
    lists the cases assigned to that name.

    Example: barriosms crews add 71234567 --name "Cuadrilla 3"
    """
    settings = state.open_db()
    number = typed_phone(phone, settings.gateway.region)
    who = allowed("crews.add")
    crew, made = _run(lambda: service.add(number, name, pin, actor=who))
    _show_pin(crew, made, settings.zone, as_json, "crew phone added")


@crews.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """List the crews' phones, their names, wrong PINs, locks and pending cases (never a PIN).

    Example: barriosms crews list --json
    """
    settings = state.open_db()
    zone = settings.zone
    found = service.crews()
    rows = [crew_dict(c, zone) for c in found]
    if as_json:
        emit_json(rows)
        return
    table(["phone", "name", "added", "state", "pending"],
          [[r["phone"], r["name"], short_time(c.created_at, zone),
            f"locked until {short_time(c.locked_until, zone)}" if r["locked_until"]
            else f"{r['wrong_pins']} wrong PIN(s)" if r["wrong_pins"] else "ok", r["pending_cases"]]
           for r, c in zip(rows, found, strict=True)],
          empty='no crews: add one with `barriosms crews add PHONE --name "Cuadrilla 3"`')


@crews.command("pin")
@click.argument("phone")
@pin_option
@json_option
@pass_state
def pin_(state: CliState, phone: str, pin: str | None, as_json: bool) -> None:
    """Give a crew's phone a new PIN (the old one stops working; a lock from wrong PINs ends).

    Example: barriosms crews pin 71234567
    """
    settings = state.open_db()
    number = typed_phone(phone, settings.gateway.region)
    who = allowed("crews.pin")
    crew, made = _run(lambda: service.set_pin(number, pin, actor=who))
    _show_pin(crew, made, settings.zone, as_json, "new PIN")


@crews.command()
@click.argument("phone")
@json_option
@pass_state
def remove(state: CliState, phone: str, as_json: bool) -> None:
    """Remove a crew's phone: its messages are then read as a resident's. Cases keep the crew's name.

    Example: barriosms crews remove 71234567
    """
    settings = state.open_db()
    number = typed_phone(phone, settings.gateway.region)
    who = allowed("crews.remove")
    crew = _run(lambda: service.remove(number, actor=who))
    if as_json:
        emit_json({"phone": crew.phone, "name": crew.name, "removed": True})
        return
    click.echo(f"crew phone {crew.phone} ({crew.name}) removed")
