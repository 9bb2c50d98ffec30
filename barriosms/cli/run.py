from __future__ import annotations

import sys

import click

from .. import config, logsetup
from ..daemon import Daemon
from .common import CliState, pass_state


@click.command()
@pass_state
def run(state: CliState) -> None:
    """Run the gateway in the foreground (what the systemd service starts).

    SIGTERM or Ctrl-C stop it gracefully; SIGHUP reloads the configuration and reconnects the modem.

    Example: barriosms --config /etc/barriosms/barriosms.ini run
    """
    settings = state.open_db()
    logsetup.configure(settings.logging.level)
    path = settings.source
    daemon = Daemon(settings, reload=lambda: config.load(path))
    sys.exit(daemon.run())
