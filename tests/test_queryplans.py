"""The query plans of what staff list, look up and count, and of the public lists (SQLite's EXPLAIN QUERY PLAN).

Each filter staff use is read through an index named here, and a listing's order (newest first)
comes from that index, never from a temporary B-tree that would sort every row of the filter: at
a million cases that sort is what made `cases list --category agua` or `--has-new-replies` slow.
`stats` and `report hotspots` count from an index without sorting the cases. The plans are those
of the real code's queries (recorded as they run) on a small database built by the migrations,
without ANALYZE, as a fresh installation has it; dropping any index named here fails its case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from barriosms.cases import casework
from barriosms.pipeline import conversations
from barriosms.reporting import public, reports
from barriosms.staff import inbox
from barriosms.store.models import (
    Case,
    CaseEvent,
    CaseQuestion,
    CaseReporter,
    InboundMessage,
    Neighborhood,
    database,
)
from barriosms.web.open311 import _Filter as _Open311Filter

NOW = dt.datetime(2026, 11, 24, 12, 0)
PHONE = "+59171234567"


@dataclass(frozen=True)
class Use:
    """What staff run (`call`), which of its queries to look at (those whose SQL contains `pick`,
    or every string of it, and not `unless`), the index each must use, and whether that index must also give the order (no
    temporary B-tree for ORDER BY or GROUP BY)."""

    call: Callable[[], object]
    pick: str | tuple[str, ...]
    index: str
    ordered: bool = True
    unless: str = "\0"  # ...and not this
    covering: bool = False  # the index alone, never the table's rows


USES: dict[str, Use] = {
    "cases list": Use(lambda: casework.list_cases(limit=50), 'FROM "case"', "case_created_at"),
    "cases list --status": Use(lambda: casework.list_cases(status="received", limit=50), 'FROM "case"',
                               "case_status_created_at"),
    "cases list --neighborhood": Use(lambda: casework.list_cases(neighborhood="B12", limit=50), 'FROM "case"',
                                     "case_neighborhood_id_created_at"),
    "cases list --category": Use(lambda: casework.list_cases(category="agua", limit=50), 'FROM "case"',
                                 "case_category_created_at"),
    "cases list --assignee": Use(lambda: casework.list_cases(assignee="Alumbrado", limit=50), 'FROM "case"',
                                 "case_assignee_created_at"),
    "cases list --has-new-replies": Use(conversations.cases_with_new_replies, 'FROM "case"', "case_new_replies"),
    # One phone's cases are found through the reporters (another table, so no index of the cases
    # can hold their order): the few cases of one resident are sorted, which is the cheap plan.
    "cases list --phone": Use(lambda: casework.list_cases(phone=PHONE), 'FROM "case_reporter"',
                              "case_reporter_phone", ordered=False),
    "inbox list": Use(lambda: inbox.list_messages(limit=50), 'FROM "inbound_message"',
                      "inbound_message_received_at"),
    "inbox list --unmatched": Use(lambda: inbox.list_messages(unmatched=True, limit=50), 'FROM "inbound_message"',
                                  "inbound_message_needs_staff_received_at"),
    "inbox list --unanswered": Use(lambda: inbox.list_messages(unanswered=True, limit=50),
                                   'FROM "inbound_message"', "inbound_message_unanswered"),
    "inbox list --phone": Use(lambda: inbox.list_messages(phone=PHONE, limit=50), 'FROM "inbound_message"',
                              "inbound_message_phone_received_at"),
    # `cases show`: one case by its number, then its few rows in each table (sorting those is fine).
    "cases show: the case": Use(lambda: casework.find_case("2000001"), 'FROM "case"', "case_tracking",
                                ordered=False),
    "cases show: history": Use(lambda: casework.history(_case()), 'FROM "case_event"', "case_event_case_id",
                               ordered=False),
    "cases show: SMS in": Use(lambda: casework.messages(_case()), 'FROM "inbound_message"',
                              "inbound_message_case_id", ordered=False),
    "cases show: SMS out": Use(lambda: casework.messages(_case()), 'FROM "outbound_message"',
                               "outbound_message_case_id", ordered=False),
    "cases show: reporters": Use(lambda: casework.reporters(_case()), 'FROM "case_reporter"',
                                 "case_reporter_case_id_phone", ordered=False),
    "cases show: conversation": Use(lambda: conversations.conversation(_case()), 'FROM "case_question"',
                                    "case_question_case_id", ordered=False),
    "stats: counts": Use(lambda: reports.stats(now=NOW), ('FROM "case" AS', 'GROUP BY "t1"."status"'),
                         "case_live_counts"),
    "stats: median time to resolve": Use(lambda: reports.stats(now=NOW), ('FROM "case" AS', "OFFSET"),
                                         "case_resolve_seconds", unless='"category" = ?'),
    "stats: median time to resolve per category": Use(lambda: reports.stats(now=NOW),
                                                      ('FROM "case" AS', "OFFSET", '"category" = ?'),
                                                      "case_category_resolve_seconds"),
    # `stats --since`: the cases opened since a day counted from the live counts' index alone (the
    # day of each is in it), their times to resolve sorted from the public list's index alone.
    "stats --since: counts": Use(lambda: reports.stats(NOW - dt.timedelta(days=30), now=NOW),
                                 ('FROM "case" AS', 'GROUP BY "t1"."status"'), "case_live_counts", covering=True),
    "stats --since: times to resolve": Use(lambda: reports.stats(NOW - dt.timedelta(days=30), now=NOW),
                                           ('FROM "case" AS', '"created_at" >= ?', '"resolved_at" IS NOT NULL'),
                                           "case_public_created_at", covering=True),
    "stats --since: satisfaction counts": Use(lambda: reports.stats(NOW - dt.timedelta(days=30), now=NOW),
                                              ('FROM "case_question"', "GROUP BY"), "case_question_survey_counts",
                                              unless='"expires_at" <=', covering=True),
    "stats --since: median time to yes per category": Use(
        lambda: reports.stats(NOW - dt.timedelta(days=30), now=NOW),
        ('FROM "case_question"', "OFFSET", '"category" = ?'), "case_question_category_answer_seconds",
        covering=True),
    "report hotspots: waiting cases": Use(lambda: reports.hotspots(NOW), 'GROUP BY "t1"."status"',
                                          "case_live_counts"),
    # The satisfaction answers, counted per category and district, and the medians of the time to
    # "yes" overall, per category and per district: each from its index of the questions alone.
    "stats: satisfaction counts": Use(lambda: reports.stats(now=NOW), ('FROM "case_question"', "GROUP BY"),
                                      "case_question_survey_counts", unless='"expires_at" <='),
    "stats: satisfaction answers overdue": Use(lambda: reports.stats(now=NOW),
                                               ('FROM "case_question"', '"expires_at" <='),
                                               "case_question_survey_counts"),
    "stats: median time to yes": Use(lambda: reports.stats(now=NOW),
                                     ('FROM "case_question"', "OFFSET", '"answer" = ?)) AND ("t1"."answer_seconds"'),
                                     "case_question_answer_seconds"),
    "stats: median time to yes per category": Use(lambda: reports.stats(now=NOW),
                                                  ('FROM "case_question"', "OFFSET", '"category" = ?'),
                                                  "case_question_category_answer_seconds"),
    "stats: median time to yes per district": Use(lambda: reports.stats(now=NOW),
                                                  ('FROM "case_question"', "OFFSET", '"district" = ?'),
                                                  "case_question_district_answer_seconds"),
    # The public lists (website, Open311): the page's ids in the order of an index of the cases not
    # merged into another, deep pages skipping index entries; each filter counted from an index.
    "public list": Use(lambda: public.listing(public.CaseFilter(), offset=100, limit=50), "IN (SELECT",
                       "case_public_created_at"),
    "public list ?estado=abiertos": Use(lambda: public.listing(public.CaseFilter(state="abiertos")), "IN (SELECT",
                                        "case_public_created_at"),
    "public list ?categoria=agua": Use(lambda: public.listing(public.CaseFilter(category="agua")), "IN (SELECT",
                                       "case_public_created_at"),
    "public list ?barrio=B12": Use(lambda: public.listing(public.CaseFilter(neighborhood="B12", state="cerrados")),
                                   "IN (SELECT", "case_public_neighborhood"),
    "Open311 requests (90 days, services)": Use(
        lambda: public.listing(_Open311Filter(state="abiertos", since=NOW - dt.timedelta(days=90),
                                              categories=("agua", "vias")), limit=1000),
        "IN (SELECT", "case_public_created_at"),
    "public count": Use(lambda: public.count(public.CaseFilter(), up_to=100_000), "COUNT(", "case_live_counts"),
    "public count ?categoria=agua": Use(lambda: public.count(public.CaseFilter(category="agua", state="abiertos"),
                                                             up_to=100_000), "COUNT(", "case_live_counts"),
    "Open311 count (90 days)": Use(lambda: public.count(public.CaseFilter(since=NOW - dt.timedelta(days=90))),
                                   "COUNT(", "case_public_created_at"),
    "a neighbourhood's page: its counts": Use(
        lambda: public.count(public.CaseFilter(neighborhood="B12", state="abiertos")), "COUNT(",
        "case_public_neighborhood"),
}


def _case() -> Case:
    return Case.get(Case.tracking == "2000001")


@pytest.fixture
def store(db, hoods):
    """A few cases of every kind the queries pick (plans do not depend on how many)."""
    for n, (code, category, status) in enumerate([("B12", "agua", "received"), ("B03", "vias", "resolved"),
                                                  ("B12", "alumbrado", "in_progress")]):
        created = NOW - dt.timedelta(days=n + 1)
        case = Case.create(tracking=str(2000001 + n), neighborhood=Neighborhood.get(Neighborhood.code == code),
                           category=category, text="hay un problema", phone=PHONE, status=status,
                           created_at=created, updated_at=created, assignee="Alumbrado", unseen_replies=n % 2,
                           resolved_at=created + dt.timedelta(hours=5) if status == "resolved" else None)
        CaseReporter.create(case=case, phone=PHONE, how="reported", joined_at=created)
        CaseEvent.create(case=case, at=created, kind="created", new_status="received")
        InboundMessage.create(dedupe_key=f"k{n}", sender=PHONE, phone=PHONE, text="hola", received_at=created,
                              case=case, needs_staff=n == 0, unanswered="muted" if n == 1 else "")
        # Every case was asked whether it is fixed; one answered "yes" (the medians' queries run).
        CaseQuestion.create(case=case, phone=PHONE, kind="survey", text="¿Arreglado?", asked_at=created,
                            expires_at=created + dt.timedelta(days=7), status="answered" if n == 1 else "open",
                            answer="yes" if n == 1 else "", answered_at=created + dt.timedelta(hours=1) if n == 1 else None,
                            answer_seconds=3600.0 if n == 1 else None, category=category, district=code,
                            case_created_at=created)
    return db


def recorded(call: Callable[[], object]) -> list[tuple[str, object]]:
    """Every statement `call` runs, with its parameters."""
    sqlite = database.obj
    run = sqlite.execute_sql
    seen: list[tuple[str, object]] = []

    def recording(sql, params=None, *args, **kwargs):
        seen.append((sql, params))
        return run(sql, params, *args, **kwargs)

    sqlite.execute_sql = recording
    try:
        call()
    finally:
        del sqlite.execute_sql
    return seen


def plan_of(sql: str, params: object) -> list[str]:
    return [row[-1] for row in database.obj.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()]


def plans(use: Use) -> list[tuple[str, list[str]]]:
    """The queries `use.call` runs that `use.pick` picks, each with the lines of its plan."""
    seen = recorded(use.call)
    run = database.obj.execute_sql
    picks = (use.pick,) if isinstance(use.pick, str) else use.pick
    picked = [(sql, params) for sql, params in seen
              if sql.lstrip().startswith("SELECT") and all(p in sql for p in picks) and use.unless not in sql]
    assert picked, f"no query containing {use.pick!r} ran"
    return [(sql, [row[-1] for row in run("EXPLAIN QUERY PLAN " + sql, params).fetchall()]) for sql, params in picked]


def check(use: Use) -> None:
    for sql, plan in plans(use):
        shown = f"{sql}\n" + "\n".join(plan)
        assert any(f"USING INDEX {use.index} " in line or f"USING COVERING INDEX {use.index} " in line
                   or line.endswith(f"USING INDEX {use.index}") or line.endswith(f"USING COVERING INDEX {use.index}")
                   for line in plan), f"{use.index} not used:\n{shown}"
        if use.ordered:
            assert not any("USE TEMP B-TREE" in line for line in plan), f"sorted in a temporary B-tree:\n{shown}"
        if use.covering:
            assert any(f"USING COVERING INDEX {use.index}" in line for line in plan), f"reads the table:\n{shown}"


@pytest.mark.parametrize("name", sorted(USES))
def test_each_filter_and_order_staff_use_comes_from_an_index(store, name):
    check(USES[name])


@pytest.mark.parametrize("name", sorted(USES))
def test_without_its_index_the_plan_is_refused(store, name):
    """The check above is no formality: drop the index a use needs, and it fails."""
    use = USES[name]
    database.execute_sql(f'DROP INDEX "{use.index}"')
    with pytest.raises(AssertionError):
        check(use)


PHONE_INDEX = "case_question_phone_status_kind_expires_at"


def check_phone_lookups() -> None:
    """Store five kinds of SMS from PHONE with the real intake; every lookup and update of that
    phone's questions must go through PHONE_INDEX."""
    import random

    from barriosms.modem.interface import ReceivedSms
    from barriosms.pipeline.intake import Intake, IntakeRules
    from barriosms.templates.loader import load_categories, load_templates

    case = _case()
    CaseQuestion.create(case=case, phone=PHONE, kind="question", text="¿Frente a qué número?", asked_at=NOW,
                        expires_at=NOW + dt.timedelta(hours=48), category=case.category, district="Centro")
    intake = Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(1))
    texts = ("1", "frente al 45", "B12 hay un bache grande en la calle 3", "2", "gracias")
    seen = recorded(lambda: [intake.store(ReceivedSms(location=i + 1, sender=PHONE, text=text,
                                                      smsc_time=NOW + dt.timedelta(minutes=i)),
                                          now=NOW + dt.timedelta(minutes=i)) for i, text in enumerate(texts)])
    lookups = [(sql, params) for sql, params in seen
               if sql.lstrip().startswith(("SELECT", "UPDATE")) and '"case_question"' in sql and '"phone" = ?' in sql]
    assert len(lookups) >= len(texts)
    for sql, params in lookups:
        plan = plan_of(sql, params)
        assert any(PHONE_INDEX in line for line in plan), f"{sql}\n{plan}"


def test_the_intake_finds_one_phones_questions_through_the_phone_index(store):
    """Storing an SMS looks up the questions waiting for its phone (a satisfaction question, a
    staff question) several times: each lookup, and each update of that phone's questions, goes
    through the phone's index, never through an index of a whole kind of questions (migration
    19's counting indexes start with the kind and the status: at a million cases, a phone's
    lookup through them read every open question, 40 ms per SMS)."""
    check_phone_lookups()


def test_without_the_phone_index_the_check_fails_on_a_plan(store):
    """The check above is no formality: without the phone's index, the lookups' plans fail it
    (the planner takes a counting index; at a million cases, with the indexes of migration 19's
    first version, it did so even with the old (phone, status) index in place)."""
    database.execute_sql(f'DROP INDEX "{PHONE_INDEX}"')
    with pytest.raises(AssertionError, match=r"USING (COVERING )?INDEX case_question_"):
        check_phone_lookups()
