from __future__ import annotations

import sys

import click

from barriosms.cli.common import CliState, audited, emit_json, json_option, limit_option, pass_state, table, wide_option
from barriosms.domain.matching import find_place
from barriosms.staff import neighborhoods as hoods

# Bigger files show a progress bar while they are written (on stderr: stdout may be JSON).
PROGRESS_ROWS = 200


@click.group()
def neighborhoods() -> None:
    """The neighbourhoods residents name in their SMS, by code or by name.

    Example: barriosms neighborhoods import config/neighborhoods-lapaz.csv
    """


@neighborhoods.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False))
@json_option
@pass_state
def import_(state: CliState, csv_file: str, as_json: bool) -> None:
    """Add or update neighbourhoods from a CSV file (columns code,name,district,lat,lon,aliases).

    All or nothing: if any line is wrong nothing is imported and every bad line is listed.
    Existing codes are updated.  The optional aliases column lists other names residents use,
    separated by ";" ("Fatima;Villa Fatima"); an alias may not name another neighbourhood.

    Example: barriosms neighborhoods import config/neighborhoods-lapaz.csv
    """
    state.open_db()
    try:
        rows = hoods.read_csv(csv_file)
        with audited("neighborhoods.import", csv_file) as entry:
            if len(rows) <= PROGRESS_ROWS:
                result = hoods.import_rows(rows, source=csv_file)
            else:
                with click.progressbar(length=len(rows), label="importing",
                                       file=sys.stderr) as bar:
                    result = hoods.import_rows(rows, on_row=lambda: bar.update(1), source=csv_file)
            entry.detail = f"{result.added} added, {result.updated} updated"
    except hoods.ImportProblem as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json({"added": result.added, "updated": result.updated})
    else:
        click.echo(f"{csv_file}: {result.added} added, {result.updated} updated")


@neighborhoods.command("list")
@limit_option
@wide_option
@json_option
@pass_state
def list_(state: CliState, limit: int | None, wide: bool, as_json: bool) -> None:
    """List neighbourhoods, their codes and the other names (aliases) residents use.

    Long alias lists are cut with … to fit 80 columns unless --wide.

    Example: barriosms neighborhoods list --json
    """
    state.open_db()
    rows = hoods.list_all()[:limit] if limit else hoods.list_all()
    if as_json:
        emit_json([{"code": n.code, "name": n.name, "district": n.district, "lat": n.lat, "lon": n.lon,
                    "aliases": n.alias_list} for n in rows])
        return
    table(["code", "name", "district", "lat", "lon", "aliases"],
          [[n.code, n.name, n.district, n.lat if n.lat is not None else "", n.lon if n.lon is not None else "",
            "; ".join(n.alias_list)]
           for n in rows], empty="no neighbourhoods yet: barriosms neighborhoods import FILE.csv",
          shrink=["aliases", "name", "district"], wide=wide)


@neighborhoods.command("find")
@click.argument("text")
@json_option
@pass_state
def find(state: CliState, text: str, as_json: bool) -> None:
    """Show which neighbourhood an SMS text names, and how: by code or name, exact or with typos.

    What the gateway does with a resident's message, to check names and aliases.  Exits 1 when
    no neighbourhood is found.

    Example: barriosms neighborhoods find 'villa fatma'
    """
    state.open_db()
    places = {p.code: p for p in hoods.places()}
    match = find_place(text, list(places.values()))
    if match is None:
        raise click.ClickException(f"no neighbourhood found in {text!r}")
    typed = text[match.start:match.end]
    how = {0: "exact", 1: "1 typo"}.get(match.distance, f"{match.distance} typos")
    matched = match.names or match.codes  # the name or alias that matched, or the code
    if as_json:
        emit_json({"text": text, "by": match.by, "exact": match.distance == 0, "typos": match.distance,
                   "ambiguous": len(match.codes) > 1, "start": match.start, "end": match.end, "typed": typed,
                   "places": [{"code": code, "name": places[code].name, "matched": spelling}
                              for code, spelling in zip(match.codes, matched)]})
        return
    if len(match.codes) > 1:
        click.echo(f"ambiguous: {len(match.codes)} neighbourhoods fit {typed!r} equally well")
    table(["code", "name", "by", "matched", "how", "typed"],
          [[code, places[code].name, match.by, spelling, how, typed]
           for code, spelling in zip(match.codes, matched)])
