"""Convex pieces for collisions, made once when a pack is built.

MuJoCo collides a mesh as its convex hull: a chair would be a solid block and a cup
could hold nothing. ``factory pack build`` therefore stores, in each asset's
``mesh.npz`` (:mod:`factory.assets.meshfile`), the pieces whose hulls collide:

* ``coacd``: CoACD's convex decomposition (``coacd``, the ``assets`` extra; Wei et al.,
  SIGGRAPH 2022) with the fixed settings of :data:`COACD_PARAMS` (seed included, so the
  same mesh gives the same pieces), at most :data:`MAX_PIECES` pieces of at most 32
  vertices each, so MuJoCo stays cheap. It takes about 6 s of CPU an asset of 4,000
  faces (the starter pack's 44: 4.4 min), hours for the 820 models of the full Sweet
  Home 3D libraries, which ``make assets`` builds with ``hull``.
* ``hull``: the mesh's own convex hull, one piece (milliseconds).

Every piece is clipped to the mesh's bounding box (CoACD works on a remeshed, slightly
inflated copy, so its hulls overshoot by about 0.5 % of the size) and reduced to its
hull's vertices; a piece that clipping flattens is dropped, and when none is left, or
CoACD fails, the asset falls back to its hull. A flat mesh (a picture, zero thickness)
has no hull: its piece is its bounding box thickened by :data:`FLAT_PAD` of its size
on each side of the flat axis.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

PartsMethod = Literal["hull", "coacd"]
METHODS: tuple[str, ...] = ("hull", "coacd")
MAX_PIECES = 16  # CoACD's max_convex_hull: MuJoCo collides each piece as a geom of its own
# CoACD's settings, fixed: coarser than its defaults (threshold 0.05, 150 MCTS iterations),
# which took 30-240 s an asset of 4,000 faces.
COACD_PARAMS = {
    "threshold": 0.1,
    "max_convex_hull": MAX_PIECES,
    "preprocess_resolution": 30,
    "resolution": 1000,
    "mcts_nodes": 10,
    "mcts_iterations": 50,
    "mcts_max_depth": 2,
    "decimate": True,
    "max_ch_vertex": 32,
    "seed": 1,
}
FLAT_PAD = 0.005  # a flat mesh's piece is this share of its largest extent thick on each side


def coacd_available() -> bool:
    """Whether CoACD can be imported (the ``assets`` extra is installed)."""
    try:
        import coacd  # noqa: F401
    except ImportError:
        return False
    return True


def default_method() -> str:
    """``coacd`` when it is installed, else ``hull``."""
    return "coacd" if coacd_available() else "hull"


def convex_hull(points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The convex hull of ``points`` (N, 3): its vertices (K, 3) float64 (input points,
    sorted by x, y, z) and faces (Q, 3) int64 (counter-clockwise seen from outside), by
    manifold3d's QuickHull; None when they span no volume (fewer than 4 distinct
    points, or all in a plane)."""
    import manifold3d

    p = np.unique(np.asarray(points, np.float64), axis=0)
    if len(p) < 4:
        return None
    size = float(np.ptp(p, axis=0).max())
    hull = manifold3d.Manifold.hull_points(p)
    if hull.is_empty() or hull.volume() <= 1e-9 * size**3:
        return None
    mesh = hull.to_mesh64()
    v = np.asarray(mesh.vert_properties, np.float64)[:, :3]
    order = np.lexsort(v.T[::-1])  # manifold's vertex order is its own: sort for stable bytes
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return v[order], rank[np.asarray(mesh.tri_verts, np.int64)]


def hull_points(points: np.ndarray) -> np.ndarray | None:
    """The vertices (K, 3) float64 of :func:`convex_hull`, or None."""
    hull = convex_hull(points)
    return None if hull is None else hull[0]


def hull_piece(vertices: np.ndarray) -> np.ndarray:
    """The one piece (K, 3) float64 of a mesh's hull; for a flat mesh, its bounding
    box thickened by :data:`FLAT_PAD` (see the module docstring)."""
    v = np.asarray(vertices, np.float64)
    hull = hull_points(v)
    if hull is not None:
        return hull
    lo, hi = v.min(axis=0), v.max(axis=0)
    pad = FLAT_PAD * max(float((hi - lo).max()), 1e-6)
    thin = (hi - lo) < pad
    lo, hi = np.where(thin, lo - pad, lo), np.where(thin, hi + pad, hi)
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def coacd_pieces(vertices: np.ndarray, faces: np.ndarray) -> list[np.ndarray]:
    """CoACD's pieces of the mesh (vertices (V, 3) metres, faces (F, 3)), each clipped
    to the mesh's bounding box and reduced to its hull's vertices (K_j, 3) float64;
    empty when CoACD fails or leaves nothing with volume.

    Raises:
        ImportError: CoACD is not installed.
    """
    import coacd

    coacd.set_log_level("error")
    v = np.ascontiguousarray(vertices, np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    try:
        raw = coacd.run_coacd(coacd.Mesh(v, np.ascontiguousarray(faces, np.int32)), **COACD_PARAMS)
    except Exception:  # CoACD's own failure on a broken mesh: the caller falls back to the hull
        return []
    pieces = [hull_points(np.clip(np.asarray(p, np.float64), lo, hi)) for p, _ in raw]
    return [p for p in pieces if p is not None]


def make_pieces(vertices: np.ndarray, faces: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray, str]:
    """``(part_vertices (P, 3) float32, part_offsets (K + 1,) int32, method used)`` of
    the mesh (vertices (V, 3) metres, faces (F, 3)) by ``method`` (one of
    :data:`METHODS`): piece ``j`` is ``part_vertices[part_offsets[j]:part_offsets[j + 1]]``.
    The method used is ``hull`` when CoACD was asked for but gave nothing.

    Raises:
        ValueError: an unknown method.
        ImportError: ``coacd`` asked for and not installed.
    """
    if method not in METHODS:
        raise ValueError(f"parts method {method!r}: allowed: {', '.join(METHODS)}")
    pieces = coacd_pieces(vertices, faces) if method == "coacd" else []
    used = method if pieces else "hull"
    if not pieces:
        pieces = [hull_piece(vertices)]
    offsets = np.cumsum([0] + [len(p) for p in pieces]).astype(np.int32)
    return np.concatenate(pieces).astype(np.float32), offsets, used


def split_pieces(part_vertices: np.ndarray, part_offsets: np.ndarray) -> list[np.ndarray]:
    """The pieces (K_j, 3) of the flat arrays :func:`make_pieces` returns."""
    return [part_vertices[a:b] for a, b in zip(part_offsets[:-1], part_offsets[1:])]
