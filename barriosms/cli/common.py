"""What every CLI command shares: the config, the database, and the two output forms."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import click

from barriosms import config
from barriosms.reporting import exports
from barriosms.store import database as store


@dataclass
class CliState:
    config_option: str | None
    # The top-level `--as USER`: the staff account changes are made as (checked on first use).
    as_user: str | None = None
    _settings: config.Settings | None = None
    _actor: str | None = None

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
        from barriosms.domain.errors import TemplateError
        from barriosms.templates.loader import load_templates

        settings = self.settings()
        try:
            return load_templates(settings.gateway.replies, settings.gateway.language)
        except TemplateError as exc:
            raise click.ClickException(f"{exc} (run `barriosms config check`)") from None

    def open_db(self) -> config.Settings:
        settings = self.settings()
        try:
            store.open_database(settings.database.target)
        except store.StoreError as exc:
            raise click.ClickException(str(exc)) from None
        if self.as_user and self._actor is None:
            # Every command that opens the database checks --as first, reading ones too: a mistyped
            # or disabled account is said at once, not only when something is about to change.
            self._actor = _checked_account(self.as_user)
        return settings


pass_state = click.make_pass_decorator(CliState)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table.")(fn)


def limit_option(fn: Callable) -> Callable:
    return click.option("--limit", type=click.IntRange(min=1), default=None,
                        help="Show at most this many (newest first). Default: all.")(fn)


# What `--output -` means for every command that writes a document: standard output.
STDOUT = "-"


def output_option(help: str, *, required: bool = False) -> Callable:
    """`--output/-o FILE` of a command that writes a document; `-` is standard output, as everywhere."""
    return click.option("--output", "-o", "output", required=required, metavar="FILE",
                        type=click.Path(dir_okay=False, allow_dash=True),
                        help=f"{help} '-' writes it to standard output.")


@contextmanager
def open_output(output: str, *, force: bool) -> Iterator[TextIO]:
    """Where to write the document of `--output`: standard output for `-`; else the file, written all at
    once (exports.atomic_file), replacing an existing one only with `force`; a ClickException otherwise."""
    if output == STDOUT:
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        with exports.atomic_file(output, force=force) as out:
            yield out
    except exports.ExportError as exc:
        raise click.ClickException(str(exc)) from None


def output_name(output: str) -> str:
    return "standard output" if output == STDOUT else output


def say_done(output: str, message: str) -> None:
    """A line about what was written: on stderr when the document went to stdout, which it must not spoil."""
    click.echo(message, err=output == STDOUT)


def local_time(value: dt.datetime | None, zone: ZoneInfo) -> str | None:
    """A stored naive-UTC time as ISO 8601 in the configured zone, with its offset."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC).astimezone(zone).isoformat(timespec="seconds")


def short_time(value: dt.datetime | None, zone: ZoneInfo) -> str:
    if value is None:
        return "-"
    return value.replace(tzinfo=dt.UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M")


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


def login_name() -> str:
    """The person at the terminal: who ran sudo, else the login name."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or os.environ.get("LOGNAME") or "cli"


def actor() -> str:
    """Who made a change from the CLI, recorded with every case event and audit entry: the account
    of `--as USER` (which must exist and be enabled, else a ClickException before anything changes),
    else $SUDO_USER, else the login name."""
    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(CliState) if ctx else None
    if state is None or not state.as_user:
        return login_name()
    if state._actor is None:
        # Commands open the database (which checks --as) before they act; this is for one that did not.
        state.open_db()
    assert state._actor is not None
    return state._actor


def _checked_account(as_user: str) -> str:
    """The username of the `--as` account, which must exist and be enabled (the database is open)."""
    from barriosms.staff import accounts

    account = accounts.find(as_user)
    if account is None:
        raise click.ClickException(f"--as {as_user}: no such staff account (see `barriosms staff list`)")
    if account.disabled:
        raise click.ClickException(f"--as {as_user}: the account is disabled (`barriosms staff enable {account.username}` "
                                   "enables it)")
    return account.username


# The role action (domain.roles) each audited CLI action needs: "cases.status" → "cases".
_ROLE_ACTION = {"staff": "accounts"}


def allowed(action: str) -> str:
    """Who acts, after checking that the `--as` account's role may do ``action`` ("cases.status",
    "staff.add"...). Without `--as` the change is the technician's (the login or $SUDO_USER, who can
    read the database anyway): no role to check."""
    from barriosms.domain.roles import may
    from barriosms.staff import accounts

    who = actor()
    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(CliState) if ctx else None
    if state is not None and state.as_user:
        account = accounts.get(who)
        area = action.split(".")[0]
        if not may(account.role, _ROLE_ACTION.get(area, area)):
            raise click.ClickException(f"--as {who}: a {account.role} account may not do {action} "
                                       "(an admin can change the role: `barriosms staff list` shows who is admin)")
    return who


def audited(action: str, target: str = "", detail: str = ""):
    """The audit entry of a CLI change, written with it (`with audited("cases.note", tracking) as entry:`);
    refused, before anything changes, when the `--as` account's role may not do ``action``."""
    from barriosms.staff import audit

    return audit.recorded(allowed(action), "cli", action, target, detail)
