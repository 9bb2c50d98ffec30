"""What every CLI command shares: the config, the database, and the two output forms."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

import click

from barriosms.domain.statuses import SPANISH_NAMES, STATUSES, UnknownStatus, parse_status, status_names

if TYPE_CHECKING:
    from barriosms import config

# config (phonenumbers), the store (peewee, the models) and exports are imported where used, not
# here: every `barriosms` call imports this module, `--help` and `--version` too (issue 16).


@dataclass
class CliState:
    config_option: str | None
    # The top-level `--as USER`: the staff account changes are made as (checked on first use).
    as_user: str | None = None
    _settings: config.Settings | None = None
    _actor: str | None = None

    def config_path(self) -> Path:
        from barriosms import config

        try:
            return config.locate(self.config_option)
        except config.ConfigError as exc:
            raise click.ClickException(str(exc)) from None

    def settings(self) -> config.Settings:
        from barriosms import config

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

    def open_db(self, *, cache_kib: int | None = None) -> config.Settings:
        """Open the configured database (`cache_kib`: see store.database.open_database)."""
        from barriosms.store import database as store

        settings = self.settings()
        try:
            store.open_database(settings.database.target, cache_kib=cache_kib)
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
    from barriosms.reporting import exports

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


class StatusType(click.ParamType):
    """A case status as staff type it, English or Spanish (domain.statuses.parse_status); the English name."""

    name = "status"

    def get_metavar(self, param: click.Parameter, *args: Any, **kwargs: Any) -> str:
        return "STATUS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return parse_status(str(value))
        except UnknownStatus as exc:
            # BadParameter is a ClickException: "Error: Invalid value for 'STATUS': unknown status ...", exit 2.
            self.fail(str(exc), param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        names = [*STATUSES, *SPANISH_NAMES.values()]
        return [CompletionItem(n) for n in names if n.startswith(incomplete.lower())]


STATUS = StatusType()
# For help texts: every status name, English (Spanish).
STATUS_HELP = status_names()


def phone_option(help: str) -> Callable:
    return click.option("--phone", metavar="NUMBER",
                        help=f"{help} Typed any usual way: 71234567, 7123 4567, +591 71234567, 00591 71234567.")


def typed_phone(typed: str, region: str) -> str:
    """The E.164 spelling of a number staff typed (domain.phones.normalize_typed), or a ClickException."""
    from barriosms.domain.phones import normalize_typed

    number = normalize_typed(typed, region)
    if number is None:
        raise click.ClickException(f"{typed!r} is not a phone number; type it as residents' phones are written, "
                                   "e.g. 71234567 or +591 71234567")
    return number


# The width tables fit when stdout is not a terminal (a pipe, a file, a test) or a narrower one.
TABLE_WIDTH = 80


def wide_option(fn: Callable) -> Callable:
    return click.option("--wide", is_flag=True,
                        help=f"Show every column and whole texts (by default long texts are cut with … to fit "
                             f"{TABLE_WIDTH} columns or the terminal's width).")(fn)


def table_width() -> int:
    """The terminal's width when stdout is one wider than TABLE_WIDTH; else TABLE_WIDTH."""
    if sys.stdout.isatty():
        return max(TABLE_WIDTH, shutil.get_terminal_size((TABLE_WIDTH, 24)).columns)
    return TABLE_WIDTH


# A column that shrinks keeps at least this many characters (or its header's) while another can go.
_SHRUNK_MIN = 12
_GAP = 2


def _fit(headers: Sequence[str], cells: list[list[str]], natural: list[int], shrink: Sequence[str],
         drop: Sequence[str], limit: int) -> tuple[list[int], list[int]]:
    """(kept column indexes, their widths) so the table fits `limit`.

    When the table is too wide, columns in `drop` with nothing to say ("-" in every row) go; then the
    others, in the order given, while the `shrink` ones could not make room at their floor. Then the
    `shrink` columns give up width, the first named first.
    """
    names = [h.lower() for h in headers]
    shrinking = [names.index(c) for c in shrink if c in names]
    floor = {i: min(natural[i], max(len(headers[i]), _SHRUNK_MIN)) for i in shrinking}
    kept = list(range(len(headers)))

    def total(widths: dict[int, int]) -> int:
        return sum(widths[i] for i in kept) + _GAP * (len(kept) - 1)

    def silent(i: int) -> bool:
        return all(row[i] in ("", "-") for row in cells)

    droppable = [names.index(c) for c in drop if c in names]
    if total(dict(enumerate(natural))) > limit:
        # Space is short: a column with nothing to say is worth less than any character of text.
        kept = [i for i in kept if not (i in droppable and silent(i))]
    at_floor = {i: floor.get(i, natural[i]) for i in range(len(headers))}
    for i in droppable:
        if total(at_floor) <= limit:
            break
        if i in kept:
            kept.remove(i)
    widths = {i: natural[i] for i in kept}
    for i in shrinking:
        excess = total(widths) - limit
        if excess <= 0:
            break
        if i in widths:
            widths[i] = max(floor[i], widths[i] - excess)
    return kept, [widths[i] for i in kept]


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str = "nothing to show", *,
          shrink: Sequence[str] = (), drop: Sequence[str] = (), wide: bool = True) -> None:
    """Print rows under upper-case headers, columns padded to their widest cell.

    Unless `wide`, the table fits `table_width()`: columns named in `drop` are left out (empty ones
    first, only as long as it does not fit otherwise; a note on stderr says which), texts in the `shrink`
    columns are cut with "…" (the first named gives up width first), and as a last resort each line
    is cut. Whitespace in cells (a resident's line breaks) is folded to single spaces so a row stays one line.
    """
    cells = [["" if c is None else " ".join(str(c).split()) for c in r] for r in rows]
    if not cells:
        click.echo(empty)
        return
    natural = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    limit = table_width()
    if wide:
        kept, widths = list(range(len(headers))), natural
    else:
        kept, widths = _fit(headers, cells, natural, shrink, drop, limit)
        left_out = [headers[i] for i in range(len(headers)) if i not in kept]
        if left_out:
            note = f"({', '.join(left_out)} left out to fit {limit} columns; --wide shows all)"
            click.echo(note if len(note) <= limit else clip(note, limit), err=True)

    def line(values: Sequence[str]) -> str:
        text = (" " * _GAP).join(clip(values[i], w).ljust(w) for i, w in zip(kept, widths)).rstrip()
        return text if wide or len(text) <= limit else text[: limit - 1] + "…"

    click.echo(line([h.upper() for h in headers]))
    for r in cells:
        click.echo(line(r))


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
_ROLE_ACTION = {"staff": "accounts", "crews": "accounts"}  # a crew's PIN moves cases: admins give it
_ROLE_ACTION["callbacks"] = "cases"  # calling a resident back is casework


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
