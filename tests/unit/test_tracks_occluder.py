"""A constructed clip with analytic answers: a sphere crosses the line of sight to a
floor point (occluded exactly in the frames where the sphere meets the segment from
the camera to the point, visible before and after), and a sphere runs out of the
image (its point is out of view exactly in the frames where its projection leaves the
image). Static camera, straight-line motions, no physics."""

from __future__ import annotations

import numpy as np
import pytest

from factory.render.device import get_device
from factory.render.renderer import Clip, render_clips
from factory.render.tracks import OCCLUDED, OUT_OF_VIEW, VISIBLE, TrackRequest, render_tracks
from factory.sample.scenes import scene_and_motion
from factory.scene.config import parse_config
from factory.scene.types import camera_pose

R = 0.2  # both spheres' radius, metres
FRAMES, FPS, W, H = 12, 12.0, 96, 72


class Straight:
    """Objects moving in straight lines without turning: centres ``c0 + v time``."""

    def __init__(self, c0: np.ndarray, v: np.ndarray):
        self.c0, self.v = c0, v

    def state_at(self, time: float):
        return self.c0 + self.v * time, np.repeat(np.eye(3)[None], len(self.c0), 0)


def _scene():
    config = parse_config(
        {
            "seed": 2,
            "render": {"width": W, "height": H, "frames": FRAMES, "fps": FPS, "substeps": 2},
            "output": {"mp4": False},
            "scenarios": {
                "s": {
                    "objects": {"count": 2, "shape": "sphere", "size": R, "speed": 0.0},
                    "camera": {"distance": 4.0, "elevation_deg": 30.0, "trajectory": "static"},
                }
            },
        }
    )
    scene, _ = scene_and_motion(config, "s", 0)
    return scene


def _ray(scene, u: float, v: float) -> tuple[np.ndarray, np.ndarray]:
    """Camera centre and the world direction (camera z = 1) through image point (u, v)."""
    M = camera_pose(scene.camera, 0.0)
    return -M[:3, :3].T @ M[:3, 3], M[:3, :3].T @ np.linalg.solve(scene.camera.K, [u, v, 1.0])


def _floor(scene, u: float, v: float) -> np.ndarray:
    o, d = _ray(scene, u, v)
    return o - o[2] / d[2] * d


def _meets(o: np.ndarray, p: np.ndarray, c: np.ndarray) -> float:
    """Distance from sphere centre c to the segment o -> p."""
    s = np.clip(np.dot(c - o, p - o) / np.dot(p - o, p - o), 0.0, 1.0)
    return float(np.linalg.norm(o + s * (p - o) - c))


@pytest.fixture(scope="module")
def constructed():
    scene = _scene()
    o, _ = _ray(scene, W / 2, H / 2)
    X = _floor(scene, W / 2 + 0.5, H / 2 + 0.5)  # the floor point at pixel (H/2, W/2)'s centre
    across = np.cross(X - o, [0.0, 0.0, 1.0])
    across /= np.linalg.norm(across)
    crossing = o + 0.6 * (X - o)  # where the occluder crosses the line of sight
    speed, t_cross = 1.5, 5.3 / FPS  # m/s; it crosses between frames 5 and 6
    runner = _floor(scene, W / 2, 0.8 * H) + [0.0, 0.0, R]
    cam_x = camera_pose(scene.camera, 0.0)[0, :3]  # the camera's +x axis, world
    c0 = np.stack([crossing - speed * t_cross * across, runner])
    v = np.stack([speed * across, 2.5 * cam_x])
    motion = Straight(c0, v)
    frames = render_clips([Clip(scene, motion)], get_device("cpu"))[0].frames
    (ru, rv), _ = _project(scene, runner - [0.0, 0.0, 0.0])
    queries = (np.array([0, 0]), np.array([H // 2, int(rv)]), np.array([W // 2, int(ru)]))
    req = TrackRequest(scene, motion, frames.depth, frames.instance, 2, 0.5, np.random.default_rng(0), queries)
    return scene, motion, frames, render_tracks([req], get_device("cpu"))[0], X


def _project(scene, p: np.ndarray):
    M = camera_pose(scene.camera, 0.0)
    c = M[:3, :3] @ p + M[:3, 3]
    uv = scene.camera.K @ c
    return uv[:2] / uv[2], c[2]


def test_a_point_behind_a_moving_occluder(constructed):
    scene, motion, frames, tracks, X = constructed
    o, _ = _ray(scene, 0, 0)
    assert tracks.surface[0] == 0 and np.allclose(tracks.world[0, 0], X, atol=1e-4)
    dist = np.array([_meets(o, X, motion.state_at(t / FPS)[0][0]) for t in range(FRAMES)])
    assert np.abs(dist - R).min() > 0.01  # no frame is a near tie
    expect = np.where(dist < R, OCCLUDED, VISIBLE)
    assert (expect[:3] == VISIBLE).all() and (expect == OCCLUDED).sum() >= 2 and expect[-1] == VISIBLE
    np.testing.assert_array_equal(tracks.state[:, 0], expect)


def test_a_point_leaving_the_image(constructed):
    scene, motion, frames, tracks, _ = constructed
    o, _ = _ray(scene, 0, 0)
    runner = scene.objects[1].id
    assert tracks.surface[1] == runner
    P0 = tracks.world[0, 1].astype(np.float64)
    c0 = motion.state_at(0.0)[0][1]
    assert abs(np.linalg.norm(P0 - c0) - R) < 1e-4  # on the sphere
    expect = []
    for t in range(FRAMES):
        c = motion.state_at(t / FPS)[0][1]
        P = P0 + c - c0
        (u, v), z = _project(scene, P)
        inside = z > 0 and 0 <= u < W and 0 <= v < H
        faces = np.dot(P - c, o - P) > 0  # a sphere's point is seen where it faces the camera
        occluder = _meets(o, P, motion.state_at(t / FPS)[0][0]) < R
        expect.append(OUT_OF_VIEW if not inside else OCCLUDED if occluder or not faces else VISIBLE)
        np.testing.assert_allclose(tracks.uv[t, 1], (u, v) if z > 0 else tracks.uv[t, 1], atol=0.01)
    expect = np.array(expect)
    assert expect[0] == VISIBLE and expect[-1] == OUT_OF_VIEW
    np.testing.assert_array_equal(tracks.state[:, 1], expect)


def test_a_clip_without_points_beside_one_with_points(constructed):
    scene, motion, frames, tracks, _ = constructed
    none = (np.zeros(0, int),) * 3
    reqs = [
        TrackRequest(scene, motion, frames.depth, frames.instance, 0, 0.5, np.random.default_rng(0), none),
        TrackRequest(scene, motion, frames.depth, frames.instance, 0, 0.5, np.random.default_rng(0), ([0], [36], [48])),
    ]
    empty, one = render_tracks(reqs, get_device("cpu"))
    assert empty.state.shape == (FRAMES, 0) and empty.uv.shape == (FRAMES, 0, 2) and empty.query_uv.shape == (0, 2)
    np.testing.assert_array_equal(one.state[:, 0], tracks.state[:, 0])  # the same point as the first query
