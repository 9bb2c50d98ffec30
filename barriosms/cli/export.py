from __future__ import annotations

import sys

import click

from barriosms.cli.common import STATUS, STATUS_HELP, STDOUT, CliState, open_output, output_name, output_option, pass_state, say_done
from barriosms.reporting import exports, reports


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "geojson"]), default="csv", show_default=True,
              help="csv for spreadsheets; geojson for QGIS (points at the neighbourhood).")
@output_option("Write this file (all at once, with a progress bar). Default: standard output.")
@click.option("--force", is_flag=True, help="Replace the --output file if it exists.")
@click.option("--status", type=STATUS, help=f"Only cases in this status: {STATUS_HELP}.")
@click.option("--neighborhood", metavar="CODE", help="Only cases of this neighbourhood code.")
@click.option("--include-phone", is_flag=True,
              help="Add the reporter's phone number (personal data: handle with care).")
@pass_state
def export(state: CliState, fmt: str, output: str | None, force: bool, status: str | None,
           neighborhood: str | None, include_phone: bool) -> None:
    """Export cases, oldest first, as CSV or GeoJSON.

    Fields: tracking, status, category, neighborhood (code), neighborhood_name, district,
    created_at, updated_at (ISO 8601, local time), reporters, assignee, text; phone only with
    --include-phone. GeoJSON places each case at its neighbourhood's longitude and latitude; a
    neighbourhood without coordinates gives a feature without geometry. Merged duplicates are
    left out (their reporters are counted with the case they joined). Only the document goes to
    standard output; messages go to standard error.

    Example: barriosms cases export --format geojson --status received -o reclamos.geojson
    """
    settings = state.open_db()
    output = output or STDOUT
    try:
        rows = reports.case_rows(status=status, neighborhood=neighborhood)
        total = reports.count_case_rows(status=status, neighborhood=neighborhood)
    except reports.ReportError as exc:
        raise click.ClickException(str(exc)) from None
    write = exports.write_geojson if fmt == "geojson" else exports.write_csv
    # A bar drawn on the terminal where the document is printed would be mixed into it.
    bar_shown = output != STDOUT or not sys.stdout.isatty()
    with open_output(output, force=force) as out:
        if bar_shown:
            with click.progressbar(rows, length=total, label=f"exporting {total} case(s)", file=sys.stderr) as bar:
                written = write(bar, out, settings.zone, include_phone)
        else:
            written = write(rows, out, settings.zone, include_phone)
    say_done(output, f"wrote {written.cases} case(s) to {output_name(output)}")
    if written.without_coordinates:
        click.echo(f"{written.without_coordinates} case(s) have no coordinates (their neighbourhood has no "
                   "lat/lon): written with \"geometry\": null", err=True)
