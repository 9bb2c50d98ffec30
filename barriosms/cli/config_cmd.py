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
    notes: list[str] = []
    if settings is not None:
        language = settings.gateway.language
        try:
            templates = Templates.load(settings.gateway.replies, language)
            if templates.defaulted:
                notes.append(f"{templates.source}: has no {', '.join(templates.defaulted)}; the built-in "
                             f"text is used (copy it from barriosms/templates/replies.{language}.ini to change it)")
        except TemplateError as exc:
            problems.append(str(exc))
        try:
            load_categories(settings.gateway.categories, language)
        except TemplateError as exc:
            problems.append(str(exc))
        if not settings.database.shared and not settings.database.path.exists():
            problems.append(f"{path}: [database] path: {settings.database.path} does not exist yet. "
                            "Fix: run `barriosms db migrate` to create it")
    if as_json:
        emit_json({"file": str(path), "ok": not problems, "problems": problems, "notes": notes})
    elif problems:
        click.echo(f"{path}: {len(problems)} problem(s):", err=True)
        for p in problems:
            click.echo(f"- {p}", err=True)
    else:
        click.echo(f"{path}: OK")
    if not as_json:
        for note in notes:
            click.echo(f"note: {note}", err=True)
    if problems:
        raise SystemExit(1)
