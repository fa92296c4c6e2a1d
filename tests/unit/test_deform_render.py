"""Deforming triangle meshes in the renderer (issue 27) against independent
references: a sheet whose vertices follow an analytic travelling wave (NumPy), cast
by trimesh's ray caster over the same posed triangles at each frame, and the hit's
(face, barycentrics) carried to the analytic next-frame vertices and projected with
the clip's camera matrices. The references never call the renderer.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from trimesh import Trimesh
from trimesh.ray.ray_triangle import RayMeshIntersector
from trimesh.triangles import points_to_barycentric

from factory.render import Clip, render_clips
from factory.render.deform import DeformingSurface, vertex_normals
from factory.render.layers import Layers
from factory.scene.deformables import grid_faces
from factory.scene.types import Camera, Light, Material, Scene, SceneObject

W, H, F = 80, 60, 110.0  # image size and focal length (pixels)
FPS = 12.0
SHEET_ID = 7
BALL, BALL_R = (-0.5, 0.7, 0.15), 0.15  # a rigid sphere (id 1), partly under the sheet
MAT = Material((0.6, 0.5, 0.4), (0.3, 0.3, 0.3), "plain", 3.0, 0.5, 0.5)
FLOW = Layers(True, True, True, True, True)  # every optional layer


def _grid(n: int):
    """(n+1)^2 rest positions (x, y) over [-0.7, 0.7]^2 and 2 n^2 faces (int32)."""
    a = np.linspace(-0.7, 0.7, n + 1)
    x, y = np.meshgrid(a, a, indexing="ij")
    # The cloth's grid triangulation (rows along x), each triangle turned over: normals +z.
    return x.ravel(), y.ravel(), np.ascontiguousarray(grid_faces(n + 1, n + 1)[:, ::-1])


class Wave:
    """A sheet of n x n quads whose height is a travelling wave drifting in y: the
    analytic vertices at any time (the motion's ``deformed_at``); no rigid objects."""

    def __init__(self, n: int = 12):
        self.x, self.y, self.faces = _grid(n)

    def vertices(self, time: float) -> np.ndarray:
        z = 0.5 + 0.12 * np.sin(3.0 * self.x - 5.0 * time) + 0.1 * self.y
        return np.stack([self.x + 0.2 * time, self.y + 0.3 * time * self.x, z], 1)

    def state_at(self, time: float):  # the ball stands still
        return np.array([BALL]), np.eye(3)[None]

    def deformed_at(self, time: float):
        return [self.vertices(time)]


def _clip(frames: int = 4, shutter: float = 0.0, blur: int = 1, n: int = 12) -> Clip:
    K = np.array([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]], np.float64)
    cam = Camera(W, H, K, "orbit", (0.0, 0.0, 0.4), 2.4, 0.6, 0.3, 0.2, 0.0, 0.0, 0.0, shutter=shutter)
    light = Light("directional", (0.3, -0.4, 0.866), 2.0)
    ball = SceneObject(1, "sphere", "sphere", (BALL_R,) * 3, np.eye(3), BALL, 0.0, (0.0,) * 3, 0.0, 1.0, 0.5, 0.5, MAT)
    scene = Scene((ball,), cam, (light,), 0.3, (0.5, 0.6, 0.7), MAT, 0.5, 0.5, None, frames, FPS, 1, {})
    scene = replace(scene, classes=scene.classes + ("cloth",))
    wave = Wave(n)
    return Clip(scene, wave, blur, None, (DeformingSurface(wave.faces, SHEET_ID, "cloth", MAT),))


def _rays(w2c: np.ndarray):
    """Camera centre (3,) and world directions (H*W, 3) with camera z = 1, per pixel centre."""
    v, u = np.mgrid[0:H, 0:W] + 0.5
    d_cam = np.stack([(u - W / 2) / F, (v - H / 2) / F, np.ones_like(u)], -1).reshape(-1, 3)
    R, t = w2c[:3, :3], w2c[:3, 3]
    return -R.T @ t, d_cam @ R  # d_world = R^T d_cam


def _cast(verts: np.ndarray, faces: np.ndarray, w2c: np.ndarray):
    """trimesh's nearest hit per pixel: depth (H*W,) (0: miss), face (-1: miss), point."""
    o, d = _rays(w2c)
    mesh = Trimesh(verts, faces, process=False)
    loc, ray, tri = RayMeshIntersector(mesh).intersects_location(np.broadcast_to(o, d.shape), d, multiple_hits=True)
    depth, face, point = np.zeros(H * W), np.full(H * W, -1), np.zeros((H * W, 3))
    z = (loc - o) @ (w2c[:3, :3][2])  # camera z of each hit
    for k in np.argsort(-z):  # far to near: the nearest writes last
        depth[ray[k]], face[ray[k]], point[ray[k]] = z[k], tri[k], loc[k]
    return depth, face, point


def _ball(w2c: np.ndarray) -> np.ndarray:
    """The ball's depth per pixel (H*W,), analytic ray-sphere (inf: miss)."""
    o, d = _rays(w2c)
    oc = o - np.array(BALL)
    a, b, c = np.sum(d * d, 1), d @ oc, oc @ oc - BALL_R**2
    disc = b * b - a * c
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
    return np.where(disc > 0, t, np.inf)  # t is camera z: d has camera z = 1


def _project(p: np.ndarray, w2c: np.ndarray) -> np.ndarray:
    c = p @ w2c[:3, :3].T + w2c[:3, 3]
    return np.stack([F * c[:, 0] / c[:, 2] + W / 2, F * c[:, 1] / c[:, 2] + H / 2], 1)


@pytest.fixture(scope="module")
def rendered():
    clip = _clip()
    return clip, render_clips([clip], layers=FLOW)[0]


def test_depth_ids_normals_match_trimesh(rendered):
    clip, out = rendered
    wave, fr = clip.motion, out.frames
    for t in range(clip.scene.frames):
        depth, face, _ = _cast(wave.vertices(t / FPS), wave.faces, out.world_to_camera[t])
        ball = _ball(out.world_to_camera[t])
        on = fr.instance[t].ravel() == SHEET_ID
        ref = (face >= 0) & ((depth < ball) | (ball == np.inf))
        assert ref.sum() > 0.2 * H * W  # the sheet fills much of the view
        # the same pixels (a ray grazing a silhouette edge may go either way)
        assert (on != ref).sum() <= 0.005 * H * W
        both = on & ref
        np.testing.assert_allclose(fr.depth[t].ravel()[both], depth[both], rtol=2e-5, atol=1e-5)
        assert (fr.semantic[t].ravel()[both] == clip.scene.classes.index("cloth")).all()
        ball_seen = (fr.instance[t].ravel() == 1) & (ball < np.inf)
        assert ball_seen.sum() > 20  # the ball shows beside the sheet ...
        np.testing.assert_allclose(fr.depth[t].ravel()[ball_seen], ball[ball_seen], rtol=2e-5, atol=1e-5)
        hidden = (ball < np.inf) & ref
        assert hidden.sum() > 20  # ... and hides under it
        box = out.annotations[t][1].bbox_visible  # the sheet: object 1, after the ball
        ys, xs = np.nonzero(fr.instance[t] == SHEET_ID)
        assert box == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        # the amodal masks: every pixel each covers, occluded or not
        assert ((fr.amodal[t, 1].ravel()) != (face >= 0)).sum() <= 0.002 * H * W
        assert ((fr.amodal[t, 0].ravel()) != (ball < np.inf)).sum() <= 0.002 * H * W
        assert out.annotations[t][1].amodal_pixels == fr.amodal[t, 1].sum()
        # no object frame on the sheet: NaN object coordinates; the ball's are its own
        assert np.isnan(fr.object_coords[t].reshape(-1, 3)[on]).all()
        assert np.isfinite(fr.object_coords[t].reshape(-1, 3)[ball_seen]).all()


def test_normals_are_the_interpolated_area_weighted_normals(rendered):
    clip, out = rendered
    wave, fr, t = clip.motion, out.frames, 1
    verts, w2c = wave.vertices(t / FPS), out.world_to_camera[t]
    _, face, point = _cast(verts, wave.faces, w2c)
    on = (fr.instance[t].ravel() == SHEET_ID) & (face >= 0)
    # area-weighted vertex normals from a loop over faces (independent of the NumPy scatter)
    vn = np.zeros_like(verts)
    for f in wave.faces:
        vn[f] += np.cross(verts[f[1]] - verts[f[0]], verts[f[2]] - verts[f[0]])
    vn /= np.linalg.norm(vn, axis=1, keepdims=True)
    np.testing.assert_allclose(vertex_normals(verts, wave.faces), vn, atol=1e-12)
    tri = verts[wave.faces[face[on]]]
    bary = points_to_barycentric(tri, point[on])
    n = np.einsum("pk,pkc->pc", bary, vn[wave.faces[face[on]]])
    n = n @ w2c[:3, :3].T
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    n *= -np.sign(np.sum(n * np.array([0, 0, 1.0]), axis=1, keepdims=True))  # towards the camera
    got = fr.normals[t].reshape(-1, 3)[on]
    assert np.quantile(np.linalg.norm(got - n, axis=1), 0.99) < 1e-3


def test_flow_carries_face_and_barycentrics(rendered):
    clip, out = rendered
    wave, fr = clip.motion, out.frames
    checked = 0
    for t in range(clip.scene.frames - 1):
        _, face, point = _cast(wave.vertices(t / FPS), wave.faces, out.world_to_camera[t])
        on = (fr.instance[t].ravel() == SHEET_ID) & (face >= 0)
        bary = points_to_barycentric(wave.vertices(t / FPS)[wave.faces[face[on]]], point[on])
        moved = np.einsum("pk,pkc->pc", bary, wave.vertices((t + 1) / FPS)[wave.faces[face[on]]])
        v, u = np.mgrid[0:H, 0:W] + 0.5
        start = np.stack([u.ravel(), v.ravel()], 1)[on]
        expect = _project(moved, out.world_to_camera[t + 1]) - start
        valid = fr.flow_valid[t].ravel()[on]
        assert valid.mean() > 0.8
        got = fr.flow[t].reshape(-1, 2)[on]
        err = np.abs(got - expect).max(axis=1)[valid]
        assert np.mean(err < 0.01) >= 0.999, np.quantile(err, [0.5, 0.99, 1.0])
        # scene flow: the same carried point, in the next camera's frame minus this one's
        w0, w1 = out.world_to_camera[t], out.world_to_camera[t + 1]
        sf = (moved @ w1[:3, :3].T + w1[:3, 3]) - (point[on] @ w0[:3, :3].T + w0[:3, 3])
        np.testing.assert_allclose(fr.scene_flow[t].reshape(-1, 3)[on], sf, atol=2e-4)
        checked += valid.sum()
    assert checked > 1000


def test_backward_flow_undoes_forward_flow(rendered):
    clip, out = rendered
    fr = clip, out.frames
    fr = out.frames
    for t in range(clip.scene.frames - 1):
        ok = fr.flow_valid[t] & (fr.instance[t] == SHEET_ID)
        i, j = np.nonzero(ok)
        q = np.stack([j + 0.5, i + 0.5], 1) + fr.flow[t][i, j]
        qi, qj = np.floor(q[:, 1]).astype(int), np.floor(q[:, 0]).astype(int)
        back_ok = fr.backward_valid[t + 1][qi, qj]
        assert back_ok.mean() > 0.95
        # backward flow at the landing pixel's centre, applied to that centre, returns
        # to within the flow's change over half a pixel of the start
        ret = np.stack([qj + 0.5, qi + 0.5], 1) + fr.backward_flow[t + 1][qi, qj] - np.stack([j + 0.5, i + 0.5], 1)
        assert np.median(np.abs(ret[back_ok]).max(axis=1)) < 0.6


def test_same_bytes_any_batch_and_with_blur():
    clip = _clip(frames=3)
    ref = render_clips([clip], batch_views=64, layers=FLOW)[0].frames
    for bv in (1, 2):
        got = render_clips([clip], batch_views=bv, layers=FLOW)[0].frames
        for name in ("rgb", "depth", "instance", "flow", "flow_valid", "backward_flow", "scene_flow", "amodal"):
            assert np.array_equal(getattr(ref, name), getattr(got, name)), (bv, name)
    blurred = _clip(frames=3, shutter=0.5, blur=3)
    a = render_clips([blurred], batch_views=64)[0].frames
    b = render_clips([blurred], batch_views=2)[0].frames
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.flow, b.flow)
    # the blurred frame's ground truth is its own view's: the unblurred clip's
    assert np.array_equal(a.depth, ref.depth) and not np.array_equal(a.rgb, ref.rgb)


def test_tracks_ride_with_the_sheet(rendered):
    from factory.render.device import get_device
    from factory.render.tracks import OCCLUDED, OUT_OF_VIEW, VISIBLE, TrackRequest, render_tracks

    clip, out = rendered
    wave, fr, T = clip.motion, out.frames, clip.scene.frames
    rng = np.random.default_rng(3)
    tq, iq, jq = [], [], []
    for t in (0, 2):
        i, j = np.nonzero(fr.instance[t] == SHEET_ID)
        pick = rng.choice(len(i), 40, replace=False)
        tq += [t] * 40
        iq += list(i[pick])
        jq += list(j[pick])
    req = TrackRequest(
        clip.scene, wave, fr.depth, fr.instance, 80, 1.0, rng, (tq, iq, jq), surfaces=tuple(clip.surfaces)
    )
    tracks = render_tracks([req], get_device("cpu"))[0]
    assert (tracks.surface == SHEET_ID).all()
    # reference: trimesh's face and barycentrics of the query ray at its frame, carried
    # to the analytic vertices of every frame
    for n, (t, i, j) in enumerate(zip(tq, iq, jq)):
        o, d = _rays(out.world_to_camera[t])
        _, face, point = _cast(wave.vertices(t / FPS), wave.faces, out.world_to_camera[t])
        f = face[i * W + j]
        b = points_to_barycentric(wave.vertices(t / FPS)[wave.faces[[f]]], point[[i * W + j]])[0]
        expect = np.array([b @ wave.vertices(s / FPS)[wave.faces[f]] for s in range(T)])
        np.testing.assert_allclose(tracks.world[:, n], expect, atol=2e-4)
    # visibility: trimesh's nearest sheet hit along the segment from the camera to the point
    for s in range(T):
        w2c = out.world_to_camera[s]
        o = -w2c[:3, :3].T @ w2c[:3, 3]
        p = tracks.world[s].astype(np.float64)
        mesh = Trimesh(wave.vertices(s / FPS), wave.faces, process=False)
        loc, ray, _ = RayMeshIntersector(mesh).intersects_location(
            np.broadcast_to(o, p.shape), p - o, multiple_hits=True
        )
        frac = np.full(len(p), np.inf)
        np.minimum.at(frac, ray, np.linalg.norm(loc - o, axis=1) / np.linalg.norm(p[ray] - o, axis=1))
        seg, oc = p - o, o - np.array(BALL)  # and the ball's nearest hit, as a fraction of the segment
        a, b, c = np.sum(seg * seg, 1), seg @ oc, oc @ oc - BALL_R**2
        disc = b * b - a * c
        frac = np.minimum(frac, np.where(disc > 0, (-b - np.sqrt(np.maximum(disc, 0))) / a, np.inf))
        inview = tracks.state[s] != OUT_OF_VIEW
        clear = inview & ((frac < 0.99) | (frac > 0.9999))  # away from the segment's end
        assert clear.sum() > 40
        expect = np.where(frac < 0.99, OCCLUDED, VISIBLE)
        assert (tracks.state[s][clear] == expect[clear]).all()


@pytest.mark.cuda
def test_cuda_agrees_with_the_cpu_on_the_sheet(rendered):
    from factory.render.device import get_device

    clip, cpu = rendered
    gpu = render_clips([clip], device=get_device("cuda"), layers=FLOW)[0].frames
    a = cpu.frames
    same = (a.instance == gpu.instance) & a.flow_valid & gpu.flow_valid
    assert (a.instance == gpu.instance).mean() > 0.995
    np.testing.assert_allclose(gpu.depth[same], a.depth[same], rtol=1e-4, atol=1e-4)
    assert np.quantile(np.abs(gpu.flow[same] - a.flow[same]).max(-1), 0.999) < 0.01


def test_faces_out_of_range_are_refused():
    clip = _clip(frames=2)
    bad = replace(clip.surfaces[0], faces=clip.surfaces[0].faces + 1)
    with pytest.raises(
        ValueError, match=r"deforming surface 0 \(instance 7\): faces must be \(F, 3\) indices in \[0, 169\)"
    ):
        render_clips([replace(clip, surfaces=(bad,))])
    with pytest.raises(ValueError, match=r"deformed_at\(0.0\) gave 0 surfaces, expected 1"):
        render_clips([replace(clip, surfaces=(bad,), motion=_NoSheet())])


class _NoSheet(Wave):
    def deformed_at(self, time: float):
        return []
