"""Case statuses: the fixed vocabulary shared by the store, the replies and the staff tools.

The names, the transitions a case may make (:data:`TRANSITIONS`, :func:`check_transition`) and
when a resident may reopen a case by SMS (:func:`can_reopen_by_sms`).  The Spanish words a
resident reads come from the ``[statuses]`` section of the replies template file.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, TypeGuard

__all__ = [
    "Status",
    "STATUSES",
    "OPEN_STATUSES",
    "FINAL_STATUSES",
    "is_status",
    "SPANISH_NAMES",
    "UnknownStatus",
    "parse_status",
    "status_names",
    "TRANSITIONS",
    "TransitionError",
    "check_transition",
    "REOPEN_TARGET",
    "ReopenVerdict",
    "can_reopen_by_sms",
]

Status = Literal["received", "reviewing", "in_progress", "resolved", "closed", "rejected"]

# Order matters: it is the natural life of a case, and UIs/exports list statuses in this order.
STATUSES: Final[tuple[Status, ...]] = (
    "received",
    "reviewing",
    "in_progress",
    "resolved",
    "closed",
    "rejected",
)

# Open = not final.  "resolved" is not final: staff still close it, and it may be re-opened if
# the resident says the problem is back (FixMyStreet users ask for re-opening fixed reports).
OPEN_STATUSES: Final[frozenset[Status]] = frozenset(
    {"received", "reviewing", "in_progress", "resolved"}
)
FINAL_STATUSES: Final[frozenset[Status]] = frozenset({"closed", "rejected"})


def is_status(s: object) -> TypeGuard[Status]:
    """True if ``s`` is one of :data:`STATUSES` (exact, lower-case spelling)."""
    return isinstance(s, str) and s in STATUSES


# The names the office says (Spanish), beside the English ones the store, the JSON and scripts use.
# Staff may type either; what is stored and printed for scripts stays English.
SPANISH_NAMES: Final[Mapping[Status, str]] = MappingProxyType({
    "received": "recibido",
    "reviewing": "en_revision",
    "in_progress": "en_proceso",
    "resolved": "resuelto",
    "closed": "cerrado",
    "rejected": "rechazado",
})

_BY_NAME: Final[Mapping[str, Status]] = MappingProxyType(
    {**{s: s for s in STATUSES}, **{es: s for s, es in SPANISH_NAMES.items()}})
# Spaces, hyphens and underscores are one separator: "en revisión", "en-revision", "in progress".
_SEPARATORS: Final = re.compile(r"[\s_\-]+")
# Longer than any name by far: nothing this long is worth folding (and echoing back whole).
_MAX_TYPED: Final = 40


class UnknownStatus(ValueError):
    """A status name that is neither an English nor a Spanish one; the message names them all."""


def status_names() -> str:
    """Every accepted name, English with its Spanish beside it: "received (recibido), ..."."""
    return ", ".join(f"{s} ({SPANISH_NAMES[s]})" for s in STATUSES)


def _fold(typed: str) -> str:
    # Accents off (NFKD, then drop the combining marks): "revisión" and "revision" are one word
    # for a person typing on a keyboard without them.
    plain = "".join(c for c in unicodedata.normalize("NFKD", typed) if not unicodedata.combining(c))
    return _SEPARATORS.sub("_", plain.strip().casefold()).strip("_")


def parse_status(typed: str) -> Status:
    """The status ``typed`` names, in English or Spanish, any case, with or without accents.

    >>> parse_status("En revisión")
    'reviewing'
    >>> parse_status("in-progress")
    'in_progress'

    Raises :class:`UnknownStatus` (naming every accepted name) for anything else.
    """
    status = _BY_NAME.get(_fold(typed)) if len(typed) <= _MAX_TYPED else None
    if status is None:
        shown = typed if len(typed) <= _MAX_TYPED else typed[:_MAX_TYPED] + "…"
        raise UnknownStatus(f"unknown status {shown!r}; the statuses are: {status_names()}")
    return status


def _to(*targets: Status) -> frozenset[Status]:
    return frozenset(targets)


# The life of a case: where each status may go next.  Going back is allowed on purpose: staff
# correct a wrong step, and a resolved case is reopened when the problem is back.
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = MappingProxyType({
    # A new report: staff look at it, start work at once, find it already fixed, or turn it down.
    "received": _to("reviewing", "in_progress", "resolved", "rejected"),
    # Being looked at; back to received if it was picked up by mistake.
    "reviewing": _to("in_progress", "resolved", "rejected", "received"),
    # Work is under way; back to reviewing if it needs another look.
    "in_progress": _to("resolved", "reviewing", "rejected"),
    # Fixed; staff close it, or it is reopened (REABRIR by SMS puts it back in reviewing).
    "resolved": _to("closed", "in_progress", "reviewing"),
    # Final, but staff may reopen it.
    "closed": _to("reviewing"),
    # Final, but staff may reconsider.
    "rejected": _to("reviewing"),
})


class TransitionError(ValueError):
    """A status change that the life of a case does not allow; the message says what is."""


def _allowed_from(old: Status) -> str:
    return ", ".join(s for s in STATUSES if s in TRANSITIONS[old])


def check_transition(old: str, new: str) -> None:
    """Raise :class:`TransitionError` unless a case may go from ``old`` to ``new``."""
    if not is_status(old) or not is_status(new):
        unknown = new if is_status(old) else old
        raise TransitionError(f"unknown status {unknown!r}; the statuses are: {', '.join(STATUSES)}")
    if old == new:
        raise TransitionError(f"already {old}")
    if new not in TRANSITIONS[old]:
        raise TransitionError(
            f"a case that is {old} cannot go to {new}; "
            f"a case that is {old} can go to: {_allowed_from(old)}"
        )


# Where a resident's REABRIR <numero> puts a case: staff look at it again before any work.
REOPEN_TARGET: Final[Status] = "reviewing"

ReopenVerdict = Literal["ok", "not_resolved", "too_late"]


def can_reopen_by_sms(status: str, resolved_at: dt.datetime | None, now: dt.datetime,
                      days: float) -> ReopenVerdict:
    """Whether a resident may reopen a case by SMS.

    "not_resolved" unless the case is resolved or closed with a known ``resolved_at``;
    "too_late" when it was resolved more than ``days`` days before ``now`` (exactly ``days``
    is still in time); else "ok".
    """
    if status not in ("resolved", "closed") or resolved_at is None:
        return "not_resolved"
    if now - resolved_at > dt.timedelta(days=days):
        return "too_late"
    return "ok"
