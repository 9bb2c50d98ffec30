"""How well the gateway understands residents: a labelled corpus read the way the intake reads SMS.

A corpus is a CSV file (UTF-8) with the header ``text,kind,neighborhood,category,note``: each row
an SMS as a resident wrote it and what a municipal clerk would do with it (``kind``: report,
instructions, thanks or status; for a report the neighbourhood code, empty when the message does
not say which, and the category). Each text goes through :func:`.intake.read_sms` (the practice
keyword, then ``domain.parsing.classify``) with the configured neighbourhoods and rules, and a
report's category is chosen from :func:`.intake.problem_text` as a case opened from it would be.
Nothing is stored and nothing is sent.

Routing is right when the expected code is chosen or, when the clerk could not tell the
neighbourhood either (empty), when none is chosen (the gateway asks). A code chosen that is not
the expected one is a *wrong neighbourhood*: a crew sent to the wrong place, the worst mistake.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from barriosms.domain.categories import categorize
from barriosms.domain.matching import Place, normalize_code
from barriosms.domain.parsing import (
    Ambiguous,
    Courtesy,
    Help,
    Intent,
    InvalidTracking,
    MissingDescription,
    OptIn,
    OptOut,
    Reopen,
    Report,
    StatusQuery,
    UnknownCode,
    Unroutable,
)
from barriosms.pipeline.intake import IntakeRules, problem_text, read_sms

__all__ = ["HEADER", "KINDS", "CorpusError", "Example", "Outcome", "Evaluation", "read_corpus", "evaluate"]

HEADER: Final = ("text", "kind", "neighborhood", "category", "note")
KINDS: Final = ("report", "instructions", "thanks", "status")
# A message naming no neighbourhood and no problem: answered with the instructions and the question of
# the neighbourhood (template unroutable_unsure), held like any report waiting for its neighbourhood.
UNSURE: Final = "unroutable_unsure"
# What a report row's category is when no case would be filed from it (help, thanks, a command...).
NOT_FILED: Final = "-"

_INTENT_NAMES: Final[dict[type, str]] = {
    Report: "report", MissingDescription: "missing_description", Ambiguous: "ambiguous",
    UnknownCode: "unknown_code", Unroutable: "unroutable", Courtesy: "courtesy", Help: "help",
    StatusQuery: "status", InvalidTracking: "invalid_tracking", OptOut: "optout", OptIn: "optin",
    Reopen: "reopen",
}


class CorpusError(ValueError):
    """The corpus file cannot be read: the message names the line and the fix."""


@dataclass(frozen=True)
class Example:
    """One labelled row of a corpus; ``line`` is its line in the file (the header is line 1)."""

    line: int
    text: str
    kind: str
    neighborhood: str = ""  # a normalised code, or "" (the message does not say)
    category: str = ""
    note: str = ""


@dataclass(frozen=True)
class Outcome:
    """What the gateway made of one example."""

    example: Example
    intent: str  # the intake's name for it: report, unroutable, help, courtesy, status...
    code: str  # the neighbourhood chosen ("" when the gateway asks or it is no report)
    category: str  # the category a case would get (NOT_FILED when none would be opened)

    @property
    def routed_right(self) -> bool:
        return self.code == self.example.neighborhood

    @property
    def wrong_neighborhood(self) -> bool:
        return bool(self.code) and self.code != self.example.neighborhood

    @property
    def category_right(self) -> bool:
        return self.category == self.example.category

    @property
    def understood(self) -> bool:
        """For the other kinds: answered as the clerk would. A neighbourhood alone ("B14", "mallasa")
        is answered with the instructions written for it (missing_description: "send the code and the
        problem in one message, e.g. B14 hay un bache..."): counted as the instructions, and apart."""
        wanted = {"instructions": ("help", "missing_description", UNSURE), "thanks": ("courtesy",),
                  "status": ("status", "invalid_tracking")}
        return self.intent in wanted.get(self.example.kind, ())

    def as_dict(self) -> dict[str, Any]:
        e = self.example
        return {"line": e.line, "text": e.text, "kind": e.kind, "expected_neighborhood": e.neighborhood,
                "neighborhood": self.code, "expected_category": e.category, "category": self.category,
                "intent": self.intent, "note": e.note}


@dataclass(frozen=True)
class Evaluation:
    outcomes: tuple[Outcome, ...]
    categories: tuple[str, ...]  # in the rules' order, the default last

    def of_kind(self, kind: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.example.kind == kind]

    @property
    def reports(self) -> list[Outcome]:
        return self.of_kind("report")

    @property
    def misrouted(self) -> list[Outcome]:
        return [o for o in self.reports if not o.routed_right]

    @property
    def miscategorised(self) -> list[Outcome]:
        return [o for o in self.reports if not o.category_right]

    @property
    def misread(self) -> list[Outcome]:
        """Instructions, thanks and status rows not answered as the clerk would."""
        return [o for o in self.outcomes if o.example.kind != "report" and not o.understood]

    def confusion(self) -> dict[str, dict[str, int]]:
        """expected category → chosen category → number of report rows."""
        table: dict[str, dict[str, int]] = {}
        for o in self.reports:
            row = table.setdefault(o.example.category, {})
            row[o.category] = row.get(o.category, 0) + 1
        return table

    def summary(self) -> dict[str, Any]:
        reports = self.reports

        def ratio(right: int, total: int) -> dict[str, Any]:
            return {"right": right, "total": total, "percent": round(100.0 * right / total, 1) if total else None}

        return {
            "messages": len(self.outcomes),
            "kinds": {kind: len(self.of_kind(kind)) for kind in KINDS},
            "routing": {**ratio(sum(o.routed_right for o in reports), len(reports)),
                        "wrong_neighborhood": sum(o.wrong_neighborhood for o in reports)},
            "category": ratio(sum(o.category_right for o in reports), len(reports)),
            "instructions": {**ratio(sum(o.understood for o in self.of_kind("instructions")),
                                     len(self.of_kind("instructions"))),
                             "for_their_code": sum(o.intent == "missing_description"
                                                   for o in self.of_kind("instructions")),
                             "asking_the_neighborhood_too": sum(o.intent == UNSURE
                                                                for o in self.of_kind("instructions"))},
            "thanks": ratio(sum(o.understood for o in self.of_kind("thanks")), len(self.of_kind("thanks"))),
            "status": ratio(sum(o.understood for o in self.of_kind("status")), len(self.of_kind("status"))),
        }


def read_corpus(text: str, codes: Sequence[str], categories: Sequence[str]) -> list[Example]:
    """The examples of a corpus file's ``text``; :class:`CorpusError` naming the line otherwise.

    ``codes``: the configured neighbourhood codes; ``categories``: the categories a report can get.
    """
    known_codes = {normalize_code(c) for c in codes}
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CorpusError(f"line 1: the file is empty; the first line must be {','.join(HEADER)}") from None
    header = [h.strip() for h in header]
    missing = [h for h in HEADER if h not in header]
    if missing:
        raise CorpusError(f"line 1: missing column(s) {', '.join(missing)}; the first line must be {','.join(HEADER)}")
    at = {name: header.index(name) for name in HEADER}
    examples = []
    line = reader.line_num
    for row in reader:
        line, start = reader.line_num, line + 1  # a quoted field may span lines: name the first
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise CorpusError(f"line {start}: {len(row)} field(s), the header has {len(header)}; "
                              'quote a text that contains a comma with "..."')
        cell = {name: row[i].strip() for name, i in at.items()}
        examples.append(_example(start, cell, known_codes, categories))
    if not examples:
        raise CorpusError("the file has no rows after the header")
    return examples


def _example(line: int, cell: dict[str, str], codes: set[str], categories: Sequence[str]) -> Example:
    kind, code, category = cell["kind"].lower(), normalize_code(cell["neighborhood"]), cell["category"].lower()
    if kind not in KINDS:
        raise CorpusError(f"line {line}: unknown kind '{cell['kind']}'; write one of {', '.join(KINDS)}")
    if code and code not in codes:
        raise CorpusError(f"line {line}: unknown neighbourhood code '{cell['neighborhood']}'; write one of "
                          f"{', '.join(sorted(codes))}, or leave it empty when the message does not say")
    if category and category not in categories:
        raise CorpusError(f"line {line}: unknown category '{cell['category']}'; write one of {', '.join(categories)}")
    if kind == "report" and not category:
        raise CorpusError(f"line {line}: a report needs a category; write one of {', '.join(categories)}")
    if kind != "report" and (code or category):
        raise CorpusError(f"line {line}: only a report has a neighbourhood and a category; leave them empty "
                          f"for '{kind}'")
    return Example(line, cell["text"], kind, code, category, cell["note"])


def evaluate(examples: Sequence[Example], places: Sequence[Place], rules: IntakeRules) -> Evaluation:
    """Read each example as the intake would (nothing stored, nothing sent)."""
    places = list(places)
    outcomes = []
    for example in examples:
        reading = read_sms(example.text, places, rules)
        intent: Intent = reading.intent
        code = intent.code if isinstance(intent, (Report, MissingDescription)) else ""
        words = problem_text(intent, reading.text)
        # A report, or one waiting for its neighbourhood, is filed by its words; anything else opens no case.
        filed = isinstance(intent, (Report, Ambiguous, UnknownCode, Unroutable)) and bool(words)
        category = categorize(words, rules.categories) if filed else NOT_FILED
        name = _INTENT_NAMES[type(intent)]
        if isinstance(intent, Unroutable) and not intent.named_problem:
            name = UNSURE
        outcomes.append(Outcome(example, name, code, category))
    names = rules.categories.names
    return Evaluation(tuple(outcomes), names)
