"""Ground truth checked against independent geometry, not against the renderer.

Each test recomputes what a layer must hold from the metadata alone (camera K, the
world-to-camera matrices, object poses and sizes) with float64 NumPy, and compares.
"""

from __future__ import annotations

import numpy as np
import pytest

from factory.sample.generate import generate_sample
from factory.scene.config import parse_config


def _config(objects: dict, camera: dict | None = None, **render) -> object:
    r = {"width": 96, "height": 72, "frames": 4, "fps": 12, "substeps": 4}
    r.update(render)
    return parse_config(
        {
            "seed": 3,
            "render": r,
            "output": {"mp4": False},
            "scenarios": {"s": {"objects": objects, "camera": camera or {}}},
        }
    )


def _ray(meta: dict, t: int, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """World origin and direction (camera z = 1) of the ray through pixel (i, j)."""
    K = np.array(meta["camera"]["K"])
    M = np.array(meta["camera"]["world_to_camera"][t])
    d_cam = np.linalg.solve(K, [j + 0.5, i + 0.5, 1.0])
    return -M[:3, :3].T @ M[:3, 3], M[:3, :3].T @ d_cam


def _project(meta: dict, t: int, X: np.ndarray) -> np.ndarray:
    K = np.array(meta["camera"]["K"])
    M = np.array(meta["camera"]["world_to_camera"][t])
    c = X @ M[:3, :3].T + M[:3, 3]
    return np.stack([K[0, 0] * c[:, 0] / c[:, 2] + K[0, 2], K[1, 1] * c[:, 1] / c[:, 2] + K[1, 2]], 1)


@pytest.fixture(scope="module")
def sphere_sample():
    cfg = _config(
        {"count": 1, "shape": "sphere", "size": 0.4, "spawn_radius": 0.0, "drop_height": 0.0, "speed": 0.0},
        {"distance": 3.0, "elevation_deg": 20.0, "target_height": 0.4},
    )
    return generate_sample(cfg, 0)


def test_depth_through_sphere_centre_is_analytic(sphere_sample):
    meta, f = sphere_sample.meta, sphere_sample.frames
    obj = meta["objects"][0]
    c = np.array(obj["position"][0])
    r = obj["dims"][0]
    u, v = _project(meta, 0, c[None])[0]
    i, j = int(v), int(u)
    o, d = _ray(meta, 0, i, j)
    # Ray-sphere by hand, float64: |o + t d - c| = r, nearest root.
    oc = o - c
    a, b, cc = d @ d, oc @ d, oc @ oc - r * r
    t_hit = (-b - np.sqrt(b * b - a * cc)) / a
    assert f.instance[0, i, j] == obj["id"]
    assert f.depth[0, i, j] == pytest.approx(t_hit, rel=1e-4)
    # And the centre pixel sits about one radius in front of the centre's depth.
    M = np.array(meta["camera"]["world_to_camera"][0])
    z_c = (M[:3, :3] @ c + M[:3, 3])[2]
    assert z_c - r - 0.02 < f.depth[0, i, j] < z_c - r + 0.02


def test_floor_depth_matches_plane(sphere_sample):
    meta, f = sphere_sample.meta, sphere_sample.frames
    floor = np.argwhere(f.semantic[0] == meta["classes"].index("floor"))
    assert len(floor) > 500
    for i, j in floor[:: max(1, len(floor) // 300)]:
        o, d = _ray(meta, 0, i, j)
        expected = -o[2] / d[2]  # the ray meets z = 0 here
        assert f.depth[0, i, j] == pytest.approx(expected, rel=1e-4)
    sky = f.semantic[0] == 0
    assert (f.depth[0][sky] == 0).all()


@pytest.fixture(scope="module")
def box_clip():
    cfg = _config(
        {
            "count": 6,
            "shape": "box",
            "size": {"dist": "uniform", "low": 0.15, "high": 0.3},
            "aspect": {"dist": "uniform", "low": 0.5, "high": 2.0},
            "spawn_radius": 1.2,
            "speed": 1.0,
            "spin": 2.0,
        },
        {"distance": 4.0, "trajectory": "orbit"},
        frames=6,
    )
    return generate_sample(cfg, 1)


def test_box_corners_project_to_amodal_box(box_clip):
    meta = box_clip.meta
    W, H = meta["width"], meta["height"]
    checked = 0
    for obj in meta["objects"]:
        for t in range(meta["frames"]):
            R = np.array(obj["rotation"][t])
            p = np.array(obj["position"][t])
            hx, hy, hz = obj["dims"]
            corners = np.array([[sx * hx, sy * hy, sz * hz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
            uv = _project(meta, t, corners @ R.T + p)
            lo, hi = uv.min(0), uv.max(0)
            box = obj["bbox_amodal"][t]
            if lo[0] < 1 or lo[1] < 1 or hi[0] > W - 1 or hi[1] > H - 1:
                continue  # cut by the image border: the pixel box is clipped
            assert box is not None
            # A convex box's silhouette is the hull of its projected corners: the
            # pixel-centre box lies within one pixel of the continuous one.
            assert np.allclose(box[:2], lo, atol=1.0) and np.allclose(box[2:], hi, atol=1.0), (box, lo, hi)
            checked += 1
    assert checked >= 10


def test_visible_box_inside_amodal_and_matches_segmentation(box_clip):
    meta, f = box_clip.meta, box_clip.frames
    seen = 0
    for obj in meta["objects"]:
        for t in range(meta["frames"]):
            ys, xs = np.nonzero(f.instance[t] == obj["id"])
            vis, am = obj["bbox_visible"][t], obj["bbox_amodal"][t]
            assert len(ys) == obj["visible_pixels"][t]
            if len(ys) == 0:
                assert vis is None
                continue
            assert vis == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            assert am[0] <= vis[0] and am[1] <= vis[1] and vis[2] <= am[2] and vis[3] <= am[3]
            assert 0 < obj["visible_fraction"][t] <= 1
            seen += 1
    assert seen >= 10


@pytest.mark.parametrize("index", [0, 1, 2])
def test_flow_lands_on_same_instance(index):
    cfg = _config(
        {
            "count": 6,
            "size": {"dist": "uniform", "low": 0.15, "high": 0.35},
            "speed": 1.5,
            "spin": 3.0,
            "spawn_radius": 1.0,
        },
        {"trajectory": {"dist": "choice", "values": ["orbit", "dolly", "handheld"]}, "distance": 3.5},
        frames=6,
    )
    f = generate_sample(cfg, index).frames
    T, H, W = f.instance.shape
    total = same = 0
    for t in range(T - 1):
        ii, jj = np.nonzero(f.flow_valid[t])
        u = jj + 0.5 + f.flow[t, ii, jj, 0]
        v = ii + 0.5 + f.flow[t, ii, jj, 1]
        qi = np.clip(np.floor(v).astype(int), 0, H - 1)
        qj = np.clip(np.floor(u).astype(int), 0, W - 1)
        same += int((f.instance[t + 1, qi, qj] == f.instance[t, ii, jj]).sum())
        total += len(ii)
    assert total > 0.5 * (T - 1) * H * W  # most pixels see a surface and stay visible
    assert same / total >= 0.99
    assert not f.flow_valid[-1].any()
    # Objects really move: some valid flow is non-zero.
    assert np.abs(f.flow[f.flow_valid]).max() > 0.5


def test_normals_unit_and_facing_camera(box_clip):
    meta, f = box_clip.meta, box_clip.frames
    K = np.array(meta["camera"]["K"])
    surface = f.depth > 0
    n = f.normals[surface]
    assert np.allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-4)
    assert (f.normals[~surface] == 0).all()
    # Camera-frame ray through each pixel centre; a visible surface faces against it.
    T, H, W = f.depth.shape
    jj, ii = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    rays = np.stack([(jj - K[0, 2]) / K[0, 0], (ii - K[1, 2]) / K[1, 1], np.ones_like(jj)], -1)
    dots = np.einsum("thwc,hwc->thw", f.normals, rays)
    assert (dots[surface] < 1e-6).all()


def test_segmentation_ids_match_metadata(box_clip):
    meta, f = box_clip.meta, box_clip.frames
    ids = {o["id"] for o in meta["objects"]}
    present = set(np.unique(f.instance).tolist()) - {0}
    assert present and present <= ids
    for obj in meta["objects"]:
        cls = obj["class_id"]
        m = f.instance == obj["id"]
        assert (f.semantic[m] == cls).all()


PENETRATION = 1e-2  # metres: the most a contact may press in, at any frame (a 5 m/s impact: 7 mm)


def test_spheres_come_to_rest_without_interpenetrating():
    cfg = _config(
        {
            "count": 12,
            "shape": "sphere",
            "size": {"dist": "uniform", "low": 0.1, "high": 0.2},
            "spawn_radius": 0.4,
            "drop_height": {"dist": "uniform", "low": 0.0, "high": 0.8},
            "restitution": 0.3,
        },
        frames=30,
        fps=10,
        substeps=10,
        width=16,
        height=16,
    )
    s = generate_sample(cfg, 0)
    objs = s.meta["objects"]
    for t in range(s.meta["frames"]):
        P = np.array([o["position"][t] for o in objs])
        r = np.array([o["dims"][0] for o in objs])
        # MuJoCo's contacts are soft: an impact presses in by millimetres, never more.
        assert (P[:, 2] - r >= -PENETRATION).all()
        if t == s.meta["frames"] - 1:
            on_floor = P[:, 2] - r < 0.01  # settled on the floor (resting or rolling): within 1 mm of it
            assert on_floor.any() and (np.abs(P[on_floor, 2] - r[on_floor]) <= 1e-3).all()
            D = np.linalg.norm(P[:, None] - P[None], axis=-1) + np.eye(len(r)) * 1e9
            assert (D >= (r[:, None] + r[None]) - 5e-3).all()
    kinds = {e["kind"] for e in s.meta["collisions"]}
    assert "floor" in kinds and "object" in kinds
    ids = {o["id"] for o in objs}
    assert all(e["a"] in ids for e in s.meta["collisions"])
    # Dropped objects end slower than they fell.
    v_end = np.array([o["velocity"][-1] for o in objs])
    assert np.abs(v_end[:, 2]).max() < 1.0


@pytest.mark.parametrize("shape", ["sphere", "capsule", "cylinder"])
def test_curved_normals_stay_unit_for_tiny_far_objects(shape):
    """A 1 cm object 8 m away: in float32 the ray-sphere discriminant cancels, and the
    hit point is off the surface; the normal must still be a unit vector pointing
    along the true (float64) one."""
    from factory.render.probe import intersect

    rng = np.random.default_rng(4)
    dims = (0.01, 0.01, 0.02)
    eye = np.array([[0.0, -8.0, 0.003]])
    # rays at the object, many of them grazing its outline
    aim = rng.uniform(-0.0099, 0.0099, size=(4000, 3)) * [1.0, 1.0, 1.5]
    d = (aim - eye).astype(np.float32)
    t, n = intersect(shape, eye.astype(np.float32), d, dims)
    hit = np.isfinite(t)
    assert hit.sum() > 1000
    lengths = np.linalg.norm(n[hit].astype(np.float64), axis=1)
    assert np.abs(lengths - 1.0).max() < 1e-5
    if shape == "sphere":  # the float64 normal at the float64 hit point
        d64 = d[hit].astype(np.float64)
        b, a = (eye @ d64.T)[0], (d64 * d64).sum(1)
        disc = b * b - a * ((eye * eye).sum() - dims[0] ** 2)  # fine in float64 at this scale
        inside = disc > 0  # rays that float64 also sees hitting
        t64 = (-b[inside] - np.sqrt(disc[inside])) / a[inside]
        true = (eye + t64[:, None] * d64[inside]) / dims[0]
        cos = (true * n[hit][inside]).sum(1) / np.linalg.norm(true, axis=1)
        assert inside.mean() > 0.99 and np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 0.5
