"""`barriosms staff`: the accounts of the people who use the staff tools (the website's login later)."""

from __future__ import annotations

import sys
from zoneinfo import ZoneInfo

import click

from barriosms.cli.common import CliState, actor, allowed, emit_json, json_option, local_time, pass_state, short_time, table
from barriosms.domain.roles import ROLES
from barriosms.staff import accounts
from barriosms.store.models import StaffAccount


def account_dict(account: StaffAccount, zone: ZoneInfo) -> dict:
    # Never the hash: nothing a script reads should help anyone guess a password.
    return {"username": account.username, "name": account.full_name, "role": account.role,
            "disabled": account.disabled, "created_at": local_time(account.created_at, zone),
            "updated_at": local_time(account.updated_at, zone)}


def _password(from_stdin: bool) -> str:
    """The new password: the first line of standard input, or typed twice without echo."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _run(action):
    try:
        return action()
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None


password_stdin_option = click.option(
    "--password-stdin", is_flag=True,
    help=f"Read the password from the first line of standard input (scripts) instead of asking twice; "
         f"at least {accounts.MIN_PASSWORD} characters.")


@click.group()
def staff() -> None:
    """Staff accounts: who may use the staff tools, with which role (viewer, staff, admin).

    Example: barriosms staff add ana --name "Ana Quispe" --role staff
    """


@staff.command()
@click.argument("username")
@click.option("--name", "full_name", required=True, help='Full name ("Ana Quispe").')
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="viewer reads; staff also acts on cases; admin also manages accounts, projects, broadcasts "
                   "and neighbourhoods.")
@password_stdin_option
@json_option
@pass_state
def add(state: CliState, username: str, full_name: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Add a staff account (usernames ignore case: Ana and ana are one account).

    The password is asked twice without echo, or read from standard input with --password-stdin;
    it is stored only as a hash and never shown.

    Example: barriosms staff add ana --name "Ana Quispe" --role admin
    """
    settings = state.open_db()
    who = allowed("staff.add")
    password = _password(password_stdin)
    account = _run(lambda: accounts.add(username, full_name, role, password, actor=who))
    if as_json:
        emit_json(account_dict(account, settings.zone))
        return
    click.echo(f"staff account {account.username} added ({account.role})")


@staff.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """List the staff accounts, with their roles and whether they are disabled.

    Example: barriosms staff list --json
    """
    settings = state.open_db()
    rows = accounts.accounts()
    if as_json:
        emit_json([account_dict(a, settings.zone) for a in rows])
        return
    table(["username", "name", "role", "state", "created", "updated"],
          [[a.username, a.full_name or "-", a.role, "disabled" if a.disabled else "enabled",
            short_time(a.created_at, settings.zone), short_time(a.updated_at, settings.zone)] for a in rows],
          empty="no staff accounts: add one with `barriosms staff add USER --name NAME --role admin`")


@staff.command()
@click.argument("username")
@password_stdin_option
@json_option
@pass_state
def password(state: CliState, username: str, password_stdin: bool, as_json: bool) -> None:
    """Set a new password for a staff account (asked twice without echo, or --password-stdin).

    Example: barriosms staff password ana
    """
    settings = state.open_db()
    # Anyone may change their own password; another's takes an admin.
    who = actor() if accounts.normalize(username) == actor() else allowed("staff.password")
    _run(lambda: accounts.get(username))  # say so before asking for a password of nobody
    new = _password(password_stdin)
    account = _run(lambda: accounts.set_password(username, new, actor=who))
    if as_json:
        emit_json(account_dict(account, settings.zone))
        return
    click.echo(f"staff account {account.username}: password changed")


def _switch(state: CliState, username: str, disabled: bool, as_json: bool) -> None:
    settings = state.open_db()
    who = allowed("staff.disable" if disabled else "staff.enable")
    done = _run(lambda: accounts.set_disabled(username, disabled, actor=who))
    word = "disabled" if disabled else "enabled"
    if as_json:
        emit_json({**account_dict(done.account, settings.zone), "changed": done.changed})
        return
    click.echo(f"staff account {done.account.username} {word}" if done.changed else
               f"staff account {done.account.username} was already {word}; nothing changed")


@staff.command()
@click.argument("username")
@json_option
@pass_state
def disable(state: CliState, username: str, as_json: bool) -> None:
    """Disable a staff account: it can no longer log in nor be used with --as; its history stays.

    Example: barriosms staff disable ana
    """
    _switch(state, username, True, as_json)


@staff.command()
@click.argument("username")
@json_option
@pass_state
def enable(state: CliState, username: str, as_json: bool) -> None:
    """Enable a disabled staff account again.

    Example: barriosms staff enable ana
    """
    _switch(state, username, False, as_json)
