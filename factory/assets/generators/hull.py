"""Random convex hulls: the hull of points drawn uniformly in the unit ball.

The points come from ``numpy.random.default_rng(seed)`` (``seed`` is a param, so the
hull depends on the params alone): a normal direction and a radius u^(1/3), so they
fill the ball evenly; the hull (manifold3d's, closed and outward by construction) is
put in a canonical vertex and face order and scaled per axis to (size_x, size_y,
size_z), which makes the ball an ellipsoid. Faces: at most 2 * points - 4. No uv.
"""

from __future__ import annotations

import numpy as np

from factory.assets.generators.mesh import RawMesh, canonical_order
from factory.assets.generators.spec import Param

SPEC = {
    "size_x": Param(0.05, 0.30, 0.01, 2.0, doc="bounding-box extent along x, m"),
    "size_y": Param(0.05, 0.30, 0.01, 2.0, doc="bounding-box extent along y, m"),
    "size_z": Param(0.05, 0.30, 0.01, 2.0, doc="bounding-box extent along z, m"),
    "points": Param(8, 48, 6, 500, integer=True, doc="points drawn in the ball"),
    "seed": Param(0, 2**31 - 1, 0, 2**31 - 1, integer=True, doc="seed of the points"),
}


def points(p: dict) -> np.ndarray:
    """The points (N, 3) float64 in the unit ball whose hull the mesh is."""
    rng = np.random.default_rng(p["seed"])
    d = rng.normal(size=(p["points"], 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d * rng.uniform(0.0, 1.0, (p["points"], 1)) ** (1 / 3)


def build(p: dict) -> RawMesh:
    """The convex hull with params ``p`` (see :data:`SPEC`)."""
    import manifold3d

    mesh = manifold3d.Manifold.hull_points(points(p)).to_mesh64()
    v, f = canonical_order(np.asarray(mesh.vert_properties, np.float64)[:, :3], np.asarray(mesh.tri_verts))
    return RawMesh(v, f, None, (p["size_x"], p["size_y"], p["size_z"]))
