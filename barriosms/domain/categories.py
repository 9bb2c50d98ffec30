"""Which municipal department a report goes to, guessed from the resident's own words.

The rules live in an INI file technicians edit (``config/categories.es.ini``)::

    [categories]
    riesgos = derrumbe, deslizamiento, mazamorra, hundimiento, rajadura
    agua = agua, alcantarilla, desague, drenaje, sumidero, cañeria
    ...
    [place_words]
    vias = calle, avenida, pasaje, esquina
    [options]
    default = otros
    [labels]
    vias = Vías y aceras
    ...

The optional ``[labels]`` section names the categories for people (the website, Open311): the
names themselves stay plain identifiers because they are stored, exported and sent by SMS. A
category without a label is shown with its name capitalised ("agua" → "Agua").

Matching (:mod:`.words`) ignores accents and capitals (residents type "CAÑERIA", "caneria",
"cañería") and compares whole words by their Spanish stem: "baches" finds "bache",
"alcantarillado" finds "alcantarilla", "escombro" finds "escombros", "luces" finds "luz", but
"paraguas" is no "agua" and "basurero" no "basura" (a word starting like a keyword is not it).
Each word of the report counts once per category, with its keyword's weight ("agua:0.5" counts
half, "derrumbe:2" double, a keyword without a weight 1); the category with the highest total wins,
ties go to the one listed first, no word found gives the default.

Words that only say *where* ("en la calle", "media calle", "por la avenida") are
``[place_words]``: they count for their category only when the message has no keyword of
``[categories]`` at all, so "no hay luz en la calle" is alumbrado and "la calle esta cerrada" vias.
"""

from __future__ import annotations

import configparser
import functools
import re
from dataclasses import dataclass
from typing import Final

from barriosms.domain.errors import IniSource, TemplateError, check_sections, parse_ini

# fold is the words module's; still a name of this module, which most callers import it from.
from barriosms.domain.words import fold as fold
from barriosms.domain.words import stem, stems, words

__all__ = [
    "CategoryRules", "parse_categories", "categorize", "keyword_scores", "keyword_stems", "split_weight",
    "best_category", "fold",
    "DEFAULT_FILE",
]

DEFAULT_FILE: Final = "categories.es.ini"
_SECTION: Final = "categories"
_OPTIONS: Final = "options"
_LABELS: Final = "labels"
_PLACES: Final = "place_words"
_WEIGHT_SEP: Final = ":"
_WEIGHT_RANGE: Final = (0.1, 10.0)
_LABEL_MAX: Final = 60  # characters: a select option or a table cell on a phone, not a sentence
_DEFAULT_CATEGORY: Final = "otros"

# Category names end up in the database, exports and staff screens: keep them plain identifiers.
_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")
_WORD: Final = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class CategoryRules:
    """Categories in priority order, each with its keywords (as written in the file)."""

    rules: tuple[tuple[str, tuple[str, ...]], ...]
    default: str = _DEFAULT_CATEGORY
    labels: tuple[tuple[str, str], ...] = ()  # (name, label for people) from [labels]
    # [place_words]: (category, words that only say where), counted only when no keyword is found.
    places: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Every category a report can get, in priority order, the default last."""
        names = tuple(name for name, _ in self.rules)
        return names if self.default in names else (*names, self.default)

    def keywords(self, name: str) -> tuple[str, ...]:
        """The words of a category, without their weights ("agua:0.5" → "agua"), for people."""
        for key, keywords in self.rules:
            if key == name:
                return tuple(keyword.partition(_WEIGHT_SEP)[0].strip() for keyword in keywords)
        return ()

    def label(self, name: str) -> str:
        """What people read for a category: its [labels] entry, else the name capitalised
        ("vias" → "Vías y aceras" with the default file; "agua_potable" → "Agua potable" without).
        Works for names no longer in the file too (old cases keep their category)."""
        for key, label in self.labels:
            if key == name:
                return label
        return name.replace("_", " ").capitalize()


def keyword_stems(keyword: str) -> frozenset[str]:
    """The stems a keyword finds: its own and its plural's ("luz": "luz" and "luc", for "luces")."""
    found = set()
    for word in words(keyword):
        if word.endswith("z"):
            plural = word[:-1] + "ces"
        elif word.endswith(("a", "e", "i", "o", "u")):
            plural = word + "s"
        elif word.endswith("s"):
            plural = word
        else:
            plural = word + "es"
        found |= {stem(word), stem(plural)}
    return frozenset(found)


def split_weight(keyword: str) -> tuple[str, float]:
    """A keyword as written in the file and its weight: "agua:0.5" → ("agua", 0.5); "bache" → ("bache", 1.0).

    Raises ValueError when the weight is no number (the loader checks the range)."""
    word, sep, weight = keyword.partition(_WEIGHT_SEP)
    return word.strip(), float(weight.strip().replace(",", ".")) if sep else 1.0


@functools.lru_cache(maxsize=32)
def _stemmed(rules: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, dict[str, float]], ...]:
    stemmed = []
    for name, keywords in rules:
        weights: dict[str, float] = {}
        for keyword in keywords:
            word, weight = split_weight(keyword)
            for word_stem in keyword_stems(word):
                weights[word_stem] = max(weights.get(word_stem, 0.0), weight)
        stemmed.append((name, weights))
    return tuple(stemmed)


def _scores(text_stems: list[str], rules: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, float]:
    found: dict[str, float] = {}
    for name, weights in _stemmed(rules):
        score = sum(weights.get(s, 0.0) for s in text_stems)
        if score:
            found[name] = found.get(name, 0.0) + score
    return found


def keyword_scores(text: str, rules: CategoryRules) -> dict[str, float]:
    """How strongly the keywords point to each category that has any (0 scores left out).

    One point per word of ``text`` that is a keyword of the category (whole words, compared by
    stem). The place words (``rules.places``) only count when no keyword is found. The evidence
    the categoriser decides on; the learner (corrections) adds its own to it.
    """
    text_stems = stems(text)
    return _scores(text_stems, rules.rules) or _scores(text_stems, rules.places)


def best_category(scores: dict[str, float], rules: CategoryRules) -> str:
    """The category with the highest score; on a tie the one listed first in the file; the
    default when nothing scored above 0."""
    best_name, best_score = rules.default, 0.0
    for name in rules.names:
        score = scores.get(name, 0.0)
        # Strictly greater: on a tie the category listed first in the file keeps the report.
        if score > best_score:
            best_name, best_score = name, score
    return best_name


def categorize(text: str, rules: CategoryRules) -> str:
    """The category name for a report text (``rules.default`` when no keyword is found)."""
    return best_category(keyword_scores(text, rules), rules)


# --- loading -----------------------------------------------------------------------------------


def parse_categories(source: IniSource) -> CategoryRules:
    """Category rules from an INI text (``templates.loader.load_categories`` reads the file).

    Raises :class:`TemplateError` naming the file, the key and the fix.
    """
    parser = parse_ini(source)
    check_sections(parser, source, required=(_SECTION,), optional=(_OPTIONS, _LABELS, _PLACES))

    rules: list[tuple[str, tuple[str, ...]]] = []
    owner: dict[str, tuple[str, str, str]] = {}  # stem → (section, category, keyword) that has it first
    for name, value in parser.items(_SECTION):
        _check_name(source, name)
        keywords = _parse_keywords(source, _SECTION, name, value)
        _claim(source, owner, _SECTION, name, keywords)
        rules.append((name, keywords))
    if not rules:
        raise TemplateError(
            source.name, "no categories are defined",
            "add lines such as 'agua = agua, alcantarilla, desague'", section=_SECTION,
        )

    default = _load_default(parser, source)
    names = CategoryRules(rules=tuple(rules), default=default).names
    return CategoryRules(rules=tuple(rules), default=default, labels=_load_labels(parser, source, names),
                         places=_load_places(parser, source, names, owner))


def _claim(source: IniSource, owner: dict[str, tuple[str, str, str]], section: str, name: str,
           keywords: tuple[str, ...]) -> None:
    """Each word belongs to one category: two keywords read as the same word (same stem) in two
    categories, or in [categories] and [place_words], could only ever count for one of them."""
    for keyword in keywords:
        keyword = split_weight(keyword)[0]
        for word_stem in keyword_stems(keyword):
            first_section, first, first_keyword = owner.setdefault(word_stem, (section, name, keyword))
            if (first_section, first) == (section, name):
                continue
            where = f"the category '{first}'" if first_section == _SECTION else f"[{first_section}] {first}"
            if fold(first_keyword) == fold(keyword):
                problem = f"the keyword '{keyword}' is also in {where}"
            else:
                problem = (f"the keyword '{keyword}' is read as the same word as '{first_keyword}' in {where} "
                           "(singular, plural and other endings of one word match alike)")
            raise TemplateError(source.name, problem, f"keep '{keyword}' in only one category",
                                section=section, key=name)


def _check_category(source: IniSource, section: str, key: str, names: tuple[str, ...]) -> None:
    if key not in names:
        raise TemplateError(
            source.name, f"'{key}' is not a category",
            f"write one of the names in [categories] ({', '.join(names)}) before '=', "
            "or delete this line", section=section, key=key,
        )


def _load_places(parser: configparser.ConfigParser, source: IniSource, names: tuple[str, ...],
                 owner: dict[str, tuple[str, str, str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not parser.has_section(_PLACES):
        return ()
    places = []
    for key, value in parser.items(_PLACES):
        _check_category(source, _PLACES, key, names)
        words = _parse_keywords(source, _PLACES, key, value)
        _claim(source, owner, _PLACES, key, words)
        places.append((key, words))
    return tuple(places)


def _check_name(source: IniSource, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise TemplateError(
            source.name, "a category name must be one word in lower case without accents",
            f"rename it, e.g. '{fold(name).replace(' ', '_') or 'otros'}'",
            section=_SECTION, key=name,
        )


def _parse_keywords(source: IniSource, section: str, name: str, value: str) -> tuple[str, ...]:
    keywords = tuple(k.strip() for k in value.replace("\n", ",").split(","))
    keywords = tuple(k for k in keywords if k)
    if not keywords:
        raise TemplateError(
            source.name, "the category has no keywords",
            f"write keywords after '=', separated by commas, e.g. '{name} = palabra1, palabra2'",
            section=section, key=name,
        )
    for keyword in keywords:
        word, _sep, weight = keyword.partition(_WEIGHT_SEP)
        if not _WORD.fullmatch(fold(word.strip())):
            raise TemplateError(
                source.name, f"'{word.strip() or keyword}' is not a single word",
                "write one word per keyword (letters and digits only), separated by commas",
                section=section, key=name,
            )
        try:
            number = split_weight(keyword)[1]
        except ValueError:
            number = -1.0
        low, high = _WEIGHT_RANGE
        if not low <= number <= high:
            raise TemplateError(
                source.name, f"the weight of '{word.strip()}' ('{weight.strip()}') is not a number from {low:g} to {high:g}",
                f"write e.g. '{word.strip()}:0.5' (counts half) or '{word.strip()}:2' (counts double), or only "
                f"'{word.strip()}' (counts 1)", section=section, key=name,
            )
    return keywords


def _load_default(parser: configparser.ConfigParser, source: IniSource) -> str:
    if not parser.has_section(_OPTIONS):
        return _DEFAULT_CATEGORY
    for key in parser.options(_OPTIONS):
        if key != "default":
            raise TemplateError(
                source.name, "unknown option", "the only option is 'default = otros'; "
                "delete or rename this line", section=_OPTIONS, key=key,
            )
    default = parser.get(_OPTIONS, "default", fallback=_DEFAULT_CATEGORY).strip()
    if not _NAME.fullmatch(default):
        raise TemplateError(
            source.name, f"'{default}' is not a valid category name",
            "write one word in lower case without accents, e.g. 'default = otros'",
            section=_OPTIONS, key="default",
        )
    return default


def _load_labels(parser: configparser.ConfigParser, source: IniSource,
                 names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    if not parser.has_section(_LABELS):
        return ()
    labels = []
    for key, value in parser.items(_LABELS):
        _check_category(source, _LABELS, key, names)
        label = " ".join(value.split())
        if not label:
            raise TemplateError(
                source.name, "the label is empty",
                f"write the name people read after '=', e.g. '{key} = {key.replace('_', ' ').capitalize()}', "
                "or delete this line", section=_LABELS, key=key,
            )
        if len(label) > _LABEL_MAX:
            raise TemplateError(
                source.name, f"the label is too long ({len(label)} characters)",
                f"shorten it to at most {_LABEL_MAX} characters", section=_LABELS, key=key,
            )
        labels.append((key, label))
    return tuple(labels)
