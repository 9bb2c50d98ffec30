from __future__ import annotations

import click

from barriosms import config, configkeys
from barriosms.cli.common import CliState, emit_json, json_option, pass_state
from barriosms.templates import loader as templatefiles


@click.group("config")
def config_group() -> None:
    """Check the configuration file, or print a commented example of one.

    Example: barriosms --config /etc/barriosms/barriosms.ini config check
    """


@config_group.command()
def example() -> None:
    """Print a complete example barriosms.ini: every section and key, its help, range and default.

    Made from the declaration of the keys (barriosms/configkeys.py), as config/barriosms.ini.example
    is: the lines a site must edit ([database] path, [modem] device) are set, suggestions are
    commented out. Needs no configuration file.

    Example: barriosms config example > barriosms.ini
    """
    click.echo(configkeys.example(), nl=False)


@config_group.command()
@json_option
@pass_state
def check(state: CliState, as_json: bool) -> None:
    """Validate the configuration, its templates and keywords; name the file, key and fix of every problem.

    Also says which SMS texts and category keywords are in use: the files built into the package, or
    the edited copies [gateway] replies and categories name (full paths; --json: "templates").
    Exits non-zero when anything must be fixed.

    Example: barriosms config check
    """
    path = state.config_path()
    problems: list[str] = []
    try:
        settings = config.load(path)
    except config.ConfigError as exc:
        problems = [str(p) for p in exc.problems]
        settings = None
    notes: list[str] = []
    files: tuple[templatefiles.TemplateFile, ...] = ()
    if settings is not None:
        checked = templatefiles.check(settings.gateway)
        files, notes = checked.files, list(checked.notes)
        problems += checked.problems
        if not settings.database.shared and not settings.database.path.exists():
            problems.append(f"{path}: [database] path: {settings.database.path} does not exist yet. "
                            "Fix: run `barriosms db migrate` to create it")
    if as_json:
        emit_json({"file": str(path), "ok": not problems, "problems": problems, "notes": notes,
                   "templates": [f.as_dict() for f in files]})
    else:
        if problems:
            click.echo(f"{path}: {len(problems)} problem(s):", err=True)
            for p in problems:
                click.echo(f"- {p}", err=True)
        else:
            click.echo(f"{path}: OK")
        for line in templatefiles.lines(files):
            click.echo(line)
        for note in notes:
            click.echo(f"note: {note}", err=True)
    if problems:
        raise SystemExit(1)
