"""Practice mode for workshops (in progress: being written)."""

from __future__ import annotations


def practice_text(text: str, keywords) -> str | None:
    return None


def handle(intake, msg, rest, now, hoods, places) -> None:
    raise NotImplementedError
