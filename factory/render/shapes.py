"""Exact ray-shape intersections in an object's own frame.

Every function takes rays ``o + t d`` with ``o`` (M, 3) or (1, 3) and ``d`` (M, 3)
(``d`` need not be unit length: ``t`` is in units of ``d``), and returns ``t`` (M,) —
the nearest hit with ``t > t_min``, ``inf`` where the ray misses — and the outward unit
normal ``n`` (M, 3) at that hit, in the object frame. Shapes are centred on the
origin with the half-extents documented in :class:`factory.scene.types.SceneObject`:
``dims`` is a (3,) sequence for all rays or an (M, 3) array, one row per ray (a batch
of rays against many objects of one shape in one call).

Written against the array-API namespace ``xp`` (see :mod:`factory.render.backend`)
with no per-ray Python loops.
"""

from __future__ import annotations

import numpy as np

from factory.render.vec import dot

_TINY = 1e-12


def _nearest(candidates, t_min, xp):
    """Per ray, the smallest candidate t > t_min and its column (inf / 0 if none)."""
    c = xp.stack(candidates, axis=-1)
    c = xp.where(c > t_min, c, xp.inf)
    which = xp.argmin(c, axis=-1)
    t = xp.min(c, axis=-1)
    return t, which


def _unit(v, xp):
    """``v`` (M, 3) scaled to unit length. Curved normals are renormalised because the
    hit point carries float32 error: for a 1 cm sphere 8 m away, ``b*b - a*c``
    cancels and ``p / r`` came out 1% short of unit length."""
    return v / xp.maximum(xp.sqrt(dot(v, v, xp)), _TINY)[:, None]


def _dims(dims, d, xp):
    """``dims`` as a (1, 3) or (M, 3) array of ``d``'s dtype and device."""
    h = xp.asarray(dims, dtype=d.dtype)
    return h[None, :] if h.ndim == 1 else h


def sphere(o, d, dims, t_min, xp=np):
    r = _dims(dims, d, xp)[:, 0]
    a = dot(d, d, xp)
    b = dot(o, d, xp)
    # b*b - a*c cancels catastrophically in float32 for a small sphere far away (a 1 cm
    # sphere 8 m off lost its normals' direction by degrees); a * (r^2 - |f|^2), with f
    # the centre's offset from the ray line, is the same number without the cancellation.
    f = o - (b / a)[:, None] * d
    disc = a * (r * r - dot(f, f, xp))
    s = xp.sqrt(xp.maximum(disc, 0.0))
    miss = disc < 0
    t0 = xp.where(miss, xp.inf, (-b - s) / a)
    t1 = xp.where(miss, xp.inf, (-b + s) / a)
    t, _ = _nearest([t0, t1], t_min, xp)
    p = o + xp.where(xp.isfinite(t), t, 0.0)[:, None] * d
    return t, _unit(p, xp)


def box(o, d, dims, t_min, xp=np, center=None):
    h = _dims(dims, d, xp)
    oc = o if center is None else o - center
    safe = xp.where(xp.abs(d) < _TINY, _TINY, d)
    inv = 1.0 / safe
    t1 = (-h - oc) * inv
    t2 = (h - oc) * inv
    lo = xp.minimum(t1, t2)
    hi = xp.maximum(t1, t2)
    t_near = xp.max(lo, axis=-1)
    t_far = xp.min(hi, axis=-1)
    hit = (t_near <= t_far) & (t_far > t_min)
    entering = t_near > t_min
    t = xp.where(hit, xp.where(entering, t_near, t_far), xp.inf)
    # Normal: the face of the slab that bounds t (entry face, or exit face from inside).
    axis_in = xp.argmax(lo, axis=-1)
    axis_out = xp.argmin(hi, axis=-1)
    axis = xp.where(entering, axis_in, axis_out)
    sign = xp.where(entering, -1.0, 1.0)[:, None] * xp.sign(safe)
    onehot = xp.astype(xp.arange(3)[None, :] == axis[:, None], d.dtype)
    return t, onehot * sign


def _tube(o, d, r, half_length, xp):
    """The two hits (each (M,), inf on a miss) of rays with the side of a tube of
    radius ``r`` around the z axis, kept where |z| <= half_length."""
    ox, oy, oz = o[..., 0], o[..., 1], o[..., 2]
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    a = dx * dx + dy * dy
    b = ox * dx + oy * dy
    a_safe = xp.maximum(a, _TINY)
    fx, fy = ox - b / a_safe * dx, oy - b / a_safe * dy  # as in sphere(): no cancellation
    disc = a * (r * r - (fx * fx + fy * fy))
    s = xp.sqrt(xp.maximum(disc, 0.0))
    ok = (disc >= 0) & (a > _TINY)
    roots = []
    for root in ((-b - s) / a_safe, (-b + s) / a_safe):
        roots.append(xp.where(ok & (xp.abs(oz + root * dz) <= half_length), root, xp.inf))
    return roots


def cylinder(o, d, dims, t_min, xp=np):
    h = _dims(dims, d, xp)
    r, hz = h[:, 0], h[:, 2]
    caps = []
    dz_safe = xp.where(xp.abs(d[:, 2]) < _TINY, _TINY, d[:, 2])
    for zc in (hz, -hz):
        tc = (zc - o[..., 2]) / dz_safe
        x, y = o[..., 0] + tc * d[:, 0], o[..., 1] + tc * d[:, 1]
        caps.append(xp.where(x * x + y * y <= r * r, tc, xp.inf))
    t, which = _nearest(_tube(o, d, r, hz, xp) + caps, t_min, xp)
    p = o + xp.where(xp.isfinite(t), t, 0.0)[:, None] * d
    zero = xp.zeros_like(t)
    n_side = _unit(xp.stack([p[:, 0], p[:, 1], zero], axis=-1), xp)
    n_cap = xp.stack([zero, zero, xp.astype(xp.where(which == 2, 1.0, -1.0), d.dtype)], axis=-1)
    return t, xp.where((which >= 2)[:, None], n_cap, n_side)


def capsule(o, d, dims, t_min, xp=np):
    h = _dims(dims, d, xp)
    r, hz = h[:, 0], h[:, 2]
    hh = hz - r  # half-length of the core segment
    ends = []
    zero = xp.zeros_like(hh)
    for zc in (hh, -hh):
        cz = xp.stack([zero, zero, zc], axis=-1)
        ends.append(sphere(o - cz, d, xp.stack([r, r, r], axis=-1), t_min, xp)[0])
    t, which = _nearest(_tube(o, d, r, hh, xp) + ends, t_min, xp)
    p = o + xp.where(xp.isfinite(t), t, 0.0)[:, None] * d
    centre_z = xp.where(which == 2, hh, xp.where(which == 3, -hh, xp.clip(p[:, 2], -hh, hh)))
    return t, _unit(xp.stack([p[:, 0], p[:, 1], p[:, 2] - centre_z], axis=-1), xp)


def ell(o, d, dims, t_min, xp=np):
    h = _dims(dims, d, xp)
    hx, hy, hz = h[:, 0], h[:, 1], h[:, 2]
    zero = xp.zeros_like(hx)
    ta, na = box(o, d, xp.stack([hx, hy, hz / 2], axis=-1), t_min, xp,
                 center=xp.stack([zero, zero, -hz / 2], axis=-1))
    tb, nb = box(o, d, xp.stack([hx / 2, hy, hz / 2], axis=-1), t_min, xp,
                 center=xp.stack([-hx / 2, zero, hz / 2], axis=-1))
    first = ta <= tb
    return xp.where(first, ta, tb), xp.where(first[:, None], na, nb)


INTERSECT = {"sphere": sphere, "box": box, "cylinder": cylinder, "capsule": capsule, "ell": ell}
SHAPE_CODES = tuple(INTERSECT)  # shape name <-> small integer, for per-object tables


def intersect(shape: str, o, d, dims, t_min=0.0, xp=np):
    """Nearest hit of rays with ``shape`` (object frame): ``(t (M,), n (M, 3))``."""
    return INTERSECT[shape](o, d, dims, t_min, xp)
