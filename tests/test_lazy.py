"""The CLI's lazy command table (barriosms/cli/lazy.py): it cannot drift from the real commands, and
`barriosms --help` imports none of them."""

from __future__ import annotations

import subprocess
import sys

import click
import click.testing
import pytest

from barriosms.cli import COMMANDS, cli
from barriosms.cli.lazy import help_only, load


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_entry_imports_a_click_command_of_that_name(name):
    entry = COMMANDS[name]
    command = load(entry.target)
    assert isinstance(command, click.Command)
    assert command.name == name
    for target in entry.subcommands:
        assert isinstance(load(target), click.Command), target


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_tables_help_line_is_the_commands_own(name):
    entry = COMMANDS[name]
    command = load(entry.target)
    assert entry.short_help == command.get_short_help_str(limit=10_000)
    # What --help prints at any width is then what click would print from the command itself.
    for limit in (20, 45, 74, 200):
        assert help_only(entry.short_help).get_short_help_str(limit) == command.get_short_help_str(limit)


def test_subcommands_added_from_other_modules_are_reachable():
    ctx = click.Context(cli)
    cases = cli.get_command(ctx, "cases")
    categories = cli.get_command(ctx, "categories")
    assert isinstance(cases, click.Group) and isinstance(categories, click.Group)
    assert "export" in cases.list_commands(ctx)
    assert {"learn", "learned", "forget"} <= set(categories.list_commands(ctx))


def test_an_unknown_command_is_still_an_error():
    result = click.testing.CliRunner().invoke(cli, ["nosuchcommand"])
    assert result.exit_code == 2 and "No such command" in result.output


# Modules `barriosms --help` must not import: a command module, the models, the heavy libraries.
NOT_AT_HELP = ("barriosms.cli.cases", "barriosms.cli.run", "barriosms.sim.cli", "barriosms.store.models",
               "barriosms.config", "peewee", "phonenumbers", "gammu", "apscheduler")


def test_help_imports_no_command_module():
    code = ("import sys\n"
            "from barriosms.cli import cli\n"
            "cli.main(['--help'], prog_name='barriosms', standalone_mode=False)\n"
            f"print('LOADED', sorted(m for m in {NOT_AT_HELP!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Commands:" in out.stdout and "cases" in out.stdout and "workshop" in out.stdout
    assert out.stdout.splitlines()[-1] == "LOADED []"
