"""The record a generator returns and the geometry every family shares.

A family builds a raw mesh in any frame and size; :func:`finish` centres its bounding
box on the origin and scales it per axis to the target extents its params name, so
every generated mesh's bounding box is ``[-extents / 2, extents / 2]`` (to float
rounding: within 1e-9 of each extent, relative), and flips the faces if the signed
volume came out negative, so normals point outwards.

Families with a natural surface parameterisation (revolution, superquadric, extrusion)
build a grid of rows x columns (:func:`grid_mesh`): the last column repeats the first
(the uv seam) and a first or last row that is a single point (a pole) repeats it once
per column, each with the same coordinates, so that uv is continuous. Such a mesh is
closed once coincident vertices are merged, which is what ``trimesh.Trimesh(vertices,
faces)`` does by default: ``watertight`` below means exactly that.

Collision pieces (``parts``): the vertex sets whose convex hulls MuJoCo collides. A
family whose solid is convex, or near enough that its hull is what a physics engine
should see (superquadric, hull, rock, bottle), leaves them out of its raw mesh and gets
one part, its own vertices; a non-convex family builds its pieces from its own
structure (the cup's wall sectors, the star's points, the letter's pixel runs, the
furniture's boards), each inside its solid (or within a small, documented tolerance)
and together covering it. ``finish`` moves them, and the furniture's ``tops``, with the
vertices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

MAX_FACES = 5000  # every family's resolution limits keep its face count at or under this
MAX_PARTS = 24  # collision pieces per mesh: MuJoCo's collision cost grows with them

# A rectangle objects can rest on: (z, x0, x1, y0, y1) metres, x0 < x1, y0 < y1, facing +z
Top = tuple[float, float, float, float, float]


@dataclass(frozen=True, eq=False)  # identity: arrays have no truth value, a dict no hash
class GeneratedMesh:
    """One generated mesh in its own frame, its bounding box centred on the origin.

    ``vertices`` (V, 3) float64 metres; ``faces`` (F, 3) int32, counter-clockwise seen
    from outside; ``uv`` (V, 2) float64 in [0, 1] or None (the family has no natural
    parameterisation); ``generator`` its registry name; ``params`` the JSON-serialisable
    dict (str -> int | float) that rebuilds it byte for byte
    (:func:`factory.assets.generators.registry.build`); ``watertight`` whether it is
    closed once coincident vertices are merged. ``parts`` the collision pieces, each
    (P_j, 3) float64 in the same frame, 1 to :data:`MAX_PARTS` of them (a convex
    family's one part is ``vertices`` itself, the same array); ``tops`` the horizontal
    rectangles (z, x0, x1, y0, y1) metres in the same frame that objects can rest on
    (furniture: its boards and seat; empty for the others). The arrays are read-only: a
    cached mesh is shared by every object that uses it (so is ``params``: copy it to
    change it).
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None
    generator: str
    params: dict
    watertight: bool
    parts: tuple = ()
    tops: tuple[Top, ...] = ()

    @property
    def extents(self) -> np.ndarray:
        """(3,) float64 bounding-box extents, metres."""
        return self.vertices.max(0) - self.vertices.min(0)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays, parts included (what the cache counts); a part that
        is ``vertices`` itself is counted once."""
        extra = sum(p.nbytes for p in self.parts if p is not self.vertices)
        return self.vertices.nbytes + self.faces.nbytes + (0 if self.uv is None else self.uv.nbytes) + extra


class RawMesh(NamedTuple):
    """What a family's build function returns: ``vertices`` (V, 3) float64 in any frame,
    ``faces`` (F, 3) int, ``uv`` (V, 2) float64 or None, ``extents`` (3,) the target
    bounding-box extents in metres that :func:`finish` scales it to, ``parts`` the
    collision pieces (P_j, 3) in the raw frame or None (one part: the vertices) and
    ``tops`` rectangles (z, x0, x1, y0, y1) in the raw frame."""

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None
    extents: tuple
    parts: tuple | None = None
    tops: tuple = ()


def grid_mesh(points: np.ndarray, pole_first: bool, pole_last: bool) -> np.ndarray:
    """Faces (F, 3) int32 of a grid of vertices ``points`` (R, C + 1, 3), flattened
    row-major, whose column C repeats column 0 (the seam).

    Each cell (r, c) becomes two triangles; where row 0 (``pole_first``) or row R - 1
    (``pole_last``) is one point repeated, the cell's triangle with two pole corners is
    left out (it would have no area). Winding: counter-clockwise seen from the side the
    cross product of d/dcolumn and d/drow points to; :func:`finish` flips the whole mesh
    if that is inwards.
    """
    rows, cols = points.shape[0], points.shape[1]
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols - 1), indexing="ij")
    a = r * cols + c  # (r, c)
    b = a + 1  # (r, c + 1)
    d = a + cols  # (r + 1, c)
    e = d + 1  # (r + 1, c + 1)
    lower = np.stack([a, b, e], -1)  # touches row r twice: degenerate when row r is a pole
    upper = np.stack([a, e, d], -1)  # touches row r + 1 twice: degenerate when that is a pole
    keep_lower = np.ones(r.shape, bool)
    keep_upper = np.ones(r.shape, bool)
    if pole_first:
        keep_lower[0] = False
    if pole_last:
        keep_upper[-1] = False
    faces = np.concatenate([lower[keep_lower], upper[keep_upper]])
    return faces.astype(np.int32)


def grid_uv(rows: int, cols: int) -> np.ndarray:
    """uv (rows * (cols + 1), 2) float64 of a :func:`grid_mesh` grid: u = column / cols
    (around, 0 to 1 including the seam), v = row / (rows - 1)."""
    u, v = np.meshgrid(np.arange(cols + 1) / cols, np.arange(rows) / (rows - 1))
    return np.stack([u.ravel(), v.ravel()], -1)


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """The signed volume (m^3) enclosed by a closed triangle mesh (divergence theorem):
    positive when its faces wind counter-clockwise seen from outside."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return float(np.einsum("ij,ij->", a, np.cross(b, c)) / 6.0)


def canonical_order(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same mesh with vertices sorted by (x, y, z) and faces sorted, each face
    rotated to start at its smallest index (winding kept): one order whatever order a
    library (manifold3d, which may work in parallel) handed them back in."""
    order = np.lexsort((vertices[:, 2], vertices[:, 1], vertices[:, 0]))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    f = rank[faces]
    shift = np.argmin(f, axis=1)
    f = np.stack([f[np.arange(len(f)), (shift + k) % 3] for k in range(3)], -1)
    f = f[np.lexsort((f[:, 2], f[:, 1], f[:, 0]))]
    return vertices[order], f


def finish(raw: RawMesh, generator: str, params: dict, watertight: bool) -> GeneratedMesh:
    """The :class:`GeneratedMesh` of ``raw``: its bounding box centred on the origin and
    scaled per axis to ``raw.extents`` (its parts and tops moved the same way), faces
    flipped if they wound inwards, arrays made read-only.

    Raises:
        ValueError: the raw mesh is flat along an axis, its faces exceed
            :data:`MAX_FACES` or its parts :data:`MAX_PARTS` (a family's bug, not the
            caller's: params are checked before a build).
    """
    v = np.asarray(raw.vertices, np.float64)
    lo, hi = v.min(0), v.max(0)
    if np.any(hi - lo <= 0):
        raise ValueError(f"generator {generator!r} built a flat mesh (extents {hi - lo}) from {params}")
    if len(raw.faces) > MAX_FACES:
        raise ValueError(f"generator {generator!r} built {len(raw.faces)} faces, over {MAX_FACES}, from {params}")
    if raw.parts is not None and not 1 <= len(raw.parts) <= MAX_PARTS:
        raise ValueError(f"generator {generator!r} built {len(raw.parts)} parts, not 1-{MAX_PARTS}, from {params}")
    centre, scale = (lo + hi) / 2, np.asarray(raw.extents, np.float64) / (hi - lo)
    v = (v - centre) * scale
    faces = np.asarray(raw.faces, np.int32)
    if signed_volume(v, faces) < 0:
        faces = faces[:, ::-1].copy()
    uv = None if raw.uv is None else np.asarray(raw.uv, np.float64)
    if raw.parts is None:
        parts = (v,)
    else:
        parts = tuple((np.asarray(p, np.float64).reshape(-1, 3) - centre) * scale for p in raw.parts)
    tops = tuple(_move_top(t, centre, scale) for t in raw.tops)
    for a in (v, faces, uv, *parts):
        if a is not None:
            a.setflags(write=False)
    return GeneratedMesh(v, faces, uv, generator, dict(params), watertight, parts, tops)


def _move_top(top, centre: np.ndarray, scale: np.ndarray) -> Top:
    """A top (z, x0, x1, y0, y1) moved and scaled as :func:`finish` moves vertices."""
    z, x0, x1, y0, y1 = (float(x) for x in top)
    cx, cy, cz = centre
    sx, sy, sz = scale
    return (
        float((z - cz) * sz),
        float((x0 - cx) * sx),
        float((x1 - cx) * sx),
        float((y0 - cy) * sy),
        float((y1 - cy) * sy),
    )
