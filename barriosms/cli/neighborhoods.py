from __future__ import annotations

import click

from .. import neighborhoods as hoods
from .common import CliState, emit_json, json_option, limit_option, pass_state, table


@click.group()
def neighborhoods() -> None:
    """The neighbourhoods residents name by code in their SMS.

    Example: barriosms neighborhoods import config/neighborhoods-lapaz.csv
    """


@neighborhoods.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False))
@json_option
@pass_state
def import_(state: CliState, csv_file: str, as_json: bool) -> None:
    """Add or update neighbourhoods from a CSV file (columns code,name,district,lat,lon).

    All or nothing: if any line is wrong nothing is imported and every bad line is listed.
    Existing codes are updated.

    Example: barriosms neighborhoods import config/neighborhoods-lapaz.csv
    """
    state.open_db()
    try:
        result = hoods.import_csv(csv_file)
    except hoods.ImportProblem as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json({"added": result.added, "updated": result.updated})
    else:
        click.echo(f"{csv_file}: {result.added} added, {result.updated} updated")


@neighborhoods.command("list")
@limit_option
@json_option
@pass_state
def list_(state: CliState, limit: int | None, as_json: bool) -> None:
    """List neighbourhoods and their codes.

    Example: barriosms neighborhoods list --json
    """
    state.open_db()
    rows = hoods.list_all()[:limit] if limit else hoods.list_all()
    if as_json:
        emit_json([{"code": n.code, "name": n.name, "district": n.district, "lat": n.lat, "lon": n.lon}
                   for n in rows])
        return
    table(["code", "name", "district", "lat", "lon"],
          [[n.code, n.name, n.district, n.lat if n.lat is not None else "", n.lon if n.lon is not None else ""]
           for n in rows], empty="no neighbourhoods yet: barriosms neighborhoods import FILE.csv")
