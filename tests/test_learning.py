"""Learning categories from staff's corrections: the model (domain), the examples (store), the CLI, the daemon.

The two promises of issue 13 are tested through the real case-opening path (the intake, practice,
open_case): (a) after 3 corrections of a word the keywords never knew, the next report with that
word gets the corrected category; (b) one mis-correction does not override a keyword.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import threading

import pytest
from fakemodem import FakeModem
from hypothesis import given
from hypothesis import strategies as st

from barriosms import config
from barriosms.cases import learning
from barriosms.cases.opening import open_case
from barriosms.daemon.modem_thread import ModemThread
from barriosms.daemon.process import Daemon
from barriosms.domain.categories import CategoryRules, categorize
from barriosms.domain.learning import (
    EMPTY,
    LESSON_WEIGHT,
    decide,
    document_counts,
    evidence,
    lesson_key,
    lessons,
    train,
)
from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.store.models import Case, CaseCorrection, ForgottenLesson, PracticeCase
from barriosms.templates.loader import load_categories, load_templates

T0 = dt.datetime(2026, 12, 1, 12, 0, 0)
RULES = load_categories()

# Texts whose words the keywords file does not know (they are filed under "otros").
ZANJA = ["hay una zanja abierta", "zanja enorme frente al mercado", "la zanja se lleno otra vez"]


# -- the model (domain) --------------------------------------------------------------------------


def test_three_consistent_corrections_teach_a_word_the_keywords_never_knew():
    model = train([(t, "agua") for t in ZANJA])
    assert categorize("otra zanja aqui", RULES) == "otros"
    assert decide("otra zanja aqui", RULES, model) == "agua"
    assert decide("Zanjas por todo lado", RULES, model) == "agua"  # any spelling of the stem
    [lesson] = lessons(model, RULES)
    assert (lesson.word, lesson.stem, lesson.category, lesson.count, lesson.share) == ("zanja", "zanj", "agua", 3, 0.75)


def test_two_corrections_are_not_enough():
    model = train([(t, "agua") for t in ZANJA[:2]])
    assert lessons(model) == []
    assert decide("otra zanja aqui", RULES, model) == "otros"


def test_one_mis_correction_does_not_override_a_keyword():
    model = train([("bache en la calle", "agua")])
    assert decide("hay un bache", RULES, model) == "vias"
    assert evidence("hay un bache", RULES, model) == {}


def test_keyword_words_are_never_learnt_against_however_often_corrected():
    model = train([("bache en la calle", "agua")] * 5)
    assert lessons(model, RULES) == []  # "bach" and "call" are keywords' words: not shown, not read
    assert decide("hay un bache", RULES, model) == "vias"
    assert decide("bache en la calle", RULES, model) == "vias"


def test_a_lesson_beats_one_keyword_hit_but_not_two():
    model = train([(t + " en la calle", "agua") for t in ZANJA])
    assert categorize("zanja en la calle", RULES) == "vias"
    assert decide("zanja en la calle", RULES, model) == "agua"  # three corrections beat "calle"
    assert decide("zanja con escombros y basura", RULES, model) == "residuos"  # two keyword hits win
    assert 1 < LESSON_WEIGHT * 0.7 and LESSON_WEIGHT < 2


def test_staff_who_disagree_teach_nothing():
    model = train([*((t, "agua") for t in ZANJA), ("zanja llena de basura vieja", "residuos")])
    assert lessons(model) == []  # 3 of 4 corrected zanja cases: share 3/5 = 0.6 < 0.7
    assert decide("otra zanja", RULES, model) == "otros"


def test_function_words_and_codes_are_never_lessons():
    model = train([("por favor hay una zanja en la B12 esquina " + t, "agua") for t in ("uno", "dos", "tres")])
    assert {x.word for x in lessons(model)} == {"zanja", "esquina"}  # with no background to tell
    assert decide("por favor la B12", RULES, model) == "otros"


def test_a_word_of_every_report_is_no_lesson_once_the_background_shows_it():
    corrected = [("por favor hay una zanja en la B12 esquina " + t, "agua") for t in ("uno", "dos", "tres")]
    others = [f"en la esquina {n} hay algo" for n in range(20)]
    seen = document_counts([t for t, _ in corrected] + others)
    model = train(corrected, background=seen)
    assert {x.word for x in lessons(model)} == {"zanja"}
    assert decide("la esquina de mi casa", RULES, model) == "otros"
    assert decide("otra zanja en la esquina", RULES, model) == "agua"


def test_forgotten_pairs_are_not_counted_for_that_category_only():
    model = train([(t, "agua") for t in ZANJA], forgotten={("zanj", "agua")})
    assert lessons(model) == [] and decide("otra zanja", RULES, model) == "otros"
    other = train([(t, "agua") for t in ZANJA], forgotten={("zanj", "vias")})
    assert [x.word for x in lessons(other)] == ["zanja"]


def test_lesson_words_pointing_two_ways_give_one_category_by_naive_bayes():
    examples = [(t, "agua") for t in ZANJA] + [(f"turril oxidado {n}", "residuos") for n in ("aqui", "alla", "ahi")]
    model = train(examples)
    found = evidence("una zanja con un turril oxidado", RULES, model)
    assert list(found) == ["residuos"]  # two residuos lesson words against one agua word: one category only
    assert decide("un turril oxidado", RULES, model) == "residuos"


def test_naive_bayes_scores_are_a_posterior_over_the_learnt_categories():
    model = train([(t, "agua") for t in ZANJA] + [("turril oxidado en la esquina", "residuos")])
    scores = model.scores("zanja")
    assert scores["agua"] > scores["residuos"] and sum(scores.values()) == pytest.approx(1.0)
    assert model.scores("nada conocido") == {} and EMPTY.scores("zanja") == {}
    assert model.size == 4 and dict(model.examples) == {"agua": 3, "residuos": 1}


def test_a_learnt_category_no_longer_in_the_file_is_ignored():
    model = train([(t, "drenaje_pluvial") for t in ZANJA])
    assert decide("otra zanja", RULES, model) == "otros"


def test_lesson_key_stems_as_the_learner_does():
    assert lesson_key("Zanjas") == lesson_key("zanja") == "zanj"


WORDS = ["bache", "calle", "luz", "agua", "basura", "zanja", "perro", "la", "en", "hay", "B12", "ÑANDÚ", "muro", "poste"]


@given(st.one_of(st.text(max_size=80), st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)))
def test_with_nothing_learnt_the_result_is_exactly_the_keywords(text):
    assert decide(text, RULES, EMPTY) == categorize(text, RULES)
    assert decide(text, RULES, None) == categorize(text, RULES)
    assert decide(text, RULES, train([])) == categorize(text, RULES)


@given(st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join),
       st.lists(st.tuples(st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join),
                          st.sampled_from(RULES.names)), max_size=2))
def test_fewer_than_three_corrections_never_change_anything(text, examples):
    assert decide(text, RULES, train(examples)) == categorize(text, RULES)


# -- the store: examples, learn, forget, learned, evaluate -----------------------------------------


def opened(text, hood, when=T0):
    return open_case(None, hood, text, when, categories=RULES, rng=random.Random(len(text) + Case.select().count()))


def correct(case, after, field="category"):
    before = case.category
    case.category = after
    case.save()
    CaseCorrection.create(case=case, field=field, before=before, after=after, actor="ana", at=T0)
    return case


def test_examples_are_corrected_cases_with_their_category_now(hoods):
    b12 = hoods["B12"]
    first = correct(opened(ZANJA[0], b12), "agua")
    correct(first, "riesgos")  # corrected twice: the category now counts
    opened("hay un bache", b12)  # never corrected: not an example
    merged = correct(opened(ZANJA[1], b12), "agua")
    merged.merged_into = first
    merged.save()
    moved = opened(ZANJA[2], b12)
    CaseCorrection.create(case=moved, field="neighborhood", before="B12", after="B13", actor="ana")
    assert learning.examples() == [learning.Example(first.id, ZANJA[0], "riesgos")]


def test_learn_summarises_what_it_learnt(hoods):
    for text in ZANJA:
        correct(opened(text, hoods["B12"]), "agua")
    correct(opened("bache en la calle", hoods["B12"]), "agua")
    learnt = learning.learn(RULES)
    assert (learnt.summary.examples, learnt.summary.categories, learnt.summary.lessons) == (4, {"agua": 4}, 1)
    assert learnt.summary.words == len(learnt.model.vocabulary)
    assert learnt.summary.line().startswith("learnt from 4 corrected case(s) (agua 4): ")
    assert [(x.word, x.category, x.count) for x in learning.learned(rules=RULES)] == [("zanja", "agua", 3)]
    assert learning.learned("vias", RULES) == []


def test_forget_undoes_a_lesson_and_the_next_learning_skips_it(hoods):
    for text in ZANJA:
        correct(opened(text, hoods["B12"]), "agua")
    lesson = learning.forget("Zanjas", "agua", "ana", now=T0)
    assert (lesson.stem, lesson.category, lesson.count) == ("zanj", "agua", 3)
    row = ForgottenLesson.get()
    assert (row.word, row.category, row.actor) == ("zanj", "agua", "ana")
    assert learning.learned() == []
    assert decide("otra zanja", RULES, learning.learn().model) == "otros"
    with pytest.raises(learning.LearningError, match="'zanja' is not a learnt word of the category 'agua'"):
        learning.forget("zanja", "agua", "ana")  # already forgotten


def test_forget_refuses_unknown_lessons_and_several_words(hoods):
    with pytest.raises(learning.LearningError, match=r"'perro' is not a learnt word of the category 'agua' \(see"):
        learning.forget("perro", "agua", "ana")
    with pytest.raises(learning.LearningError, match="is not one word"):
        learning.forget("zanja abierta", "agua", "ana")
    assert ForgottenLesson.select().count() == 0


# Synthetic corrections: words the keywords do not know, each corrected to one category.
TAUGHT = {"zanja": "agua", "turril": "residuos", "cascote": "riesgos", "tunel": "vias"}
FILLERS = ["grande", "nuevo", "viejo", "abierto", "roto", "cerca", "lejos", "frente", "detras", "ahora"]


def synthetic_corrections(hood, n=60):
    rng = random.Random(13)
    for i in range(n):
        word = list(TAUGHT)[i % len(TAUGHT)]
        text = f"{word} {rng.choice(FILLERS)} {rng.choice(FILLERS)}"
        correct(opened(text, hood), TAUGHT[word])


def test_evaluate_corrections_holds_out_a_fifth_and_learning_files_them_right(hoods):
    synthetic_corrections(hoods["B12"])
    ids = [c.id for c in Case.select()]
    held = sum(learning.held_out(i) for i in ids)
    assert 0 < held < len(ids)
    e = learning.evaluate_corrections(RULES)
    assert (e.trained_on, e.held_out) == (len(ids) - held, held)
    assert (e.keywords_right, e.keywords_percent) == (0, 0.0)  # they were all filed under "otros"
    assert (e.learning_right, e.learning_percent) == (held, 100.0)
    assert learning.evaluate_corrections(RULES) == e  # the same split every time


def test_evaluate_corrections_with_nothing_corrected(db):
    e = learning.evaluate_corrections(RULES)
    assert (e.trained_on, e.held_out, e.keywords_percent, e.learning_percent) == (0, 0, None, None)


# -- (a) and (b) through the real case-opening path -------------------------------------------------


def sms(text, loc=1):
    # A phone per report: the per-phone limits are not what these tests are about.
    return ReceivedSms(location=loc, sender=f"+5917123{loc:04d}", text=text, smsc_time=T0, concat_ref=None,
                       part_number=1, total_parts=1)


def intake_with(model=None):
    rules = IntakeRules(load_templates(), RULES, region="BO", learned=model)
    return Intake(rules, rng=random.Random(7))


def report(intake, text, loc):
    assert intake.store(sms(text, loc), now=T0 + dt.timedelta(minutes=loc))
    return Case.select().order_by(Case.id.desc()).get()


def test_a_after_three_corrections_the_next_report_gets_the_corrected_category(hoods):
    intake = intake_with()
    for loc, text in enumerate(ZANJA, start=1):
        case = report(intake, f"B12 {text}", loc)
        assert case.category == "otros"
        correct(case, "agua")
    assert report(intake_with(), "B12 otra zanja en la esquina", 10).category == "otros"  # nothing learnt yet
    learnt = learning.learn(RULES)
    assert report(intake_with(learnt.model), "B12 hay otra zanja en la esquina", 11).category == "agua"
    # Staff routing, web reports and open_case itself take the model the same way.
    case = open_case(None, hoods["B13"], "zanja peligrosa", T0, categories=RULES, learned=learnt.model)
    assert case.category == "agua"
    # Practice answers as a real report would, with the learnt category.
    report(intake_with(learnt.model), "PRUEBA B12 una zanja mas", 12)
    assert PracticeCase.get().category == "agua"


def test_b_one_mis_correction_does_not_override_a_strong_keyword(hoods):
    intake = intake_with()
    case = report(intake, "B12 bache en la calle", 1)
    assert case.category == "vias"
    correct(case, "agua")  # a slip
    slip = report(intake, "B12 zanja que nadie conoce", 2)
    correct(slip, "agua")  # and one correction of an unknown word
    learnt = learning.learn(RULES)
    assert learnt.summary.lessons == 0
    after = intake_with(learnt.model)
    assert report(after, "B12 hay un bache", 3).category == "vias"
    assert report(after, "B12 otra zanja", 4).category == "otros"


# -- the daemon: learns at start-up, on SIGHUP and every night, and swaps the rules itself --------------


@pytest.fixture
def settings(db, tmp_path):
    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/fake\n[gateway]\npoll_seconds = 60\n"
                   "timezone = America/La_Paz\n")
    return config.load(ini)


def test_the_modem_thread_takes_a_new_model_at_the_top_of_its_turn_and_keeps_it_on_reload(settings, hoods):
    thread = ModemThread(settings, threading.Event(), modem_factory=lambda s: FakeModem())
    before = thread.gateway.intake.rules
    model = train([(t, "agua") for t in ZANJA])
    thread.use_learned(model)
    assert thread.gateway.intake.rules is before  # not from the caller's thread
    thread._take_reload()
    rules = thread.gateway.intake.rules
    assert rules.learned is model and dataclasses.replace(rules, learned=None) == before
    thread.reload(settings)
    thread._take_reload()
    assert thread.gateway.intake.rules.learned is model


def test_the_daemon_relearns_from_the_database_and_schedules_the_nightly_run(settings, hoods, caplog):
    for text in ZANJA:
        correct(opened(text, hoods["B12"]), "agua")
    daemon = Daemon(settings, modem_factory=lambda s: FakeModem())
    with caplog.at_level("INFO", logger="barriosms.daemon.process"):
        learnt = daemon.relearn()
    assert learnt is not None and learnt.summary.lessons == 1
    assert "categories: learnt from 3 corrected case(s) (agua 3)" in caplog.text
    daemon.thread._take_reload()
    assert daemon.thread.gateway.intake.rules.learned is learnt.model
    daemon._schedule()
    trigger = daemon.scheduler.get_job("learn").trigger
    assert str(trigger.timezone) == "America/La_Paz"
    assert {f.name: str(f) for f in trigger.fields}.items() >= {"hour": "3", "minute": "30"}.items()


# -- the CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def corrected(ready, ini):
    from barriosms.store import database as store

    settings = config.load(ini)
    store.open_database(settings.database.target)
    from barriosms.store.models import Neighborhood

    hood = Neighborhood.get(Neighborhood.code == "B12")
    for text in ZANJA:
        correct(opened(text, hood), "agua")
    store.close()
    return ready


def test_cli_learn_and_learned(corrected):
    out = corrected("categories", "learn").output
    assert out.splitlines()[0].startswith("learnt from 3 corrected case(s) (agua 3): ")
    assert "zanja" in out and "75%" in out
    data = json.loads(corrected("categories", "learn", "--json").output)
    assert (data["examples"], data["categories"]) == (3, {"agua": 3})
    assert data["lessons"] == [{"word": "zanja", "stem": "zanj", "category": "agua", "cases": 3, "share": 0.75}]
    assert json.loads(corrected("categories", "learned", "--json").output) == data["lessons"]
    assert json.loads(corrected("categories", "learned", "--category", "vias", "--json").output) == []
    assert "no learnt words for vias" in corrected("categories", "learned", "--category", "vias").output


def test_cli_forget(corrected):
    result = corrected("categories", "forget", "zanja", "agua", "--json")
    assert json.loads(result.output) == {"word": "zanja", "stem": "zanj", "category": "agua", "cases": 3,
                                         "share": 0.75, "forgotten": True}
    assert json.loads(corrected("categories", "learned", "--json").output) == []
    result = corrected("categories", "forget", "zanja", "agua", code=1)
    assert "Error: 'zanja' is not a learnt word of the category 'agua' (see `barriosms categories learned`)" in result.output


def test_cli_evaluate_corrections(corrected, ini):
    from barriosms.store import database as store
    from barriosms.store.models import Neighborhood

    store.open_database(config.load(ini).database.target)
    synthetic_corrections(Neighborhood.get(Neighborhood.code == "B12"))
    store.close()
    data = json.loads(corrected("categories", "evaluate", "--corrections", "--json").output)
    assert data["held_out"] > 0 and data["keywords"]["right"] == 0
    assert data["learning"] == {"right": data["held_out"], "percent": 100.0}
    out = corrected("categories", "evaluate", "--corrections").output
    assert "with learning" in out and "100.0%" in out


def test_cli_evaluate_corrections_with_nothing_to_test(ready):
    assert "no corrected case held out" in ready("categories", "evaluate", "--corrections").output


def test_rules_without_a_model_behave_as_before():
    rules = IntakeRules(load_templates(), RULES, region="BO")
    assert rules.learned is None
    assert isinstance(hash(dataclasses.replace(rules, learned=EMPTY)), int)  # still hashable
    assert isinstance(RULES, CategoryRules)


def test_staff_routing_by_hand_files_the_report_as_the_daemon_would(corrected, ini):
    from barriosms.store import database as store
    from barriosms.store.models import InboundMessage

    settings = config.load(ini)
    store.open_database(settings.database.target)
    assert intake_with().store(sms("hay una zanja frente a mi casa", 40), now=T0 + dt.timedelta(hours=1))
    held = InboundMessage.select().where(InboundMessage.case.is_null()).order_by(InboundMessage.id.desc()).get()
    store.close()
    out = json.loads(corrected("inbox", "assign", str(held.id), "--neighborhood", "B05", "--json").output)
    assert out["category"] == "agua"  # `inbox assign` learnt from the three corrections too


def test_cli_evaluate_wants_a_corpus_or_corrections_not_both(ready, tmp_path):
    corpus = tmp_path / "c.csv"
    corpus.write_text("text,kind,neighborhood,category,note\n", encoding="utf-8")
    assert "either a CORPUS file or --corrections" in ready("categories", "evaluate", str(corpus), "--corrections",
                                                            code=1).output
    assert "which corpus?" in ready("categories", "evaluate", code=1).output


def test_between_nights_the_daemon_relearns_only_when_staff_corrected_or_forgot(settings, hoods):
    daemon = Daemon(settings, modem_factory=lambda s: FakeModem())
    assert daemon.relearn() is not None
    assert daemon.relearn_if_corrected() is None  # nothing new: no retraining
    from barriosms.store.models import database

    database.connect(reuse_if_open=True)  # the daemon's jobs close their connection when done
    cases = [opened(text, hoods["B12"]) for text in ZANJA]
    for case in cases:
        correct(case, "agua")
    learnt = daemon.relearn_if_corrected()
    assert learnt is not None and learnt.summary.lessons == 1
    assert daemon.relearn_if_corrected() is None
    database.connect(reuse_if_open=True)
    learning.forget("zanja", "agua", "ana")
    again = daemon.relearn_if_corrected()
    assert again is not None and again.summary.lessons == 0
    daemon._schedule()
    assert daemon.scheduler.get_job("learn-check").trigger.interval.total_seconds() == 60


def test_the_store_gives_the_background_so_the_place_of_many_reports_is_not_learnt(hoods):
    for text in ZANJA:
        correct(opened(f"{text} en la esquina", hoods["B12"]), "agua")
    for n in range(8):
        opened(f"en la esquina {n} pasa algo", hoods["B05"])
    assert [(x.word, x.category) for x in learning.learned()] == [("zanja", "agua")]


def test_document_counts_of_some_stems_count_only_those():
    texts = ["hay una zanja en la esquina", "otra zanja", "la esquina oscura"]
    assert document_counts(texts, only={"zanj", "nada"}) == {"zanj": 2}
    assert document_counts(texts, only=set()) == {}
    every = document_counts(texts)
    assert every["zanj"] == 2 and len(every) > 2


def test_the_background_holds_the_stems_of_the_corrections_and_nothing_is_read_without_one(hoods, monkeypatch):
    for text in ZANJA:
        correct(opened(f"{text} en la esquina", hoods["B12"]), "agua")
    for n in range(8):
        opened(f"en la esquina {n} pasa algo oscuro", hoods["B05"])
    model = learning.learn().model
    assert set(model.background) <= model.vocabulary and model.background["esquin"] == 11
    assert "oscur" not in model.background
    CaseCorrection.delete().execute()

    def no_scan(only=None):
        raise AssertionError("the cases' texts were read with nothing to learn")

    monkeypatch.setattr(learning, "background", no_scan)
    assert learning.learn().model.vocabulary == frozenset()
