"""The `barriosms` command: staff and technicians' interface to the store and the daemon."""

from __future__ import annotations

import click

from .. import __version__
from .cases import cases
from .common import CliState
from .config_cmd import config_group
from .db import db
from .modem import modem
from .neighborhoods import neighborhoods
from .outbox import outbox_group
from .run import run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="FILE", envvar="BARRIOSMS_CONFIG",
              help="Configuration file. Default: $BARRIOSMS_CONFIG, ./barriosms.ini, /etc/barriosms/barriosms.ini.")
@click.version_option(__version__, prog_name="barriosms")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """barriosms: residents' SMS become tracked municipal cases.

    Example: barriosms --config /etc/barriosms/barriosms.ini cases list --status received
    """
    ctx.obj = CliState(config_path)


def _register() -> None:
    from ..sim.cli import sim
    from .broadcast import broadcast
    from .inbox import inbox_group
    from .phones import phones

    for command in (db, neighborhoods, cases, outbox_group, modem, config_group, run, sim, inbox_group, broadcast,
                    phones):
        cli.add_command(command)

    from .export import export
    from .report import report
    from .stats import stats

    cases.add_command(export)
    for command in (report, stats):
        cli.add_command(command)

    from .backup import backup, restore
    from .doctor import doctor

    for command in (backup, restore, doctor):
        cli.add_command(command)

    from .projects import projects
    from .web import web

    for command in (projects, web):
        cli.add_command(command)

    from .workshop import workshop

    cli.add_command(workshop)


_register()


def main() -> None:
    cli(prog_name="barriosms")
