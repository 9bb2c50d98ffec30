"""`barriosms categories learn | learned | forget` and `evaluate --corrections`: what the gateway learnt from staff's corrections.

Nothing here signals the daemon: the model is always computed from the database (cases/learning.py),
by these commands to show it and by the daemon at start-up, on SIGHUP, every night at 03:30 and
within a minute of a correction or a forgotten lesson.
"""

from __future__ import annotations

from typing import Any

import click

from barriosms.cases import learning
from barriosms.cli.common import CliState, actor, audited, emit_json, json_option, pass_state, table
from barriosms.domain.categories import CategoryRules
from barriosms.domain.errors import TemplateError
from barriosms.domain.learning import Lesson, lessons
from barriosms.templates.loader import load_categories


def _rules(state: CliState) -> CategoryRules:
    g = state.open_db().gateway
    try:
        return load_categories(g.categories, g.language)
    except TemplateError as exc:
        raise click.ClickException(f"{exc} (run `barriosms config check`)") from None


def _lesson(x: Lesson) -> dict[str, Any]:
    return {"word": x.word, "stem": x.stem, "category": x.category, "cases": x.count, "share": round(x.share, 3)}


def _lesson_table(found: list[Lesson], empty: str) -> None:
    table(["WORD", "CATEGORY", "CASES", "SHARE"],
          [[x.word, x.category, x.count, f"{x.share:.0%}"] for x in found], empty=empty)


@click.command()
@json_option
@pass_state
def learn(state: CliState, as_json: bool) -> None:
    """Learn from staff's category corrections now and show what the gateway uses.

    The daemon learns the same from the database by itself: at start-up, on
    `systemctl reload barriosms`, every night at 03:30 and within a minute of a category
    correction or a forgotten lesson. This command changes nothing.

    Example: barriosms categories learn --json
    """
    rules = _rules(state)
    learnt = learning.learn(rules)
    found = lessons(learnt.model, rules)
    s = learnt.summary
    if as_json:
        emit_json({"examples": s.examples, "words": s.words, "categories": s.categories, "lessons": [_lesson(x) for x in found]})
        return
    click.echo(s.line())
    _lesson_table(found, "no lessons yet: a word needs 3 corrected cases of the same category")


@click.command()
@click.option("--category", "category", metavar="C", help="Only the words that point to this category.")
@json_option
@pass_state
def learned(state: CliState, category: str | None, as_json: bool) -> None:
    """The words the gateway learnt from corrections, each with its category and how many cases taught it.

    A word counts once it was corrected to one category in 3 cases or more, and in most of its
    corrected cases. Words of the keywords file are never learnt. Undo one with `categories forget`.

    Example: barriosms categories learned --category agua
    """
    rules = _rules(state)
    found = learning.learned(category, rules)
    if as_json:
        emit_json([_lesson(x) for x in found])
        return
    _lesson_table(found, "no learnt words" + (f" for {category}" if category else ""))


@click.command()
@click.argument("word")
@click.argument("category")
@json_option
@pass_state
def forget(state: CliState, word: str, category: str, as_json: bool) -> None:
    """Undo a wrong lesson: WORD no longer points to CATEGORY (it may still to others).

    The daemon stops using it within a minute (it looks for new corrections and forgotten
    lessons every minute).

    Example: barriosms categories forget zanja agua
    """
    state.open_db()
    try:
        with audited("categories.forget", word) as entry:
            lesson = learning.forget(word, category, actor())
            entry.target, entry.detail = lesson.word, f"-> {lesson.category} ({lesson.count} case(s))"
    except learning.LearningError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json({**_lesson(lesson), "forgotten": True})
        return
    click.echo(f"forgot '{lesson.word}' -> {lesson.category} (taught by {lesson.count} case(s)); "
               "the daemon stops using it within a minute")


def show_corrections_evaluation(state: CliState, as_json: bool) -> None:
    """`categories evaluate --corrections`: how many corrected cases the gateway would now file
    right, the keywords alone and with learning (1 corrected case in 5, always the same, held out)."""
    rules = _rules(state)
    e = learning.evaluate_corrections(rules)
    if as_json:
        emit_json({"trained_on": e.trained_on, "held_out": e.held_out,
                   "keywords": {"right": e.keywords_right, "percent": e.keywords_percent},
                   "learning": {"right": e.learning_right, "percent": e.learning_percent}})
        return
    if not e.held_out:
        click.echo(f"no corrected case held out to test on ({e.trained_on} corrected case(s) in all): "
                   "correct more cases' categories first")
        return
    click.echo(f"held out {e.held_out} of {e.held_out + e.trained_on} corrected case(s); trained on {e.trained_on}")
    table(["", "RIGHT", "PERCENT"], [["keywords alone", e.keywords_right, f"{e.keywords_percent}%"],
                                      ["with learning", e.learning_right, f"{e.learning_percent}%"]])
