"""`barriosms audit`: the trail of who changed what, when and from where."""

from __future__ import annotations

import click

from barriosms.cli.common import CliState, clip, emit_json, json_option, limit_option, local_time, pass_state, short_time, table
from barriosms.cli.stats import start_of_day_utc
from barriosms.staff import audit


@click.group("audit")
def audit_group() -> None:
    """The audit trail: every change staff and crews made, by whom, when and from where (cli, web, sms).

    Example: barriosms audit list --user ana --since 2026-12-01
    """


@audit_group.command("list")
@click.option("--user", metavar="U", help="Only what this account (or login name) did.")
@click.option("--since", metavar="DATE", help="Only from this day on (YYYY-MM-DD, local time).")
@click.option("--action", metavar="A", help="Only this action (cases.status), or a family of them (cases).")
@limit_option
@json_option
@pass_state
def list_(state: CliState, user: str | None, since: str | None, action: str | None, limit: int | None,
          as_json: bool) -> None:
    """List audit entries, newest first, with times in the configured zone.

    Example: barriosms audit list --user ana --since 2026-12-01 --action cases
    """
    settings = state.open_db()
    zone = settings.zone
    start = start_of_day_utc(since, zone) if since else None
    rows = audit.entries(actor=user, since=start, action=action, limit=limit)
    if as_json:
        emit_json([{"id": e.id, "at": local_time(e.at, zone), "actor": e.actor, "source": e.source,
                    "action": e.action, "target": e.target, "detail": e.detail} for e in rows])
        return
    table(["at", "actor", "source", "action", "target", "detail"],
          [[short_time(e.at, zone), e.actor, e.source, e.action, e.target or "-", clip(e.detail, 60) or "-"]
           for e in rows],
          empty="no audit entries match")
