"""No two objects sink into each other, or into the floor, deeper than stated, at any
frame of the shipped contact-heavy scenarios: checked with trimesh on the posed shapes
(the render meshes and finely tessellated primitives), not with MuJoCo's contacts.

MuJoCo's contacts are soft: an impact presses in for a few milliseconds, deeper the
faster it is, and an object at rest settles at a fraction of a millimetre. So the
bounds are two: IMPACT_DEPTH at any frame, and REST_DEPTH between two objects that are
both at rest (the metadata's ``at_rest``) or an object at rest on the floor.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
import yaml

from factory.physics.dynamics import simulate
from factory.sample.generate import scenario_of
from factory.sample.scenes import sample_scene
from factory.scene.config import parse_config
from factory.scene.types import quat_to_matrix
from factory.scene.unit_meshes import unit_mesh
from tests.helpers import TESTS

IMPACT_DEPTH = 0.025  # metres, at any frame (impacts at up to ~5 m/s; measured: up to 17 mm)
REST_DEPTH = 0.001  # metres, between objects at rest (measured: up to 0.13 mm)
SURFACE_SAMPLES = 300  # points on each surface besides its vertices


def _shape(o) -> list[trimesh.Trimesh]:
    """Watertight meshes (object frame) of an object's shape; an ``ell`` is two boxes."""
    d = np.asarray(o.dims, np.float64)
    c = trimesh.creation
    if o.shape == "sphere":
        return [c.icosphere(subdivisions=4, radius=d[0])]
    if o.shape == "box":
        return [c.box(extents=2 * d)]
    if o.shape == "cylinder":
        return [c.cylinder(radius=d[0], height=2 * d[2], sections=96)]
    if o.shape == "capsule":
        return [c.capsule(height=2 * (d[2] - d[0]), radius=d[0], count=[48, 48])]
    if o.shape == "ell":
        hx, hy, hz = d
        low = c.box(extents=[2 * hx, 2 * hy, hz])
        low.apply_translation([0, 0, -hz / 2])
        high = c.box(extents=[hx, 2 * hy, hz])
        high.apply_translation([-hx / 2, 0, hz / 2])
        return [low, high]
    m = unit_mesh(o.shape)
    return [trimesh.Trimesh(np.asarray(m.vertices) * d, m.faces, process=False)]


def _posed(parts: list, R: np.ndarray, p: np.ndarray) -> list[trimesh.Trimesh]:
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, p
    return [m.copy().apply_transform(T) for m in parts]


def _points(parts: list) -> np.ndarray:
    """Vertices and randomly sampled (area-weighted, seeded) surface points of the parts (world)."""
    pts = [m.vertices for m in parts]
    pts += [trimesh.sample.sample_surface(m, SURFACE_SAMPLES, seed=0)[0] for m in parts]
    return np.concatenate(pts)


def _depth(points: np.ndarray, parts: list) -> float:
    """How deep (m) the deepest of ``points`` lies inside the solid ``parts``."""
    deepest = 0.0
    for m in parts:
        lo, hi = m.bounds
        near = points[np.all((points > lo) & (points < hi), axis=1)]
        if len(near) == 0:
            continue
        inside = near[m.contains(near)]
        for chunk in np.array_split(inside, max(1, len(inside) // 64)) if len(inside) else []:
            # Distance to the nearest triangle, every point against every triangle.
            tri = np.repeat(m.triangles[None], len(chunk), 0).reshape(-1, 3, 3)
            pts = np.repeat(chunk, len(m.triangles), 0)
            closest = trimesh.triangles.closest_point(tri, pts)
            dist = np.linalg.norm(closest - pts, axis=1).reshape(len(chunk), -1).min(1)
            deepest = max(deepest, float(dist.max()))
    return deepest


def _frame_depths(scene, motion, t: int) -> tuple[float, float]:
    """The deepest overlap at frame t between any two shapes or a shape and the floor
    (m), and the deepest among pairs that are both at rest."""
    s = t * scene.substeps
    objs = scene.objects
    posed = [_posed(_shape(o), quat_to_matrix(motion.quats[s, k]), motion.positions[s, k]) for k, o in enumerate(objs)]
    points = [_points(p) for p in posed]
    a, b = max(s - scene.substeps, 0), min(s + scene.substeps, len(motion.times) - 1)
    resting = [
        o.static or np.linalg.norm(motion.positions[b, k] - motion.positions[a, k]) < 1e-3 for k, o in enumerate(objs)
    ]
    worst = worst_rest = 0.0
    for i in range(len(objs)):
        floor = max(0.0, -float(points[i][:, 2].min()))
        worst = max(worst, floor)
        if resting[i]:
            worst_rest = max(worst_rest, floor)
        for j in range(i + 1, len(objs)):
            if objs[i].static and objs[j].static:
                continue
            gap = np.linalg.norm(motion.positions[s, i] - motion.positions[s, j])
            if gap > objs[i].bounding_radius + objs[j].bounding_radius:
                continue
            depth = max(_depth(points[i], posed[j]), _depth(points[j], posed[i]))
            worst = max(worst, depth)
            if resting[i] and resting[j]:
                worst_rest = max(worst_rest, depth)
    return worst, worst_rest


# (config, scenario, whether its objects settle within 2 s: shelf_spill's still roll)
CASES = [
    ("edge_cases", "pile_up", True),
    ("edge_cases", "falling_stack", True),
    ("shapes", "pile", True),
    ("rooms", "shelf_spill", False),
]


@pytest.mark.parametrize("path,scenario,settles", CASES)
def test_no_shapes_sink_into_each_other_beyond_the_stated_depth(path, scenario, settles):
    # The shipped scenario over 2 s of frames, so that things also come to rest.
    data = yaml.safe_load((TESTS.parent / "configs" / f"{path}.yaml").read_text())
    data["render"]["frames"] = int(2 * data["render"]["fps"])
    config = parse_config(data)
    n = 400
    index = next(i for i in range(n) if scenario_of(config, i, n) == scenario)
    scene = sample_scene(config, scenario, index)
    motion = simulate(scene)
    depths = np.array([_frame_depths(scene, motion, t) for t in range(scene.frames)])
    print(scenario, np.round(depths * 1e3, 2).tolist())
    assert depths[:, 0].max() <= IMPACT_DEPTH
    assert depths[:, 1].max() <= REST_DEPTH
    if settles:  # resting contacts were measured (MuJoCo's contacts are soft: never exactly 0)
        assert (depths[:, 1] > 0).any()
