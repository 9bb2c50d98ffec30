"""Case statuses: the fixed vocabulary shared by the store, the replies and the staff tools.

Only the names live here; which transitions are allowed is decided elsewhere (later).  The
Spanish words a resident reads come from the ``[statuses]`` section of the replies template file.
"""

from __future__ import annotations

from typing import Final, Literal, TypeGuard

__all__ = ["Status", "STATUSES", "OPEN_STATUSES", "FINAL_STATUSES", "is_status"]

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
