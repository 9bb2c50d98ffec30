from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import click

from .. import reports
from .common import CliState, emit_json, json_option, local_time, pass_state, table


def start_of_day_utc(day: str, zone: ZoneInfo) -> dt.datetime:
    """The local midnight that starts `day` (YYYY-MM-DD) as naive UTC, the store's form of time."""
    try:
        date = dt.date.fromisoformat(day.strip())
    except ValueError:
        raise click.ClickException(f"bad date {day!r}: write it as YYYY-MM-DD, e.g. 2026-11-01") from None
    local = dt.datetime.combine(date, dt.time(0), tzinfo=zone)
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def duration(seconds: float | None) -> str:
    """A time to resolve for people: hours up to two days, then days ("-" when there is none)."""
    if seconds is None:
        return "-"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _resolve_json(r: reports.ResolveTime) -> dict:
    hours = None if r.median_seconds is None else round(r.median_seconds / 3600, 2)
    return {"resolved": r.resolved, "median_seconds": r.median_seconds, "median_hours": hours}


@click.command()
@click.option("--since", metavar="DATE", help="Only cases opened on or after this day (YYYY-MM-DD, local time).")
@json_option
@pass_state
def stats(state: CliState, since: str | None, as_json: bool) -> None:
    """Count cases per status, category and district, and the median time to resolve them.

    The time to resolve runs from the report to the moment the case became resolved, over the
    cases that got there (also those closed since). Merged duplicates are not counted.

    Example: barriosms stats --since 2026-11-01
    """
    settings = state.open_db()
    start = start_of_day_utc(since, settings.zone) if since else None
    s = reports.stats(start)
    if as_json:
        emit_json({
            "since": local_time(start, settings.zone),
            "total": s.total,
            "by_status": s.by_status,
            "by_category": s.by_category,
            "by_district": s.by_district,
            "time_to_resolve": {**_resolve_json(s.resolve_time),
                                "by_category": {c: _resolve_json(r) for c, r in s.resolve_time_by_category.items()}},
        })
        return
    click.echo(f"{s.total} case(s)" + (f" opened since {since}" if since else ""))
    click.echo()
    table(["status", "cases"], s.by_status.items())
    click.echo()
    table(["category", "cases", "resolved", "median to resolve"],
          [[c, n, s.resolve_time_by_category[c].resolved, duration(s.resolve_time_by_category[c].median_seconds)]
           for c, n in s.by_category.items()], empty="no categories yet")
    click.echo()
    table(["district", "cases"], [[d or "(none)", n] for d, n in s.by_district.items()],
          empty="no districts yet")
    click.echo()
    click.echo(f"median time to resolve: {duration(s.resolve_time.median_seconds)}"
               f" over {s.resolve_time.resolved} resolved case(s)")
