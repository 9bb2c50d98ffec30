from __future__ import annotations

import datetime as dt

import click

from barriosms.cli.common import CliState, emit_json, json_option, local_time, pass_state, short_time, table
from barriosms.cli.stats import start_of_day_utc
from barriosms.domain.phones import format_for_display
from barriosms.pipeline import practice
from barriosms.store.models import utcnow


@click.group()
def workshop() -> None:
    """Practice mode for workshops (PRUEBA ...): who practised how, and deleting the practice.

    Example: barriosms workshop report --since 2026-11-24
    """


def _problems(row: practice.PhoneRow) -> str:
    return ", ".join(f"{outcome} {n}" for outcome, n in sorted(row.problems.items(), key=lambda p: (-p[1], p[0])))


@workshop.command()
@click.option("--since", metavar="DATE", help="Only practice sent on or after this day (YYYY-MM-DD, local time).")
@json_option
@pass_state
def report(state: CliState, since: str | None, as_json: bool) -> None:
    """How many practice messages each phone sent and whether they were well formed.

    Well formed: a report with its neighbourhood and problem, a status query with a valid number,
    BAJA/ALTA, REABRIR with a practice number. What went wrong counts the rest by kind
    (missing_neighborhood, missing_description, unknown_code, ambiguous, invalid_tracking,
    unknown_tracking, help, empty, courtesy). Phones with most problems come first.

    Example: barriosms workshop report --since 2026-11-24
    """
    settings = state.open_db()
    zone, region = settings.zone, settings.gateway.region
    start = start_of_day_utc(since, zone) if since else None
    rows = practice.workshop_report(start)
    if as_json:
        emit_json([{"phone": r.phone, "display": format_for_display(r.phone, region), "messages": r.messages,
                    "well_formed": r.well_formed, "not_well_formed": r.not_well_formed, "problems": r.problems,
                    "unanswered": r.unanswered, "first_at": local_time(r.first_at, zone),
                    "last_at": local_time(r.last_at, zone)} for r in rows])
        return
    table(["phone", "messages", "well formed", "not", "what went wrong", "not answered", "first", "last"],
          [[format_for_display(r.phone, region), r.messages, r.well_formed, r.not_well_formed,
            _problems(r) or "-", r.unanswered or "-", short_time(r.first_at, zone), short_time(r.last_at, zone)]
           for r in rows],
          empty="no practice messages" + (f" since {since}" if since else ""))


@workshop.command()
@click.option("--older-than", "days", type=click.FloatRange(min=0), metavar="DAYS",
              help="Delete practice older than this many days; 0 deletes all of it. "
                   "Default: [service] practice_days.")
@json_option
@pass_state
def purge(state: CliState, days: float | None, as_json: bool) -> None:
    """Delete practice messages and practice cases now (the daemon does it every hour).

    The practice SMS go with them; replies already sent stay counted, without their text.

    Example: barriosms workshop purge --older-than 0
    """
    settings = state.open_db()
    days = settings.service.practice_days if days is None else days
    now = utcnow()
    done = practice.purge_counts(now, days)
    if as_json:
        emit_json({"older_than_days": days, "before": local_time(now - dt.timedelta(days=days), settings.zone),
                   "messages": done.messages, "cases": done.cases,
                   "replies_blanked": done.replies})
        return
    click.echo(f"deleted {done.messages} practice message(s) and {done.cases} practice case(s) "
               f"older than {days:g} day(s)")
