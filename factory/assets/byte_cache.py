"""A per-process least-recently-used cache bounded by the bytes its values hold.

What the generated meshes (:mod:`factory.assets.generators.cache`) and the pack meshes
(:mod:`factory.assets.loaded`) are kept in: values are built outside the lock (another
thread may build the same; the first one built is kept and every caller shares it), a
value larger than the whole bound is built and returned but not kept, and the least
recently used values go first once the bound would be passed. Values are shared, so
their arrays must be read-only. Thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple


class CacheStats(NamedTuple):
    """``hits`` and ``misses`` since the cache was made or cleared, ``evictions``,
    ``entries`` and ``bytes`` (array bytes) held now, ``max_bytes`` the bound."""

    hits: int
    misses: int
    evictions: int
    entries: int
    bytes: int
    max_bytes: int


class ByteCache:
    """Values by key, at most ``max_bytes`` of them as ``size_of(value)`` counts."""

    def __init__(self, max_bytes: int, size_of: Callable[[Any], int]):
        if not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError(f"max_bytes must be an int >= 0, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Drop every value and zero the counters."""
        with self._lock:
            self._values: OrderedDict[Hashable, Any] = OrderedDict()
            self._bytes = self._hits = self._misses = self._evictions = 0

    def fetch(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The value of ``key``: the cache's, or ``build()``'s (kept if it fits)."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                self._hits += 1
                return self._values[key]
            self._misses += 1
        value = build()  # outside the lock: a build may take a while
        size = self._size_of(value)
        with self._lock:
            if key in self._values:
                return self._values[key]  # the first one built wins: every caller shares it
            if size <= self.max_bytes:
                self._values[key] = value
                self._bytes += size
                while self._bytes > self.max_bytes:
                    _, old = self._values.popitem(last=False)
                    self._bytes -= self._size_of(old)
                    self._evictions += 1
        return value

    def stats(self) -> CacheStats:
        """The counters now."""
        with self._lock:
            return CacheStats(self._hits, self._misses, self._evictions, len(self._values), self._bytes, self.max_bytes)
