"""The copies the counts read (cases/filing.py, migration 19) stay equal to what they copy.

`stats` counts the satisfaction answers by the category and district each question carries, and
`report hotspots` weighs a case by its reporter count. Whatever staff do to the cases afterwards
(recategorise, move to another neighbourhood, move a neighbourhood to another district, merge
duplicates), the figures must be those computed from the cases themselves, one by one, as
before the copies existed: on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics

import pytest
from conftest import SAMPLE_CSV
from peewee import fn

from barriosms.cases import casework, editing
from barriosms.cases.filing import answer_seconds, filed_under
from barriosms.cases.reporters import add_reporter
from barriosms.cases.satisfaction import satisfaction
from barriosms.reporting import reports
from barriosms.staff.neighborhoods import Row, import_csv, import_rows
from barriosms.store.models import Case, CaseQuestion, CaseReporter, Neighborhood
from barriosms.templates.loader import load_categories, load_templates

NOW = dt.datetime(2026, 11, 24, 12, 0)
CATEGORIES = ("vias", "agua", "alumbrado", "residuos")
CODES = ("B01", "B03", "B05", "B12")


def expected_satisfaction(since: dt.datetime | None = None) -> dict:
    """What `satisfaction` must say, from every question joined to its case as it is now."""
    figures: dict = {}
    for q in CaseQuestion.select().where(CaseQuestion.kind == "survey"):
        case = Case.get_by_id(q.case_id)
        if since is not None and case.created_at < since:
            continue
        state = q.status if q.status != "open" else ("expired" if q.expires_at <= NOW else "waiting")
        for group in (("", ""), ("category", case.category), ("district", case.neighborhood.district)):
            row = figures.setdefault(group, {"asked": 0, "answered": 0, "yes": 0, "no": 0, "waiting": 0,
                                             "expired": 0, "to_yes": []})
            row["asked"] += 1
            row[state] += 1
            if state == "answered":
                row[q.answer] += 1
                if q.answer == "yes":
                    row["to_yes"].append(max(0.0, round((q.answered_at - q.asked_at).total_seconds(), 3)))
    return {group: {**{k: v for k, v in row.items() if k != "to_yes"},
                    "median": statistics.median(row["to_yes"]) if row["to_yes"] else None}
            for group, row in figures.items()}


def reported_satisfaction(since: dt.datetime | None = None) -> dict:
    got = satisfaction(since, NOW)
    groups = {("", ""): got.overall, **{("category", k): v for k, v in got.by_category.items()},
              **{("district", k): v for k, v in got.by_district.items()}}
    return {group: {"asked": c.asked, "answered": c.answered, "yes": c.yes, "no": c.no, "waiting": c.waiting,
                    "expired": c.expired, "median": c.median_seconds_to_yes}
            for group, c in groups.items()}


def assert_copies_agree() -> None:
    for since in (None, NOW - dt.timedelta(days=10)):
        want, got = expected_satisfaction(since), reported_satisfaction(since)
        assert got.keys() == want.keys()
        for group in want:
            w, g = dict(want[group]), dict(got[group])
            assert g.pop("median") == pytest.approx(w.pop("median"), abs=0.002), group
            assert g == w, group
    counted = dict(CaseReporter.select(CaseReporter.case, fn.COUNT(CaseReporter.id)).group_by(CaseReporter.case)
                   .tuples())
    assert {c.id: c.reporter_count for c in Case.select()} == {c.id: counted.get(c.id, 0) for c in Case.select()}


@pytest.mark.parametrize("seed", [1, 2])
def test_counts_from_the_copies_equal_counts_from_the_cases_after_any_edits(either_db, seed):
    import_csv(SAMPLE_CSV)
    rng = random.Random(seed)
    hoods = {n.code: n for n in Neighborhood.select()}
    templates, rules = load_templates(), load_categories()
    cases = []
    for i in range(40):
        created = NOW - dt.timedelta(days=rng.uniform(0, 20))
        case = Case.create(tracking=str(3000001 + i), neighborhood=hoods[rng.choice(CODES)],
                           category=rng.choice(CATEGORIES), text="hay un bache", phone=f"+5917{i:07d}",
                           status="in_progress", created_at=created, updated_at=created)
        for k in range(rng.choice([0, 1, 1, 2])):
            add_reporter(case, f"+5916{i:05d}{k}", "reported" if k == 0 else "merged", None, created)
        for k in range(rng.choice([0, 1, 2])):
            asked = created + dt.timedelta(hours=rng.uniform(1, 100))
            question = CaseQuestion.create(case=case, phone=f"+5916{i:05d}{k}", kind=rng.choice(["survey", "survey",
                                                                                               "question"]),
                                           text="¿Arreglado?", asked_at=asked,
                                           expires_at=asked + dt.timedelta(days=rng.choice([1, 30])),
                                           **filed_under(case))
            outcome = rng.choice(["open", "yes", "no", "expired"])
            if outcome in ("yes", "no"):
                question.status, question.answer = "answered", outcome
                question.answered_at = asked + dt.timedelta(seconds=rng.uniform(0, 200000))
                question.answer_seconds = answer_seconds(question.asked_at, question.answered_at)
            elif outcome == "expired":
                question.status = "expired"
            question.save()
        cases.append(case)
    assert_copies_agree()

    # Staff correct cases: a category, a neighbourhood, both.
    for case in rng.sample(cases, 12):
        editing.edit_case(case.tracking, templates, rules, category=rng.choice(CATEGORIES),
                          neighborhood=rng.choice([None, *CODES]), region="BO", now=NOW)
    assert_copies_agree()
    # A neighbourhood moves to another district (the municipality redraws them).
    moved = hoods["B05"]
    import_rows([Row(1, moved.code, moved.name, "Distrito Nuevo", moved.lat, moved.lon, tuple(moved.alias_list))])
    assert_copies_agree()
    # Duplicates merged: their reporters join the case that stays; their questions stay theirs.
    for dup, keep in [(cases[0], cases[1]), (cases[2], cases[3]), (cases[4], cases[1])]:
        casework.merge(dup.tracking, keep.tracking, templates, region="BO", now=NOW)
    assert_copies_agree()
    spots = reports.hotspots(NOW)
    live = [c for c in Case.select() if c.merged_into_id is None]
    assert sum(s.reporters for s in spots) == sum(max(1, c.reporters.count()) for c in live)


def test_a_new_question_is_filed_under_its_case(either_db):
    import_csv(SAMPLE_CSV)
    hood = Neighborhood.get(Neighborhood.code == "B12")
    case = Case.create(tracking="3000001", neighborhood=hood, category="agua", text="sin agua", phone="+59171000001")
    assert filed_under(case) == {"category": "agua", "district": hood.district, "case_created_at": case.created_at}
    assert answer_seconds(NOW, NOW + dt.timedelta(minutes=90, microseconds=500)) == 5400.0005


def _functions_of_the_package():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "barriosms"
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield path.relative_to(root.parent), node


def test_every_question_is_created_filed_and_every_answer_timed():
    """The copies are only as good as the places that write questions: every CaseQuestion.create
    in the package passes **filed_under(case), and every function that records an answer's time
    records answer_seconds too (a new place that forgets would count its questions under no
    category, and leave them out of the medians and of `stats --since`)."""
    import ast

    creates = answers = 0
    for path, function in _functions_of_the_package():
        for node in ast.walk(function):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "create"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "CaseQuestion"):
                creates += 1
                spread = [k.value for k in node.keywords if k.arg is None]
                assert any(isinstance(v, ast.Call) and getattr(v.func, "id", "") == "filed_under" for v in spread), (
                    f"{path}:{node.lineno}: CaseQuestion.create without **filed_under(case)")
        assigned = {t.attr for node in ast.walk(function) if isinstance(node, ast.Assign)
                    for target in node.targets for t in ast.walk(target) if isinstance(t, ast.Attribute)}
        if "answered_at" in assigned:
            answers += 1
            assert "answer_seconds" in assigned, f"{path}:{function.lineno}: {function.name} sets answered_at only"
    assert creates >= 2 and answers >= 2  # satisfaction.ask_after_resolving, conversations.ask; survey, conversations
