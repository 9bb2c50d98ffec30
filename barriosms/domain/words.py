"""The words of a resident's message as the categoriser and the learner see them.

Folded (lower case, no accents: residents write "canería", "CAÑERIA" and "caneria" alike), split
into words and numbers, and reduced to their Spanish stem with the Snowball stemmer, so
"baches", "bache" and "bachecito" meet, and "hundimiento" and "hundido" too.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any, Final

__all__ = ["fold", "words", "stem", "stems"]

# After folding: runs of letters, or runs of digits ("b12hay" is "b", "12", "hay").
_WORD: Final = re.compile(r"[a-z]+|[0-9]+")


def fold(text: str) -> str:
    """Lower-case ``text`` without accents: "Cañería" → "caneria".  For matching only."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The folded words and numbers of ``text``, in order."""
    return _WORD.findall(fold(text))


@functools.cache
def _stemmer() -> Any:  # snowballstemmer has no type information
    # Imported at the first stem, not with this module: it loads every language it knows (about
    # 10 ms), and every command reads the configuration, which folds words but never stems them.
    import snowballstemmer

    return snowballstemmer.stemmer("spanish")


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Spanish stem of one folded word ("baches" → "bach"); numbers are kept as they are."""
    return word if word.isdigit() else str(_stemmer().stemWord(word))


def stems(text: str) -> list[str]:
    """The stems of the words of ``text``, in order."""
    return [stem(w) for w in words(text)]
