"""Building blocks of collision pieces (``RawMesh.parts``): each a vertex set (P, 3)
float64 whose convex hull is one piece MuJoCo collides.

A family makes its pieces from its own structure rather than a run-time convex
decomposition: boxes for furniture and letters, prisms of convex outline pieces for
stars and gears, sectors and bands of a revolved profile for cups, bowls, bottles and
vases (:func:`revolved`).
"""

from __future__ import annotations

import numpy as np


def box(lo, hi) -> np.ndarray:
    """The 8 corners (8, 3) float64 of the axis-aligned box [lo, hi] (each (3,), m)."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    corner = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], np.float64)
    return lo + corner * (hi - lo)


def prism(outline: np.ndarray, z0: float, z1: float) -> np.ndarray:
    """The points (2N, 3) of a convex outline (N, 2) at heights z0 and z1 (a prism)."""
    n = len(outline)
    return np.concatenate([np.concatenate([outline, np.full((n, 1), z)], -1) for z in (z0, z1)])


def clip_z(poly: np.ndarray, za: float, zb: float) -> np.ndarray:
    """The points (K, 2) of a polyline ``poly`` (N, 2) of (r, z) that lie in the band
    za <= z <= zb, with the points where its segments cross za or zb: what the band
    cuts out of the polyline (its hull is the band's piece of the polyline's hull)."""
    out = [q for q in poly if za <= q[1] <= zb]
    for a, b in zip(poly[:-1], poly[1:], strict=True):
        for z in (za, zb):
            if (a[1] - z) * (b[1] - z) < 0:  # strictly across: the end points are in already
                t = (z - a[1]) / (b[1] - a[1])
                out.append(a + t * (b - a))
    return np.array(out, np.float64).reshape(-1, 2)


def revolved(rz: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Points (K * A, 3) of profile points ``rz`` (K, 2) of (r, z) turned to each of
    ``angles`` (A,) radians about z: a revolved mesh's vertices there, so the hull's
    outer faces are the mesh's own (its n-gon sections)."""
    r, z = rz[:, :1], rz[:, 1:]
    c, s = np.cos(angles)[None, :], np.sin(angles)[None, :]
    pts = np.stack([r * c, r * s, np.broadcast_to(z, (len(rz), len(angles)))], -1)
    return pts.reshape(-1, 3)


def sectors(cols: int, count: int) -> list[np.ndarray]:
    """The column angles of ``count`` sectors of a revolved grid of ``cols`` columns
    (angle 2 pi c / cols): each sector's columns, both ends included, as radians."""
    bounds = np.round(np.arange(count + 1) * cols / count).astype(int)
    return [2 * np.pi * np.arange(a, b + 1) / cols for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def column_angles(cols: int) -> np.ndarray:
    """Every column's angle (cols,) radians, 2 pi c / cols."""
    return 2 * np.pi * np.arange(cols) / cols


def _overfill(rz: np.ndarray) -> float:
    """How far (m) the hull of a solid's profile rows ``rz`` (K, 2) of (r, z), z rising,
    revolved, stands out of them: the largest gap between the upper hull of the
    points (r as a function of z) and the polyline through them."""
    hull: list[int] = []
    for k in range(len(rz)):  # monotone chain: keep the upper (outer) hull in (z, r)
        while len(hull) >= 2:
            (r1, z1), (r2, z2), (r3, z3) = rz[hull[-2]], rz[hull[-1]], rz[k]
            if (z2 - z1) * (r3 - r1) - (r2 - r1) * (z3 - z1) >= 0:  # hull[-1] is under the chord
                hull.pop()
            else:
                break
        hull.append(k)
    top = np.interp(rz[:, 1], rz[hull, 1], rz[hull, 0])
    return float((top - rz[:, 0]).max())


def concave_bands(rz: np.ndarray, tol: float, most: int) -> list[tuple[int, int]]:
    """Row ranges [i, j] (both ends included, consecutive ones sharing a row) that cut a
    solid's profile rows ``rz`` (K, 2) of (r, z), z rising, into bands whose revolved
    hulls overfill the solid by at most ``tol`` m (exact where the profile is concave):
    greedy, longest band first; ``tol`` grows by half until there are at most ``most``."""
    while True:
        bands, i = [], 0
        while i < len(rz) - 1:
            j = i + 1
            while j + 1 < len(rz) and _overfill(rz[i : j + 2]) <= tol:
                j += 1
            bands.append((i, j))
            i = j
        if len(bands) <= most:
            return bands
        tol *= 1.5
