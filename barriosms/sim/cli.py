"""`barriosms sim`: the simulated AT modem, for the demo, tests and trying barriosms without hardware."""

from __future__ import annotations

import json
import logging
import time

import click

from barriosms.sim import control as ctl
from barriosms.sim import server
from barriosms.sim.atmodem import RING_INTERVAL, RING_SECONDS
from barriosms.sim.faults import FAULTS, FaultError, normalise, parse_spec


def _control_option(fn):
    return click.option("--control", "control_path", required=True, metavar="PATH",
                        help="The control socket given to `sim serve`.")(fn)


def _call(fn, *args):
    try:
        return fn(*args)
    except ctl.SimControlError as exc:
        raise click.ClickException(str(exc)) from None


def _check_rssi(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if not (0 <= value <= 31 or value == 99):
        raise click.BadParameter("27.007 <rssi> is 0-31, or 99 for unknown")
    return value


@click.group()
def sim() -> None:
    """The simulated GSM modem (AT commands on a pseudo-terminal).

    Example: barriosms sim serve --device /tmp/modem --control /tmp/modem.control
    """


@sim.command()
@click.option("--device", required=True, metavar="PATH", help="Becomes a symlink to the modem's pty: the gammurc device.")
@_control_option
@click.option("--slots", type=click.IntRange(1, 255), default=30, show_default=True, help="SIM message slots.")
@click.option("--smsc", default="+59170000000", show_default=True, help="SMS centre number on the SIM.")
@click.option("--trace", metavar="FILE", help="Append every byte exchanged with the client to FILE.")
@click.option("--signal", "signal_rssi", type=int, default=20, show_default=True, callback=_check_rssi,
              help="What AT+CSQ answers as <rssi> (0-31; 99: unknown).")
@click.option("--fault", "fault_specs", multiple=True, metavar="NAME[:k=v,...]",
              help="Start with a fault on (repeatable); `barriosms sim fault list` names them.")
def serve(device: str, control_path: str, slots: int, smsc: str, trace: str | None, signal_rssi: int,
          fault_specs: tuple[str, ...]) -> None:
    """Run the simulated modem in the foreground until SIGTERM or Ctrl-C.

    Example: barriosms sim serve --device /tmp/modem --control /tmp/modem.control --fault flood:interval=0.1
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        faults = [(name, normalise(name, args)) for name, args in map(parse_spec, fault_specs)]
    except FaultError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None

    def ready(pts: str) -> None:
        click.echo(f"simulated modem on {pts} at {device}, control at {control_path}", err=False)

    try:
        server.run(device, control_path, slots=slots, smsc=smsc, trace=trace, faults=faults, ready=ready,
                   signal_rssi=signal_rssi)
    except OSError as exc:
        raise click.ClickException(f"cannot start the simulated modem: {exc}") from None


@sim.command()
@_control_option
@click.option("--from", "sender", required=True, metavar="NUMBER", help="The resident's number (or a name like TIGO).")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def text(control_path: str, sender: str, text: str, as_json: bool) -> None:
    """Make an SMS arrive at the modem, as if a resident sent it.

    Long texts become concatenated parts; text outside GSM-7 is sent as UCS-2.

    Example: barriosms sim text --control /tmp/modem.control --from +59171234567 "B12 hay un bache"
    """
    result = _call(ctl.inject_text, control_path, sender, text)
    if as_json:
        click.echo(json.dumps(result))
    else:
        where = f"slots {result['slots']}" if result["slots"] else "no free slot"
        click.echo(f"{result['parts']} part(s) ({'UCS-2' if result['unicode'] else 'GSM-7'}), {where}, "
                   f"{result['pending']} waiting for a free slot")


@sim.command()
@_control_option
@click.option("--from", "caller", metavar="NUMBER", help="The resident's number.")
@click.option("--withheld", is_flag=True, help="The caller hides their number (instead of --from).")
@click.option("--ring-seconds", type=click.FloatRange(0, 600, min_open=True), default=RING_SECONDS, show_default=True,
              help="How long the caller lets it ring before giving up, unless the client hangs up first.")
@click.option("--interval", type=click.FloatRange(0, 60, min_open=True), default=RING_INTERVAL, show_default=True,
              help="Seconds between two RINGs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def call(control_path: str, caller: str | None, withheld: bool, ring_seconds: float, interval: float,
         as_json: bool) -> None:
    """Make the modem ring, as if a resident called its number.

    The modem says RING (+CRING: VOICE after AT+CRC=1) and, after AT+CLIP=1, the caller's number
    (+CLIP) every --interval seconds, until the client hangs up (ATH or AT+CHUP) or the caller gives
    up. `barriosms sim status` shows each call and who ended it.

    Example: barriosms sim call --control /tmp/modem.control --from +59171234567
    """
    if withheld == (caller is not None):
        raise click.UsageError("give either --from NUMBER or --withheld")
    result = _call(ctl.call, control_path, caller or "", ring_seconds, interval)
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"ringing: a call from {caller or 'a withheld number'} (the caller gives up after "
                   f"{ring_seconds:g} s)")


@sim.command()
@_control_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def sent(control_path: str, as_json: bool) -> None:
    """List every SMS the modem sent (AT+CMGS), concatenated parts joined.

    Example: barriosms sim sent --control /tmp/modem.control --json
    """
    messages = _call(ctl.sent_messages, control_path)
    if as_json:
        keys = ("to", "text", "parts", "expected_parts", "at", "at_epoch", "received_epoch")
        click.echo(json.dumps([{k: m[k] for k in keys} for m in messages], ensure_ascii=False, indent=2))
        return
    if not messages:
        click.echo("nothing sent yet")
        return
    width = max(len("TO"), *(len(m["to"]) for m in messages))
    click.echo(f"{'SENT AT (UTC)':<26}  {'TO':<{width}}  PARTS  TEXT")
    for m in messages:
        parts = f"{m['parts']}/{m['expected_parts']}" if m["parts"] != m["expected_parts"] else str(m["parts"])
        text = m["text"].replace("\n", " ")
        click.echo(f"{m['at'][:26]:<26}  {m['to']:<{width}}  {parts:<5}  {text}")


@sim.command()
@_control_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def status(control_path: str, as_json: bool) -> None:
    """Show SIM slots used, messages waiting for a slot, notification setting, messages sent and calls.

    Example: barriosms sim status --control /tmp/modem.control
    """
    answer = _call(ctl.status, control_path)
    if as_json:
        click.echo(json.dumps(answer))
        return
    click.echo(f"SIM {answer['used']}/{answer['total']} used, {answer['pending']} waiting, "
               f"CNMI {answer['cnmi']}, {answer['sent']} sent, caller ID (CLIP) {'on' if answer['clip'] else 'off'}")
    for c in answer["calls"]:
        started = time.strftime("%H:%M:%S", time.localtime(c["started_epoch"]))
        caller = c["number"] or "withheld"
        if c["state"] == "ringing":
            click.echo(f"call {started} from {caller}: ringing ({c['rings']} ring(s))")
        else:
            who = {"modem": "hung up by the client", "caller": "the caller gave up",
                   "reset": "the modem was reset"}.get(c["ended_by"], c["ended_by"])
            click.echo(f"call {started} from {caller}: ended after {c['ended_epoch'] - c['started_epoch']:.1f} s, "
                       f"{c['rings']} ring(s), {who}")


@sim.group()
def fault() -> None:
    """Switch the simulated modem's fault profiles on and off while it runs.

    Example: barriosms sim fault --help
    """


_json_flag = click.option("--json", "as_json", is_flag=True, help="Print the active faults as JSON.")


def _show_faults(active: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"active": active}))
    else:
        click.echo(f"active faults: {_describe(active)}")


@fault.command("on")
@_control_option
@click.argument("name", type=click.Choice(sorted(FAULTS)))
@click.option("--arg", "args", multiple=True, metavar="KEY=VALUE", help="A fault argument (repeatable).")
@_json_flag
def fault_on(control_path: str, name: str, args: tuple[str, ...], as_json: bool) -> None:
    """Turn a fault on (or change its arguments).

    Example: barriosms sim fault on --control /tmp/modem.control send_error --arg code=38 --arg count=2
    """
    values = {}
    for item in args:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--arg")
        values[key] = value
    _show_faults(_call(ctl.set_fault, control_path, name, **values), as_json)


@fault.command("off")
@_control_option
@click.argument("name", type=click.Choice(sorted(FAULTS)))
@_json_flag
def fault_off(control_path: str, name: str, as_json: bool) -> None:
    """Turn one fault off.

    Example: barriosms sim fault off --control /tmp/modem.control vanish
    """
    _show_faults(_call(ctl.clear_fault, control_path, name), as_json)


@fault.command("clear")
@_control_option
@_json_flag
def fault_clear(control_path: str, as_json: bool) -> None:
    """Turn every fault off.

    Example: barriosms sim fault clear --control /tmp/modem.control
    """
    _show_faults(_call(ctl.clear_fault, control_path), as_json)


@fault.command("list")
@click.option("--control", "control_path", metavar="PATH", help="Also show which are on in this running modem.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def fault_list(control_path: str | None, as_json: bool) -> None:
    """List the fault profiles, what each models, its arguments, and which are on.

    Example: barriosms sim fault list --control /tmp/modem.control
    """
    active = _call(ctl.active_faults, control_path) if control_path else {}
    if as_json:
        click.echo(json.dumps([{"name": f.name, "models": f.models, "args": f.defaults, "on": f.name in active,
                                "active_args": active.get(f.name)} for f in FAULTS.values()], indent=2))
        return
    for f in FAULTS.values():
        mark = "ON " if f.name in active else "   "
        args = ", ".join(f"{k}={v}" for k, v in (active.get(f.name) or f.defaults).items())
        click.echo(f"{mark}{f.name:<17} {f.models}" + (f" [{args}]" if args else ""))


def _describe(active: dict) -> str:
    return ", ".join(f"{k}({', '.join(f'{a}={v}' for a, v in args.items())})" if args else k
                     for k, args in active.items()) or "none"


if __name__ == "__main__":
    sim()
