"""`barriosms categories evaluate`: a labelled corpus read the way the intake reads SMS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from barriosms.pipeline.evaluation import CorpusError, evaluate, read_corpus
from barriosms.pipeline.intake import places_of
from barriosms.store.models import Neighborhood
from barriosms.templates.loader import load_categories, load_templates
from barriosms.templates.rules import IntakeRules

SMALL = """text,kind,neighborhood,category,note
B12 no hay agua desde ayer,report,B12,agua,
"derrumbe en la ladera, Sopocachi",report,B02,riesgos,by name
hay basura en mi calle,report,,residuos,no neighbourhood: ask
B05 se corto la luz,report,B05,alumbrado,
B03 perros sueltos,report,B06,otros,labelled wrong on purpose: a wrong neighbourhood
ayuda,instructions,,,
gracias,thanks,,,
estado 2408917,status,,,
"""


def rules() -> IntakeRules:
    return IntakeRules(templates=load_templates(), categories=load_categories(), region="BO")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "corpus.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_row_is_read_as_the_intake_reads_it(hoods) -> None:
    places = places_of(Neighborhood.select())
    r = rules()
    result = evaluate(read_corpus(SMALL, [p.code for p in places], r.categories.names), places, r)
    summary = result.summary()
    assert summary["messages"] == 8
    assert summary["kinds"] == {"report": 5, "instructions": 1, "thanks": 1, "status": 1}
    # Right: B12, B02 and the one that names no neighbourhood (the gateway asks); B03 is not B06.
    assert summary["routing"] == {"right": 4, "total": 5, "percent": 80.0, "wrong_neighborhood": 1}
    assert [o.example.line for o in result.misrouted] == [6]
    assert summary["category"]["right"] == 5  # the waiting report is filed by its words too
    assert summary["instructions"] == {"right": 1, "total": 1, "percent": 100.0, "for_their_code": 0,
                                       "asking_the_neighborhood_too": 0}
    assert summary["thanks"]["right"] == 1 and summary["status"]["right"] == 1
    assert result.confusion()["agua"] == {"agua": 1}
    assert [o.intent for o in result.outcomes][:3] == ["report", "report", "unroutable"]


def test_a_neighbourhood_alone_gets_the_instructions_for_its_code_counted_apart(hoods, ready, tmp_path) -> None:
    """"B14" alone is answered "send the code and the problem in one message, e.g. B14 hay un bache":
    the instructions, written for that code. Counted as the instructions, and shown apart."""
    text = "text,kind,neighborhood,category,note\nB14,instructions,,,\nhola,instructions,,,\n"
    places = places_of(Neighborhood.select())
    r = rules()
    result = evaluate(read_corpus(text, [p.code for p in places], r.categories.names), places, r)
    assert [o.intent for o in result.outcomes] == ["missing_description", "help"]
    summary = result.summary()["instructions"]
    assert summary["for_their_code"] == 1
    assert summary["right"] == summary["total"] == 2
    out = ready("categories", "evaluate", str(write(tmp_path, text))).output
    assert "1 of them a neighbourhood alone, answered with the instructions for its code" in out


def test_a_report_read_as_something_else_has_no_category(hoods) -> None:
    places = places_of(Neighborhood.select())
    r = rules()
    text = "text,kind,neighborhood,category,note\nBAJA,report,,otros,\n"
    (outcome,) = evaluate(read_corpus(text, ["B12"], r.categories.names), places, r).outcomes
    assert outcome.intent == "optout" and outcome.category == "-" and not outcome.category_right


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("text,kind,neighborhood\nhola,instructions,\n", "line 1: missing column(s) category, note"),
        ("", "line 1: the file is empty"),
        ("text,kind,neighborhood,category,note\n", "no rows"),
        ("text,kind,neighborhood,category,note\nhola,saludo,,,\n", "line 2: unknown kind 'saludo'"),
        ("text,kind,neighborhood,category,note\nhola,instructions,,,\nB99 bache,report,B99,vias,\n",
         "line 3: unknown neighbourhood code 'B99'"),
        ('text,kind,neighborhood,category,note\n"dos\nlineas",instructions,,,\nB12 x,report,B12,baches,\n',
         "line 4: unknown category 'baches'"),
        ("text,kind,neighborhood,category,note\nB12 bache,report,B12,,\n", "line 2: a report needs a category"),
        ("text,kind,neighborhood,category,note\ngracias,thanks,B12,,\n", "line 2: only a report"),
        ("text,kind,neighborhood,category,note\nB12 bache, report\n", "line 2: 2 field(s)"),
    ],
)
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(CorpusError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_corpus(text, ["B12"], load_categories().names)


def test_cli_prints_the_figures_and_the_errors(ready, tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    out = ready("categories", "evaluate", str(path)).output
    assert "8 messages (5 report, 1 instructions, 1 thanks, 1 status)" in out
    assert "Reports routed right:" in out and "4/5  80.0 %" in out
    assert "Reports routed to a WRONG neighbourhood:      1" in out
    assert "Instructions answered with the instructions:  1/1  100.0 %" in out
    assert "EXPECTED" in out and "line 6" not in out
    shown = ready("categories", "evaluate", str(path), "--show-errors").output
    assert "Misrouted (1):\n  line 6: B06 -> B03 [report]  B03 perros sueltos" in shown


def test_cli_json(ready, tmp_path: Path) -> None:
    data = json.loads(ready("categories", "evaluate", str(write(tmp_path, SMALL)), "--json").output)
    assert data["routing"]["wrong_neighborhood"] == 1
    assert data["misrouted"][0]["line"] == 6 and data["misrouted"][0]["neighborhood"] == "B03"
    assert data["confusion"]["riesgos"] == {"riesgos": 1}
    assert data["misread"] == []


def test_cli_error_names_the_file_and_line(ready, tmp_path: Path) -> None:
    path = write(tmp_path, "text,kind,neighborhood,category,note\nhola,saludo,,,\n")
    out = ready("categories", "evaluate", str(path), code=1).output
    assert f"Error: {path}: line 2: unknown kind 'saludo'" in out


def test_cli_needs_neighbourhoods(invoke, tmp_path: Path) -> None:
    invoke("db", "migrate")
    out = invoke("categories", "evaluate", str(write(tmp_path, SMALL)), code=1).output
    assert "no neighbourhoods are configured" in out


# The tuning corpora (issue 13), each with the least it must keep: a guard on the keywords and
# matching, never a wrong neighbourhood, no silent fall. The held-out corpus is not asserted on here.
# corpus-tune.csv: the first, mostly reports. corpus-dev.csv: 224 greetings, usage questions, thanks
# and status queries and 60 reports shaped like questions, written apart. corpus-dev2.csv: 130
# instructions, 60 thanks, 30 status, 100 question-shaped reports, written apart (2026-12-05).
# corpus-dev3.csv, corpus-dev4.csv and corpus-dev5.csv: realistic inboxes (dev4 from six imagined
# senders, dev5 from eight), each measured once as held-out (bench/README.md), tuned on since.
# Percentages; 100 means every one.
TUNED = {
    "corpus-tune.csv": {"routing": 98, "category": 95, "instructions": 100, "thanks": 100, "status": 100},
    "corpus-dev.csv": {"routing": 98, "category": 100, "instructions": 94, "thanks": 100, "status": 100},
    "corpus-dev2.csv": {"routing": 98, "category": 98, "instructions": 98, "thanks": 96, "status": 100},
    "corpus-dev3.csv": {"routing": 99, "category": 95, "instructions": 100, "thanks": 100, "status": 100},
    "corpus-dev4.csv": {"routing": 99, "category": 96, "instructions": 98, "thanks": 100, "status": 100},
    "corpus-dev5.csv": {"routing": 99, "category": 94, "instructions": 100, "thanks": 100, "status": 100},
}


@pytest.mark.parametrize("name", sorted(TUNED))
def test_each_tuning_corpus_is_read_as_tuned(hoods, name: str) -> None:
    summary = _summary(name)
    assert summary["routing"]["wrong_neighborhood"] == 0
    below = {figure: summary[figure]["percent"] for figure, least in TUNED[name].items()
             if summary[figure]["percent"] < least}
    assert not below, f"{name}: below what it was tuned to: {below}"


def _summary(name: str) -> dict:
    path = Path(__file__).parent / "data" / name
    places = places_of(Neighborhood.select())
    r = rules()
    examples = read_corpus(path.read_text(encoding="utf-8"), [p.code for p in places], r.categories.names)
    return evaluate(examples, places, r).summary()
