"""Counts per neighbourhood and the map's data, kept a few seconds in this process (see pages)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import current_app

MAP_CACHE_SECONDS = 15


class Recent:
    """Answers kept for a few seconds by key (the map's data and the counts per neighbourhood)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._items: dict[tuple, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self._generation = 0  # counts clear(): an answer made across a clear() is not kept

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._generation += 1

    def get(self, key: tuple, make: Callable[[], object]):
        now = self._clock()
        with self._lock:
            hit = self._items.get(key)
            generation = self._generation
        if hit is not None and now - hit[0] < self.seconds:
            return hit[1]
        value = make()
        with self._lock:
            if generation == self._generation:  # else it may have been counted before a new case
                if len(self._items) > 100:
                    self._items.clear()
                self._items[key] = (now, value)
        return value


def recent() -> Recent:
    cache = current_app.extensions.get("barriosms.pages")
    if cache is None:
        cache = current_app.extensions.setdefault("barriosms.pages", Recent(MAP_CACHE_SECONDS))
    return cache


def forget_counts() -> None:
    """Drop the kept counts and map data (inside a request): call after opening a case, so the
    map and the lists count it at once. Other processes keep theirs for MAP_CACHE_SECONDS."""
    cache = current_app.extensions.get("barriosms.pages")
    if cache is not None:
        cache.clear()
