"""Who may do what: the three staff roles and the actions each allows.

A viewer reads; staff also act on cases (status, notes, assignment, merging, corrections,
questions and messages to residents, routing the inbox, forgetting a wrong lesson); an admin also
manages accounts, municipal projects, broadcasts and neighbourhoods. Pure: the CLI and the website
ask `may(role, action)` with the role of the account they already loaded.
"""

from __future__ import annotations

ROLES = ("viewer", "staff", "admin")

# The least role that may do each action; the roles are ordered, each one may what the one before may.
_LEAST: dict[str, str] = {
    "read": "viewer",
    "cases": "staff",
    "inbox": "staff",
    "categories": "staff",
    "accounts": "admin",
    "projects": "admin",
    "broadcast": "admin",
    "neighborhoods": "admin",
}
ACTIONS = tuple(_LEAST)


def may(role: str, action: str) -> bool:
    """Whether an account of `role` may do `action` (one of ACTIONS).

    An unknown role or action is a programming error, not a refusal: it raises ValueError, so a
    typo cannot silently lock everyone out (or let everyone in).
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if action not in _LEAST:
        raise ValueError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
    return ROLES.index(role) >= ROLES.index(_LEAST[action])
