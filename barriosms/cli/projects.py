"""`barriosms projects`: the municipal works the website shows on each neighbourhood's page."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import click

from barriosms.cli.common import (
    CliState,
    audited,
    emit_json,
    json_option,
    limit_option,
    local_time,
    pass_state,
    short_time,
    table,
    wide_option,
)
from barriosms.staff import projects as works
from barriosms.store.models import PROJECT_STATUSES, Project


def project_dict(project: Project, zone: ZoneInfo) -> dict:
    return {
        "id": project.id,
        "neighborhood": project.neighborhood.code,
        "neighborhood_name": project.neighborhood.name,
        "title": project.title,
        "description": project.description,
        "status": project.status,
        "budget": project.budget,
        "start_date": _day(project.start_date),
        "end_date": _day(project.end_date),
        "lat": project.lat,
        "lon": project.lon,
        "created_at": local_time(project.created_at, zone),
        "updated_at": local_time(project.updated_at, zone),
    }


def _day(value: dt.date | None) -> str | None:
    return value.strftime("%Y-%m-%d") if value else None


def bolivianos(amount: float | None) -> str:
    """A budget the way it is written in Bolivia: Bs 1.250.000 or Bs 1.250.000,50 (no budget: -)."""
    if amount is None:
        return "-"
    text = f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.2f}"
    return "Bs " + text.translate(str.maketrans(",.", ".,"))


def _place(project: Project) -> str:
    return f"{project.lat:g}, {project.lon:g}" if project.lat is not None and project.lon is not None else "-"


def _run(action):
    try:
        return action()
    except works.ProjectError as exc:
        raise click.ClickException(str(exc)) from None


def _echo(project: Project, zone: ZoneInfo) -> None:
    click.echo(f"Project {project.id}  [{project.status}]")
    click.echo(f"  neighbourhood: {project.neighborhood.code} {project.neighborhood.name}")
    click.echo(f"  title:         {project.title}")
    click.echo(f"  budget:        {bolivianos(project.budget)}")
    click.echo(f"  start:         {_day(project.start_date) or '-'}   end: {_day(project.end_date) or '-'}")
    click.echo(f"  place:         {_place(project)}")
    click.echo(f"  description:   {project.description or '-'}")
    click.echo(f"  added:         {short_time(project.created_at, zone)}   updated: {short_time(project.updated_at, zone)}")


def _report(state: CliState, project: Project, as_json: bool, done: str) -> None:
    zone = state.settings().zone
    if as_json:
        emit_json(project_dict(project, zone))
        return
    click.echo(f"project {project.id} {done}")
    _echo(project, zone)


# The values add and update share; update also offers --clear-… for the optional ones.
_VALUE_OPTIONS = (
    click.option("--neighborhood", metavar="CODE", help="Code of the neighbourhood of the works (B12)."),
    click.option("--title", help='Short name shown on the website ("Enlosetado calle 3").'),
    click.option("--description", help="Longer text for the website."),
    click.option("--status", type=click.Choice(PROJECT_STATUSES), help="Where the works stand."),
    click.option("--budget", metavar="BS", help="Budget in bolivianos, without thousands separators (125000)."),
    click.option("--start", metavar="YYYY-MM-DD", help="Start date."),
    click.option("--end", metavar="YYYY-MM-DD", help="End date (planned or real); not before the start."),
    click.option("--lat", metavar="DEGREES", help="Latitude of the works on the map (-16.5); needs --lon."),
    click.option("--lon", metavar="DEGREES", help="Longitude of the works on the map (-68.13); needs --lat."),
)


OPTION_OF = {"neighborhood": "--neighborhood", "title": "--title", "description": "--description",
             "status": "--status", "budget": "--budget", "start_date": "--start", "end_date": "--end",
             "lat": "--lat", "lon": "--lon"}


def value_options(fn):
    for option in reversed(_VALUE_OPTIONS):
        fn = option(fn)
    return fn


@click.group()
def projects() -> None:
    """Municipal projects shown on the website.

    Example: barriosms projects list --neighborhood B12
    """


@projects.command()
@value_options
@json_option
@pass_state
def add(state: CliState, neighborhood: str | None, title: str | None, description: str | None,
        status: str | None, budget: str | None, start: str | None, end: str | None, lat: str | None,
        lon: str | None, as_json: bool) -> None:
    """Add a project to a neighbourhood (--neighborhood and --title are required).

    Status starts as planned unless --status says otherwise. Budget in Bs as a plain number;
    the place on the map needs both --lat and --lon.

    Example: barriosms projects add --neighborhood B12 --title "Enlosetado calle 3" --budget 125000 --start 2026-12-01 --end 2027-03-31
    """
    missing = [name for name, value in (("--neighborhood", neighborhood), ("--title", title)) if value is None]
    if missing:
        raise click.UsageError(f"missing option(s) {' and '.join(missing)}")
    state.open_db()
    with audited("projects.add") as entry:
        project = _run(lambda: works.add(neighborhood=neighborhood, title=title, description=description or "",
                                         status=status or "planned", budget=budget, start_date=start, end_date=end,
                                         lat=lat, lon=lon))
        entry.target = str(project.id)
        entry.detail = f"{project.neighborhood.code}: {project.title} ({project.status})"
    _report(state, project, as_json, "added")


@projects.command("list")
@click.option("--neighborhood", metavar="CODE", help="Only projects of this neighbourhood code.")
@click.option("--status", type=click.Choice(PROJECT_STATUSES), help="Only projects in this status.")
@limit_option
@wide_option
@json_option
@pass_state
def list_(state: CliState, neighborhood: str | None, status: str | None, limit: int | None, wide: bool,
          as_json: bool) -> None:
    """List projects, newest first; long titles are cut with … to fit 80 columns unless --wide.

    Example: barriosms projects list --neighborhood B12 --status in_progress
    """
    settings = state.open_db()
    rows = _run(lambda: works.list_projects(neighborhood=neighborhood, status=status, limit=limit))
    if as_json:
        emit_json([project_dict(p, settings.zone) for p in rows])
        return
    table(["id", "hood", "status", "budget", "start", "end", "title"],
          [[p.id, p.neighborhood.code, p.status, bolivianos(p.budget), _day(p.start_date) or "-",
            _day(p.end_date) or "-", p.title] for p in rows], shrink=["title"], wide=wide,
          empty="no projects match" if neighborhood or status else
          'no projects yet: barriosms projects add --neighborhood CODE --title "..."')


@projects.command()
@click.argument("project_id", metavar="ID", type=int)
@json_option
@pass_state
def show(state: CliState, project_id: int, as_json: bool) -> None:
    """Show one project with every field.

    Example: barriosms projects show 3
    """
    settings = state.open_db()
    project = _run(lambda: works.get(project_id))
    if as_json:
        emit_json(project_dict(project, settings.zone))
        return
    _echo(project, settings.zone)


@projects.command()
@click.argument("project_id", metavar="ID", type=int)
@value_options
@click.option("--clear-description", is_flag=True, help="Remove the description.")
@click.option("--clear-budget", is_flag=True, help="Remove the budget (not known yet).")
@click.option("--clear-start", is_flag=True, help="Remove the start date.")
@click.option("--clear-end", is_flag=True, help="Remove the end date.")
@click.option("--clear-place", is_flag=True, help="Remove the place on the map (latitude and longitude).")
@json_option
@pass_state
def update(state: CliState, project_id: int, neighborhood: str | None, title: str | None,
           description: str | None, status: str | None, budget: str | None, start: str | None, end: str | None,
           lat: str | None, lon: str | None, clear_description: bool, clear_budget: bool, clear_start: bool,
           clear_end: bool, clear_place: bool, as_json: bool) -> None:
    """Change the given fields of project ID; --clear-… removes an optional one.

    Fields not named keep their value. The project is checked as a whole (an end date before the
    start is refused, even if only one of them changes).

    Example: barriosms projects update 3 --status in_progress --budget 140000 --start 2026-12-15
    """
    given_values = dict(neighborhood=neighborhood, title=title, description=description, status=status,
                        budget=budget, start_date=start, end_date=end, lat=lat, lon=lon)
    changes: dict[str, object] = {name: value for name, value in given_values.items() if value is not None}
    for flag, on, fields in (("--clear-description", clear_description, ("description",)),
                             ("--clear-budget", clear_budget, ("budget",)),
                             ("--clear-start", clear_start, ("start_date",)),
                             ("--clear-end", clear_end, ("end_date",)),
                             ("--clear-place", clear_place, ("lat", "lon"))):
        if not on:
            continue
        given = [OPTION_OF[f] for f in fields if f in changes]
        if given:
            raise click.UsageError(f"{flag} and {' '.join(given)} contradict each other: give one of them")
        changes.update(dict.fromkeys(fields))
    state.open_db()
    with audited("projects.update", str(project_id)) as entry:
        project = _run(lambda: works.update(project_id, changes))
        entry.detail = "; ".join(f"{OPTION_OF[name][2:]} {'cleared' if value is None else value}"
                                 for name, value in changes.items())
    _report(state, project, as_json, "updated")
