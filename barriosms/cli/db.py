from __future__ import annotations

import click

from barriosms.cli.common import CliState, emit_json, json_option, pass_state
from barriosms.store import database as store
from barriosms.store.migrations import LATEST_VERSION, MIGRATIONS, current_version
from barriosms.store.models import database


@click.group()
def db() -> None:
    """Create and upgrade the database.

    Example: barriosms db migrate
    """


@db.command()
@json_option
@pass_state
def migrate(state: CliState, as_json: bool) -> None:
    """Create the database or bring its schema up to date (safe to run again).

    Example: barriosms db migrate
    """
    settings = state.settings()
    try:
        applied = store.migrate_database(settings.database.target)
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    version = current_version(database)
    if as_json:
        emit_json({"database": store.describe(), "applied": applied, "version": version})
    elif applied:
        click.echo(f"{store.describe()}: applied migration(s) {', '.join(map(str, applied))}; "
                   f"schema version {version}")
    else:
        click.echo(f"{store.describe()}: already at schema version {version}, nothing to do")


@db.command()
@json_option
@pass_state
def status(state: CliState, as_json: bool) -> None:
    """Show the schema version of the database and what `db migrate` would apply.

    Example: barriosms db status --json
    """
    settings = state.settings()
    if not settings.database.shared and not settings.database.path.exists():
        raise click.ClickException(f"no database at {settings.database.path}: create it with `barriosms db migrate`")
    try:
        store.create_or_open(settings.database.target)
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    version = current_version(database)
    pending = [m.version for m in MIGRATIONS if m.version > version]
    if as_json:
        emit_json({"database": store.describe(), "version": version, "latest": LATEST_VERSION,
                   "pending": pending})
    else:
        click.echo(f"{store.describe()}: schema version {version} of {LATEST_VERSION}"
                   + (f"; run `barriosms db migrate` to apply {pending}" if pending else " (up to date)"))
    if pending:
        raise SystemExit(1)


@db.command("copy")
@click.argument("url")
@json_option
@pass_state
def copy_command(state: CliState, url: str, as_json: bool) -> None:
    """Copy this gateway's SQLite database, whole, into a new, empty PostgreSQL database: the move
    to several gateways on one database (README: "Moving to PostgreSQL").

    Stop the daemon and the website first; the SQLite file is only read, and a copy that fails
    leaves the new database empty. Then set [database] url = URL and start them again.

    Example: barriosms db copy postgresql://barriosms:PASSWORD@db.example/barriosms
    """
    from barriosms.operations import runlock
    from barriosms.store import transfer

    settings = state.settings()
    if settings.database.shared:
        raise click.ClickException("this configuration already uses PostgreSQL ([database] url); db copy reads the "
                                   "SQLite file at [database] path: run it with the configuration of the old gateway")
    path = settings.database.path

    def copied(table: str, rows: int) -> None:
        if not as_json:
            click.echo(f"{table:<20} {rows:>10,} rows")

    try:
        with runlock.hold(path):  # no daemon writes while it is copied, nor starts meanwhile
            counts = transfer.copy_sqlite_to_postgresql(path, url, progress=copied)
    except (runlock.AlreadyRunning, runlock.LockUnavailable, store.StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json({"from": str(path), "to": store.describe_url(url), "rows": counts})
    else:
        click.echo(f"copied {sum(counts.values()):,} rows from {path} to {store.describe_url(url)}; now set "
                   "[database] url to it and start barriosms again")
