"""What the gateway learns from staff's corrections of categories, and how it adds that to the keywords.

Staff correct a case's category when the keywords got it wrong ("hay una zanja abierta" filed under
``otros``, corrected to ``agua``). Each corrected case is a labelled example. :func:`train` counts
the stems of those examples per category: a multinomial naive Bayes with Laplace smoothing
(:meth:`Model.scores`). :func:`decide` adds what it learnt to the keywords' evidence
(``categories.keyword_scores``) and picks the category as the keywords alone do
(``categories.best_category``).

How the two combine, and why (the three promises the tests hold it to):

* **Only lessons speak.** A *lesson* is a word (stem) -> category pair seen in at least
  :data:`MIN_EXAMPLES` corrected cases of that category, whose *share* of that word's corrected
  cases is at least :data:`MIN_SHARE`. The share is ``n / (total + 1)``: the ``+ 1`` is Laplace's
  pseudo-example "somewhere else", so 3 of 3 gives 0.75 and 3 agua + 1 residuos gives 0.6 (staff
  disagree: no lesson). One correction, right or wrong, never changes what the gateway does: a
  single mis-correction cannot move the next report.
* **A lesson is a word of the corrections, not of every report.** When the caller gives the
  *background* (stem -> how many of all the cases contain it), a lesson's corrected cases must be at
  least :data:`MIN_DISTINCT` of the cases with that word: "esquina" in three corrected cases and in
  two hundred others says where reports happen, not what staff teach. Without a background (or
  before a word is in it) this condition is not checked.
* **Keywords are never learnt against.** A word of the message that a keyword matches is not read
  by the learner at all (the technicians' file is the authority on its own words): corrections of
  "bache en la calle" to agua, however many, never make "bache" an agua word. The fix for a wrong
  keyword is in the categories file. Function words ("la", "hay", "por favor") are never learnt
  either (:data:`STOP_WORDS`): with few corrections, all to one category, they would look like
  lessons.
* **A lesson weighs more than one keyword hit, less than two.** Each of a lesson's examples is a
  case where the keywords were wrong and staff fixed it, so one generic keyword ("calle") must not
  undo three consistent corrections ("zanja en la calle" → agua); two keyword hits still win. The
  evidence is ``LESSON_WEIGHT × share`` (1.05 to 1.5) for one category per message: when the
  message's lesson words point to several categories, the naive Bayes posterior over those words
  picks one. It is not summed over words, so a message repeating learnt words does not snowball.
* **Nothing learnt, nothing changes.** An empty model (or a message without a lesson word) adds
  nothing, and :func:`decide` is then exactly ``categorize``.

Uniform priors: the categories of *corrected* cases say where the keywords fail, not what residents
report, so the Bayes posterior does not favour a category for having been corrected to more often.

Pure: texts and pairs in, a frozen model out; the caller reads the store (``cases/learning.py``).
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from barriosms.domain.categories import CategoryRules, best_category, keyword_scores
from barriosms.domain.words import fold, stem, words

__all__ = ["Model", "Lesson", "train", "lessons", "evidence", "decide", "learnable",
           "lesson_key", "document_counts", "MIN_EXAMPLES", "MIN_SHARE", "MIN_DISTINCT", "LESSON_WEIGHT", "STOP_WORDS", "EMPTY"]

# A word must have been corrected to a category this many times before it counts (see above).
MIN_EXAMPLES: Final = 3
# ... and that category must have this share of the word's corrected cases (with the +1 pseudo-example).
MIN_SHARE: Final = 0.7
# ... and those cases must be this share of all the cases containing the word (when the background is known).
MIN_DISTINCT: Final = 0.5
# A keyword hit scores 1 (categories.keyword_scores); a lesson scores LESSON_WEIGHT × share: more
# than one hit (≥ 1.05 with MIN_SHARE 0.7), less than two (≤ 1.5).
LESSON_WEIGHT: Final = 1.5
# Laplace smoothing of the naive Bayes word likelihoods.
ALPHA: Final = 1.0

# Words in every kind of report (folded): never evidence of a category.
STOP_WORDS: Final = frozenset("""
    a al algo alguien ante antes aqui asi aun bien buen buenas buenos como con contra cual cuando de del desde
    donde dos el ella ellos en entre era es esa ese eso esta estan estamos este esto estos favor fue gracias
    ha hace hacen han hasta hay la las le les lo los mas me mi mis mucho muy nada ni no nos nuestra nuestro
    o otra otro para pero poco por porque pues que quien se senor senora ser si sin sobre solo su sus tambien
    tan tarde tenemos tiene todo todos tres un una uno unos urgente usted ustedes vecino vecinos y ya yo
    dia dias noche semana semanas hoy ayer ayuda ayudar solucion reclamo reclamamos pedimos
""".split())


def learnable(word: str) -> bool:
    """Whether a folded word may carry a lesson: not a function word, not a number, not a letter or two
    (neighbourhood codes such as "B12" end up as "b", "12")."""
    return len(word) >= 3 and not word.isdigit() and word not in STOP_WORDS


@dataclass(frozen=True)
class Lesson:
    """A word the learner reads as pointing to a category: seen in `count` corrected cases of it,
    `share` of that word's corrected cases (with the +1 pseudo-example)."""

    word: str  # how residents write it most often (folded), for people
    stem: str  # what is matched and what `categories forget` records
    category: str
    count: int
    share: float


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity (IntakeRules, which holds one, is hashable)
class Model:
    """What :func:`train` counted. Read-only mappings; build one with :func:`train`."""

    # category -> stem -> occurrences in that category's examples (the naive Bayes counts)
    counts: Mapping[str, Mapping[str, int]]
    # category -> stem -> examples of that category containing the stem (the lessons' counts)
    support: Mapping[str, Mapping[str, int]]
    examples: Mapping[str, int]  # category -> number of examples
    vocabulary: frozenset[str]
    spelling: Mapping[str, str]  # stem -> its most frequent folded word
    # stem -> cases (all of them, corrected or not) containing it; empty: not known
    background: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def size(self) -> int:
        """How many examples it was trained on."""
        return sum(self.examples.values())

    def scores(self, text: str) -> dict[str, float]:
        """The naive Bayes posterior of each category given the learnable words of ``text``
        (uniform priors, Laplace smoothing); {} when no word of the text was ever seen."""
        return self._posterior(s for s in _learnable_stems(text) if s in self.vocabulary)

    def _posterior(self, text_stems: Iterable[str]) -> dict[str, float]:
        seen = list(text_stems)
        if not seen or not self.examples:
            return {}
        v = len(self.vocabulary)
        logs: dict[str, float] = {}
        for category, counts in self.counts.items():
            total = sum(counts.values())
            logs[category] = sum(math.log((counts.get(s, 0) + ALPHA) / (total + ALPHA * v)) for s in seen)
        top = max(logs.values())
        odds = {c: math.exp(x - top) for c, x in logs.items()}
        norm = sum(odds.values())
        return {c: o / norm for c, o in odds.items()}

    @functools.cached_property
    def taught(self) -> Mapping[str, Mapping[str, float]]:
        """stem -> category -> share, for the pairs that are lessons."""
        found: dict[str, dict[str, float]] = {}
        totals: Counter[str] = Counter()
        for per_stem in self.support.values():
            totals.update(per_stem)
        for category, per_stem in self.support.items():
            for s, n in per_stem.items():
                share = n / (totals[s] + 1)
                everywhere = self.background.get(s, 0)
                distinct = not everywhere or n >= MIN_DISTINCT * everywhere
                if n >= MIN_EXAMPLES and share >= MIN_SHARE and distinct:
                    found.setdefault(s, {})[category] = share
        return MappingProxyType(found)


def _learnable_stems(text: str) -> list[str]:
    return [stem(w) for w in words(text) if learnable(w)]


def train(examples: Iterable[tuple[str, str]], forgotten: Iterable[tuple[str, str]] = (),
          background: Mapping[str, int] | None = None) -> Model:
    """Count the learnable stems of each (text, category) example.

    ``forgotten`` (stem, category) pairs are skipped: staff found the lesson wrong, so that stem is
    not counted for that category (it still is for the others). ``background``: stem -> how many
    cases of all contain it (:func:`document_counts`), so words of every report are not lessons.
    """
    skip = set(forgotten)
    counts: dict[str, Counter[str]] = {}
    support: dict[str, Counter[str]] = {}
    examples_per: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for text, category in examples:
        examples_per[category] += 1
        counts.setdefault(category, Counter())
        support.setdefault(category, Counter())
        kept = []
        for w in words(text):
            if not learnable(w):
                continue
            s = stem(w)
            if (s, category) in skip:
                continue
            kept.append(s)
            spellings.setdefault(s, Counter())[w] += 1
        counts[category].update(kept)
        support[category].update(set(kept))
    return Model(
        counts=MappingProxyType({c: MappingProxyType(dict(n)) for c, n in counts.items()}),
        support=MappingProxyType({c: MappingProxyType(dict(n)) for c, n in support.items()}),
        examples=MappingProxyType(dict(examples_per)),
        vocabulary=frozenset(spellings),
        # The most frequent spelling; on a tie the alphabetically first, so the display is stable.
        spelling=MappingProxyType({s: min(c, key=lambda w: (-c[w], w)) for s, c in spellings.items()}),
        background=MappingProxyType(dict(background or {})),
    )


def document_counts(texts: Iterable[str], only: Collection[str] | None = None) -> dict[str, int]:
    """stem -> how many of ``texts`` contain it (learnable words only): the background of :func:`train`.

    With ``only``, just those stems are counted (a model's vocabulary: the background of any other
    stem is never read), so the counts stay small however many texts there are.
    """
    found: Counter[str] = Counter()
    for text in texts:
        stems = set(_learnable_stems(text))
        found.update(stems if only is None else stems.intersection(only))
    return dict(found)


EMPTY: Final = train(())


def _is_keyword(word: str, rules: CategoryRules) -> bool:
    return bool(keyword_scores(word, rules))


def lessons(model: Model, rules: CategoryRules | None = None) -> list[Lesson]:
    """The words the model reads as pointing to a category, by category then strongest first.

    With ``rules``, words a keyword matches are left out: :func:`decide` never reads them.
    """
    found = []
    for s, per_category in model.taught.items():
        word = model.spelling[s]
        if rules is not None and _is_keyword(word, rules):
            continue
        for category, share in per_category.items():
            found.append(Lesson(word=word, stem=s, category=category, count=model.support[category][s], share=share))
    return sorted(found, key=lambda x: (x.category, -x.share, -x.count, x.word))


def evidence(text: str, rules: CategoryRules, model: Model) -> dict[str, float]:
    """What the model adds to the keywords' scores for ``text``: at most one category, LESSON_WEIGHT ×
    the share of its strongest lesson word in the text; {} when the text has no lesson word."""
    taught = model.taught
    if not taught:
        return {}
    found: list[tuple[str, dict[str, float]]] = []
    for w in dict.fromkeys(words(text)):  # each word once, in order
        if not learnable(w):
            continue
        s = stem(w)
        if s in taught and not _is_keyword(w, rules):
            found.append((s, dict(taught[s])))
    if not found:
        return {}
    pointed = {c for _, per_category in found for c in per_category}
    if len(pointed) == 1:
        (category,) = pointed
    else:
        # Lesson words disagree: the naive Bayes posterior over those words decides (ties: by name).
        posterior = model._posterior(s for s, _ in found)
        category = max(sorted(pointed), key=lambda c: posterior.get(c, 0.0))
    share = max(per_category.get(category, 0.0) for _, per_category in found)
    return {category: LESSON_WEIGHT * share}


def decide(text: str, rules: CategoryRules, model: Model | None) -> str:
    """The category of a report: the keywords' scores plus what was learnt from corrections.

    With ``model`` None or empty, exactly ``categorize(text, rules)``. A learnt category no longer
    in ``rules`` is ignored (best_category looks at the file's categories only).
    """
    scores = keyword_scores(text, rules)
    if model is not None:
        for category, weight in evidence(text, rules, model).items():
            scores[category] = scores.get(category, 0.0) + weight
    return best_category(scores, rules)


def lesson_key(word: str) -> str:
    """The stem :func:`train` and ``forgotten`` use for a word as staff type it ("Zanjas" → "zanj")."""
    return stem(fold(word).strip())
