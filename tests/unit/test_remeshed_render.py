"""Surfaces remeshed at every frame (a liquid's, issue 27) in the renderer: a ball that
glides at a constant velocity, triangulated anew each frame (icospheres of alternating
subdivision, so no triangle of one frame is a triangle of the next), whose vertex
velocities are that velocity. Its flow must be the analytic motion p + v / fps of the
hit projected with the next frame's camera, backward flow the reverse, and a point
track on it must ride along v frame to frame; references in NumPy and trimesh, never
the renderer.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import trimesh

from factory.render import Clip, render_clips
from factory.render.deform import DeformingSurface
from factory.render.device import get_device
from factory.render.layers import Layers
from factory.render.tracks import VISIBLE, TrackRequest, render_tracks
from factory.scene.types import Camera, Light, Material, Scene, camera_pose

W, H, F = 80, 60, 110.0
FPS = 10.0
LIQUID = 5
CENTRE, RADIUS, VELOCITY = np.array([-0.25, 0.0, 0.45]), 0.3, np.array([0.6, 0.2, -0.1])
MAT = Material((0.3, 0.5, 0.8), (0.3, 0.3, 0.3), "plain", 3.0, 0.2, 0.5)


class Glide:
    """The ball's mesh at any time: the icosphere of its frame (subdivision 3 on even
    frames, 2 on odd ones) about the centre then, moved on by v (time - frame time)."""

    def state_at(self, time: float):
        return np.zeros((0, 3)), np.zeros((0, 3, 3))

    def deformed_at(self, time: float):
        k = int(np.floor(time * FPS + 0.5))
        sphere = trimesh.creation.icosphere(subdivisions=3 if k % 2 == 0 else 2, radius=RADIUS)
        verts = sphere.vertices + CENTRE + VELOCITY * time
        return [(verts, sphere.faces.astype(np.int32), np.broadcast_to(VELOCITY, verts.shape))]


def _clip(frames: int = 4) -> Clip:
    K = np.array([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]], np.float64)
    cam = Camera(W, H, K, "orbit", (0.0, 0.0, 0.4), 2.6, 0.5, 0.3, 0.15, 0.0, 0.0, 0.0)
    light = Light("directional", (0.3, -0.4, 0.866), 2.0)
    scene = Scene((), cam, (light,), 0.3, (0.5, 0.6, 0.7), MAT, 0.5, 0.5, None, frames, FPS, 1, {})
    scene = replace(scene, classes=scene.classes + ("liquid",))
    return Clip(scene, Glide(), 1, None, (DeformingSurface(None, LIQUID, "liquid", MAT),))


def _project(w2c, K, p):
    c = p @ w2c[:3, :3].T + w2c[:3, 3]
    return (c @ K.T)[:, :2] / c[:, 2:3]


def test_flow_of_a_remeshed_surface_is_its_velocity_field():
    clip = _clip()
    (r,) = render_clips([clip], get_device("cpu"), 64, layers=Layers(True, True, False, False, False))
    f, K = r.frames, clip.scene.camera.K
    checked = 0
    for t in range(clip.scene.frames - 1):
        w2c, w2c_next = camera_pose(clip.scene.camera, t / FPS), camera_pose(clip.scene.camera, (t + 1) / FPS)
        rows, cols = np.nonzero((f.instance[t] == LIQUID) & f.flow_valid[t])
        v, u = rows + 0.5, cols + 0.5
        d_cam = np.stack([(u - W / 2) / F, (v - H / 2) / F, np.ones_like(u)], 1)
        R, tr = w2c[:3, :3], w2c[:3, 3]
        p = -R.T @ tr + f.depth[t, rows, cols, None].astype(np.float64) * (d_cam @ R)  # the hit, world
        want = _project(w2c_next, K, p + VELOCITY / FPS) - np.stack([u, v], 1)
        err = np.abs(f.flow[t, rows, cols] - want).max()
        assert err < 0.02, (t, err)  # float32 depth of the hit (1e-6 relative) at ~100 px/m
        checked += len(rows)
        # backward flow of frame t+1 goes back by the same velocity
        rows, cols = np.nonzero((f.instance[t + 1] == LIQUID) & f.backward_valid[t + 1])
        v, u = rows + 0.5, cols + 0.5
        d_cam = np.stack([(u - W / 2) / F, (v - H / 2) / F, np.ones_like(u)], 1)
        R, tr = w2c_next[:3, :3], w2c_next[:3, 3]
        p = -R.T @ tr + f.depth[t + 1, rows, cols, None].astype(np.float64) * (d_cam @ R)
        want = _project(w2c, K, p - VELOCITY / FPS) - np.stack([u, v], 1)
        assert np.abs(f.backward_flow[t + 1, rows, cols] - want).max() < 0.02, t
    assert checked > 500


def test_a_track_on_a_remeshed_surface_rides_the_velocity_field():
    clip = _clip(frames=5)
    (r,) = render_clips([clip], get_device("cpu"), 64)
    f = r.frames
    t0 = 2
    rows, cols = np.nonzero(f.instance[t0] == LIQUID)
    pick = np.linspace(0, len(rows) - 1, 8).astype(int)
    req = TrackRequest(
        clip.scene, clip.motion, f.depth, f.instance, 8, 1.0, np.random.default_rng(0),
        queries=(np.full(8, t0), rows[pick], cols[pick]), surfaces=clip.surfaces,
    )  # fmt: skip
    (tracks,) = render_tracks([req], get_device("cpu"))
    world = tracks.world.astype(np.float64)  # (T, N, 3)
    steps = np.diff(world, axis=0)
    # Each step is the velocity over a frame, up to where the next frame's triangles
    # cut the ball (the coarser icosphere lies within 1.5 cm of the finer's sphere).
    assert np.abs(steps - VELOCITY / FPS).max() < 0.015
    # and the point stays on the ball: its distance from the analytic centre is the radius
    centres = CENTRE + VELOCITY * (np.arange(5) / FPS)[:, None]
    assert np.abs(np.linalg.norm(world - centres[:, None], axis=2) - RADIUS).max() < 0.015
    assert (tracks.state[t0] == VISIBLE).all()
