"""`barriosms categories`: the categories reports are filed under, and how the gateway chooses them."""

from __future__ import annotations

from typing import Any

import click

from barriosms.cli.common import CliState, emit_json, json_option, pass_state, table
from barriosms.domain.errors import TemplateError
from barriosms.templates.loader import load_categories


@click.group()
def categories() -> None:
    """The categories reports are filed under (agua, vias, ...) and how the gateway chooses them.

    Example: barriosms categories list
    """


@categories.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """Each category in priority order, its label and its keywords (the default last).

    Example: barriosms categories list --json
    """
    g = state.settings().gateway
    try:
        rules = load_categories(g.categories, g.language)
    except TemplateError as exc:
        raise click.ClickException(f"{exc} (run `barriosms config check`)") from None
    keywords = dict(rules.rules)
    rows: list[dict[str, Any]] = [{"category": name, "label": rules.label(name), "keywords": list(keywords.get(name, ())),
             "default": name == rules.default} for name in rules.names]
    if as_json:
        emit_json(rows)
        return
    table(["CATEGORY", "LABEL", "KEYWORDS"],
          [[r["category"] + (" (default)" if r["default"] else ""), r["label"], ", ".join(r["keywords"])]
           for r in rows])
