"""`barriosms backup` and `barriosms restore`: thin click commands over barriosms.operations.backup."""

from __future__ import annotations

from pathlib import Path

import click

from barriosms.cli.common import STDOUT, CliState, emit_json, json_option, pass_state
from barriosms.operations import backup as backups


@click.command()
@click.option("--to", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the backup into this folder. Default: [backup] folder (a backups folder beside the database).")
@click.option("--keep", type=click.IntRange(min=1), default=None, metavar="N",
              help="Then delete all but the newest N backups in the folder. Default: [backup] keep in the backups "
                   "folder; nothing is deleted in a --to folder unless --keep is given.")
@json_option
@pass_state
def backup(state: CliState, folder: Path | None, keep: int | None, as_json: bool) -> None:
    """Copy the database into a verified backup, and keep the newest [backup] keep of them.

    Safe while the daemon runs (SQLite's online backup API). The file is named
    barriosms-YYYYmmdd-HHMMSS.db (UTC); it is written under a temporary name, checked with
    PRAGMA integrity_check, and only then given its name, so a failure leaves nothing behind.
    Rotation deletes only older files of that name in the folder, never the new one, and only
    in the backups folder of the configuration or with --keep: a --to folder may hold copies
    someone keeps on purpose.

    Example: barriosms backup --to /media/usb/barriosms
    """
    if folder is not None and str(folder) == STDOUT:
        # The copy is verified under a temporary name and then renamed: that needs a file in a folder.
        raise click.ClickException("a backup is a verified SQLite file in a folder; it cannot go to standard "
                                   "output (-). Use --to FOLDER, then copy the file from there")
    settings = state.settings()
    _sqlite_only(settings, "back it up with pg_dump on the server")
    target = folder or settings.backup.folder or backups.default_folder(settings.database.path)
    if keep is None and folder is None:
        keep = settings.backup.keep
    try:
        made = backups.make(settings.database.path, target, keep)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json({"path": str(made.path), "size": made.size, "seconds": round(made.seconds, 2),
                   "schema_version": made.schema_version, "cases": made.cases, "integrity": "ok",
                   "removed": [str(p) for p in made.removed]})
        return
    click.echo(f"{made.path}: {backups.megabytes(made.size)} in {made.seconds:.1f} s, integrity ok, "
               f"schema version {made.schema_version}, {made.cases} case(s)")
    for path in made.removed:
        click.echo(f"removed old backup {path}")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_state
def restore(state: CliState, file: Path, yes: bool, as_json: bool) -> None:
    """Replace the database with a backup. Stop the daemon first (`sudo systemctl stop barriosms`).

    FILE is checked first (integrity_check ok, a barriosms schema not newer than this version);
    the current database is kept as <database>.before-restore-<stamp>; the backup is then swapped
    in atomically and brought up to date with the pending migrations. Refused while the daemon runs.

    Example: barriosms restore /var/lib/barriosms/backups/barriosms-20261124-030000.db
    """
    settings = state.settings()

    def confirm(plan: backups.RestorePlan) -> bool:
        if yes:
            return True
        now = ("no database there yet" if plan.current_cases is None
               else f"the current database has {plan.current_cases} case(s)")
        return click.confirm(f"Replace {plan.database} ({now}) with {plan.source.path} "
                             f"({plan.source.cases} case(s), schema version {plan.source.schema_version})?",
                             err=True)

    _sqlite_only(settings, "restore it with pg_restore on the server")
    try:
        done = backups.restore(settings.database.path, file, confirm=confirm)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json({"database": str(done.database), "restored_from": str(done.source),
                   "kept": str(done.kept) if done.kept else None, "kept_how": done.kept_how,
                   "schema_version": done.schema_version, "migrations": list(done.migrations),
                   "cases": done.cases})
        return
    click.echo(f"{done.database}: restored from {done.source} ({done.cases} case(s))")
    if done.kept:
        click.echo(f"the previous database is kept as {done.kept} ({done.kept_how})")
    if done.migrations:
        click.echo(f"applied migration(s) {', '.join(map(str, done.migrations))}")
    click.echo("start the daemon again: sudo systemctl start barriosms")


def _sqlite_only(settings, what: str) -> None:
    if settings.database.shared:
        raise click.ClickException(f"the database is on a PostgreSQL server ([database] url): {what}; "
                                   "barriosms backup and restore handle the SQLite file only")
