"""Learning categories from staff's corrections: the examples the store holds, the model, and undoing a lesson.

The model is never stored: it is computed from the database whenever it is needed (the daemon at
start-up, on SIGHUP and every night; ``barriosms categories learn`` to show what it will use), so
what staff see and what the gateway uses cannot drift apart.

The examples: every case whose category staff corrected (a ``case_correction`` row with field
``category``), as (its text, its category now). Merged duplicates are left out (their text was
filed under the surviving case's category by the merge, not by a correction); practice cases are
not cases at all (``practice_case``). Staff undo a wrong lesson with :func:`forget`
(``forgotten_lesson``), which :func:`learn` then skips.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from typing import cast

from peewee import fn

from barriosms.domain.categories import CategoryRules, categorize
from barriosms.domain.learning import Lesson, Model, decide, document_counts, lesson_key, lessons, train
from barriosms.domain.words import words
from barriosms.store.models import Case, CaseCorrection, ForgottenLesson, utcnow, write_tx
from barriosms.templates.rules import IntakeRules

# evaluate_corrections holds out one corrected case in HOLD_OUT_EVERY (by a hash of its id: the same
# split every run, and a case stays on its side as new corrections arrive).
HOLD_OUT_EVERY = 5


class LearningError(Exception):
    """A request the learner cannot do (forget a lesson it does not have); the message says why."""


@dataclass(frozen=True)
class Example:
    case_id: int
    text: str
    category: str


@dataclass(frozen=True)
class Summary:
    """What a model was learnt from: corrected cases, distinct words, examples per category, lessons."""

    examples: int
    words: int
    categories: dict[str, int]
    lessons: int

    def line(self) -> str:
        per = ", ".join(f"{c} {n}" for c, n in sorted(self.categories.items())) or "none"
        return (f"learnt from {self.examples} corrected case(s) ({per}): {self.words} word(s), "
                f"{self.lessons} lesson(s)")


@dataclass(frozen=True)
class Learnt:
    model: Model
    summary: Summary


def examples() -> list[Example]:
    """The corrected cases as labelled examples, oldest case first (see the module docstring)."""
    corrected = CaseCorrection.select(CaseCorrection.case).where(CaseCorrection.field == "category")
    query = (Case.select(Case.id, Case.text, Case.category)
             .where(Case.id.in_(corrected) & Case.merged_into.is_null())
             .order_by(Case.id))
    return [Example(case.id, case.text, case.category) for case in query]


def forgotten() -> set[tuple[str, str]]:
    """The (stem, category) lessons staff undid."""
    return {(f.word, f.category) for f in ForgottenLesson.select(ForgottenLesson.word, ForgottenLesson.category)}


def background(only: Collection[str] | None = None) -> dict[str, int]:
    """stem -> how many cases (merged duplicates aside) contain it: what every report says; with
    ``only``, just those stems.

    Every case's text is read, one row at a time (``iterator()``: peewee would otherwise keep the
    whole result in memory, 150 MiB of texts at 1,000,000 cases, for the daemon's start-up).
    """
    texts = Case.select(Case.text).where(Case.merged_into.is_null()).tuples().iterator()
    return document_counts((text for (text,) in cast("Iterable[tuple[str]]", texts)), only)  # types-peewee: rows


def _train(chosen: Iterable[Example], skip: set[tuple[str, str]], seen: dict[str, int] | None = None) -> Model:
    pairs = [(e.text, e.category) for e in chosen]
    if seen is None:
        # The background is read only for the stems of the corrections (the only ones a lesson can
        # be about), and not at all without a correction: then no case's text is read.
        vocabulary = train(pairs, skip).vocabulary
        seen = background(vocabulary) if vocabulary else {}
    return train(pairs, skip, seen)


def learn(rules: CategoryRules | None = None) -> Learnt:
    """The model from the database now, and what it was learnt from (``rules``: lessons on keywords
    are not counted, as decide never reads them)."""
    found = examples()
    model = _train(found, forgotten())
    return Learnt(model, Summary(examples=len(found), words=len(model.vocabulary),
                                 categories=dict(model.examples), lessons=len(lessons(model, rules))))


def lessons_version() -> tuple[int, int, int, int]:
    """What the learner's input looks like now, cheaply (counts and newest ids of category
    corrections and forgotten lessons): when it changes, learning again may change the model."""
    corrections = CaseCorrection.select(fn.COUNT(CaseCorrection.id), fn.MAX(CaseCorrection.id)).where(
        CaseCorrection.field == "category").scalar(as_tuple=True)
    forgotten_rows = ForgottenLesson.select(fn.COUNT(ForgottenLesson.id), fn.MAX(ForgottenLesson.id)).scalar(
        as_tuple=True)
    return (int(corrections[0] or 0), int(corrections[1] or 0), int(forgotten_rows[0] or 0),
            int(forgotten_rows[1] or 0))


def with_learning(rules: IntakeRules) -> IntakeRules:
    """``rules`` with the model learnt from the database now: for the interfaces that open cases
    outside the daemon (staff routing by hand, the website), so they file reports as it does."""
    return replace(rules, learned=learn(rules.categories).model)


def learned(category: str | None = None, rules: CategoryRules | None = None) -> list[Lesson]:
    """The lessons (word -> category, with counts) the gateway uses now, maybe of one category."""
    return [x for x in lessons(learn().model, rules) if category is None or x.category == category]


def forget(word: str, category: str, actor: str, now: dt.datetime | None = None) -> Lesson:
    """Undo the lesson ``word`` -> ``category`` (staff found it wrong): the learner skips it from now on.

    ``word`` as staff type it ("Zanjas"); it is stemmed as the learner stems. LearningError when it
    is not one word or not a lesson the gateway has.
    """
    found = words(word)
    if len(found) != 1:
        raise LearningError(f"'{word}' is not one word: give one word as `categories learned` shows it")
    key = lesson_key(found[0])
    with write_tx():
        lesson = next((x for x in lessons(learn().model) if x.stem == key and x.category == category), None)
        if lesson is None:
            raise LearningError(f"'{word}' is not a learnt word of the category '{category}' "
                                "(see `barriosms categories learned`)")
        ForgottenLesson.create(word=key, category=category, actor=actor, at=now or utcnow())
    return lesson


# -- how much it helps ----------------------------------------------------------------------------


def held_out(case_id: int) -> bool:
    """Whether evaluate_corrections tests on this case (about 1 in HOLD_OUT_EVERY) rather than trains on it."""
    return zlib.crc32(f"case {case_id}".encode()) % HOLD_OUT_EVERY == 0


@dataclass(frozen=True)
class Evaluation:
    """Category accuracy on the held-out corrected cases: with the keywords alone and with learning."""

    trained_on: int
    held_out: int
    keywords_right: int
    learning_right: int

    @staticmethod
    def percent(right: int, of: int) -> float | None:
        return round(100.0 * right / of, 1) if of else None

    @property
    def keywords_percent(self) -> float | None:
        return self.percent(self.keywords_right, self.held_out)

    @property
    def learning_percent(self) -> float | None:
        return self.percent(self.learning_right, self.held_out)


def evaluate_corrections(rules: CategoryRules) -> Evaluation:
    """Train on about 4 in 5 corrected cases, and count how many of the others each way files right.

    The keywords alone usually score low here: these are the cases they got wrong (unless the
    categories file has changed since). What counts is how many more learning gets right.
    """
    found = examples()
    test = [e for e in found if held_out(e.case_id)]
    model = _train((e for e in found if not held_out(e.case_id)), forgotten())
    return Evaluation(trained_on=len(found) - len(test), held_out=len(test),
                      keywords_right=sum(categorize(e.text, rules) == e.category for e in test),
                      learning_right=sum(decide(e.text, rules, model) == e.category for e in test))
