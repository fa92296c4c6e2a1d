"""Ray-shape intersections against independent signed distance functions.

For random rays: a reported hit lies on the surface (SDF ~ 0), nothing along the ray
before it is inside the shape, the normal is the SDF's gradient, and a reported miss
never passes through the shape.
"""

from __future__ import annotations

import numpy as np
import pytest

from factory.render.probe import intersect


def _sdf(shape: str, p: np.ndarray, dims) -> np.ndarray:
    """Signed distance (m), negative inside, for points p (..., 3) in the object frame."""
    if shape == "sphere":
        return np.linalg.norm(p, axis=-1) - dims[0]

    def box(q, h):
        d = np.abs(q) - h
        return np.linalg.norm(np.maximum(d, 0), axis=-1) + np.minimum(d.max(-1), 0)

    if shape == "box":
        return box(p, np.array(dims))
    if shape == "cylinder":
        r, hz = dims[0], dims[2]
        d = np.stack([np.hypot(p[..., 0], p[..., 1]) - r, np.abs(p[..., 2]) - hz], -1)
        return np.linalg.norm(np.maximum(d, 0), axis=-1) + np.minimum(d.max(-1), 0)
    if shape == "capsule":
        r, hz = dims[0], dims[2]
        q = p.copy()
        q[..., 2] -= np.clip(p[..., 2], -(hz - r), hz - r)
        return np.linalg.norm(q, axis=-1) - r
    hx, hy, hz = dims  # ell: union of two boxes
    a = box(p - [0, 0, -hz / 2], np.array([hx, hy, hz / 2]))
    b = box(p - [-hx / 2, 0, hz / 2], np.array([hx / 2, hy, hz / 2]))
    return np.minimum(a, b)


DIMS = {"sphere": (0.5, 0.5, 0.5), "box": (0.6, 0.3, 0.4), "cylinder": (0.4, 0.4, 0.7),
        "capsule": (0.3, 0.3, 0.8), "ell": (0.6, 0.35, 0.5)}


@pytest.mark.parametrize("shape", sorted(DIMS))
def test_intersections_agree_with_signed_distance(shape):
    dims = DIMS[shape]
    rng = np.random.default_rng(0)
    n = 4000
    origins = rng.normal(size=(n, 3))
    origins = 3.0 * origins / np.linalg.norm(origins, axis=1, keepdims=True)
    targets = rng.uniform(-0.8, 0.8, size=(n, 3))
    d = (targets - origins).astype(np.float32)
    o = origins.astype(np.float32)
    t, normal = intersect(shape, o, d, dims, 1e-4)
    hit = np.isfinite(t)
    assert 0.2 < hit.mean() < 0.95  # both hits and misses are exercised
    p = origins[hit] + t[hit, None] * d[hit]
    assert np.abs(_sdf(shape, p, dims)).max() < 2e-4
    # Nothing before the hit (or anywhere along a miss) is inside the shape.
    for frac in np.linspace(0.0, 0.999, 60):
        before = origins[hit] + (frac * t[hit])[:, None] * d[hit]
        assert (_sdf(shape, before, dims) > -1e-4).all()
        along = origins[~hit] + (frac * 2.0) * d[~hit]
        assert (_sdf(shape, along, dims) > -1e-4).all()
    # Normals: unit, outward, along the SDF gradient (away from edges, where it is ill-defined).
    n_hit = normal[hit]
    assert np.allclose(np.linalg.norm(n_hit, axis=1), 1.0, atol=1e-4)
    eps = 1e-4
    grad = np.stack([(_sdf(shape, p + eps * e, dims) - _sdf(shape, p - eps * e, dims)) / (2 * eps)
                     for e in np.eye(3)], 1)
    smooth = np.abs(np.linalg.norm(grad, axis=1) - 1.0) < 1e-2
    agree = np.einsum("ij,ij->i", grad[smooth], n_hit[smooth]) > 0.99
    assert agree.mean() > 0.98
