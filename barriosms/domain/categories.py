"""Which municipal department a report goes to, guessed from the resident's own words.

The rules live in an INI file technicians edit (``config/categories.es.ini``)::

    [categories]
    riesgos = derrumbe, deslizamiento, mazamorra, muro, riada
    agua = agua, alcantarilla, desague, drenaje, sumidero, cañeria
    ...
    [options]
    default = otros
    [labels]
    vias = Vías y aceras
    ...

The optional ``[labels]`` section names the categories for people (the website, Open311): the
names themselves stay plain identifiers because they are stored, exported and sent by SMS. A
category without a label is shown with its name capitalised ("agua" → "Agua").

Matching ignores accents and capitals (residents type "CAÑERIA", "caneria", "cañería"); a
keyword also matches longer words that start with it ("baches" → bache, "alcantarillado" →
alcantarilla), and singular/plural both match ("escombros" ↔ "escombro", "luz" ↔ "luces").
Each word of the report counts once per category; the category with most hits wins, ties go to
the one listed first, no hit gives the default.  That is why generic words
("calle") belong to a category listed *after* the specific ones.
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

__all__ = ["CategoryRules", "parse_categories", "categorize", "keyword_scores", "best_category", "fold", "DEFAULT_FILE"]

DEFAULT_FILE: Final = "categories.es.ini"
_SECTION: Final = "categories"
_OPTIONS: Final = "options"
_LABELS: Final = "labels"
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

    @property
    def names(self) -> tuple[str, ...]:
        """Every category a report can get, in priority order, the default last."""
        names = tuple(name for name, _ in self.rules)
        return names if self.default in names else (*names, self.default)

    def label(self, name: str) -> str:
        """What people read for a category: its [labels] entry, else the name capitalised
        ("vias" → "Vías y aceras" with the default file; "agua_potable" → "Agua potable" without).
        Works for names no longer in the file too (old cases keep their category)."""
        for key, label in self.labels:
            if key == name:
                return label
        return name.replace("_", " ").capitalize()


def _keyword_matches(word: str, keyword: str) -> bool:
    """``word`` starts with ``keyword``, also across a Spanish singular/plural change."""
    if word.startswith(keyword):
        return True
    # Prefix matching finds plurals of singular keywords ("bache" → "baches") but not the rest:
    # a plural keyword must find the singular ("escombros" → "hay escombro") and a keyword in
    # -z has its plural in -ces ("luz" → "no hay luces").
    if keyword.endswith("s") and len(keyword) > 3 and word.startswith(keyword[:-1]):
        return True
    return keyword.endswith("z") and word.startswith(keyword[:-1] + "ces")


@functools.lru_cache(maxsize=32)
def _folded(rules: CategoryRules) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((name, tuple(fold(k) for k in keywords)) for name, keywords in rules.rules)


def keyword_scores(text: str, rules: CategoryRules) -> dict[str, float]:
    """How strongly the keywords point to each category that has any (0 scores left out).

    The evidence the categoriser decides on; the learner (corrections) adds its own to it.
    """
    words = _WORD.findall(fold(text))
    found: dict[str, float] = {}
    for name, keywords in _folded(rules):
        score = sum(1 for w in words if any(_keyword_matches(w, k) for k in keywords))
        if score:
            found[name] = float(score)
    return found


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
    check_sections(parser, source, required=(_SECTION,), optional=(_OPTIONS, _LABELS))

    rules: list[tuple[str, tuple[str, ...]]] = []
    owner: dict[str, str] = {}  # folded keyword → category that declared it first
    for name, value in parser.items(_SECTION):
        _check_name(source, name)
        keywords = _parse_keywords(source, name, value)
        for keyword in keywords:
            first = owner.setdefault(fold(keyword), name)
            if first != name:
                # It could only ever count for the first category (ties), so it is a mistake.
                raise TemplateError(
                    source.name, f"the keyword '{keyword}' is also in the category '{first}'",
                    f"keep '{keyword}' in only one category", section=_SECTION, key=name,
                )
        rules.append((name, keywords))
    if not rules:
        raise TemplateError(
            source.name, "no categories are defined",
            "add lines such as 'agua = agua, alcantarilla, desague'", section=_SECTION,
        )

    default = _load_default(parser, source)
    names = CategoryRules(rules=tuple(rules), default=default).names
    return CategoryRules(rules=tuple(rules), default=default, labels=_load_labels(parser, source, names))


def _check_name(source: IniSource, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise TemplateError(
            source.name, "a category name must be one word in lower case without accents",
            f"rename it, e.g. '{fold(name).replace(' ', '_') or 'otros'}'",
            section=_SECTION, key=name,
        )


def _parse_keywords(source: IniSource, name: str, value: str) -> tuple[str, ...]:
    keywords = tuple(k.strip() for k in value.replace("\n", ",").split(","))
    keywords = tuple(k for k in keywords if k)
    if not keywords:
        raise TemplateError(
            source.name, "the category has no keywords",
            f"write keywords after '=', separated by commas, e.g. '{name} = palabra1, palabra2'",
            section=_SECTION, key=name,
        )
    for keyword in keywords:
        if not _WORD.fullmatch(fold(keyword)):
            raise TemplateError(
                source.name, f"'{keyword}' is not a single word",
                "write one word per keyword (letters and digits only), separated by commas",
                section=_SECTION, key=name,
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
        if key not in names:
            raise TemplateError(
                source.name, f"'{key}' is not a category",
                f"write one of the names in [categories] ({', '.join(names)}) before '=', "
                "or delete this line", section=_LABELS, key=key,
            )
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
