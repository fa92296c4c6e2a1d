"""The mesh assets on one device: each :class:`~factory.scene.assets.MeshAsset`'s BVH
(``wp.Mesh``), vertex normals, UVs, materials and texture mip pyramids
(:class:`~factory.render.tables.MeshData`), built the first time a launch needs them
on that device and kept in a byte-bounded least-recently-used cache per device.

An object instances its asset's BVH through its pose and axis scales (one BVH per
asset, any size and pose). Entries are keyed by ``MeshAsset.kind`` (unique per
process: the built-in kinds, and the keys the assets layer gives generated and pack
meshes). When a launch's assets are acquired, the cache evicts the least recently
used entries beyond its bound, never one the launch itself holds; a launch keeps
what it acquired alive until it is done, so an evicted entry's memory goes when the
last launch holding it lets go.

Bytes counted per entry: its device arrays plus an estimate of the BVH
(:data:`BVH_BYTES_PER_FACE`). :func:`cache_stats` gives hits, misses, evictions,
bytes and build seconds, for the timings of benchmarks.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from factory.render.device import Device, warp
from factory.render.textures import pack_textures
from factory.scene.assets import MeshAsset

# Warp's BVH: about 2F nodes of two bounds (32 bytes each), per-face bounds and the
# mesh's own copies of points and indices (counted from the arrays).
BVH_BYTES_PER_FACE = 96
DEFAULT_LIMIT_BYTES = 1 << 30  # 1 GiB a device


@dataclass
class MeshEntry:
    """One asset on one device: ``mesh`` the ``wp.Mesh`` (its ``id`` is what the
    kernels take), ``data`` its :class:`~factory.render.tables.MeshData`, ``arrays``
    the device arrays ``data`` points into (kept alive with it), ``materials``
    whether its faces carry materials, ``nbytes`` what it counts against the bound."""

    kind: str
    vertices: int
    faces: int
    mesh: object
    data: object
    arrays: tuple
    materials: bool
    nbytes: int


def _check_surface(a: MeshAsset) -> None:
    """Refuse surface arrays that do not fit the mesh (the kernels index with them)."""
    V, F = len(a.vertices), len(a.faces)
    bad = None
    if a.uv is not None and np.shape(a.uv) != (V, 2):
        bad = f"uv has shape {np.shape(a.uv)}, expected ({V}, 2)"
    elif a.face_material is not None:
        M = len(a.material_colour) if a.material_colour is not None else 0
        fm, mt = np.asarray(a.face_material), np.asarray(a.material_texture if a.material_texture is not None else [])
        if fm.shape != (F,) or (F and (fm.min() < 0 or fm.max() >= M)):
            bad = f"face_material must be ({F},) indices in [0, {M}), got shape {fm.shape}"
        elif np.shape(a.material_colour) != (M, 4) or mt.shape != (M,):
            bad = f"material_colour must be ({M}, 4) and material_texture ({M},)"
        elif M and (mt.min() < -1 or mt.max() >= len(a.textures)):
            bad = f"material_texture must be -1 or an index below {len(a.textures)}, got {mt.min()}..{mt.max()}"
    if bad:
        raise ValueError(f"mesh asset {a.kind!r}: {bad}")


def _build(a: MeshAsset, device: Device) -> MeshEntry:
    """Upload one asset to ``device``: BVH, normals and the surface arrays."""
    wp = warp()
    from factory.render.tables import MeshData

    _check_surface(a)
    dev = device.warp_name

    def up(x, dtype, rows: int = 1, width: int = 0):
        """``x`` as a device array, or ``rows`` zero rows where it is None."""
        if x is None or len(x) == 0:
            x = np.zeros((rows, width) if width else rows)
        scalar = wp.dtype_to_numpy(getattr(dtype, "_wp_scalar_type_", dtype))
        return wp.array(np.ascontiguousarray(x, scalar), dtype=dtype, device=dev)

    points = up(a.vertices, wp.vec3)
    indices = up(np.asarray(a.faces).ravel(), wp.int32)
    mesh = wp.Mesh(points=points, indices=indices)
    materials = a.face_material is not None
    tex = pack_textures(a.textures if materials else ())
    colour = None if not materials else np.asarray(a.material_colour, np.float64)[:, :3]
    d = MeshData()
    d.normals = up(a.normals, wp.vec3)
    d.uv, d.has_uv = up(a.uv, wp.vec2, width=2), int(a.uv is not None)
    d.face_material = up(a.face_material if materials else None, wp.int32)
    d.mat_colour = up(colour, wp.vec3, width=3)
    d.mat_texture = up(a.material_texture if materials else None, wp.int32)
    d.tex_first, d.tex_count = up(tex.first, wp.int32), up(tex.count, wp.int32)
    d.level, d.texels = up(tex.level, wp.vec3i), up(tex.texels, wp.uint8)
    arrays = (points, indices, d.normals, d.uv, d.face_material, d.mat_colour, d.mat_texture, d.tex_first)
    arrays += (d.tex_count, d.level, d.texels)
    nbytes = sum(x.capacity for x in arrays) + BVH_BYTES_PER_FACE * len(a.faces)
    return MeshEntry(a.kind, len(a.vertices), len(a.faces), mesh, d, arrays, materials, int(nbytes))


class MeshCache:
    """The mesh assets built on one device, least recently used first, within
    ``limit_bytes`` (except what one launch needs at once)."""

    def __init__(self, device: Device, limit_bytes: int = DEFAULT_LIMIT_BYTES):
        self.device = device
        self.limit_bytes = int(limit_bytes)
        self._entries: OrderedDict[str, MeshEntry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0
        self.bytes = 0
        self.build_seconds = 0.0

    def acquire(self, assets: list[MeshAsset]) -> list[MeshEntry]:
        """The entries of ``assets`` (one per asset, in order; repeats welcome), built
        where missing; then evicts least recently used entries not among them while
        the cache holds more than its bound. The caller keeps the entries (and so their
        device memory) alive for as long as its launch uses them.

        Raises:
            ValueError: an asset whose surface arrays do not fit its mesh, or whose key
                names a cached mesh of other vertex and face counts.
        """
        with self._lock:
            out, wanted = [], set()
            for a in assets:
                e = self._entries.get(a.kind)
                if e is None:
                    start = time.perf_counter()
                    e = _build(a, self.device)
                    self.build_seconds += time.perf_counter() - start
                    self._entries[a.kind] = e
                    self.bytes += e.nbytes
                    self.misses += 1
                else:
                    if (e.vertices, e.faces) != (len(a.vertices), len(a.faces)):
                        raise ValueError(
                            f"mesh asset {a.kind!r}: {len(a.vertices)} vertices and {len(a.faces)} faces, but the "
                            f"renderer's cache holds {e.vertices} and {e.faces} under that key (keys must be unique)"
                        )
                    self._entries.move_to_end(a.kind)
                    self.hits += 1
                wanted.add(a.kind)
                out.append(e)
            for kind in list(self._entries):
                if self.bytes <= self.limit_bytes:
                    break
                if kind not in wanted:
                    self.bytes -= self._entries.pop(kind).nbytes
                    self.evictions += 1
            return out

    def stats(self) -> dict:
        """``hits``, ``misses``, ``evictions``, ``entries``, ``bytes`` (held now),
        ``limit_bytes`` and ``build_seconds`` (spent building entries) so far."""
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "evictions": self.evictions,
                "entries": len(self._entries),
                "bytes": self.bytes,
                "limit_bytes": self.limit_bytes,
                "build_seconds": self.build_seconds,
            }

    def clear(self) -> None:
        """Drop every entry and zero the counters (a benchmark's cold start)."""
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = self.evictions = self.bytes = 0
            self.build_seconds = 0.0


@functools.cache
def mesh_cache(device: Device) -> MeshCache:
    """The process's mesh cache on ``device``."""
    return MeshCache(device)


def cache_stats(device: Device | None = None) -> dict:
    """:meth:`MeshCache.stats` of ``device``'s cache (default: the CPU's)."""
    from factory.render.device import get_device

    return mesh_cache(device or get_device("cpu")).stats()
