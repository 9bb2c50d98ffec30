"""Text as it may be stored and shown, whatever the network or a modem made of it.

A UCS-2 SMS may carry half of a surrogate pair (a phone that cut an emoji in two, a concatenated
message split between the halves), and some modems pad text with NUL characters. Python holds such
strings happily, but SQLite's UTF-8, PostgreSQL (no NUL in text), hashing and the website do not:
a message that cannot be stored would stay on the SIM and be read again forever.
"""

from __future__ import annotations

__all__ = ["storable"]


def storable(text: str) -> str:
    """``text`` with valid surrogate pairs joined, lone halves replaced by U+FFFD and NULs removed.

    Idempotent, and the identity on ordinary text (so keys derived from stored text stay stable).
    """
    if text.isascii() and "\x00" not in text:
        return text  # the common case, cheaply
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined.replace("\x00", "")
