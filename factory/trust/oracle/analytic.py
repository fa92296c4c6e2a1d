"""Closed-form ray intersections of the analytic kinds, in float64 NumPy, from their
definitions in docs/format.md and :mod:`factory.scene.shapes` (not from the renderer).

Every function takes rays in the object frame, origins ``o`` (M, 3) and directions
``d`` (M, 3) float64 (any length), and the object's ``dims`` (3,) metres, and returns
``t`` (M,) the nearest ray parameter above :data:`T_MIN` (inf: no hit) and ``n``
(M, 3) the outward unit normal there (object frame).
"""

from __future__ import annotations

import numpy as np

T_MIN = 1e-4  # hits nearer than this (units of d) are the surface the ray starts on


def _nearest(*ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smallest of the candidate arrays above T_MIN (inf if none) and which one."""
    stack = np.stack([np.where(np.isfinite(t) & (t > T_MIN), t, np.inf) for t in ts])
    which = np.argmin(stack, 0)
    return np.take_along_axis(stack, which[None], 0)[0], which


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)


def _sphere_roots(o: np.ndarray, d: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Both roots (M,) of |o + t d| = r (nan where the ray misses)."""
    a = np.einsum("ij,ij->i", d, d)
    b = np.einsum("ij,ij->i", o, d)
    f = o - (b / a)[:, None] * d  # the centre's offset from the ray line: no cancellation
    disc = a * (r * r - np.einsum("ij,ij->i", f, f))
    s = np.sqrt(np.where(disc >= 0, disc, np.nan))
    return (-b - s) / a, (-b + s) / a


def sphere(o, d, dims):
    t, _ = _nearest(*_sphere_roots(o, d, dims[0]))
    return t, _unit(o + np.nan_to_num(t, posinf=0.0)[:, None] * d)


def box(o, d, h):
    """The box [-h, h] (slab test; entry face, or exit face from inside)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-np.asarray(h) - o) / d
        t2 = (np.asarray(h) - o) / d
    lo, hi = np.fmin(t1, t2), np.fmax(t1, t2)
    lo = np.where(np.isnan(lo), -np.inf, lo)  # a ray parallel to a slab it lies in
    hi = np.where(np.isnan(hi), np.inf, hi)
    near, far = lo.max(1), hi.min(1)
    hit = (near <= far) & (far > T_MIN)
    inside = near <= T_MIN
    t = np.where(hit, np.where(inside, far, near), np.inf)
    axis = np.where(inside, hi.argmin(1), lo.argmax(1))
    rows = np.arange(len(o))
    sign = np.where(inside, 1.0, -1.0) * np.sign(d[rows, axis])
    n = np.zeros_like(o)
    n[rows, axis] = np.where(sign == 0, 1.0, sign)
    return t, n


def _side(o, d, r, half):
    """Hits (two candidates) of the side of the tube of radius r about z, |z| <= half."""
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = o[:, 0] * d[:, 0] + o[:, 1] * d[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        fx, fy = o[:, 0] - b / a * d[:, 0], o[:, 1] - b / a * d[:, 1]
        disc = a * (r * r - (fx * fx + fy * fy))
        s = np.sqrt(np.where(disc >= 0, disc, np.nan))
        roots = [(-b - s) / a, (-b + s) / a]
    return [np.where(np.abs(o[:, 2] + t * d[:, 2]) <= half, t, np.nan) for t in roots]


def cylinder(o, d, dims):
    """Radius dims[0] about z, |z| <= dims[2], with flat caps."""
    r, hz = dims[0], dims[2]
    caps = []
    for zc in (hz, -hz):
        with np.errstate(divide="ignore", invalid="ignore"):
            tc = (zc - o[:, 2]) / d[:, 2]
        x, y = o[:, 0] + tc * d[:, 0], o[:, 1] + tc * d[:, 1]
        caps.append(np.where(x * x + y * y <= r * r, tc, np.nan))
    t, which = _nearest(*_side(o, d, r, hz), *caps)
    p = o + np.nan_to_num(t, posinf=0.0)[:, None] * d
    n = _unit(p * np.array([1.0, 1.0, 0.0]))
    n[which == 2] = (0.0, 0.0, 1.0)
    n[which == 3] = (0.0, 0.0, -1.0)
    return t, n


def capsule(o, d, dims):
    """A segment |z| <= dims[2] - r swept by a ball of radius r = dims[0]."""
    r, hh = dims[0], dims[2] - dims[0]
    ends = [root for zc in (hh, -hh) for root in _sphere_roots(o - np.array([0.0, 0.0, zc]), d, r)]
    t, _ = _nearest(*_side(o, d, r, hh), *ends)
    p = o + np.nan_to_num(t, posinf=0.0)[:, None] * d
    return t, _unit(p - np.stack([np.zeros(len(p)), np.zeros(len(p)), np.clip(p[:, 2], -hh, hh)], 1))


def ell(o, d, dims):
    """The L of the format: [-hx, hx] x [-hy, hy] x [-hz, 0] and [-hx, 0] x [-hy, hy] x [0, hz]."""
    dims = np.asarray(dims, np.float64)
    low = box(o - np.array([0.0, 0.0, -0.5]) * dims, d, np.array([1.0, 1.0, 0.5]) * dims)
    high = box(o - np.array([-0.5, 0.0, 0.5]) * dims, d, np.array([0.5, 1.0, 0.5]) * dims)
    first = low[0] <= high[0]
    return np.where(first, low[0], high[0]), np.where(first[:, None], low[1], high[1])


def box_kind(o, d, dims):
    return box(o, d, dims)


ANALYTIC = {"sphere": sphere, "box": box_kind, "cylinder": cylinder, "capsule": capsule, "ell": ell}
"""Each analytic kind's intersection, by shape name."""
