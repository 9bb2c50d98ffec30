"""The `barriosms` command: staff and technicians' interface to the store and the daemon.

The top layer: may import every package. It alone starts the other interfaces: the daemon (`run`),
the website (`web`) and the simulator (`sim`); nothing imports cli.
"""

from __future__ import annotations

import click

from barriosms import __version__
from barriosms.cli.common import CliState
from barriosms.cli.lazy import LazyCommand, LazyGroup

# Every command, imported only when it runs (issue 16: importing them all made each call slow).
# The help line is the first sentence of the command's docstring; tests/test_lazy.py checks both
# against the real commands, so edit them together.
COMMANDS: dict[str, LazyCommand] = {
    "audit": LazyCommand(
        "barriosms.cli.audit:audit_group",
        "The audit trail: every change staff and crews made, by whom, when and from where (cli, web, sms)."),
    "backup": LazyCommand(
        "barriosms.cli.backup:backup",
        "Copy the database into a verified backup, and keep the newest [backup] keep of them."),
    "broadcast": LazyCommand(
        "barriosms.cli.broadcast:broadcast",
        "Queue a notice by SMS to every resident who reported in a neighbourhood (not those who sent BAJA)."),
    "callbacks": LazyCommand(
        "barriosms.cli.callbacks:callbacks_group",
        "Missed calls: residents who called the municipal number and wait to be called back."),
    "cases": LazyCommand(
        "barriosms.cli.cases:cases",
        "Residents' reports: list, inspect, move along.",
        subcommands=("barriosms.cli.export:export",)),
    "categories": LazyCommand(
        "barriosms.cli.categories:categories",
        "The categories reports are filed under (agua, vias, ...) and how the gateway chooses them.",
        subcommands=("barriosms.cli.learning:learn", "barriosms.cli.learning:learned",
                     "barriosms.cli.learning:forget")),
    "config": LazyCommand(
        "barriosms.cli.config_cmd:config_group",
        "Check the configuration file, or print a commented example of one."),
    "crews": LazyCommand(
        "barriosms.cli.crews:crews",
        "Field crews: phones that update their cases by SMS with a PIN (PIN NUMERO ESTADO [nota], "
        "PIN NUMERO NOTA texto, PIN NUMERO INTERNA texto, PIN LISTA)."),
    "db": LazyCommand(
        "barriosms.cli.db:db",
        "Create and upgrade the database."),
    "doctor": LazyCommand(
        "barriosms.cli.doctor:doctor",
        "Check the whole gateway and say, for each thing, OK or the problem and its fix."),
    "events": LazyCommand(
        "barriosms.cli.events:events_group",
        "Events for other systems: each change, delivered in order to [events] command and webhook."),
    "inbox": LazyCommand(
        "barriosms.cli.inbox:inbox_group",
        "Residents' messages: what could not be routed or was not answered, and routing by hand."),
    "modem": LazyCommand(
        "barriosms.cli.modem:modem",
        "The GSM modem: its health as the daemon sees it, and finding its port."),
    "neighborhoods": LazyCommand(
        "barriosms.cli.neighborhoods:neighborhoods",
        "The neighbourhoods residents name in their SMS, by code or by name."),
    "outbox": LazyCommand(
        "barriosms.cli.outbox:outbox_group",
        "SMS waiting to leave, sent, or failed."),
    "phones": LazyCommand(
        "barriosms.cli.phones:phones",
        "Residents' phones: who opted out of status SMS (BAJA), who was silenced as a machine."),
    "projects": LazyCommand(
        "barriosms.cli.projects:projects",
        "Municipal projects shown on the website."),
    "report": LazyCommand(
        "barriosms.cli.report:report",
        "What to attend first: a ranking of problems and a map of open cases."),
    "restore": LazyCommand(
        "barriosms.cli.backup:restore",
        "Replace the database with a backup."),
    "run": LazyCommand(
        "barriosms.cli.run:run",
        "Run the gateway in the foreground (what the systemd service starts)."),
    "sim": LazyCommand(
        "barriosms.sim.cli:sim",
        "The simulated GSM modem (AT commands on a pseudo-terminal)."),
    "staff": LazyCommand(
        "barriosms.cli.staff:staff",
        "Staff accounts: who may use the staff tools, with which role (viewer, staff, admin)."),
    "stats": LazyCommand(
        "barriosms.cli.stats:stats",
        "Count cases per status, category and district, the median time to resolve them, and how many "
        "fixes the residents confirmed."),
    "web": LazyCommand(
        "barriosms.cli.web:web",
        "Serve the public website, the Open311 API and the staff back-office (barriosms-web.service)."),
    "workshop": LazyCommand(
        "barriosms.cli.workshop:workshop",
        "Practice mode for workshops (PRUEBA ...): who practised how, and deleting the practice."),
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
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


def main() -> None:
    cli(prog_name="barriosms")
