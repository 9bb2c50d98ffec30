"""`barriosms categories`: the categories reports are filed under, and how the gateway chooses them."""

from __future__ import annotations

from typing import Any

import click

from barriosms.cli.common import CliState, emit_json, json_option, pass_state, table
from barriosms.domain.errors import TemplateError
from barriosms.templates.loader import load_categories


@click.group()
def categories() -> None:
    """The categories reports are filed under (agua, vias, ...) and how the gateway chooses them.

    Example: barriosms categories list
    """


@categories.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """Each category in priority order, its label and its keywords (the default last).

    Example: barriosms categories list --json
    """
    g = state.settings().gateway
    try:
        rules = load_categories(g.categories, g.language)
    except TemplateError as exc:
        raise click.ClickException(f"{exc} (run `barriosms config check`)") from None
    keywords = dict(rules.rules)
    rows: list[dict[str, Any]] = [{"category": name, "label": rules.label(name), "keywords": list(keywords.get(name, ())),
             "default": name == rules.default} for name in rules.names]
    if as_json:
        emit_json(rows)
        return
    table(["CATEGORY", "LABEL", "KEYWORDS"],
          [[r["category"] + (" (default)" if r["default"] else ""), r["label"], ", ".join(r["keywords"])]
           for r in rows])


@categories.command("evaluate")
@click.argument("corpus", type=click.Path(exists=True, dir_okay=False), required=False)
@json_option
@click.option("--show-errors", is_flag=True, help="Also list the rows the gateway got wrong.")
@click.option("--corrections", is_flag=True,
              help="Instead of a corpus: the cases staff corrected, 1 in 5 held out, filed by the keywords "
                   "alone and with learning.")
@pass_state
def evaluate_(state: CliState, corpus: str | None, as_json: bool, show_errors: bool, corrections: bool) -> None:
    """How well the gateway reads a labelled corpus of residents' SMS (nothing is stored or sent).

    CORPUS is a CSV file with the header text,kind,neighborhood,category,note (kind: report,
    instructions, thanks or status; for a report the expected neighbourhood code, empty when the
    message does not say which, and the category). Each text is read exactly as the intake reads an
    SMS, with the neighbourhoods in the database and the configured categories and keywords.
    Prints how many reports go to the right neighbourhood (or, when the message does not say, get
    asked for it), how many to a WRONG one, how many get the right category, whether greetings and
    questions get the instructions, thanks are stored without a reply and status queries are
    understood, and a table of expected × chosen categories.

    With --corrections (and no CORPUS): about 1 case in 5 of those whose category staff corrected
    (always the same ones) is held out; the learner is trained on the others and the held-out ones
    are filed by the keywords alone and with learning.

    Example: barriosms categories evaluate tests/data/corpus-tune.csv --show-errors
    Example: barriosms categories evaluate --corrections --json
    """
    if corrections:
        if corpus is not None:
            raise click.ClickException("give either a CORPUS file or --corrections, not both")
        from barriosms.cli.learning import show_corrections_evaluation

        show_corrections_evaluation(state, as_json)
        return
    if corpus is None:
        raise click.ClickException("which corpus? barriosms categories evaluate FILE.csv (or --corrections)")
    from pathlib import Path

    from barriosms.pipeline.evaluation import CorpusError, evaluate, read_corpus
    from barriosms.pipeline.intake import places_of, rules_from_settings
    from barriosms.store.models import Neighborhood

    settings = state.open_db()
    try:
        rules = rules_from_settings(settings)
    except TemplateError as exc:
        raise click.ClickException(f"{exc} (run `barriosms config check`)") from None
    places = places_of(Neighborhood.select().order_by(Neighborhood.code))
    if not places:
        raise click.ClickException("no neighbourhoods are configured: barriosms neighborhoods import FILE.csv")
    try:
        text = Path(corpus).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{corpus}: not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    try:
        examples = read_corpus(text, [p.code for p in places], rules.categories.names)
    except CorpusError as exc:
        raise click.ClickException(f"{corpus}: {exc}") from None
    result = evaluate(examples, places, rules)
    summary = result.summary()
    if as_json:
        emit_json({**summary, "confusion": result.confusion(),
                   "misrouted": [o.as_dict() for o in result.misrouted],
                   "miscategorised": [o.as_dict() for o in result.miscategorised],
                   "misread": [o.as_dict() for o in result.misread]})
        return

    def line(label: str, part: dict[str, Any]) -> str:
        percent = "" if part["percent"] is None else f"  {part['percent']:.1f} %"
        return f"{label:<46}{part['right']}/{part['total']}{percent}"

    kinds = summary["kinds"]
    click.echo(f"{corpus}: {summary['messages']} messages ({', '.join(f'{n} {k}' for k, n in kinds.items())})")
    click.echo(line("Reports routed right:", summary["routing"]))
    click.echo(f"{'Reports routed to a WRONG neighbourhood:':<46}{summary['routing']['wrong_neighborhood']}")
    click.echo(line("Reports with the right category:", summary["category"]))
    click.echo(line("Instructions answered with the instructions:", summary["instructions"]))
    if summary["instructions"]["asking_the_neighborhood_too"]:
        click.echo(f"  {summary['instructions']['asking_the_neighborhood_too']} of them naming no problem, answered with "
                   "the instructions and the question of the neighbourhood")
    if summary["instructions"]["for_their_code"]:
        click.echo(f"  {summary['instructions']['for_their_code']} of them a neighbourhood alone, answered with the "
                   "instructions for its code")
    click.echo(line("Thanks stored without a reply:", summary["thanks"]))
    click.echo(line("Status queries understood:", summary["status"]))
    click.echo("")
    click.echo("Categories (rows: expected, columns: chosen; - = no case would be opened)")
    confusion = result.confusion()
    columns = [*result.categories, "-"]
    table(["expected", *columns],
          [[name, *(confusion.get(name, {}).get(c, 0) or "." for c in columns)] for name in result.categories])
    if show_errors:
        for title, rows in (("Misrouted", result.misrouted), ("Miscategorised", result.miscategorised),
                            ("Other messages not answered as expected", result.misread)):
            click.echo("")
            click.echo(f"{title} ({len(rows)}):")
            for o in rows:
                e = o.example
                got = (f"{e.neighborhood or '(ask)'} -> {o.code or '(ask)'}" if title == "Misrouted"
                       else f"{e.category} -> {o.category}" if title == "Miscategorised" else f"{e.kind} -> {o.intent}")
                click.echo(f"  line {e.line}: {got} [{o.intent}]  {e.text}")
