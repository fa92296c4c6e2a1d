"""The optional layers of issue 26 (backward flow, scene flow, object coordinates,
amodal masks and depth) against independent references: analytic ray-sphere
intersections, the camera matrices and object poses of the clip (NumPy), and
forward flow composed with backward flow. The renderer is asked for the layers
(:class:`factory.render.layers.Layers`); the references never call it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from trimesh import Trimesh
from trimesh.ray.ray_triangle import RayMeshIntersector

from factory.render import Clip, render_clips
from factory.render.layers import Layers
from factory.scene.assets import mesh_asset
from factory.scene.types import Camera, Light, Material, Scene, SceneObject, rot_z

W, H, F = 96, 72, 110.0  # image size and focal length (pixels)
FPS = 12.0
ALL = Layers(True, True, True, True, True)
MAT = Material((0.6, 0.5, 0.4), (0.3, 0.3, 0.3), "checker", 3.0, 0.5, 0.5)


def _camera(trajectory: str = "static", orbit: float = 0.0) -> Camera:
    K = np.array([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]], np.float64)
    return Camera(W, H, K, trajectory, (0.0, 0.0, 0.4), 4.0, 0.45, 0.3, orbit, 0.0, 0.0, 0.0)


def _object(oid: int, shape: str, dims, position, rotation=None, velocity=(0.0, 0.0, 0.0), spin=0.0):
    return SceneObject(
        oid, shape, shape, tuple(dims), np.eye(3) if rotation is None else np.asarray(rotation, np.float64), tuple(position), 0.0,
        tuple(velocity), spin, 1.0, 0.5, 0.5, MAT,
    )  # fmt: skip


def _scene(objects, camera: Camera, frames: int = 4) -> Scene:
    light = Light("directional", (0.3, -0.4, 0.866), 2.0)
    return Scene(tuple(objects), camera, (light,), 0.3, (0.5, 0.6, 0.7), MAT, 0.5, 0.5, None, frames, FPS, 1, {})


class _Linear:
    """Each object moves with its own constant velocity and spins about world z at its
    ``spin`` (rad/s) about its centre: the poses the references use too."""

    def __init__(self, objects):
        self.objects = objects

    def state_at(self, time: float):
        pos = np.array([np.add(o.position, np.multiply(o.velocity, time)) for o in self.objects], np.float64)
        rot = np.array([rot_z(o.spin * time) @ o.rotation for o in self.objects], np.float64).reshape(-1, 3, 3)
        return pos, rot


def _render(scene: Scene, layers: Layers = ALL, batch_views: int = 64):
    return render_clips([Clip(scene, _Linear(scene.objects))], batch_views=batch_views, layers=layers)[0]


def _rays(K: np.ndarray) -> np.ndarray:
    """Camera-frame rays (H, W, 3) with z = 1 through every pixel centre."""
    v, u = np.mgrid[0:H, 0:W] + 0.5
    return np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones((H, W))], -1)


def _world(r, t: int, K: np.ndarray) -> np.ndarray:
    """World points (H, W, 3) of frame t's pixels from its depth (camera ray x depth)
    and its world-to-camera matrix."""
    X = _rays(K) * r.frames.depth[t][..., None].astype(np.float64)
    M = r.world_to_camera[t]
    return (X - M[:3, 3]) @ M[:3, :3]


def _sphere_hit(o: np.ndarray, d: np.ndarray, c: np.ndarray, radius: float):
    """Nearest ray parameter (camera-z-scaled rays: metric depth) of rays o + t d (d
    (..., 3)) against the sphere (c, radius), inf where they miss, and the distance of
    each ray's line from the centre (metres)."""
    oc = o - c
    a = (d * d).sum(-1)
    b = (oc * d).sum(-1)
    disc = b * b - a * ((oc * oc).sum(-1) - radius**2)
    t = np.where(disc >= 0, (-b - np.sqrt(np.maximum(disc, 0))) / a, np.inf)
    miss = np.sqrt(np.maximum((oc * oc).sum(-1) - b * b / a, 0.0))
    return t, miss


def _world_rays(r, t: int, K: np.ndarray):
    """Camera centre (3,) and world ray directions (H, W, 3) with camera z = 1 of frame t."""
    M = r.world_to_camera[t]
    return -M[:3, :3].T @ M[:3, 3], _rays(K) @ M[:3, :3]


def _bilinear(a: np.ndarray, x: np.ndarray, y: np.ndarray):
    """``a`` (H, W, ...) at image points (x, y) (pixel centres at +0.5), and whether all
    four centres around each lie in the image."""
    u, v = x - 0.5, y - 0.5
    j0, i0 = np.floor(u).astype(int), np.floor(v).astype(int)
    inside = (j0 >= 0) & (i0 >= 0) & (j0 + 1 < W) & (i0 + 1 < H)
    j0, i0 = np.clip(j0, 0, W - 2), np.clip(i0, 0, H - 2)
    fu, fv = (u - j0)[..., None], (v - i0)[..., None]
    at = lambda di, dj: a[i0 + di, j0 + dj].reshape(*x.shape, -1)  # noqa: E731
    out = (at(0, 0) * (1 - fu) + at(0, 1) * fu) * (1 - fv) + (at(1, 0) * (1 - fu) + at(1, 1) * fu) * fv
    return out, inside, (i0, j0)


MOVING = [
    _object(1, "sphere", (0.35, 0.35, 0.35), (0.0, 0.0, 0.5), velocity=(0.8, 0.3, 0.0)),
    _object(2, "box", (0.3, 0.4, 0.25), (0.6, -0.9, 0.3), spin=1.2),
    _object(3, "cone", (0.25, 0.25, 0.4), (-0.7, 0.6, 0.45), spin=-0.8, velocity=(0.0, -0.4, 0.0)),
]


@pytest.fixture(scope="module")
def moving():
    """An orbiting camera over a floor, a sliding sphere, a spinning box and a cone."""
    scene = _scene(MOVING, _camera("orbit", 0.35), frames=4)
    return scene, _render(scene)


def test_backward_flow_composed_with_forward_flow_returns_to_the_start_pixel(moving):
    """Frame t-1's pixel, moved by its forward flow, then by frame t's backward flow
    there (bilinear between the four pixel centres around, all valid and on the same
    object), comes back where it started."""
    scene, r = moving
    f = r.frames
    v, u = np.mgrid[0:H, 0:W] + 0.5
    checked = 0
    for t in range(1, scene.frames):
        ok = f.flow_valid[t - 1]
        x, y = u + f.flow[t - 1][..., 0], v + f.flow[t - 1][..., 1]  # where frame t-1's pixels land in frame t
        back, inside, (i0, j0) = _bilinear(f.backward_flow[t], x, y)
        # the four backward flows around the landing point valid and of the same surface
        same = np.ones_like(ok)
        for di in (0, 1):
            for dj in (0, 1):
                same &= f.backward_valid[t][i0 + di, j0 + dj] & (f.instance[t][i0 + di, j0 + dj] == f.instance[t - 1])
        use = ok & inside & same
        err = np.hypot(x + back[..., 0] - u, y + back[..., 1] - v)[use]
        assert use.sum() > 0.5 * ok.sum(), (t, use.sum(), ok.sum())
        # exact flows give float32 round-off (1e-4 px); the rest is the bilinear
        # interpolation of the backward flow between pixel centres where it curves
        assert np.median(err) < 1e-3 and np.percentile(err, 99) < 0.02 and err.max() < 0.1, (t, err.max())
        checked += use.sum()
    assert checked > 5000
    assert not f.backward_valid[0].any() and not f.backward_flow[0].any()  # frame 0 has no previous frame


def test_backward_validity_is_false_exactly_where_the_floor_was_hidden_by_the_moving_sphere():
    """Static camera, static floor: a floor pixel's backward flow is zero, and valid
    unless the sphere covered that pixel in the frame before (analytic ray casts of the
    sphere at its earlier position, away from its silhouette)."""
    radius = 0.4
    sphere = _object(1, "sphere", (radius,) * 3, (-0.6, 0.0, radius), velocity=(4.8, 0.0, 0.0))
    scene = _scene([sphere], _camera(), frames=3)
    r = _render(scene)
    f, K = r.frames, scene.camera.K
    motion = _Linear(scene.objects)
    revealed = 0
    for t in range(1, scene.frames):
        o, d = _world_rays(r, t, K)
        c_prev = motion.state_at((t - 1) / FPS)[0][0]
        t_prev, miss = _sphere_hit(o, d, c_prev, radius)
        floor = (f.instance[t] == 0) & (f.depth[t] > 0)
        far_from_edge = np.abs(miss - radius) > 0.03
        hidden_before = t_prev < f.depth[t]  # the sphere stood in front of this floor point
        sel = floor & far_from_edge
        assert np.array_equal(f.backward_valid[t][sel], ~hidden_before[sel]), t
        assert np.abs(f.backward_flow[t][floor & f.backward_valid[t]]).max() < 1e-4  # static: zero flow
        revealed += (sel & hidden_before).sum()
        # the sphere's own pixels: carried back with it, valid where the point faces
        # camera t-1 (nothing else can hide it there), invalid where it has turned away
        c_now = motion.state_at(t / FPS)[0][0]
        on = f.instance[t] == 1
        P = (o + f.depth[t][..., None] * d)[on] - c_now + c_prev  # the point at t-1
        o_prev = _world_rays(r, t - 1, K)[0]
        view = o_prev - P
        facing = ((P - c_prev) / radius * view).sum(-1) / np.linalg.norm(view, axis=-1)
        assert f.backward_valid[t][on][facing > 0.4].all(), t  # 0.4: over a pixel inside its outline
        assert not f.backward_valid[t][on][facing < -0.05].any(), t
    assert revealed > 100  # the test saw revealed floor


def test_scene_flow_of_a_static_scene_is_the_cameras_motion(moving):
    """Every surface point of a still scene: X_t + scene flow is the same world point in
    camera t+1's frame (metadata matrices, NumPy), to 0.1 mm."""
    still = _scene([replace_still(o) for o in MOVING], _camera("orbit", 0.35), frames=3)
    r = _render(still)
    f, K = r.frames, still.camera.K
    for t in range(still.frames - 1):
        X = _rays(K) * f.depth[t][..., None].astype(np.float64)
        world = _world(r, t, K)
        M = r.world_to_camera[t + 1]
        expect = world @ M[:3, :3].T + M[:3, 3] - X
        surface = f.depth[t] > 0
        assert np.array_equal(f.scene_flow_valid[t], surface)
        assert np.abs(f.scene_flow[t][surface] - expect[surface]).max() < 1e-4
        assert not f.scene_flow[t][~surface].any()
    assert not f.scene_flow_valid[-1].any()  # the last frame has no next one


def replace_still(o: SceneObject) -> SceneObject:
    return replace(o, velocity=(0.0, 0.0, 0.0), spin=0.0)


def test_scene_flow_of_moving_objects_follows_their_poses(moving):
    """An object pixel's point, carried by its object's pose change (the motion's
    poses, NumPy), in camera t+1's frame minus in camera t's."""
    scene, r = moving
    f, K = r.frames, scene.camera.K
    motion = _Linear(scene.objects)
    for t in range(scene.frames - 1):
        X = _rays(K) * f.depth[t][..., None].astype(np.float64)
        world = _world(r, t, K)
        (p0, R0), (p1, R1) = motion.state_at(t / FPS), motion.state_at((t + 1) / FPS)
        M = r.world_to_camera[t + 1]
        for k, o in enumerate(scene.objects):
            m = f.instance[t] == o.id
            assert m.sum() > 50
            moved = (world[m] - p0[k]) @ R0[k] @ R1[k].T + p1[k]
            expect = moved @ M[:3, :3].T + M[:3, 3] - X[m]
            assert np.abs(f.scene_flow[t][m] - expect).max() < 2e-4, o.shape


def _half_extents(o: SceneObject) -> np.ndarray:
    """The object's box half-extents: its dims (analytic), or its mesh's vertices
    scaled by its dims, max |coordinate| per axis."""
    if o.shape in ("sphere", "box", "cylinder", "capsule", "ell"):
        return np.asarray(o.dims)
    return np.abs(mesh_asset(o.shape).vertices * np.asarray(o.dims)).max(0)


def test_object_coordinates_map_through_the_pose_to_the_point_depth_gives(moving):
    scene, r = moving
    f, K = r.frames, scene.camera.K
    motion = _Linear(scene.objects)
    for t in range(scene.frames):
        world = _world(r, t, K)
        pos, rot = motion.state_at(t / FPS)
        objects = f.instance[t] > 0
        assert np.isnan(f.object_coords[t][~objects]).all()
        for k, o in enumerate(scene.objects):
            m = f.instance[t] == o.id
            e = _half_extents(o)
            c = f.object_coords[t][m]
            assert ((c >= 0) & (c <= 1)).all()
            # back through the normalisation and the pose: the point of the depth
            back = (c.astype(np.float64) - 0.5) * 2 * np.linalg.norm(e) @ rot[k].T + pos[k]
            assert np.abs(back - world[m]).max() < 2e-4, o.shape
            if o.shape == "box":  # every box pixel lies on a face: one coordinate at 0.5 +- e_i / (2 |e|)
                face = np.abs(np.abs(c - 0.5) - e / (2 * np.linalg.norm(e))).min(-1)
                assert face.max() < 1e-4


@pytest.mark.parametrize("shape", ["ell", "cylinder", "capsule", "torus", "rock"])
def test_object_coordinates_of_every_kind_lie_in_the_unit_box_and_follow_the_pose(shape):
    o = _object(1, shape, (0.3, 0.25, 0.35), (0.0, 0.0, 0.5), rotation=rot_z(0.7), spin=0.5)
    scene = _scene([o], _camera(), frames=2)
    r = _render(scene, Layers(object_coords=True))
    f = r.frames
    m = f.instance[1] == 1
    c = f.object_coords[1][m]
    assert m.sum() > 100 and ((c >= 0) & (c <= 1)).all()
    pos, rot = _Linear(scene.objects).state_at(1 / FPS)
    back = (c.astype(np.float64) - 0.5) * 2 * np.linalg.norm(_half_extents(o)) @ rot[0].T + pos[0]
    assert np.abs(back - _world(r, 1, scene.camera.K)[m]).max() < 2e-4


def test_amodal_masks_and_depth_of_a_sphere_behind_a_box():
    """A sphere partly hidden by a box in front of it: its amodal mask is where the
    analytic ray cast meets it (away from its silhouette), holds its visible pixels,
    counts amodal_pixels, and its amodal depth is the analytic depth there."""
    radius = 0.45
    sphere = _object(1, "sphere", (radius,) * 3, (-0.6, -0.2, radius), velocity=(0.5, 0.0, 0.0))
    box = _object(2, "box", (0.25, 0.25, 0.5), (0.5, 0.2, 0.5))
    scene = _scene([sphere, box], _camera(), frames=2)
    r = _render(scene)
    f, K = r.frames, scene.camera.K
    motion = _Linear(scene.objects)
    hidden = 0
    for t in range(scene.frames):
        for k, o in enumerate(scene.objects):
            mask = f.amodal[t, k]
            assert mask.sum() == r.annotations[t][k].amodal_pixels
            assert mask[f.instance[t] == o.id].all()  # amodal holds the visible pixels
            assert not f.amodal_depth[t, k][~mask].any()
        o, d = _world_rays(r, t, K)
        t_hit, miss = _sphere_hit(o, d, motion.state_at(t / FPS)[0][0], radius)
        away = np.abs(miss - radius) > 0.02
        assert np.array_equal(f.amodal[t, 0][away], np.isfinite(t_hit)[away])
        inside = f.amodal[t, 0] & away
        assert np.abs(f.amodal_depth[t, 0][inside] - t_hit[inside]).max() < 1e-4
        hidden += (f.amodal[t, 0] & (f.instance[t] != 1)).sum()
    assert hidden > 100  # the box did hide part of the sphere


def test_layers_off_are_none_and_on_leave_the_other_layers_unchanged(moving):
    scene, r = moving
    off = _render(scene, Layers())
    for name in ("backward_flow", "scene_flow", "object_coords", "amodal", "amodal_depth"):
        assert getattr(off.frames, name) is None
    for name in ("rgb", "depth", "instance", "normals", "flow", "flow_valid", "albedo"):
        assert np.array_equal(getattr(off.frames, name), getattr(r.frames, name)), name
    assert off.annotations == r.annotations


def test_layers_do_not_depend_on_the_batch(moving):
    """Two views a launch: backward flow reads next frames' hits carried between launches."""
    scene, r = moving
    small = _render(scene, batch_views=2)
    for name in ("backward_flow", "backward_valid", "scene_flow", "object_coords", "amodal", "amodal_depth"):
        a, b = getattr(small.frames, name), getattr(r.frames, name)
        assert np.array_equal(a, b, equal_nan=a.dtype != bool), name


def test_motion_blur_leaves_the_layers_alone(moving):
    """Blur sub-frames shade RGB only: the layers are those of the frames' own instants."""
    scene, r = moving
    blurred = replace(scene, camera=replace(scene.camera, shutter=0.5))
    b = render_clips([Clip(blurred, _Linear(scene.objects), 3)], batch_views=5, layers=ALL)[0]
    for name in ("backward_flow", "backward_valid", "scene_flow", "object_coords", "amodal", "amodal_depth"):
        x, y = getattr(b.frames, name), getattr(r.frames, name)
        assert np.array_equal(x, y, equal_nan=x.dtype != bool), name


def test_amodal_masks_and_depth_of_a_mesh_against_trimesh():
    """A torus partly behind a box: its amodal mask is where trimesh's ray caster meets
    its posed mesh alone, on every pixel whose 3 x 3 neighbourhood agrees (away from its
    outline), and its amodal depth trimesh's nearest hit there."""
    torus = _object(1, "torus", (0.5, 0.5, 0.2), (-0.3, -0.1, 0.6), rotation=rot_z(0.4) @ _tilt(0.9))
    box = _object(2, "box", (0.2, 0.2, 0.5), (0.6, 0.3, 0.5))
    scene = _scene([torus, box], _camera(), frames=1)
    r = _render(scene)
    f = r.frames
    asset = mesh_asset("torus")
    v = (asset.vertices * np.asarray(torus.dims)) @ torus.rotation.T + np.asarray(torus.position)
    o, d = _world_rays(r, 0, scene.camera.K)
    locs, ray, _ = RayMeshIntersector(Trimesh(v, asset.faces, process=False)).intersects_location(
        np.repeat(o[None], H * W, 0), d.reshape(-1, 3), multiple_hits=False
    )
    hit = np.zeros(H * W, bool)
    hit[ray] = True
    depth = np.zeros(H * W)
    depth[ray] = (locs - o) @ np.array(r.world_to_camera[0][2, :3])  # camera z
    hit, depth = hit.reshape(H, W), depth.reshape(H, W)
    pad = np.pad(hit, 1, mode="edge")
    agree = np.ones((H, W), bool)
    for di in range(3):
        for dj in range(3):
            agree &= pad[di : di + H, dj : dj + W] == hit
    assert np.array_equal(f.amodal[0, 0][agree], hit[agree])
    inside = hit & agree
    assert np.abs(f.amodal_depth[0, 0][inside] - depth[inside]).max() < 1e-4
    assert (f.amodal[0, 0] & (f.instance[0] == 2)).sum() > 30  # the box hides part of it


def _tilt(angle: float) -> np.ndarray:
    """A rotation about the x axis."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def test_scene_flow_projects_to_the_forward_flow(moving):
    """K (X + scene flow), divided by its z, is the pixel centre plus its forward flow
    wherever the flow is valid (the two layers' definitions, through the intrinsics)."""
    scene, r = moving
    f, K = r.frames, scene.camera.K
    v, u = np.mgrid[0:H, 0:W] + 0.5
    for t in range(scene.frames - 1):
        ok = f.flow_valid[t]
        assert (ok <= f.scene_flow_valid[t]).all()
        X = _rays(K) * f.depth[t][..., None].astype(np.float64) + f.scene_flow[t]
        p = X @ K.T
        landing = np.stack([p[..., 0] / p[..., 2] - u, p[..., 1] / p[..., 2] - v], -1)
        assert np.abs(landing[ok] - f.flow[t][ok]).max() < 2e-3
