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

import os
import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .errors import TemplateError, check_sections, parse_ini, read_source
from .gsm import SMS_SEPTETS, septet_count, to_gsm7
from .statuses import STATUSES, is_status

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

# Template name → placeholders it may use.
REQUIRED_TEMPLATES: Final[Mapping[str, frozenset[str]]] = MappingProxyType({
    "report_received": frozenset({"tracking", "barrio", "category"}),
    "missing_description": frozenset({"code"}),
    "status": frozenset({"tracking", "status"}),
    "status_note": frozenset({"tracking", "status", "note"}),
    "status_changed": frozenset({"tracking", "status"}),
    "status_changed_note": frozenset({"tracking", "status", "note"}),
    "unknown_tracking": frozenset({"tracking"}),
    "invalid_tracking": frozenset({"number"}),
    "help": frozenset(),
    "unroutable": frozenset(),
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
})

# Values that may be cut to make a reply fit, in this order of preference on equal length.
# Never "tracking" or "status": they are what the resident asked for.
SHORTENABLE: Final[tuple[str, ...]] = (
    "note", "description", "barrio", "category", "number", "code",
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
    ) -> None:
        """Validate and keep ``replies`` (name → template) and ``status_labels`` (status → label).

        ``source`` is the file name shown in error messages.
        """
        self.source = source
        self._labels = self._check_labels(status_labels)
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
    def load(cls, path: str | os.PathLike[str] | None = None) -> Templates:
        """Read templates from ``path`` (None: the package default ``replies.es.ini``)."""
        source = read_source(path, DEFAULT_FILE)
        parser = parse_ini(source)
        check_sections(parser, source, required=(_REPLIES, _STATUSES))
        return cls(
            replies=dict(parser.items(_REPLIES)),
            status_labels=dict(parser.items(_STATUSES)),
            source=source.name,
        )

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
