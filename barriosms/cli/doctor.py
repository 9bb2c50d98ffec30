"""`barriosms doctor`: a thin click command over barriosms.operations.doctor."""

from __future__ import annotations

import click

from barriosms.cli.common import CliState, emit_json, json_option, pass_state
from barriosms.operations import doctor as checks
from barriosms.templates import loader as templatefiles


@click.command()
@json_option
@pass_state
def doctor(state: CliState, as_json: bool) -> None:
    """Check the whole gateway and say, for each thing, OK or the problem and its fix.

    Looks at the configuration, templates, the database (integrity and schema), the daemon and its
    heartbeat, the modem, free disk space, the clock, journald and the backups. Exits 1 when
    anything must be fixed. docs/troubleshooting.md explains every message. The templates check
    names the SMS texts and categories files in use (built-in, or the edited copies).

    Example: barriosms --config /etc/barriosms/barriosms.ini doctor
    """
    found = checks.run_all(state.config_option)
    problems = [c for c in found if not c.ok]
    if as_json:
        emit_json({"ok": not problems, "problems": len(problems), "checks": [c.as_dict() for c in found]})
    else:
        width = max(len(c.name) for c in found)
        for c in found:
            label = "note" if c.note else ("OK" if c.ok else "PROBLEM")
            click.echo(f"{label:<8} {c.name:<{width}}  {c.message}")
            for line in templatefiles.lines(c.files):  # which files were read: edited copies or built-in
                click.echo(f"{'':<8} {'':<{width}}  {line}")
            if not c.ok:
                click.echo(f"{'':<8} {'':<{width}}  fix: {c.fix}")
        click.echo(f"\n{len(problems)} problem(s) to fix" if problems else "\nall checks passed")
    if problems:
        raise SystemExit(1)
