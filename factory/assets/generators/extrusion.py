"""Extruded, bevelled polygons: stars and gears.

An outline is a polygon star-shaped about the origin (every ray from the origin
crosses it once), counter-clockwise, max radius 1. It is extruded along z with a
chamfer at both faces: the rings are, bottom to top, the outline shrunk towards the
origin at z = 0, the outline at z = b, the outline at z = t - b, the shrunk outline
at z = t; each face is a fan from the centre (valid because the outline is
star-shaped). The mesh is then scaled per axis to (size_x, size_y, size_z). No uv.
Faces: 8 per outline vertex (a star 16 per point, a gear 32 per tooth).

Collision pieces: the outline is cut into convex polygons, a core (the star's inner
vertices, the gear's root points) and one per point or tooth, each extruded with the
same chamfer (its four rings as the mesh's). A section of the mesh at any height is
the outline scaled about the origin, and a convex polygon's scaled copies are what
its chamfered prism's sections are, so the pieces are exactly the solid. Past
``MAX_PARTS - 1`` points or teeth, neighbours are grouped into one piece whose hull
fills the notch between them (a 64-tooth gear: 22 pieces of 3 teeth).
"""

from __future__ import annotations

import numpy as np

from factory.assets.generators.mesh import MAX_PARTS, RawMesh, grid_mesh
from factory.assets.generators.spec import Param

_SIZE = {
    "size_x": Param(0.08, 0.30, 0.01, 2.0, doc="bounding-box extent along x, m"),
    "size_y": Param(0.08, 0.30, 0.01, 2.0, doc="bounding-box extent along y, m"),
    "size_z": Param(0.015, 0.08, 0.002, 2.0, doc="thickness (z extent), m"),
    "bevel": Param(0.1, 0.4, 0.02, 0.45, doc="chamfer height as a share of the thickness"),
}

SPECS = {
    "star": {
        **_SIZE,
        "points": Param(4, 8, 3, 24, integer=True, doc="number of points"),
        "inner": Param(0.35, 0.65, 0.15, 0.95, doc="inner radius as a share of the outer"),
    },
    "gear": {
        **_SIZE,
        "teeth": Param(8, 28, 4, 64, integer=True, doc="number of teeth"),
        "depth": Param(0.08, 0.25, 0.03, 0.5, doc="tooth depth as a share of the outer radius"),
        "tooth": Param(0.35, 0.8, 0.2, 0.9, doc="tooth base width as a share of the pitch"),
    },
}


def _star(p: dict) -> np.ndarray:
    n = p["points"]
    a = np.pi / 2 + np.arange(2 * n) * np.pi / n  # a point straight up
    r = np.where(np.arange(2 * n) % 2 == 0, 1.0, p["inner"])
    return np.stack([r * np.cos(a), r * np.sin(a)], -1)


def _gear(p: dict) -> np.ndarray:
    """Trapezoid teeth: base half-width tooth * pitch / 2 at the root circle, tip half
    the base's, at radius 1."""
    n = p["teeth"]
    pitch = 2 * np.pi / n
    base, tip = p["tooth"] * pitch / 2, p["tooth"] * pitch / 4
    root = 1.0 - p["depth"]
    centre = np.arange(n)[:, None] * pitch
    a = (centre + np.array([-base, -tip, tip, base])[None, :]).ravel()
    r = np.tile([root, 1.0, 1.0, root], n)
    return np.stack([r * np.cos(a), r * np.sin(a)], -1)


_OUTLINES = {"star": _star, "gear": _gear}


def outline(kind: str, p: dict) -> np.ndarray:
    """The outline (N, 2) float64 of ``kind``: counter-clockwise, max radius 1."""
    return _OUTLINES[kind](p)


def convex_pieces(kind: str, p: dict) -> list[np.ndarray]:
    """The outline of ``kind`` cut into convex polygons (each (N_j, 2), a subset of the
    outline's vertices): the core, then one per point or tooth (grouped past
    ``MAX_PARTS - 1``)."""
    ring = outline(kind, p)
    if kind == "star":
        n = p["points"]
        core = ring[1::2]
        spikes = [ring[[(2 * k - 1) % (2 * n), 2 * k, 2 * k + 1]] for k in range(n)]
    else:
        n = p["teeth"]
        core = ring[np.sort(np.concatenate([np.arange(0, 4 * n, 4), np.arange(3, 4 * n, 4)]))]
        spikes = [ring[4 * k : 4 * k + 4] for k in range(n)]
    per = -(-n // (MAX_PARTS - 1))  # ceil: neighbours per piece
    return [core] + [np.concatenate(spikes[k : k + per]) for k in range(0, n, per)]


def build(kind: str, p: dict) -> RawMesh:
    """The bevelled extrusion of ``kind`` (a key of :data:`SPECS`) with params ``p``."""
    ring = outline(kind, p)
    ring = np.concatenate([ring, ring[:1]])  # the seam column
    # Built at the outline's scale (radius 1) so the chamfer is ~45 degrees there.
    t = p["size_z"] / (max(p["size_x"], p["size_y"]) / 2)
    b = p["bevel"] * t
    shrink = 1.0 - min(b, 0.5)
    levels = ((0.0, 0.0), (shrink, 0.0), (1.0, b), (1.0, t - b), (shrink, t), (0.0, t))
    rows = []
    for scale, z in levels:
        rows.append(np.concatenate([ring * scale, np.full((len(ring), 1), z)], -1))
    pts = np.stack(rows)
    faces = grid_mesh(pts, pole_first=True, pole_last=True)
    parts = tuple(
        np.concatenate([np.concatenate([q * scale, np.full((len(q), 1), z)], -1) for scale, z in levels[1:-1]])
        for q in convex_pieces(kind, p)
    )
    return RawMesh(pts.reshape(-1, 3), faces, None, (p["size_x"], p["size_y"], p["size_z"]), parts)
