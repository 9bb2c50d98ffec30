"""What every CLI command shares: the config, the database, and the two output forms."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

import click

from .. import config
from ..store import database as store


@dataclass
class CliState:
    config_option: str | None
    _settings: config.Settings | None = None

    def config_path(self) -> Path:
        try:
            return config.locate(self.config_option)
        except config.ConfigError as exc:
            raise click.ClickException(str(exc)) from None

    def settings(self) -> config.Settings:
        if self._settings is None:
            try:
                self._settings = config.load(self.config_path())
            except config.ConfigError as exc:
                raise click.ClickException(
                    "the configuration has problems (run `barriosms config check`):\n" + str(exc)) from None
        return self._settings

    def templates(self):
        """The SMS texts of the configured language (and edited copy), or a ClickException."""
        from ..domain.errors import TemplateError
        from ..domain.replies import Templates

        settings = self.settings()
        try:
            return Templates.load(settings.gateway.replies, settings.gateway.language)
        except TemplateError as exc:
            raise click.ClickException(f"{exc} (run `barriosms config check`)") from None

    def open_db(self) -> config.Settings:
        settings = self.settings()
        try:
            store.open_database(settings.database.target)
        except store.StoreError as exc:
            raise click.ClickException(str(exc)) from None
        return settings


pass_state = click.make_pass_decorator(CliState)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table.")(fn)


def limit_option(fn: Callable) -> Callable:
    return click.option("--limit", type=click.IntRange(min=1), default=None,
                        help="Show at most this many (newest first). Default: all.")(fn)


def local_time(value: dt.datetime | None, zone: ZoneInfo) -> str | None:
    """A stored naive-UTC time as ISO 8601 in the configured zone, with its offset."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc).astimezone(zone).isoformat(timespec="seconds")


def short_time(value: dt.datetime | None, zone: ZoneInfo) -> str:
    if value is None:
        return "-"
    return value.replace(tzinfo=dt.timezone.utc).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str = "nothing to show") -> None:
    rows = [["" if c is None else str(c) for c in r] for r in rows]
    if not rows:
        click.echo(empty)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def actor() -> str:
    """Who made a change from the CLI: recorded with every case event."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or os.environ.get("LOGNAME") or "cli"
