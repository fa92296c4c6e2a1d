"""Primary and shadow ray casting against the floor, walls and objects.

The primary pass casts one ray per pixel centre. Ray directions are scaled so their
camera-frame z is 1, which makes the ray parameter ``t`` equal to metric depth along
the optical axis. Each object is only tested against the pixels inside the projected
rectangle of its bounding sphere, which keeps the cost proportional to what is seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from factory.render.shapes import intersect
from factory.render.vec import dot
from factory.scene import Scene

# Surface codes of the material buffer: 0 sky, 1 floor, 2 wall, 3 + k object k.
SKY, FLOOR, WALL, FIRST_OBJECT = 0, 1, 2, 3
T_MIN = 1e-4  # metres (in units of d): ignore hits closer than this
# The floor ends this far along the optical axis (metres); beyond is sky. Keeps depth
# inside the encoded range (65.5 m) and away from float32 trouble at the horizon.
FAR = 60.0


@dataclass
class View:
    """What the primary rays of one frame hit. H x W pixels, float32 unless noted.

    depth: (H, W) metres along the optical axis, ``inf`` where no surface.
    surface: (H, W) int32 surface code (see SKY, FLOOR, WALL, FIRST_OBJECT).
    normal: (H, W, 3) unit normal, world frame (0 on sky).
    local: (H, W, 3) hit point in the surface's own frame: object frame for objects,
        world for floor and walls (what textures and flow are computed from).
    amodal: per object, ``None`` or ``(i0, i1, j0, j1, mask)``: the pixels of the
        object's full silhouette, ignoring occluders, inside that rectangle.
    origin: (3,) camera centre, world. dirs: (H, W, 3) ray directions, world.
    """

    depth: np.ndarray
    surface: np.ndarray
    normal: np.ndarray
    local: np.ndarray
    amodal: list
    origin: np.ndarray
    dirs: np.ndarray


def camera_rays(K: np.ndarray, w2c: np.ndarray, width: int, height: int, xp=np):
    """Camera centre (3,) and world ray directions (H, W, 3) through pixel centres,
    scaled so that each has camera-frame z = 1."""
    fx, fy, cx, cy = (float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))  # keep float32
    j = xp.arange(width, dtype=xp.float32) + 0.5
    i = xp.arange(height, dtype=xp.float32) + 0.5
    x = (j - cx) / fx
    y = (i - cy) / fy
    d_cam = xp.stack(
        [xp.broadcast_to(x[None, :], (height, width)), xp.broadcast_to(y[:, None], (height, width)),
         xp.ones((height, width), dtype=xp.float32)], axis=-1)
    R = xp.asarray(w2c[:3, :3], dtype=xp.float32)
    origin = xp.asarray(-w2c[:3, :3].T @ w2c[:3, 3], dtype=xp.float32)
    return origin, d_cam @ R  # d_world = R^T d_cam, as row vectors


def _static_surfaces(scene: Scene, origin, dirs, xp):
    """Depth, surface code, world normal of the floor and walls for every ray."""
    H, W, _ = dirs.shape
    dz = dirs[..., 2]
    t_floor = xp.where(dz < -1e-9, -origin[2] / xp.where(dz < -1e-9, dz, -1.0), xp.inf)
    depth = xp.where((t_floor > T_MIN) & (t_floor < FAR), t_floor, xp.inf).astype(xp.float32)
    surface = xp.where(xp.isfinite(depth), FLOOR, SKY).astype(xp.int32)
    normal = xp.zeros((H, W, 3), dtype=xp.float32)
    normal[..., 2] = xp.where(surface == FLOOR, 1.0, 0.0)
    room = scene.room
    if room is None:
        return depth, surface, normal
    for axis, half in ((0, room.width / 2), (1, room.depth / 2)):
        for sign in (-1.0, 1.0):
            dc = dirs[..., axis]
            toward = sign * dc > 1e-9
            t = xp.where(toward, (sign * half - origin[axis]) / xp.where(toward, dc, 1.0), xp.inf)
            z = origin[2] + t * dz
            ok = toward & (t > T_MIN) & (z >= 0) & (z <= room.height) & (t < depth)
            depth = xp.where(ok, t, depth).astype(xp.float32)
            surface = xp.where(ok, WALL, surface)
            inward = [0.0, 0.0, 0.0]
            inward[axis] = -sign
            normal = xp.where(ok[..., None], xp.asarray(inward, dtype=xp.float32), normal)
    return depth, surface, normal


def _extent(a: float, z: float, radius: float, f: float, c0: float, size: int) -> tuple[int, int]:
    """Pixel range [lo, hi) along one image axis covered by a sphere whose centre is at
    (a, z) in that axis's plane of the camera frame: the two planes through the camera
    tangent to the sphere bound its image exactly."""
    dist = math.hypot(a, z)
    if dist <= radius:
        return 0, size
    centre = math.atan2(a, z)
    half = math.asin(radius / dist)
    lo_ang, hi_ang = centre - half, centre + half
    lo = 0 if lo_ang <= -math.pi / 2 + 1e-6 else max(0, math.floor(f * math.tan(lo_ang) + c0) - 1)
    hi = size if hi_ang >= math.pi / 2 - 1e-6 else min(size, math.ceil(f * math.tan(hi_ang) + c0) + 1)
    return lo, hi


def _rect(K, w2c, centre, radius, width, height):
    """Pixel rectangle (i0, i1, j0, j1) that holds the image of a sphere (with a pixel
    of margin), or None when the sphere is wholly behind the camera or out of view."""
    c = w2c[:3, :3] @ centre + w2c[:3, 3]
    if c[2] + radius <= 1e-6:
        return None
    j0, j1 = _extent(c[0], c[2], radius, K[0, 0], K[0, 2], width)
    i0, i1 = _extent(c[1], c[2], radius, K[1, 1], K[1, 2], height)
    if j0 >= j1 or i0 >= i1:
        return None
    return i0, i1, j0, j1


def cast(scene: Scene, K, w2c, positions, rotations, xp=np) -> View:
    """Cast the primary rays of one frame; objects posed by ``positions`` (N, 3) and
    ``rotations`` (N, 3, 3) (object-to-world)."""
    cam = scene.camera
    origin, dirs = camera_rays(K, w2c, cam.width, cam.height, xp)
    depth, surface, normal = _static_surfaces(scene, origin, dirs, xp)
    local = origin[None, None, :] + xp.where(xp.isfinite(depth), depth, 0.0)[..., None] * dirs
    amodal: list = []
    for k, obj in enumerate(scene.objects):
        rect = _rect(K, w2c, positions[k], obj.bounding_radius, cam.width, cam.height)
        if rect is None:
            amodal.append(None)
            continue
        i0, i1, j0, j1 = rect
        R = xp.asarray(rotations[k], dtype=xp.float32)
        o_l = (origin - xp.asarray(positions[k], dtype=xp.float32)) @ R
        d_l = dirs[i0:i1, j0:j1].reshape(-1, 3) @ R
        t, n_l = intersect(obj.shape, o_l[None, :], d_l, obj.dims, T_MIN, xp)
        hit = xp.isfinite(t)
        shape2 = (i1 - i0, j1 - j0)
        amodal.append((i0, i1, j0, j1, hit.reshape(shape2)))
        if not bool(hit.any()):
            continue
        closer = (t < depth[i0:i1, j0:j1].reshape(-1))
        c2 = closer.reshape(shape2)
        depth[i0:i1, j0:j1] = xp.where(c2, t.reshape(shape2), depth[i0:i1, j0:j1])
        surface[i0:i1, j0:j1] = xp.where(c2, FIRST_OBJECT + k, surface[i0:i1, j0:j1])
        n_w = (n_l @ R.T).reshape(shape2 + (3,))
        normal[i0:i1, j0:j1] = xp.where(c2[..., None], n_w, normal[i0:i1, j0:j1])
        p_l = (o_l[None, :] + xp.where(hit, t, 0.0)[:, None] * d_l).reshape(shape2 + (3,))
        local[i0:i1, j0:j1] = xp.where(c2[..., None], p_l, local[i0:i1, j0:j1])
    return View(depth, surface, normal, local.astype(xp.float32), amodal, origin, dirs)


def _basis(direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors (3,) orthogonal to ``direction`` and to each other."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(direction[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(direction, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(direction, e1)


CONVEX = frozenset({"sphere", "box", "cylinder", "capsule"})


def shadowed(scene: Scene, points, normals, to_light, t_max, positions, rotations, xp=np, direction=None,
             surface=None):
    """Whether the segment from each surface point towards a light is blocked.

    points, normals: (M, 3) world. to_light: (M, 3) unit directions to the light.
    t_max: (M,) metres to the light (inf for directional lights).
    direction: the (3,) unit direction of a directional light, None for point lights.
    surface: (M,) surface codes of the points, if known: a convex object cannot shadow
    its own lit side, so its own points skip the test against it.
    Returns (M,) bool. Objects are first culled by their bounding spheres.
    """
    start = points + normals * 2e-3  # lift off the surface against self-hits
    blocked = xp.zeros(points.shape[0], dtype=bool)
    directional = direction is not None
    if directional:
        # Light-space coordinates: (a, b) across the light, s along it. An object can
        # only shadow a point whose (a, b) falls in its bounding disc and that lies
        # behind it (s < s_object + r): a few flops per point instead of a ray test.
        e1, e2 = _basis(direction)
        ab = start @ xp.asarray(np.stack([e1, e2, direction], 1), dtype=xp.float32)
    for k, obj in enumerate(scene.objects):
        c = xp.asarray(positions[k], dtype=xp.float32)
        r = obj.bounding_radius
        if directional:
            ca, cb, cs = (float(v) for v in np.asarray(positions[k]) @ np.stack([e1, e2, direction], 1))
            da, db = ab[:, 0] - ca, ab[:, 1] - cb
            near = (da * da + db * db < r * r) & (ab[:, 2] < cs + r)
        else:
            oc = start - c
            b = dot(oc, to_light, xp)
            cc = dot(oc, oc, xp) - r * r
            disc = b * b - cc
            root = xp.sqrt(xp.maximum(disc, 0.0))
            near = (disc > 0) & (-b + root > 0) & (-b - root < t_max)
        near &= ~blocked
        if surface is not None and obj.shape in CONVEX:
            near &= surface != FIRST_OBJECT + k
        idx = xp.nonzero(near)[0]
        if idx.shape[0] == 0:
            continue
        R = xp.asarray(rotations[k], dtype=xp.float32)
        o_l = (start[idx] - c) @ R
        d_l = to_light[idx] @ R
        t, _ = intersect(obj.shape, o_l, d_l, obj.dims, T_MIN, xp)
        blocked[idx] = t < t_max[idx]
    return blocked
