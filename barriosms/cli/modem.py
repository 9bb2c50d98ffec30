from __future__ import annotations

import sys

import click

from barriosms.cli.common import CliState, emit_json, local_time, pass_state, short_time, table
from barriosms.modem import detect as detection
from barriosms.operations import health, ussd


@click.group()
def modem() -> None:
    """The GSM modem: its health as the daemon sees it, and finding its port.

    Example: barriosms modem status --json
    """


@modem.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_state
def status(state: CliState, as_json: bool) -> None:
    """Show the modem's health as the daemon last recorded it (never touches the modem).

    With several [modem NAME] sections, each modem in turn. Exit code (the worst of them): 0
    connected and fresh, 1 a modem is down, 3 the daemon is not running or stuck (its heartbeat
    is stale) - so monitoring can call this command.

    Example: barriosms modem status --json
    """
    settings = state.open_db()
    zone = settings.zone
    names = [m.name for m in settings.all_modems]
    reports, worst = [], health.OK
    rows = [(name, row, True) for name, row in health.configured(settings)]
    if settings.database.shared:
        # The other gateways on this database: a technician sees the whole service from any of them.
        rows += [(row.name, row, False) for row in health.others(names)]
    for name, row, here in rows:
        verdict = health.assess(row, settings.gateway.heartbeat_seconds,
                                balance_warn_below=settings.gateway.balance_warn_below)
        worst = max(worst, verdict.exit_code)
        data = _status_dict(name, row, verdict, zone)
        data["this_gateway"] = here
        reports.append((name, row, verdict, data))
    if as_json:
        data = dict(reports[0][3])  # the first modem's fields at the top, as with one modem
        data["modems"] = [r[3] for r in reports]
        data["ok"] = worst == health.OK
        emit_json(data)
    else:
        for i, (name, row, verdict, data) in enumerate(reports):
            if len(reports) > 1:
                where = "" if data["this_gateway"] else f" (another gateway, on {data['host'] or 'an unknown machine'})"
                click.echo(("" if i == 0 else "\n") + f"[modem {name}]{where}")
            _print_status(row, verdict, zone)
    sys.exit(worst)


@modem.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_state
def forget(state: CliState, name: str, as_json: bool) -> None:
    """Forget a modem or a gateway that is gone for good (its health row), so `modem status` stops
    counting it. Refused while its daemon still writes a heartbeat.

    Example: barriosms modem forget sur
    """
    settings = state.open_db()
    try:
        health.forget(name, settings.gateway.heartbeat_seconds)
    except health.CannotForget as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json({"forgotten": name})
    else:
        click.echo(f"forgot the modem {name}: it no longer counts in `barriosms modem status`")


def _status_dict(name: str, row, verdict, zone) -> dict:
    data = {"name": name, "host": row.host if row is not None else "", "state": verdict.state, "ok": verdict.exit_code == health.OK,
            "problems": list(verdict.problems),
            "heartbeat_age_seconds": round(verdict.heartbeat_age, 1) if verdict.heartbeat_age is not None else None}
    if row is not None:
        data.update({
            "connected": row.connected, "since": local_time(row.since, zone), "device": row.device,
            "manufacturer": row.manufacturer, "model": row.model, "imei": row.imei, "imsi": row.imsi,
            "operator": row.operator, "network_state": row.network_state,
            "signal_dbm": row.signal_dbm, "signal_percent": row.signal_percent,
            "sim_used": row.sim_used, "sim_total": row.sim_total,
            "received": row.received_count, "sent": row.sent_count,
            "last_error": row.last_error, "last_error_at": local_time(row.last_error_at, zone),
            "last_contact_at": local_time(row.last_contact_at, zone), "heartbeat_at": local_time(row.updated_at, zone),
            "pid": row.pid,
            "balance": row.balance, "balance_text": row.balance_text, "balance_at": local_time(row.balance_at, zone),
        })
    return data


def _print_status(row, verdict, zone) -> None:
    if row is None:
        click.echo("modem: unknown (the daemon has never run on this database)")
    else:
        click.echo(f"modem:     {'connected' if row.connected else 'NOT CONNECTED'} since {short_time(row.since, zone)}"
                   f" on {row.device or '?'}")
        click.echo(f"identity:  {row.manufacturer} {row.model}  IMEI {row.imei or '?'}  IMSI {row.imsi or '?'}")
        signal = (f"{row.signal_dbm} dBm ({row.signal_percent}%)" if row.signal_percent is not None else "unknown")
        click.echo(f"network:   {row.operator or '?'} {row.network_state or ''}  signal {signal}")
        sim = f"{row.sim_used}/{row.sim_total}" if row.sim_total else "unknown"
        click.echo(f"SIM:       {sim} message slots used")
        click.echo(f"counters:  {row.received_count} received, {row.sent_count} sent")
        if row.balance_at:
            click.echo(f"balance:   {row.balance if row.balance is not None else '?'} "
                       f"({short_time(row.balance_at, zone)}: {row.balance_text})")
        click.echo(f"last error: {row.last_error or '-'}"
                   + (f" ({short_time(row.last_error_at, zone)})" if row.last_error_at else ""))
        click.echo(f"heartbeat: {verdict.heartbeat_age:.0f} s ago (daemon pid {row.pid}"
                   + (f" on {row.host})" if row.host else ")"))
    for problem in verdict.problems:
        click.echo(f"problem:   {problem}", err=True)


@modem.command("ussd")
@click.argument("code")
@click.option("--timeout", type=float, default=60, show_default=True, help="Seconds to wait for the answer.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_state
def ussd_command(state: CliState, code: str, timeout: float, as_json: bool) -> None:
    """Dial a USSD code through the running daemon (e.g. the balance) and print the answer.

    The daemon owns the modem, so this asks it through the database and waits.

    Example: barriosms modem ussd '*105#'
    """
    settings = state.open_db()
    # The first modem of this gateway dials it (its SIM, not another gateway's on a shared database).
    by_name = health.by_name(settings)
    verdict = health.assess(health.configured(settings)[0][1], settings.gateway.heartbeat_seconds)
    if verdict.state != "ok":
        raise click.ClickException("the daemon cannot run it now: " + "; ".join(verdict.problems))
    try:
        request = ussd.queue(code, modem=settings.modem.name if by_name else "")
    except ussd.UssdError as exc:
        raise click.ClickException(str(exc)) from None
    row = ussd.wait(request.id, timeout)
    if as_json:
        emit_json({"code": row.code, "status": row.status, "answer": row.answer, "error": row.error})
    elif row.status == "done":
        click.echo(row.answer)
    if row.status != "done":
        reason = row.error or f"no answer within {timeout:.0f} s (the request stays queued for 10 minutes)"
        raise click.ClickException(f"USSD {row.code}: {reason}")


def _daemon_ports(state: CliState) -> list[str]:
    """The ports a live daemon is using (or trying to reopen), per the config and each modem's heartbeat."""
    try:
        settings = state.open_db()
    except click.ClickException:
        return []  # no config or database here: nothing of ours is running on it
    owned = []
    for ms, (_, row) in zip(settings.all_modems, health.configured(settings), strict=True):
        verdict = health.assess(row, settings.gateway.heartbeat_seconds)
        if verdict.state in ("ok", "modem_down"):
            owned.append(ms.device)
    return owned


@modem.command()
@click.option("--port", "ports", multiple=True, metavar="PATH",
              help="Probe this port too (repeatable); by default every serial port the system lists.")
@click.option("--timeout", type=float, default=1.0, show_default=True, help="Seconds to wait for each answer.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_state
def detect(state: CliState, ports: tuple[str, ...], timeout: float, as_json: bool) -> None:
    """Find the serial port of a USB GSM modem: list ports, probe each with AT, print the config lines.

    Huawei and ZTE sticks expose several ports and only one answers commands. A port the running
    daemon owns is not probed.

    Example: barriosms modem detect
    """
    owned = _daemon_ports(state)
    found = detection.detect(extra_ports=ports, timeout=timeout, skip=owned)
    if as_json:
        emit_json([f.as_dict() for f in found])
    else:
        table(["port", "vendor", "product", "answers AT", "modem says"],
              [[f.device + (f" ({f.by_id})" if f.by_id else ""), f.vendor or "-", f.product or "-",
                "not probed" if f.answers is None else ("yes" if f.answers else "no"), f.note] for f in found],
              empty="no serial ports found: is the USB modem plugged in? (`lsusb`, `dmesg | tail`)")
        best = detection.best(found)
        if best:
            click.echo("\nPut this in the [modem] section of the configuration:")
            click.echo(f"device = {best.by_id or best.device}\nconnection = at")
    if not any(f.answers for f in found) and not owned:
        sys.exit(1)
