from __future__ import annotations

import sys

import click

from barriosms.cli.common import CliState, pass_state
from barriosms.cli.run import EXIT_NEEDS_FIX
from barriosms.operations import logsetup


@click.command()
@click.option("--listen", metavar="HOST:PORT", default=None,
              help="Override [web] listen for this run (e.g. 0.0.0.0:8080).")
@pass_state
def web(state: CliState, listen: str | None) -> None:
    """Serve the public website, the Open311 API and the staff back-office (barriosms-web.service).

    The back-office is /personal/ to [staff] networks (this machine by default), or on its own
    address with [staff] listen; staff log in with the accounts of `barriosms staff add`.

    Residents report and follow cases; everyone sees the map. It shares the database with the
    gateway and never touches the modem: a tracking SMS goes through the outbox. SIGTERM or Ctrl-C
    stop it. Exits 2 when the configuration or the database must be fixed first.

    Example: barriosms web --listen 0.0.0.0:8080
    """
    import dataclasses

    from barriosms.store.database import StoreError
    from barriosms.web.server import run as serve

    try:
        settings = state.settings()
        if listen is not None:
            host, _, port = listen.rpartition(":")
            if not host or not port.isdigit() or not 0 <= int(port) < 65536:
                raise click.BadParameter("write HOST:PORT, e.g. 127.0.0.1:8080", param_hint="--listen")
            settings = dataclasses.replace(settings, web=dataclasses.replace(
                settings.web, host=host.strip("[]"), port=int(port)))
        logsetup.configure(settings.logging.level)
        sys.exit(serve(settings))
    except click.BadParameter:
        raise
    except (click.ClickException, StoreError) as exc:
        message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        click.echo(f"Error: {message}", err=True)
        sys.exit(EXIT_NEEDS_FIX)
    except OSError as exc:
        staff = settings.staff.listen
        where = f"{settings.web.host}:{settings.web.port}" + (f" or {staff[0]}:{staff[1]}" if staff else "")
        click.echo(f"Error: cannot listen on {where}: {exc.strerror} "
                   "(another program uses the port? change [web] listen or [staff] listen)", err=True)
        sys.exit(EXIT_NEEDS_FIX)
