from __future__ import annotations

import click

from .. import config
from ..domain.categories import load_categories
from ..domain.errors import TemplateError
from ..domain.replies import Templates
from .common import CliState, emit_json, json_option, pass_state


@click.group("config")
def config_group() -> None:
    """Check the configuration file.

    Example: barriosms --config /etc/barriosms/barriosms.ini config check
    """


@config_group.command()
@json_option
@pass_state
def check(state: CliState, as_json: bool) -> None:
    """Validate the configuration, its templates and keywords; name the file, key and fix of every problem.

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
    if settings is not None:
        for loader, where in ((Templates.load, settings.gateway.replies), (load_categories, settings.gateway.categories)):
            try:
                loader(where)
            except TemplateError as exc:
                problems.append(str(exc))
        if not settings.database.path.exists():
            problems.append(f"{path}: [database] path: {settings.database.path} does not exist yet. "
                            "Fix: run `barriosms db migrate` to create it")
    if as_json:
        emit_json({"file": str(path), "ok": not problems, "problems": problems})
    elif problems:
        click.echo(f"{path}: {len(problems)} problem(s):", err=True)
        for p in problems:
            click.echo(f"- {p}", err=True)
    else:
        click.echo(f"{path}: OK")
    if problems:
        raise SystemExit(1)
