"""Point tracks of generated clips against references built from the metadata alone.

Positions: a point on the floor or a static surface follows the camera's own motion,
its image position the NumPy projection of its world point through the metadata's K
and world_to_camera; a point on a moving object keeps its place in the object's frame.
Visibility: an independent per-point cast of the segment from the camera to the point
(:mod:`tests.helpers.segments`: the oracle's caster: analytic shapes, floor and walls, trimesh over the
posed meshes) agrees on every entry away from silhouette edges and on 99.9% overall.
"""

from __future__ import annotations

import numpy as np
import pytest

from factory.render.tracks import OCCLUDED, OUT_OF_VIEW, VISIBLE, draw_queries
from factory.sample.generate import generate_sample, generate_samples
from factory.scene.assets import MESH_KINDS
from factory.scene.config import parse_config
from tests.helpers.segments import blocked, camera_centre, project

POINTS = 600


def _config(shapes: list[str], seed: int, trajectory: str, room: bool) -> object:
    scenario = {
        "objects": {
            "count": 6,
            "shape": {"dist": "choice", "values": shapes},
            "size": {"dist": "uniform", "low": 0.2, "high": 0.4},
            "tumble": 1.0,
            "spawn_radius": 1.0,
            "speed": 1.2,
            "spin": 3.0,
        },
        "camera": {"distance": 3.2, "trajectory": trajectory},
    }
    if room:  # walls and furniture (static boxes): background that is not the floor
        scenario["room"] = {"width": 5.0, "depth": 4.5, "height": 2.5}
        scenario["furniture"] = {"count": 4, "height": {"dist": "uniform", "low": 0.8, "high": 1.6}}
        scenario["camera"] = {"distance": 2.6, "fov_deg": 70, "trajectory": trajectory}
    return parse_config(
        {
            "seed": seed,
            "render": {"width": 96, "height": 72, "frames": 8, "fps": 12, "substeps": 4},
            "output": {"mp4": False, "tracks": POINTS, "track_object_share": 0.6},
            "scenarios": {"s": scenario},
        }
    )


CLIPS = {
    "analytic": (["sphere", "box"], 7, "orbit", False),
    "meshes": (list(MESH_KINDS), 11, "handheld", False),
    "room": (["sphere", "box"], 3, "orbit", True),
}


@pytest.fixture(scope="module", params=list(CLIPS))
def clip(request):
    return generate_sample(_config(*CLIPS[request.param]), 0)


def _static(s) -> np.ndarray:
    """Which points lie on a surface that does not move: floor, walls, furniture."""
    fixed = {o["id"] for o in s.meta["objects"] if o["static"]} | {0}
    return np.isin(s.tracks.surface, list(fixed))


def _query_points(s) -> np.ndarray:
    """World points (N, 3) of the queries rebuilt from the query pixel, the rendered
    float32 depth there and the metadata's camera at the query frame."""
    tr, meta = s.tracks, s.meta
    K = np.array(meta["camera"]["K"])
    out = []
    for t, (u, v) in zip(tr.query_frame, tr.query_uv.astype(np.float64)):
        M = np.array(meta["camera"]["world_to_camera"][t])
        d = M[:3, :3].T @ np.linalg.solve(K, [u, v, 1.0])
        out.append(camera_centre(meta, t) + s.frames.depth[t, int(v), int(u)] * d)
    return np.array(out)


def test_static_points_follow_the_camera(clip):
    tr, meta = clip.tracks, clip.meta
    T, N = tr.state.shape
    assert N == POINTS and tr.uv.shape == (T, N, 2) and tr.uv.dtype == np.float32
    ids = clip.frames.instance[tr.query_frame, tr.query_uv[:, 1].astype(int), tr.query_uv[:, 0].astype(int)]
    assert (tr.surface == ids).all()
    q = np.arange(N)
    assert (tr.state[tr.query_frame, q] == VISIBLE).all()  # a query is seen where it was drawn
    # At the query frame, the query pixel's centre; pixel centres are (j + 0.5, i + 0.5).
    np.testing.assert_allclose(tr.uv[tr.query_frame, q], tr.query_uv, atol=1e-3)
    static = _static(clip)
    assert static.sum() > 100
    X = _query_points(clip)[static]
    on_floor = np.abs(tr.world[0, tr.surface == 0, 2]) < 1e-4
    if meta["room"] is None:
        assert on_floor.all()  # the background is the floor, z = 0
    else:  # or a wall
        half = np.array([meta["room"]["width"], meta["room"]["depth"]]) / 2
        walls = np.abs(np.abs(tr.world[0, tr.surface == 0, :2]) - half).min(axis=1) < 1e-4
        assert (on_floor | walls).all() and walls.any() and (static & (tr.surface > 0)).any()
    for t in range(T):
        uv, z = project(meta, t, X)
        front = z > 0.05
        assert np.abs(tr.uv[t, static][front] - uv[front]).max() < 0.01  # pixels
        np.testing.assert_allclose(tr.world[t, static], X, atol=1e-4)
        np.testing.assert_allclose(tr.depth[t, static], z, rtol=1e-5, atol=1e-5)


def test_object_points_ride_with_their_object(clip):
    tr, meta = clip.tracks, clip.meta
    objects = {o["id"]: o for o in meta["objects"]}
    on_object = np.flatnonzero((tr.surface > 0) & ~_static(clip))
    assert len(on_object) > 100
    X = _query_points(clip)
    for n in on_object:
        o, tq = objects[int(tr.surface[n])], int(tr.query_frame[n])
        local = np.array(o["rotation"][tq]).T @ (X[n] - np.array(o["position"][tq]))
        for t in range(tr.state.shape[0]):
            expect = np.array(o["rotation"][t]) @ local + np.array(o["position"][t])
            np.testing.assert_allclose(tr.world[t, n], expect, atol=2e-4)


def _edges(instance: np.ndarray, depth: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Whether each image position (M, 2) lies within a pixel of a silhouette edge: its
    pixel's 3x3 neighbourhood holds two ids or depths 5% apart."""
    H, W = instance.shape
    i = np.clip(np.floor(uv[:, 1]).astype(int), 0, H - 1)
    j = np.clip(np.floor(uv[:, 0]).astype(int), 0, W - 1)
    out = np.zeros(len(uv), bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            a, b = np.clip(i + di, 0, H - 1), np.clip(j + dj, 0, W - 1)
            out |= instance[a, b] != instance[i, j]
            out |= np.abs(depth[a, b] - depth[i, j]) > 0.05 * depth[i, j]
    return out


def test_visibility_agrees_with_an_independent_cast(clip):
    tr, meta = clip.tracks, clip.meta
    T, N = tr.state.shape
    H, W = clip.frames.depth.shape[1:]
    agree = edge_agree = edge_total = total = 0
    counts = np.zeros(3, int)
    for t in range(T):
        world = tr.world[t].astype(np.float64)
        uv, z = project(meta, t, world)
        inside = (z > 1e-6) & (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)
        border = (np.abs(uv[:, 0] - np.clip(uv[:, 0], 0, W)) < 1e-3) | (
            np.abs(uv[:, 1] - np.clip(uv[:, 1], 0, H)) < 1e-3
        )
        assert ((tr.state[t] == OUT_OF_VIEW) == ~inside)[~border].all()
        hit, _ = blocked(meta, clip.geometry, t, world[inside])
        expect = np.where(hit, OCCLUDED, VISIBLE)
        got = tr.state[t, inside]
        edge = _edges(clip.frames.instance[t], clip.frames.depth[t], uv[inside])
        assert (got == expect)[~edge].all(), f"frame {t}: {np.flatnonzero((got != expect) & ~edge)}"
        agree += int((got == expect).sum())
        total += int(inside.sum())
        edge_agree += int((got == expect)[edge].sum())
        edge_total += int(edge.sum())
        counts += np.bincount(tr.state[t], minlength=3)
    assert agree >= 0.999 * total
    assert counts[OCCLUDED] > 50 and counts[VISIBLE] > 500  # both outcomes are tested
    print(f"agree {agree}/{total}, at edges {edge_agree}/{edge_total}, states {counts.tolist()}")


def test_the_visibility_kernel_takes_no_struct_by_value():
    """The check of ``tests/unit/test_kernel_inlining.py`` on the tracks kernel's
    module: no local function of its CPU object file takes Views or Scenes."""
    from factory.render import tracks
    from factory.render.device import get_device, warp
    from factory.render.warp_setup import cache_dir
    from tests.unit.test_kernel_inlining import STRUCTS, _local_functions

    wp = warp()
    get_device("cpu")
    module = wp.get_module(tracks.__name__)
    module.load("cpu")
    objects = sorted(cache_dir().glob(f"**/{module.get_module_identifier()}/*.o"))
    if not objects or objects[0].read_bytes()[:4] != b"\x7fELF":
        pytest.skip("this Warp build keeps no ELF object file of the module")
    assert [n for n in _local_functions(objects[0].read_bytes()) if any(s in n for s in STRUCTS)] == []


def test_queries_follow_the_share_and_fall_back_when_a_class_is_empty():
    rng = np.random.default_rng(0)
    depth = np.zeros((4, 10, 12), np.float32)
    instance = np.zeros((4, 10, 12), np.uint16)
    depth[:, 5:] = 2.0  # floor in the lower half of every frame
    instance[1:, 6:8, 3:6], instance[1:, 2:4, 8:10] = 7, 9  # object 7 (moving), 9 (static) from frame 1 on
    depth[instance > 0] = 1.5
    t, i, j = draw_queries(depth, instance, np.array([9]), 4000, 0.5, rng)
    assert (depth[t, i, j] > 0).all()
    on_7 = instance[t, i, j] == 7
    assert abs(on_7[t > 0].mean() - 0.5) < 0.04  # the share, where the class has pixels
    assert not on_7[t == 0].any() and (t == 0).mean() > 0.2  # frame 0 has none: background instead
    assert (instance[t, i, j] == 9).any()  # furniture is background
    t, i, j = draw_queries(np.zeros_like(depth), instance, np.array([9]), 10, 0.5, rng)
    assert len(t) == 0  # a clip of sky only has no points


def test_tracks_do_not_depend_on_the_batch():
    config = _config(["sphere", "box"], 7, "orbit", False)
    config = config.model_copy(update={"render": config.render.model_copy(update={"frames": 3})})
    together = generate_samples(config, [0, 1])
    alone = generate_sample(config, 1)
    for name in ("state", "uv", "world", "query_frame", "surface"):
        np.testing.assert_array_equal(getattr(together[1].tracks, name), getattr(alone.tracks, name))
    assert not np.array_equal(together[0].tracks.query_uv, together[1].tracks.query_uv)
