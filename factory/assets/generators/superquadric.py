"""Superquadrics: (|x/a|^p + |y/b|^p)^(q/p) + |z/c|^q = 1.

``exponent_xy`` (p) and ``exponent_z`` (q) are the implicit exponents: 2 and 2 give an
ellipsoid, larger ones a rounded box or cylinder, 1 an octahedron. Not under 1 (a
pinched star): sampled evenly in angle, its tips would need vertices closer than the
1e-8 m that merging coincident vertices (trimesh's default) treats as one. Built from the parametric form (Barr 1981) with signed powers,
x = C(eta)^(2/q) C(omega)^(2/p), y = C(eta)^(2/q) S(omega)^(2/p), z = S(eta)^(2/q),
on a grid of ``resolution`` columns around (omega in [-pi, pi]) by ``resolution // 2
+ 1`` rows pole to pole (eta in [-pi/2, pi/2]); uv = (omega, eta) scaled to [0, 1].
Faces: resolution^2 - resolution (2,208 at 48, 3,968 at the limit 64).
"""

from __future__ import annotations

import numpy as np

from factory.assets.generators.mesh import RawMesh, grid_mesh, grid_uv
from factory.assets.generators.spec import Param

SPEC = {
    "size_x": Param(0.05, 0.30, 0.01, 2.0, doc="bounding-box extent along x, m"),
    "size_y": Param(0.05, 0.30, 0.01, 2.0, doc="bounding-box extent along y, m"),
    "size_z": Param(0.05, 0.30, 0.01, 2.0, doc="bounding-box extent along z, m"),
    "exponent_xy": Param(1.2, 6.0, 1.0, 20.0, doc="implicit exponent p of the horizontal section"),
    "exponent_z": Param(1.2, 6.0, 1.0, 20.0, doc="implicit exponent q of the vertical profile"),
    "resolution": Param(48, 48, 8, 64, integer=True, doc="grid columns around; rows are half as many + 1"),
}


def _spow(x: np.ndarray, e: float) -> np.ndarray:
    """sign(x) |x|^e: the signed power that keeps the parametric form's octants."""
    return np.sign(x) * np.abs(x) ** e


def build(p: dict) -> RawMesh:
    """The superquadric of params ``p`` (see :data:`SPEC`) at unit half-axes."""
    cols, rows = p["resolution"], p["resolution"] // 2 + 1
    omega = np.linspace(-np.pi, np.pi, cols + 1)
    omega[-1] = omega[0]  # the seam column repeats the first one exactly
    eta = np.linspace(-np.pi / 2, np.pi / 2, rows)
    e_xy, e_z = 2.0 / p["exponent_xy"], 2.0 / p["exponent_z"]
    ce, se = _spow(np.cos(eta), e_z), _spow(np.sin(eta), e_z)
    ce[[0, -1]] = 0.0  # cos(+-pi/2) is 6e-17, not 0: the poles must be one point
    cw, sw = _spow(np.cos(omega), e_xy), _spow(np.sin(omega), e_xy)
    pts = np.stack(
        [ce[:, None] * cw[None, :], ce[:, None] * sw[None, :], np.broadcast_to(se[:, None], (rows, cols + 1))], -1
    )
    faces = grid_mesh(pts, pole_first=True, pole_last=True)
    return RawMesh(pts.reshape(-1, 3), faces, grid_uv(rows, cols), (p["size_x"], p["size_y"], p["size_z"]))
