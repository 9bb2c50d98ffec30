from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import click

from barriosms.cases.satisfaction import SurveyCounts
from barriosms.cli.common import CliState, emit_json, json_option, local_time, pass_state, table
from barriosms.reporting import reports


def start_of_day_utc(day: str, zone: ZoneInfo) -> dt.datetime:
    """The local midnight that starts `day` (YYYY-MM-DD) as naive UTC, the store's form of time."""
    try:
        date = dt.date.fromisoformat(day.strip())
    except ValueError:
        raise click.ClickException(f"bad date {day!r}: write it as YYYY-MM-DD, e.g. 2026-11-01") from None
    local = dt.datetime.combine(date, dt.time(0), tzinfo=zone)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def duration(seconds: float | None) -> str:
    """A time to resolve for people: hours up to two days, then days ("-" when there is none)."""
    if seconds is None:
        return "-"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _resolve_json(r: reports.ResolveTime) -> dict:
    hours = None if r.median_seconds is None else round(r.median_seconds / 3600, 2)
    return {"resolved": r.resolved, "median_seconds": r.median_seconds, "median_hours": hours}


def share(part: float | None) -> str:
    return "-" if part is None else f"{part:.0%}"


def _survey_json(c: SurveyCounts) -> dict:
    seconds = c.median_seconds_to_yes
    return {"asked": c.asked, "answered": c.answered, "yes": c.yes, "no": c.no, "waiting": c.waiting,
            "expired": c.expired,
            "confirmed_share": None if c.confirmed_share is None else round(c.confirmed_share, 4),
            "median_seconds_to_confirm": seconds,
            "median_hours_to_confirm": None if seconds is None else round(seconds / 3600, 2)}


def _survey_row(name: str, c: SurveyCounts) -> list:
    return [name, c.asked, c.answered, c.yes, c.no, share(c.confirmed_share), duration(c.median_seconds_to_yes)]


@click.command()
@click.option("--since", metavar="DATE", help="Only cases opened on or after this day (YYYY-MM-DD, local time).")
@json_option
@pass_state
def stats(state: CliState, since: str | None, as_json: bool) -> None:
    """Count cases per status, category and district, the median time to resolve them, and how
    many fixes the residents confirmed.

    The time to resolve runs from the report to the moment the case became resolved, over the
    cases that got there (also those closed since). Merged duplicates are not counted.
    Satisfaction: when a case is resolved its reporters are asked once whether it is really
    fixed (1 yes, 2 no); "confirmed" is the share of answers that said yes, and the median time
    to confirm runs from the question (the case resolved) to the "yes".

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
            "satisfaction": {**_survey_json(s.satisfaction.overall),
                             "by_category": {c: _survey_json(n) for c, n in s.satisfaction.by_category.items()},
                             "by_district": {d: _survey_json(n) for d, n in s.satisfaction.by_district.items()}},
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
    click.echo()
    sat = s.satisfaction
    headers = ["asked", "answered", "yes", "no", "confirmed", "median to confirm"]
    table(["category", *headers], [_survey_row(c, n) for c, n in sat.by_category.items()],
          empty="no resident was asked yet whether a fix worked")
    if sat.by_district:
        click.echo()
        table(["district", *headers], [_survey_row(d or "(none)", n) for d, n in sat.by_district.items()])
    click.echo()
    o = sat.overall
    click.echo(f"fixes confirmed by residents: {o.yes} of {o.answered} answer(s) ({share(o.confirmed_share)}), "
               f"{o.no} not fixed; {o.asked} asked, {o.waiting} waiting, {o.expired} without answer; "
               f"median time to confirm: {duration(o.median_seconds_to_yes)}")
