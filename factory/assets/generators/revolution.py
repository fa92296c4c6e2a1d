"""Surfaces of revolution from random profiles: bottles, vases, cups and bowls.

A profile is a polyline (K, 2) of (r, z) in metres, from a point on the axis (r = 0)
at the bottom to a point on the axis at the top, z in [0, height] and max r =
diameter / 2; revolving it about z at ``resolution`` sections gives a closed surface.
Bottles and vases are solid; a cup or bowl is a thick shell, its profile running up
the outer wall, over a rounded rim and down the inner wall to an inner floor, so it is
closed and hollow. uv = (angle / 2 pi, arc length along the profile / its length).
The mesh's volume is that of the profile's revolution with each circle an inscribed
``resolution``-gon: (resolution / 2) sin(2 pi / resolution) * integral of r^2 dz
(:func:`profile` gives the profile, for an independent check).
Faces: 2 * resolution * (profile points - 2): bottle and vase 3,072 at 48 and 4,032
at the limit 56, cup and bowl 3,552 and 4,592.
"""

from __future__ import annotations

import numpy as np

from factory.assets.generators.mesh import RawMesh, grid_mesh
from factory.assets.generators.pieces import clip_z, column_angles, concave_bands, revolved, sectors
from factory.assets.generators.spec import Param

RIM_POINTS = 7  # points on a cup's or bowl's semicircular rim
# Collision pieces: a solid (bottle, vase) is cut into z-slabs, each the hull of its
# slab of the mesh, where its profile turns inwards by more than BAND_TOL of the
# radius (at most MAX_BANDS slabs); a shell (cup, bowl) into a floor disc and SECTORS x
# WALL_BANDS pieces of its wall. The numbers trade the hull's overfill (of a bottle's
# shoulder, a vase's waist, a wall sector's chord into the cavity) against pieces.
BAND_TOL = 0.02
MAX_BANDS = 8
SECTORS = {"cup": 16, "bowl": 11}
WALL_BANDS = {"cup": 1, "bowl": 2}

_SIZE = {
    "diameter": Param(0.06, 0.20, 0.01, 2.0, doc="largest diameter, m (x and y extent)"),
    "height": Param(0.08, 0.35, 0.01, 2.0, doc="height, m (z extent)"),
}
_RES = {"resolution": Param(48, 48, 8, 56, integer=True, doc="sections around; profile points per wall ~ 1/3 of it")}

SPECS = {
    "bottle": {  # its own sizes: tall and slim (the shared ones made squat bottles)
        "diameter": Param(0.05, 0.10, 0.01, 2.0, doc="body diameter, m (x and y extent)"),
        "height": Param(0.18, 0.35, 0.01, 2.0, doc="height, m (z extent)"),
        "body": Param(0.45, 0.65, 0.2, 0.8, doc="height share of the straight body"),
        "shoulder": Param(0.10, 0.25, 0.05, 0.5, doc="height share of the shoulder"),
        "neck": Param(0.25, 0.45, 0.1, 0.9, doc="neck radius as a share of the body's"),
        **_RES,
    },
    "vase": {
        **_SIZE,
        "bulge": Param(0.05, 0.30, 0.0, 0.35, doc="amplitude of the main swell, share of the radius"),
        "bulge_freq": Param(0.5, 1.5, 0.25, 2.0, doc="main swell's waves over the height"),
        "bulge_phase": Param(0.0, 6.283, 0.0, 6.2832, doc="main swell's phase, rad"),
        "ripple": Param(0.0, 0.12, 0.0, 0.15, doc="amplitude of the second swell, share of the radius"),
        "ripple_freq": Param(1.5, 3.0, 1.0, 4.0, doc="second swell's waves over the height"),
        "ripple_phase": Param(0.0, 6.283, 0.0, 6.2832, doc="second swell's phase, rad"),
        **_RES,
    },
    "cup": {
        **_SIZE,
        "taper": Param(0.65, 1.0, 0.5, 1.0, doc="bottom radius as a share of the rim's"),
        "wall": Param(0.04, 0.10, 0.02, 0.15, doc="wall thickness, share of min(radius, height)"),
        "floor": Param(0.04, 0.10, 0.02, 0.2, doc="floor thickness, share of the height"),
        **_RES,
    },
    "bowl": {
        **_SIZE,
        "foot": Param(0.30, 0.55, 0.25, 0.8, doc="flat bottom radius as a share of the rim's"),
        "roundness": Param(0.35, 0.75, 0.25, 1.0, doc="exponent of the side curve (0.5: a quarter ellipse)"),
        "wall": Param(0.04, 0.10, 0.02, 0.15, doc="wall thickness, share of min(radius, height)"),
        "floor": Param(0.05, 0.12, 0.02, 0.2, doc="floor thickness, share of the height"),
        **_RES,
    },
}


def _wall_points(p: dict) -> int:
    return max(4, p["resolution"] // 3)


def wall_thickness(p: dict) -> float:
    """A cup's or bowl's wall thickness, m: ``wall`` times the smaller of its radius and
    height, so that the rim (its top at the height) stays above the floor."""
    return p["wall"] * min(p["diameter"] / 2, p["height"])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _bottle(p: dict) -> np.ndarray:
    R, h = p["diameter"] / 2, p["height"]
    z = np.linspace(0.0, h, 2 * _wall_points(p))
    s = _smoothstep((z / h - p["body"]) / p["shoulder"])
    r = R * (1 - s * (1 - p["neck"]))
    return np.concatenate([[[0.0, 0.0]], np.stack([r, z], -1), [[0.0, h]]])


def _vase(p: dict) -> np.ndarray:
    R, h = p["diameter"] / 2, p["height"]
    z = np.linspace(0.0, h, 2 * _wall_points(p))
    t = z / h
    shape = (
        1.0
        + p["bulge"] * np.sin(2 * np.pi * p["bulge_freq"] * t + p["bulge_phase"])
        + p["ripple"] * np.sin(2 * np.pi * p["ripple_freq"] * t + p["ripple_phase"])
    )  # >= 0.5 at the limits
    r = R * shape / shape.max()
    return np.concatenate([[[0.0, 0.0]], np.stack([r, z], -1), [[0.0, h]]])


def _shell(outer: np.ndarray, p: dict) -> np.ndarray:
    """A cup's or bowl's closed profile from its outer wall ``outer`` (K, 2) (r rising
    with z, from the bottom edge to the rim's centre height): the bottom disk, the outer
    wall, a semicircular rim of the wall's thickness, the inner wall (the outer one
    moved in by the thickness) down to the inner floor, and the floor to the axis."""
    t, f = wall_thickness(p), p["floor"] * p["height"]
    top_r, top_z = outer[-1]
    a = np.linspace(0.0, np.pi, RIM_POINTS)[1:-1]
    rim = np.stack([top_r - t / 2 + t / 2 * np.cos(a), top_z + t / 2 * np.sin(a)], -1)
    zi = np.linspace(top_z, f, len(outer))
    ri = np.interp(zi, outer[:, 1], outer[:, 0]) - t
    return np.concatenate([[[0.0, 0.0]], outer, rim, np.stack([ri, zi], -1), [[0.0, f]]])


def _cup(p: dict) -> np.ndarray:
    R, h = p["diameter"] / 2, p["height"]
    top = h - wall_thickness(p) / 2  # the rim's centre: its top is at h
    z = np.linspace(0.0, top, _wall_points(p))
    r = R * (p["taper"] + (1 - p["taper"]) * z / top)
    return _shell(np.stack([r, z], -1), p)


def _bowl(p: dict) -> np.ndarray:
    R, h = p["diameter"] / 2, p["height"]
    top = h - wall_thickness(p) / 2
    theta = np.linspace(0.0, np.pi / 2, _wall_points(p))  # z and r along a quarter (super)ellipse
    r = R * (p["foot"] + (1 - p["foot"]) * np.sin(theta) ** (2 * p["roundness"]))
    z = top * (1 - np.cos(theta))
    return _shell(np.stack([r, z], -1), p)


_PROFILES = {"bottle": _bottle, "vase": _vase, "cup": _cup, "bowl": _bowl}


def profile(kind: str, p: dict) -> np.ndarray:
    """The profile (K, 2) float64 of (r, z) in metres of ``kind`` with params ``p``:
    from (0, 0) to a point on the axis at the top (a solid) or at the inner floor."""
    return _PROFILES[kind](p)


def parts(kind: str, p: dict, prof: np.ndarray) -> list[np.ndarray]:
    """The collision pieces of ``kind`` with params ``p`` and profile ``prof``, each a
    vertex set (P, 3) in the raw frame (z from 0 to the height).

    A solid: z-slabs over all columns, each the hull of the mesh's rings in it, cut
    where the profile stops being concave to within :data:`BAND_TOL` of the radius
    (:func:`~factory.assets.generators.pieces.concave_bands`). A
    shell: the floor (the solid below the inner floor) and the wall above it in
    :data:`SECTORS` sectors of the mesh's columns by :data:`WALL_BANDS` z-bands (outer
    faces exact; each inner face is a chord across the cavity, which pokes in by the
    sector's sagitta: ~2% of the radius at a cup's 16 sectors, ~4% at a bowl's 11,
    whose bands' inner faces also cut across the curve of its wall; measured, <= 1.1%
    of the largest extent, which the tests hold to 1.5% for cups and 2% for bowls).
    A bowl's 11 x 2 beat 16 x 1 (4.5%) and 7 x 3 (2.3%) within the 24 pieces.
    """
    cols, h = p["resolution"], p["height"]
    if kind not in SECTORS:
        rows = prof[1:-1]  # the axis points are inside every slab's hull anyway
        bands = concave_bands(rows, BAND_TOL * p["diameter"] / 2, MAX_BANDS)
        return [revolved(rows[i : j + 1], column_angles(cols)) for i, j in bands]
    f = p["floor"] * h
    k = _wall_points(p)
    out = [revolved(clip_z(prof[: 1 + k], 0.0, f), column_angles(cols))]  # the axis point and the outer wall
    wall = prof[1:-1]  # outer wall, rim, inner wall: not the axis points (a piece across the cavity)
    cuts = np.linspace(f, h, WALL_BANDS[kind] + 1)
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        band = clip_z(wall, a, b)
        out += [revolved(band, angles) for angles in sectors(cols, min(SECTORS[kind], cols))]
    return out


def build(kind: str, p: dict) -> RawMesh:
    """The surface of revolution of ``kind`` (a key of :data:`SPECS`) with params ``p``."""
    prof = profile(kind, p)
    cols = p["resolution"]
    angle = np.linspace(0.0, 2 * np.pi, cols + 1)
    c, s = np.cos(angle), np.sin(angle)
    c[-1], s[-1] = c[0], s[0]  # the seam column repeats the first one exactly
    r, z = prof[:, :1], prof[:, 1:]
    pts = np.stack([r * c, r * s, np.broadcast_to(z, (len(prof), cols + 1))], -1)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(prof, axis=0), axis=1))])
    u, v = np.meshgrid(np.arange(cols + 1) / cols, arc / arc[-1])
    faces = grid_mesh(pts, pole_first=True, pole_last=True)
    d = p["diameter"]
    uv = np.stack([u.ravel(), v.ravel()], -1)
    return RawMesh(pts.reshape(-1, 3), faces, uv, (d, d, p["height"]), tuple(parts(kind, p, prof)))
