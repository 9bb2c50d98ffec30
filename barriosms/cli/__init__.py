"""The `barriosms` command: staff and technicians' interface to the store and the daemon.

The top layer: may import every package. It alone starts the other interfaces: the daemon (`run`),
the website (`web`) and the simulator (`sim`); nothing imports cli.
"""

from __future__ import annotations

import click

from barriosms import __version__
from barriosms.cli.cases import cases
from barriosms.cli.common import CliState
from barriosms.cli.config_cmd import config_group
from barriosms.cli.db import db
from barriosms.cli.modem import modem
from barriosms.cli.neighborhoods import neighborhoods
from barriosms.cli.outbox import outbox_group
from barriosms.cli.run import run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="FILE", envvar="BARRIOSMS_CONFIG",
              help="Configuration file. Default: $BARRIOSMS_CONFIG, ./barriosms.ini, /etc/barriosms/barriosms.ini.")
@click.option("--as", "as_user", metavar="USER",
              help="Act as this staff account (it must exist and be enabled): recorded in case histories and "
                   "the audit trail. Default: $SUDO_USER, else your login name.")
@click.version_option(__version__, prog_name="barriosms")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, as_user: str | None) -> None:
    """barriosms: residents' SMS become tracked municipal cases.

    Example: barriosms --config /etc/barriosms/barriosms.ini cases list --status received
    """
    ctx.obj = CliState(config_path, as_user)


def _register() -> None:
    from barriosms.cli.broadcast import broadcast
    from barriosms.cli.inbox import inbox_group
    from barriosms.cli.phones import phones
    from barriosms.sim.cli import sim

    for command in (db, neighborhoods, cases, outbox_group, modem, config_group, run, sim, inbox_group, broadcast,
                    phones):
        cli.add_command(command)

    from barriosms.cli.export import export
    from barriosms.cli.report import report
    from barriosms.cli.stats import stats

    cases.add_command(export)
    for command in (report, stats):
        cli.add_command(command)

    from barriosms.cli.backup import backup, restore
    from barriosms.cli.doctor import doctor

    for command in (backup, restore, doctor):
        cli.add_command(command)

    from barriosms.cli.projects import projects
    from barriosms.cli.web import web

    for command in (projects, web):
        cli.add_command(command)

    from barriosms.cli.categories import categories
    from barriosms.cli.workshop import workshop

    for command in (workshop, categories):
        cli.add_command(command)

    from barriosms.cli.learning import forget, learn, learned

    for command in (learn, learned, forget):
        categories.add_command(command)

    from barriosms.cli.audit import audit_group
    from barriosms.cli.events import events_group
    from barriosms.cli.staff import staff

    for command in (staff, audit_group, events_group):
        cli.add_command(command)

    from barriosms.cli.crews import crews

    cli.add_command(crews)

    from barriosms.cli.callbacks import callbacks_group

    cli.add_command(callbacks_group)


_register()


def main() -> None:
    cli(prog_name="barriosms")
