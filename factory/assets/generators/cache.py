"""A per-process cache of generated meshes, bounded in bytes.

Keyed by (generator, params as canonical JSON); least recently used meshes are dropped
first once the arrays held would exceed the bound; a mesh larger than the whole bound
is built and returned but not kept. The renderer builds one BVH per generated mesh and
many objects may share params, so a hit saves the build and lets the BVH be shared.
The meshes' arrays are read-only, so sharing them is safe. Thread-safe.
"""

from __future__ import annotations

import json

from factory.assets.byte_cache import ByteCache, CacheStats
from factory.assets.generators.mesh import GeneratedMesh
from factory.assets.generators.registry import build, generator
from factory.assets.generators.spec import check_params

DEFAULT_MAX_BYTES = 256 * 2**20  # ~1,500 cups (3.5k faces and 17 parts: ~180 kB each) per process


class MeshCache(ByteCache):
    """An LRU of :class:`GeneratedMesh` by (generator, params), at most ``max_bytes``."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        super().__init__(max_bytes, lambda mesh: mesh.nbytes)

    def get(self, name: str, params: dict) -> GeneratedMesh:
        """The mesh of ``build(name, params)``, from the cache when it holds it.

        Raises:
            ParamError: as :func:`factory.assets.generators.registry.build`.
        """
        key = (name, json.dumps(check_params(name, generator(name).spec, params), sort_keys=True))
        return self.fetch(key, lambda: build(name, params))


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
