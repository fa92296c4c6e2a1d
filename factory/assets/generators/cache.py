"""A per-process cache of generated meshes, bounded in bytes.

Keyed by (generator, params as canonical JSON); least recently used meshes are dropped
first once the arrays held would exceed the bound; a mesh larger than the whole bound
is built and returned but not kept. The renderer builds one BVH per generated mesh and
many objects may share params, so a hit saves the build and lets the BVH be shared.
The meshes' arrays are read-only, so sharing them is safe. Thread-safe.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import NamedTuple

from factory.assets.generators.mesh import GeneratedMesh
from factory.assets.generators.registry import build, generator
from factory.assets.generators.spec import check_params

DEFAULT_MAX_BYTES = 256 * 2**20  # ~1,500 cups (3.5k faces and 17 parts: ~180 kB each) per process


class CacheStats(NamedTuple):
    """``hits`` and ``misses`` since the cache was made or cleared, ``evictions``,
    ``entries`` and ``bytes`` (array bytes) held now, ``max_bytes`` the bound."""

    hits: int
    misses: int
    evictions: int
    entries: int
    bytes: int
    max_bytes: int


class MeshCache:
    """An LRU of :class:`GeneratedMesh` by (generator, params), at most ``max_bytes``."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        if not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError(f"max_bytes must be an int >= 0, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Drop every mesh and zero the counters."""
        with self._lock:
            self._meshes: OrderedDict[tuple, GeneratedMesh] = OrderedDict()
            self._bytes = self._hits = self._misses = self._evictions = 0

    def get(self, name: str, params: dict) -> GeneratedMesh:
        """The mesh of ``build(name, params)``, from the cache when it holds it.

        Raises:
            ParamError: as :func:`factory.assets.generators.registry.build`.
        """
        key = (name, json.dumps(check_params(name, generator(name).spec, params), sort_keys=True))
        with self._lock:
            mesh = self._meshes.get(key)
            if mesh is not None:
                self._meshes.move_to_end(key)
                self._hits += 1
                return mesh
            self._misses += 1
        mesh = build(name, params)  # outside the lock: another thread may build the same
        with self._lock:
            if key not in self._meshes and mesh.nbytes <= self.max_bytes:
                self._meshes[key] = mesh
                self._bytes += mesh.nbytes
                while self._bytes > self.max_bytes:
                    _, old = self._meshes.popitem(last=False)
                    self._bytes -= old.nbytes
                    self._evictions += 1
        return mesh

    def stats(self) -> CacheStats:
        """The counters now."""
        with self._lock:
            return CacheStats(self._hits, self._misses, self._evictions, len(self._meshes), self._bytes, self.max_bytes)


_CACHE = MeshCache()


def cached_build(name: str, params: dict) -> GeneratedMesh:
    """``build(name, params)`` through this process's cache."""
    return _CACHE.get(name, params)


def cache_stats() -> CacheStats:
    """This process's cache counters."""
    return _CACHE.stats()


def process_cache() -> MeshCache:
    """This process's cache (to clear it or change its ``max_bytes``)."""
    return _CACHE
