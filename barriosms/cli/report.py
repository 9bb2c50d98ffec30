from __future__ import annotations

import click

from barriosms.cli.common import (
    STDOUT,
    CliState,
    emit_json,
    json_option,
    open_output,
    output_name,
    output_option,
    pass_state,
    say_done,
    short_time,
    table,
)
from barriosms.domain.ranking import WAITING_STATUSES
from barriosms.reporting import mapping, reports
from barriosms.store.models import utcnow


@click.group()
def report() -> None:
    """What to attend first: a ranking of problems and a map of open cases.

    Example: barriosms report hotspots --limit 10
    """


@report.command()
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most this many. Default: all.")
@click.option("--district", metavar="D", help="Only neighbourhoods of this district (case and accents do not matter).")
@json_option
@pass_state
def hotspots(state: CliState, limit: int | None, district: str | None, as_json: bool) -> None:
    """Rank neighbourhood and category by their open cases, how long they wait and how many report them.

    Open cases are those received, in review or in progress (a resolved case only waits to be
    closed). A duplicate merged into a case counts through it: its reporters join the case's.

    \b
    score = sum over the open cases of  reporters x (1 + days waiting / 7)

    Every extra resident reporting the same problem and every week a case waits raise the
    priority: a case of two weeks with 3 reporters weighs 3 x 3 = 9, a new one with 1 reporter 1.
    Equal scores: more open cases first, then more reporters, then the oldest case.

    Example: barriosms report hotspots --limit 10 --district Sur
    """
    state.open_db()
    try:
        spots = reports.hotspots(utcnow(), district=district, limit=limit)
    except reports.ReportError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json([{"rank": s.rank, "neighborhood": s.code, "neighborhood_name": s.name, "district": s.district,
                    "category": s.category, "open": s.open, "reporters": s.reporters,
                    "oldest_days": round(s.oldest_days, 1), "score": round(s.score, 2)} for s in spots])
        return
    table(["rank", "code", "neighbourhood", "district", "category", "open", "reporters", "oldest (days)", "score"],
          [[s.rank, s.code, s.name, s.district, s.category, s.open, s.reporters, int(s.oldest_days),
            f"{s.score:.1f}"] for s in spots], empty="no open cases")


@report.command("map")
@output_option("The file to write (.svg or .html).", required=True)
@click.option("--format", "fmt", type=click.Choice(["svg", "html"]), default=None,
              help="svg: the picture; html: the picture and a table. Default: from the file's ending, else svg.")
@click.option("--status", "which", type=click.Choice(["open", "all"]), default="open", show_default=True,
              help="open: received, in review or in progress; all: every case (merged duplicates never count).")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@json_option
@pass_state
def map_(state: CliState, output: str, fmt: str | None, which: str, force: bool, as_json: bool) -> None:
    """Draw cases per neighbourhood as one file that opens without internet.

    One circle per neighbourhood with cases, placed by latitude and longitude, its area
    proportional to the count and labelled with code and count. HTML adds a table of every
    neighbourhood; those without coordinates are listed there but not drawn. With -o - the
    document goes to standard output and the summary to standard error.

    Example: barriosms report map --output mapa.html
    """
    if output == STDOUT and as_json:
        # Both would go to standard output: a script could read neither.
        raise click.ClickException("--json prints its summary on standard output, where -o - writes the map: "
                                   "write the map to a file (-o mapa.svg --json), or leave out --json")
    settings = state.open_db()
    fmt = fmt or ("html" if output.lower().endswith((".html", ".htm")) else "svg")
    counts = reports.hood_counts(WAITING_STATUSES if which == "open" else None)
    noun = "open cases" if which == "open" else "cases"
    title = f"{noun.capitalize()} per neighbourhood"
    subtitle = f"{short_time(utcnow(), settings.zone)} ({settings.gateway.timezone})"
    render = mapping.render_html if fmt == "html" else mapping.render_svg
    text = render(counts, title=title, subtitle=subtitle, noun=noun)
    with open_output(output, force=force) as out:
        out.write(text)
    drawn = sum(1 for c in counts if c.located and c.count)
    missing = [c.code for c in counts if not c.located]
    if as_json:
        emit_json({"output": output, "format": fmt, "cases": sum(c.count for c in counts), "drawn": drawn,
                   "not_drawn": missing})
        return
    say_done(output, f"wrote {output_name(output)}: {sum(c.count for c in counts)} {noun} in {drawn} "
                     "neighbourhood(s)")
    if missing:
        click.echo(f"not drawn (no coordinates): {', '.join(missing)}", err=True)
