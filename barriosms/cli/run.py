from __future__ import annotations

import sys

import click

from barriosms import config, store
from barriosms.cli.common import CliState, pass_state
from barriosms.domain.errors import TemplateError

# Distinct from a crash (1): systemd's RestartPreventExitStatus=2 stops restarting a daemon whose
# config or database needs a person, instead of filling the journal every five seconds.
EXIT_NEEDS_FIX = 2
# SQLite's page cache of each of the daemon's connections, in KiB (SQLite's default: about 2,000).
# The modem thread keeps one connection for its whole life, and a few SMS on a large database fill
# its cache: measured on the 1,000,000-case rig after 50 queued replies, the daemon's RSS was
# 46.0 MiB with the default and 44.3 MiB with 512 KiB. What the daemon reads per SMS is a few
# index pages; the operating system's file cache keeps the rest close.
SQLITE_CACHE_KIB = 512


@click.command()
@pass_state
def run(state: CliState) -> None:
    """Run the gateway in the foreground (what the systemd service starts).

    SIGTERM or Ctrl-C stop it gracefully; SIGHUP reloads the configuration and reconnects the modem.
    Exits 2 when the configuration or the database must be fixed first.

    Under systemd (Type=notify) it reports ready once the modem has been tried, even when the modem
    is missing; its state shows in `systemctl status`; with WatchdogSec= it keeps systemd's watchdog
    fed only while its threads make progress, so a hung gateway is restarted. Log lines carry their
    priority for the journal (`journalctl -u barriosms -p warning`).

    Example: barriosms --config /etc/barriosms/barriosms.ini run
    """
    try:
        if state.settings().database.url is None:
            # Before the daemon's modules import peewee: a gateway on an SQLite file never needs psycopg2.
            store.skip_postgresql_driver()
        from barriosms.pipeline.intake import rules_from_settings

        # The SMS texts and categories first: an edited copy with a mistake is a person's to fix,
        # said once, not a traceback systemd restarts every few seconds.
        rules_from_settings(state.settings())
        settings = state.open_db(cache_kib=SQLITE_CACHE_KIB)
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(EXIT_NEEDS_FIX)
    except TemplateError as exc:
        click.echo(f"Error: {exc} (run `barriosms config check`)", err=True)
        sys.exit(EXIT_NEEDS_FIX)
    from barriosms.daemon.process import Daemon
    from barriosms.modem import gammu_output
    from barriosms.operations import logsetup

    logsetup.configure(settings.logging.level)
    # python-gammu prints some news (dropped notifications) with C's printf: logged in our words
    # instead, for the whole life of the process (see modem/gammu_output.py).
    output = gammu_output.capture()
    path = settings.source
    daemon = Daemon(settings, reload=lambda: config.load(path))
    try:
        code = daemon.run()
    finally:
        if output is not None:
            output.close()  # a burst's count still waiting for its quiet moment is logged now
    sys.exit(code)
