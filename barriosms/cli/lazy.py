"""A click group that imports a command's module only when that command runs.

Importing every command module (and through them the models, phonenumbers, the daemon...) made
every `barriosms` call, even `--help`, take about a third of a second (issue 16). The group holds
a table instead: each name says where its command lives ("module:attribute") and its one-line
help, so `barriosms --help` lists them all without importing any (tests/test_lazy.py checks that
the table matches the real commands).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import click


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives and what `--help` says of it."""

    target: str  # "package.module:attribute"
    short_help: str  # the first sentence of its docstring, as click would show it
    # Commands of other modules added under this group ("module:attribute"), e.g. `cases export`.
    subcommands: Sequence[str] = field(default=())


def load(target: str) -> click.Command:
    """Import "module:attribute" and return the click command it names."""
    module_name, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


def help_only(text: str) -> click.Command:
    """A bare command with this help, so click itself shortens a table's help line to a width."""
    return click.Command(None, help=text)


class LazyGroup(click.Group):
    """A click.Group whose commands are imported on first use, from a table of LazyCommand."""

    def __init__(self, *args, lazy_commands: Mapping[str, LazyCommand] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, LazyCommand] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.lazy_commands) | set(super().list_commands(ctx)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        entry = self.lazy_commands.get(cmd_name)
        if entry is None:
            return None
        command = load(entry.target)
        if entry.subcommands:
            if not isinstance(command, click.Group):
                raise TypeError(f"{entry.target} has subcommands in the table but is not a group")
            for target in entry.subcommands:
                command.add_command(load(target))
        # Kept so the next lookup (and click's own checks) see the real command.
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, from the table's help lines: `--help` imports no command module."""
        rows: list[tuple[str, click.Command | str]] = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                if not self.commands[name].hidden:
                    rows.append((name, self.commands[name]))
            else:
                rows.append((name, self.lazy_commands[name].short_help))
        if not rows:
            return
        # click's own spacing (three times the default), so the listing reads as it did.
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        lines = [(name, (what if isinstance(what, click.Command) else help_only(what)).get_short_help_str(limit))
                 for name, what in rows]
        with formatter.section("Commands"):
            formatter.write_dl(lines)
