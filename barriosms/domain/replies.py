"""The SMS texts the gateway sends, from an INI file technicians can edit.

Every reply must arrive as *one* SMS a basic phone shows correctly, so rendering guarantees:
GSM-7 only (no UCS-2: see :mod:`barriosms.domain.gsm`), at most 160 septets, and the tracking
number and status never cut.  When values are too long (a staff note, a long barrio name) the
free-text values are shortened, longest first, at a word boundary, ending with "..".

File format (``config/replies.es.ini``)::

    [replies]
    status = Su reclamo {tracking} esta {status}.
    ...
    [statuses]
    in_progress = en proceso
    ...

Loading checks everything a technician can get wrong and raises :class:`TemplateError` naming
the file, the section/key and the fix; a template that cannot fit in one SMS even with all
free-text values empty is refused at load time, not when a resident is waiting for an answer.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from barriosms.domain.categories import fold
from barriosms.domain.errors import IniSource, TemplateError, check_sections, parse_ini
from barriosms.domain.gsm import SMS_SEPTETS, septet_count, to_gsm7
from barriosms.domain.statuses import STATUSES, is_status

__all__ = [
    "Templates",
    "TemplateError",
    "DEFAULT_FILE",
    "REQUIRED_TEMPLATES",
    "SHORTENABLE",
    "ELLIPSIS",
]

DEFAULT_FILE: Final = "replies.es.ini"
_REPLIES: Final = "replies"
_STATUSES: Final = "statuses"
_KEYWORDS: Final = "keywords"

# Template name → placeholders it may use.
REQUIRED_TEMPLATES: Final[Mapping[str, frozenset[str]]] = MappingProxyType({
    "report_received": frozenset({"tracking", "barrio", "category"}),
    "missing_description": frozenset({"code"}),
    "status": frozenset({"tracking", "status"}),
    "status_note": frozenset({"tracking", "status", "note"}),
    "status_changed": frozenset({"tracking", "status"}),
    "status_changed_note": frozenset({"tracking", "status", "note"}),
    "unknown_tracking": frozenset({"tracking"}),
    "invalid_tracking": frozenset({"number", "digits"}),
    "help": frozenset(),
    "unroutable": frozenset(),
    # Added with the resident/staff workflow: an edited copy made before them gets the package's
    # text for these (see NEWER_TEMPLATES), so an upgrade never stops the gateway.
    "ambiguous": frozenset({"options"}),
    "unknown_code": frozenset({"code"}),
    "opted_out": frozenset(),
    "opted_in": frozenset(),
    "reopened": frozenset({"tracking"}),
    "reopen_too_late": frozenset({"tracking", "days"}),
    "reopen_not_resolved": frozenset({"tracking", "status"}),
    "reopen_not_yours": frozenset({"tracking"}),
    "note_added": frozenset({"tracking", "note"}),
    "merged": frozenset({"tracking", "into", "status"}),
    "status_merged": frozenset({"tracking", "into", "status"}),
    # Added with the website: a report made on the web, confirmed by SMS to the phone given there.
    "web_received": frozenset({"tracking", "barrio", "category"}),
    # Added with conversations: staff questions and messages, answers, satisfaction, practice.
    "question": frozenset({"tracking", "question"}),
    "staff_message": frozenset({"tracking", "message"}),
    "answer_received": frozenset({"tracking"}),
    "which_case": frozenset({"options"}),
    "resolved_survey": frozenset({"tracking", "status"}),
    "resolved_survey_note": frozenset({"tracking", "status", "note"}),
    "survey_thanks": frozenset({"tracking"}),
    "practice_received": frozenset({"tracking", "barrio", "category"}),
    # Added with the per-phone case limit: a report kept for staff instead of opening a case.
    "report_held": frozenset(),
    # Added with corrections: staff moved a case to another neighbourhood and chose to tell the reporters.
    "neighborhood_changed": frozenset({"tracking", "barrio", "code"}),
    # Added with the second look: a message naming no neighbourhood and no problem.
    "unroutable_unsure": frozenset(),
    # Added with missed-call callbacks: the SMS to a resident whose call the gateway hung up.
    "callback_received": frozenset(),
    # Added with field crews: the one-SMS answer to each PIN command from a crew's phone.
    "crew_status": frozenset({"tracking", "status"}),
    "crew_note": frozenset({"tracking"}),
    "crew_internal": frozenset({"tracking"}),
    "crew_list": frozenset({"options"}),
    "crew_list_empty": frozenset(),
    "crew_help": frozenset(),
    "crew_bad_tracking": frozenset({"number", "digits"}),
    "crew_unknown_tracking": frozenset({"tracking"}),
    "crew_not_allowed": frozenset({"tracking", "status", "options"}),
    "crew_merged": frozenset({"tracking", "into"}),
    "crew_wrong_pin": frozenset(),
    "crew_locked": frozenset({"minutes"}),
})

# Templates that came after the first release: missing from an edited copy, they are taken from
# the package's file of the same language (and `barriosms config check` says so).
NEWER_TEMPLATES: Final = frozenset({
    "ambiguous", "unknown_code", "opted_out", "opted_in", "reopened", "reopen_too_late",
    "reopen_not_resolved", "reopen_not_yours", "note_added", "merged", "status_merged",
    "web_received", "question", "staff_message", "answer_received", "which_case", "resolved_survey",
    "resolved_survey_note", "survey_thanks", "practice_received", "report_held",
    "neighborhood_changed", "unroutable_unsure",
    "callback_received",
    "crew_status", "crew_note", "crew_internal", "crew_list", "crew_list_empty", "crew_help",
    "crew_bad_tracking", "crew_unknown_tracking", "crew_not_allowed", "crew_merged", "crew_wrong_pin",
    "crew_locked",
})

# Words a resident sends as commands, per language file ([keywords] section): folded (no accents,
# lower case) when loaded. A message is that command when its first word is one of them.
KEYWORDS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType({
    "optout": ("baja", "stop"),
    "optin": ("alta",),
    "reopen": ("reabrir",),
    "practice": ("prueba",),
})

# Placeholders a template must keep: without them the SMS loses its point (a confirmation
# without the tracking number leaves the resident with no way to follow the case).
_MANDATORY: Final[Mapping[str, frozenset[str]]] = MappingProxyType({
    "report_received": frozenset({"tracking"}),
    "status": frozenset({"tracking", "status"}),
    "status_note": frozenset({"tracking", "status", "note"}),
    "status_changed": frozenset({"tracking", "status"}),
    "status_changed_note": frozenset({"tracking", "status", "note"}),
    "unknown_tracking": frozenset({"tracking"}),
    "reopened": frozenset({"tracking"}),
    "note_added": frozenset({"tracking", "note"}),
    "merged": frozenset({"tracking", "into"}),
    "status_merged": frozenset({"into", "status"}),
    "web_received": frozenset({"tracking"}),
    "question": frozenset({"tracking", "question"}),
    "staff_message": frozenset({"tracking", "message"}),
    "answer_received": frozenset({"tracking"}),
    "which_case": frozenset({"options"}),
    "resolved_survey": frozenset({"tracking", "status"}),
    "resolved_survey_note": frozenset({"tracking", "status", "note"}),
    "survey_thanks": frozenset({"tracking"}),
    "practice_received": frozenset({"tracking"}),
    "neighborhood_changed": frozenset({"tracking", "barrio"}),
    "crew_status": frozenset({"tracking", "status"}),
    "crew_note": frozenset({"tracking"}),
    "crew_internal": frozenset({"tracking"}),
    "crew_list": frozenset({"options"}),
    "crew_not_allowed": frozenset({"tracking", "status"}),
    "crew_merged": frozenset({"into"}),
})

# Values that may be cut to make a reply fit, in this order of preference on equal length.
# Never "tracking" or "status": they are what the resident asked for.
SHORTENABLE: Final[tuple[str, ...]] = (
    "note", "options", "description", "barrio", "category", "number", "code",
)
ELLIPSIS: Final = ".."

# What a placeholder is filled with when checking at load time that a template can fit.
_PROBE_TRACKING: Final = "0" * 7


class Templates:
    """Validated reply templates and Spanish status labels."""

    def __init__(
        self,
        replies: Mapping[str, str],
        status_labels: Mapping[str, str],
        source: str = "<templates>",
        keywords: Mapping[str, str] | None = None,
        fallback: Mapping[str, str] | None = None,
        fallback_keywords: Mapping[str, str] | None = None,
    ) -> None:
        """Validate and keep ``replies`` (name → template) and ``status_labels`` (status → label).

        ``source`` is the file name shown in error messages. ``fallback`` gives the texts of
        :data:`NEWER_TEMPLATES` (and ``fallback_keywords`` the keywords) missing from ``replies``.
        """
        self.source = source
        self._labels = self._check_labels(status_labels)
        #: Templates and keywords taken from the package because the file lacks them.
        self.defaulted: list[str] = []
        replies = dict(replies)
        for name in sorted(NEWER_TEMPLATES - replies.keys()):
            if fallback and name in fallback:
                replies[name] = fallback[name]
                self.defaulted.append(name)
        self.keywords = self._check_keywords(keywords or {}, fallback_keywords or {})
        self._templates: dict[str, str] = {}
        self._fields: dict[str, frozenset[str]] = {}
        for name in replies:
            if name not in REQUIRED_TEMPLATES:
                raise self._error(
                    "unknown template name",
                    "check the spelling; the names are: " + ", ".join(REQUIRED_TEMPLATES),
                    section=_REPLIES, key=name,
                )
        for name in REQUIRED_TEMPLATES:
            if name not in replies:
                raise self._error(
                    "the template is missing",
                    f"add a line '{name} = ...' (copy it from barriosms/templates/{DEFAULT_FILE})",
                    section=_REPLIES, key=name,
                )
            template = " ".join(replies[name].split())  # continuation lines → one line
            self._fields[name] = self._check_fields(name, template)
            self._templates[name] = template
        for name in REQUIRED_TEMPLATES:
            self._check_fits(name)

    # --- loading -------------------------------------------------------------------------------

    @classmethod
    def parse(cls, source: IniSource, defaults: IniSource) -> Templates:
        """Templates from ``source``; what an older copy lacks comes from ``defaults`` (the package's).

        ``templates.loader.load_templates`` reads the files; pass ``defaults`` as ``source`` too
        for the package's own texts.
        """
        fallback = _sections(defaults)
        replies, labels, keywords = fallback if source is defaults else _sections(source)
        return cls(replies=replies, status_labels=labels, source=source.name, keywords=keywords,
                   fallback=fallback[0], fallback_keywords=fallback[2])

    def _check_keywords(self, given: Mapping[str, str], fallback: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
        for name in given:
            if name not in KEYWORDS:
                raise self._error("unknown keyword name", "the names are: " + ", ".join(KEYWORDS),
                                  section=_KEYWORDS, key=name)
        checked: dict[str, tuple[str, ...]] = {}
        owner: dict[str, str] = {}
        for name, builtin in KEYWORDS.items():
            raw = given.get(name)
            if raw is None:
                raw = fallback.get(name, ", ".join(builtin))
                if given:
                    self.defaulted.append(f"keywords.{name}")
            words = tuple(fold(w.strip()) for w in raw.split(",") if w.strip())
            if not words:
                raise self._error("no keyword given", f"write one or more words, e.g. {name} = {', '.join(builtin)}",
                                  section=_KEYWORDS, key=name)
            for word in words:
                if not word.isalpha():
                    raise self._error(f"the keyword {word!r} is not one word of letters",
                                      "residents send it as the first word of the SMS: use letters only",
                                      section=_KEYWORDS, key=name)
                first = owner.setdefault(word, name)
                if first != name:
                    raise self._error(f"the keyword {word!r} is also given for {first}",
                                      "use each word for one command only", section=_KEYWORDS, key=name)
            checked[name] = words
        return checked

    def _error(self, problem: str, fix: str, *, section: str, key: str) -> TemplateError:
        return TemplateError(self.source, problem, fix, section=section, key=key)

    def _check_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        for status in labels:
            if not is_status(status):
                raise self._error(
                    "unknown status", "the statuses are: " + ", ".join(STATUSES),
                    section=_STATUSES, key=status,
                )
        checked: dict[str, str] = {}
        for status in STATUSES:
            label = " ".join(labels.get(status, "").split())
            if not label:
                raise self._error(
                    "the status has no label",
                    f"add a line '{status} = <Spanish word a resident understands>'",
                    section=_STATUSES, key=status,
                )
            checked[status] = label
        return checked

    def _check_fields(self, name: str, template: str) -> frozenset[str]:
        allowed = REQUIRED_TEMPLATES[name]
        allowed_text = ", ".join(f"{{{f}}}" for f in sorted(allowed)) or "none"
        if not template:
            raise self._error("the template is empty", "write the text of the SMS after '='",
                              section=_REPLIES, key=name)
        fields: set[str] = set()
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as exc:
            raise self._error(
                f"a brace is not closed ({exc})",
                "write placeholders as {tracking}; for a literal brace write {{ or }}",
                section=_REPLIES, key=name,
            ) from exc
        for _literal, field, spec, conversion in parsed:
            if field is None:
                continue
            if spec or conversion:
                raise self._error(
                    f"placeholder {{{field}{'!' + conversion if conversion else ''}"
                    f"{':' + spec if spec else ''}}} has a format",
                    f"write it plainly as {{{field}}}", section=_REPLIES, key=name,
                )
            if field not in allowed:
                raise self._error(
                    f"unknown placeholder {{{field}}}",
                    f"this template can use: {allowed_text}", section=_REPLIES, key=name,
                )
            fields.add(field)
        missing = _MANDATORY.get(name, frozenset()) - fields
        if missing:
            need = ", ".join(f"{{{f}}}" for f in sorted(missing))
            raise self._error(f"the template must contain {need}", f"put {need} back in the text",
                              section=_REPLIES, key=name)
        return frozenset(fields)

    def _check_fits(self, name: str) -> None:
        """Refuse a template that is over one SMS even with every free-text value empty."""
        longest_label = max(self._labels.values(), key=lambda s: septet_count(to_gsm7(s)) or 0)
        probe = {f: "" for f in self._fields[name]}
        probe.update({"tracking": _PROBE_TRACKING, "status": longest_label})
        text = to_gsm7(self._templates[name].format_map(probe))
        count = septet_count(text)
        assert count is not None  # to_gsm7 output is always encodable
        if count > SMS_SEPTETS:
            raise self._error(
                f"the text is {count} characters without any values; one SMS holds "
                f"{SMS_SEPTETS}",
                f"shorten it by at least {count - SMS_SEPTETS} characters (and leave room "
                "for the values)", section=_REPLIES, key=name,
            )

    # --- use -----------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The template names, in the order of :data:`REQUIRED_TEMPLATES`."""
        return tuple(self._templates)

    def template(self, name: str) -> str:
        """The raw template text (whitespace collapsed), e.g. for a settings screen."""
        return self._templates[name]

    def fields(self, name: str) -> frozenset[str]:
        """The placeholders template ``name`` uses."""
        return self._fields[name]

    def status_label(self, status: str) -> str:
        """The Spanish word(s) residents read for ``status`` ("in_progress" → "en proceso")."""
        if not is_status(status):
            raise ValueError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
        return self._labels[status]

    def render(self, name: str, **values: str) -> str:
        """The SMS text for template ``name``: GSM-7, at most 160 septets.

        ``values`` fills the placeholders (extra values are ignored; ``status`` is the label
        from :meth:`status_label`).  Raises ``KeyError`` for an unknown template, ``ValueError``
        if a placeholder has no value, :class:`TemplateError` if it cannot fit in one SMS.
        """
        template = self._templates[name]
        fields = self._fields[name]
        missing = sorted(fields - values.keys())
        if missing:
            raise ValueError(f"template {name!r} needs values for: {', '.join(missing)}")
        # Clean values first so that lengths measured for shortening are final lengths.
        current = {f: to_gsm7(str(values[f])) for f in fields}
        while True:
            text = to_gsm7(template.format_map(current))
            count = septet_count(text)
            assert count is not None  # to_gsm7 output is always encodable
            if count <= SMS_SEPTETS:
                return text
            field = _longest_shortenable(current)
            if field is None:
                raise self._error(
                    f"the text is {count} characters even with the free-text values empty "
                    f"(tracking={current.get('tracking', '')!r}, "
                    f"status={current.get('status', '')!r})",
                    f"shorten the template to at most {SMS_SEPTETS} characters with its values",
                    section=_REPLIES, key=name,
                )
            value_septets = septet_count(current[field]) or 0
            current[field] = _shorten(current[field], value_septets - (count - SMS_SEPTETS))


def _sections(source: IniSource) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    parser = parse_ini(source)
    check_sections(parser, source, required=(_REPLIES, _STATUSES), optional=(_KEYWORDS,))
    keywords = dict(parser.items(_KEYWORDS)) if parser.has_section(_KEYWORDS) else {}
    return dict(parser.items(_REPLIES)), dict(parser.items(_STATUSES)), keywords


def _longest_shortenable(values: Mapping[str, str]) -> str | None:
    candidates = [f for f in SHORTENABLE if values.get(f)]
    if not candidates:
        return None
    # max() keeps the first of equal lengths, i.e. the SHORTENABLE order.
    return max(candidates, key=lambda f: septet_count(values[f]) or 0)


_TRAILING_PUNCTUATION: Final = " ,.;:-"


def _shorten(value: str, max_septets: int) -> str:
    """``value`` cut to at most ``max_septets`` septets, ending in "..", or "" if no room.

    Always strictly shorter than ``value`` (the render loop relies on it to terminate).
    """
    if max_septets <= len(ELLIPSIS):
        return ""
    room = max_septets - len(ELLIPSIS)
    cut, used = 0, 0
    for ch in value:
        cost = septet_count(ch) or 0
        if used + cost > room:
            break
        cut, used = cut + 1, used + cost
    head = value[:cut]
    # Cut at a word boundary unless the first word alone is longer than the room (a long
    # number or a hyphenated name): then a hard cut still says more than nothing.
    if cut < len(value) and value[cut] != " " and " " in head:
        head = head[: head.rindex(" ")]
    head = head.rstrip(_TRAILING_PUNCTUATION)
    return head + ELLIPSIS if head else ""
