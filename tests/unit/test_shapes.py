"""Shape kinds against independent geometry: signed distance functions written here.

Intersections: for random rays, a reported hit lies on the surface (SDF ~ 0), nothing
along the ray before it is inside the shape, the normal is the SDF's gradient, and a
reported miss never passes through the shape.

The registry (:mod:`factory.scene.shapes`): it is the one source the config, physics
and renderer read, and each analytic kind's bounding radius, support depth, top height
and volume agree with points sampled from its SDF.
"""

from __future__ import annotations

import numpy as np
import pytest

from factory.physics.model import build
from factory.render import geometry
from factory.render.probe import intersect
from factory.render.scene_tables import scene_tables
from factory.sample.scenes import sample_scene
from factory.scene.assets import MESH_KINDS, mesh_asset
from factory.scene.config import ObjectSpec, parse_config
from factory.scene.placement import LIE
from factory.scene.shapes import ANALYTIC, CLASSES, KINDS, MESH_CODE, MESHES
from factory.scene.types import quat_to_matrix


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


DIMS = {
    "sphere": (0.5, 0.5, 0.5),
    "box": (0.6, 0.3, 0.4),
    "cylinder": (0.4, 0.4, 0.7),
    "capsule": (0.3, 0.3, 0.8),
    "ell": (0.6, 0.35, 0.5),
}


@pytest.mark.parametrize("shape", ANALYTIC)
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
    grad = np.stack(
        [(_sdf(shape, p + eps * e, dims) - _sdf(shape, p - eps * e, dims)) / (2 * eps) for e in np.eye(3)], 1
    )
    smooth = np.abs(np.linalg.norm(grad, axis=1) - 1.0) < 1e-2
    agree = np.einsum("ij,ij->i", grad[smooth], n_hit[smooth]) > 0.99
    assert agree.mean() > 0.98


def test_every_analytic_kind_has_a_signed_distance_here():
    """A new analytic kind needs its own independent SDF above (and so is checked)."""
    assert set(DIMS) == set(ANALYTIC)


def test_the_registry_is_the_one_source():
    # Class ids are part of every dataset: the table only grows at its end.
    assert CLASSES[:14] == (
        "background",
        "floor",
        "wall",
        "sphere",
        "box",
        "cylinder",
        "capsule",
        "ell",
        "furniture",
        "torus",
        "rock",
        "cone",
        "tube",
        "icosahedron",
    )
    assert set(CLASSES) - set(KINDS) == {"background", "floor", "wall", "furniture"}
    assert all(k.semantic in CLASSES for k in KINDS.values())
    assert MESHES == MESH_KINDS and ANALYTIC + MESHES == tuple(KINDS)
    assert all(KINDS[m].is_mesh and KINDS[m].code == MESH_CODE for m in MESHES)
    # The config allows exactly the registry's kinds and mixes the analytic ones by default.
    default = ObjectSpec().shape
    assert default.values() == ANALYTIC
    for name in KINDS:
        parse_config({"scenarios": {"s": {"objects": {"shape": name}}}})
    with pytest.raises(Exception, match=", ".join(KINDS)):
        parse_config({"scenarios": {"s": {"objects": {"shape": "blob"}}}})
    # The kernel's named codes are the registry's, one per analytic kind, apart from MESH.
    named = {name: getattr(geometry, name.upper()) for name in ANALYTIC}
    assert named == {name: KINDS[name].code for name in ANALYTIC}
    assert len(set(named.values()) | {geometry.MESH}) == len(ANALYTIC) + 1 and geometry.MESH == MESH_CODE
    # The ell's two boxes: the kernel's constants are the registry's parts.
    low, high = KINDS["ell"].parts
    assert [
        tuple(geometry.ELL_LOW_CENTRE),
        tuple(geometry.ELL_LOW_HALF),
        tuple(geometry.ELL_HIGH_CENTRE),
        tuple(geometry.ELL_HIGH_HALF),
    ] == [low.centre, low.half, high.centre, high.half]


def _one(shape: str, **objects):
    config = parse_config(
        {
            "seed": 2,
            "render": {"width": 16, "height": 16, "frames": 2},
            "scenarios": {
                "s": {
                    "objects": {"count": 1, "shape": shape, "size": 0.3, "aspect": 1.5, "spawn_radius": 0.0, **objects}
                }
            },
        }
    )
    return sample_scene(config, "s", 0)


@pytest.mark.parametrize("shape", list(KINDS))
def test_physics_and_render_tables_take_each_kind_from_the_registry(shape):
    scene = _one(shape)
    o = scene.objects[0]
    kind = KINDS[shape]
    built = build(scene)
    m = built.model
    geoms = [g for g in range(m.ngeom) if built.geom_owner[g] == o.id]
    if not kind.is_mesh:  # MuJoCo's mass of its parts (primitives it measures itself) is the registry's
        assert len(geoms) == len(kind.parts)
        assert m.body_mass[built.body_of[0]] == pytest.approx(o.mass, rel=1e-9)
    tables = scene_tables(scene)
    assert tables.shape[0] == kind.code and tables.convex[0] == kind.convex
    assert (tables.meshes[0] is not None) == kind.is_mesh
    assert tables.surfaces[3].semantic == CLASSES.index(kind.semantic)  # its surface row, after sky, floor, wall


def _surface_points(shape: str, dims, n: int = 201) -> np.ndarray:
    """Points (P, 3) on the surface of an analytic shape, from its SDF alone: a grid on
    its bounding box's faces moved straight towards the centre until it meets the
    shape (every analytic kind is star-shaped about its centre)."""
    h = np.asarray(dims, np.float64)
    u = np.linspace(-1.0, 1.0, n)
    a, b = (g.ravel() for g in np.meshgrid(u, u))
    faces = []
    for axis in range(3):
        for side in (-1.0, 1.0):
            q = np.empty((len(a), 3))
            q[:, axis] = side
            q[:, [i for i in range(3) if i != axis]] = np.stack([a, b], 1)
            faces.append(q * h)
    q = np.concatenate(faces)
    lo, hi = np.zeros(len(q)), np.ones(len(q))  # q * lo inside, q * hi outside or on it
    on = _sdf(shape, q, dims) <= 1e-12
    lo[on] = 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        inside = _sdf(shape, q * mid[:, None], dims) <= 0
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    return q * lo[:, None]


ROTATIONS = [np.eye(3), LIE] + [
    quat_to_matrix(q / np.linalg.norm(q)) for q in np.random.default_rng(5).normal(size=(4, 4))
]


@pytest.mark.parametrize("shape", ANALYTIC)
def test_analytic_facts_agree_with_sampled_geometry(shape):
    dims = DIMS[shape]
    kind = KINDS[shape]
    tol = 0.01 * max(dims)
    p = _surface_points(shape, dims)
    assert kind.bounding_radius(dims) == pytest.approx(np.linalg.norm(p, axis=1).max(), abs=tol)
    assert np.all(np.abs(p) <= np.asarray(kind.half_extents(dims)) + 1e-9)
    for k, R in enumerate(ROTATIONS):
        z = p @ R.T[:, 2]
        depth, top = kind.support_depth(dims, R), kind.top_height(dims, R)
        if kind.convex or k == 0:
            assert (depth, top) == pytest.approx((-z.min(), z.max()), abs=tol)
        else:  # the ell's are its bounding box's: never less than the shape's own
            assert depth >= -z.min() - tol and top >= z.max() - tol
    # Volume: the share of uniform points in the bounding box that the SDF puts inside.
    h = np.asarray(dims)
    x = np.random.default_rng(1).uniform(-h, h, size=(1_000_000, 3))
    inside = (_sdf(shape, x, dims) <= 0).mean()
    assert kind.volume(dims) == pytest.approx(inside * 8 * np.prod(h), rel=0.01)


@pytest.mark.parametrize("shape", MESH_KINDS)
def test_mesh_facts_come_from_the_asset(shape):
    dims = (0.3, 0.2, 0.4)
    kind = KINDS[shape]
    asset = mesh_asset(shape)
    v = asset.vertices.astype(np.float64) * dims
    tri = v[asset.faces]
    signed = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0  # divergence theorem
    assert kind.volume(dims) == pytest.approx(signed, rel=1e-6)
    assert kind.bounding_radius(dims) == pytest.approx(np.linalg.norm(v, axis=1).max())
    assert kind.support_depth(dims, LIE) == pytest.approx(-(v @ LIE.T)[:, 2].min())
