"""Primary and shadow ray casting against the floor, walls and objects, for a batch
of views at once (see :mod:`factory.render.batch`).

The primary pass casts one ray per pixel centre. Ray directions are scaled so their
camera-frame z is 1, which makes the ray parameter ``t`` equal to metric depth along
the optical axis. Each object is only tested against the pixels inside the projected
rectangle of its bounding sphere, which keeps the cost proportional to what is seen:
per object slot and shape, the rectangles of every view are gathered into one flat
list of rays and intersected in one call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from factory.render.batch import CONVEX, ViewBatch
from factory.render.shapes import SHAPE_CODES, intersect
from factory.render.vec import dot, rowmat

# Surface codes of the material buffer: 0 sky, 1 floor, 2 wall, 3 + k object k.
SKY, FLOOR, WALL, FIRST_OBJECT = 0, 1, 2, 3
T_MIN = 1e-4  # metres (in units of d): ignore hits closer than this
# The floor ends this far along the optical axis (metres); beyond is sky. Keeps depth
# inside the encoded range (65.5 m) and away from float32 trouble at the horizon.
FAR = 60.0
CONVEX_CODES = np.array([i for i, name in enumerate(SHAPE_CODES) if name in CONVEX])


@dataclass
class View:
    """What the primary rays of B views hit. H x W pixels, float32 unless noted.

    depth: (B, H, W) metres along the optical axis, ``inf`` where no surface.
    surface: (B, H, W) int64 surface code (see SKY, FLOOR, WALL, FIRST_OBJECT).
    normal: (B, H, W, 3) unit normal, world frame (0 on sky).
    local: (B, H, W, 3) hit point in the surface's own frame: object frame for
        objects, world for floor and walls (what textures and flow are computed from).
    amodal: (B, K, H, W) bool, each object's full silhouette ignoring occluders.
    origin: (B, 3) camera centre, world. dirs: (B, H, W, 3) ray directions, world.
    """

    depth: object
    surface: object
    normal: object
    local: object
    amodal: object
    origin: object
    dirs: object

    def take(self, idx, xp) -> "View":
        """The views at batch positions ``idx`` (an int array)."""
        idx = xp.asarray(idx, dtype=xp.int64)
        return View(*(getattr(self, f)[idx] for f in ("depth", "surface", "normal", "local", "amodal",
                                                      "origin", "dirs")))


def camera_rays(batch: ViewBatch):
    """Camera centres (B, 3) and world ray directions (B, H, W, 3) through pixel
    centres, scaled so that each has camera-frame z = 1."""
    xp, H, W = batch.xp, batch.height, batch.width
    K = batch.K
    f = xp.asarray(np.stack([K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2]], 1), dtype=xp.float32)
    x = (xp.arange(W, dtype=xp.float32)[None, :] + 0.5 - f[:, 2:3]) / f[:, 0:1]  # (B, W)
    y = (xp.arange(H, dtype=xp.float32)[None, :] + 0.5 - f[:, 3:4]) / f[:, 1:2]  # (B, H)
    shape = (batch.B, H, W)
    d_cam = xp.stack([xp.broadcast_to(x[:, None, :], shape), xp.broadcast_to(y[:, :, None], shape),
                      xp.ones(shape, dtype=xp.float32)], axis=-1)
    R = batch.w2c[:, :3, :3]
    origin = xp.asarray(-np.einsum("bji,bj->bi", R, batch.w2c[:, :3, 3]), dtype=xp.float32)
    # d_world = R^T d_cam, as row vectors: d_cam @ R, one 3x3 per view.
    dirs = xp.matmul(xp.reshape(d_cam, (batch.B, H * W, 3)), xp.asarray(R, dtype=xp.float32))
    return origin, xp.reshape(dirs, (batch.B, H, W, 3))


def _static_surfaces(batch: ViewBatch, origin, dirs):
    """Depth, surface code, world normal of the floor and walls for every ray."""
    xp = batch.xp
    oz = origin[:, 2][:, None, None]
    dz = dirs[..., 2]
    t_floor = xp.where(dz < -1e-9, -oz / xp.where(dz < -1e-9, dz, -1.0), xp.inf)
    depth = xp.where((t_floor > T_MIN) & (t_floor < FAR), t_floor, xp.inf)
    surface = xp.astype(xp.where(xp.isfinite(depth), FLOOR, SKY), xp.int64)
    up = xp.asarray([0.0, 0.0, 1.0], dtype=xp.float32)
    normal = xp.where((surface == FLOOR)[..., None], up, 0.0)
    if not (batch.room_host[:, 0] > 0).any():
        return depth, surface, normal
    has_room = (batch.room[:, 0] > 0)[:, None, None]
    height = batch.room[:, 3][:, None, None]
    for axis in (0, 1):
        half = batch.room[:, 1 + axis][:, None, None]
        o_axis = origin[:, axis][:, None, None]
        dc = dirs[..., axis]
        for sign in (-1.0, 1.0):
            toward = sign * dc > 1e-9
            t = xp.where(toward, (sign * half - o_axis) / xp.where(toward, dc, 1.0), xp.inf)
            z = oz + t * dz
            ok = has_room & toward & (t > T_MIN) & (z >= 0) & (z <= height) & (t < depth)
            depth = xp.where(ok, t, depth)
            surface = xp.where(ok, WALL, surface)
            inward = [0.0, 0.0, 0.0]
            inward[axis] = -sign
            normal = xp.where(ok[..., None], xp.asarray(inward, dtype=xp.float32), normal)
    return depth, surface, normal


def _extent(a, z, radius, f, c0, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel ranges [lo, hi) along one image axis covered by spheres whose centres are
    at (a, z) in that axis's plane of the camera frame (arrays of any one shape): the
    two planes through the camera tangent to a sphere bound its image exactly."""
    dist = np.hypot(a, z)
    inside = dist <= radius
    centre = np.arctan2(a, z)
    half = np.arcsin(np.clip(radius / np.maximum(dist, 1e-12), 0.0, 1.0))
    lo_ang, hi_ang = centre - half, centre + half
    with np.errstate(invalid="ignore", over="ignore"):
        lo = np.where(lo_ang <= -math.pi / 2 + 1e-6, 0,
                      np.maximum(0, np.floor(f * np.tan(np.clip(lo_ang, -1.5, 1.5)) + c0) - 1))
        hi = np.where(hi_ang >= math.pi / 2 - 1e-6, size,
                      np.minimum(size, np.ceil(f * np.tan(np.clip(hi_ang, -1.5, 1.5)) + c0) + 1))
    lo = np.where(inside, 0, lo).astype(np.int64)
    hi = np.where(inside, size, hi).astype(np.int64)
    return lo, hi


def object_rects(batch: ViewBatch) -> np.ndarray:
    """Pixel rectangles (B, K, 4) int64 ``(i0, i1, j0, j1)`` that hold each object's
    image (with a pixel of margin); empty (i0 == i1) for an empty slot, or an object
    wholly behind the camera or out of view."""
    R, tr, K = batch.w2c[:, :3, :3], batch.w2c[:, :3, 3], batch.K
    c = np.einsum("bij,bkj->bki", R, batch.pos) + tr[:, None, :]  # object centres, camera frame
    r = batch.radius
    j0, j1 = _extent(c[..., 0], c[..., 2], r, K[:, None, 0, 0], K[:, None, 0, 2], batch.width)
    i0, i1 = _extent(c[..., 1], c[..., 2], r, K[:, None, 1, 1], K[:, None, 1, 2], batch.height)
    empty = (batch.shape < 0) | (c[..., 2] + r <= 1e-6) | (j0 >= j1) | (i0 >= i1)
    rects = np.stack([i0, i1, j0, j1], -1)
    rects[empty] = 0
    return rects


def _rect_pixels(rects: np.ndarray, views: np.ndarray, width: int, xp):
    """For P rectangles (P, 4) of views ``views`` (P,): every pixel inside them, as
    ``(owner, row, col)`` int64 device arrays of one length (owner indexes P)."""
    sizes = (rects[:, 1] - rects[:, 0]) * (rects[:, 3] - rects[:, 2])
    starts = np.cumsum(sizes) - sizes
    d_rects = xp.asarray(rects, dtype=xp.int64)
    owner = xp.repeat(xp.arange(rects.shape[0], dtype=xp.int64), xp.asarray(sizes, dtype=xp.int64))
    r = xp.arange(int(sizes.sum()), dtype=xp.int64) - xp.asarray(starts, dtype=xp.int64)[owner]
    w = (d_rects[:, 3] - d_rects[:, 2])[owner]
    return owner, d_rects[owner, 0] + r // w, d_rects[owner, 2] + r % w


def cast(batch: ViewBatch) -> View:
    """Cast the primary rays of every view of ``batch``."""
    xp, H, W, B, K = batch.xp, batch.height, batch.width, batch.B, batch.slots
    HW = H * W
    origin, dirs = camera_rays(batch)
    depth, surface, normal = _static_surfaces(batch, origin, dirs)
    local = origin[:, None, None, :] + xp.where(xp.isfinite(depth), depth, 0.0)[..., None] * dirs
    depth, surface = xp.reshape(depth, (-1,)), xp.reshape(surface, (-1,))
    normal, local = xp.reshape(normal, (-1, 3)), xp.reshape(local, (-1, 3))
    flat_dirs = xp.reshape(dirs, (-1, 3))
    amodal = xp.zeros(B * K * HW, dtype=xp.bool)
    rects = object_rects(batch)
    for k in range(K):
        for code, shape in enumerate(SHAPE_CODES):
            views = np.flatnonzero((batch.shape[:, k] == code) & (rects[:, k, 1] > rects[:, k, 0]))
            if views.size == 0:
                continue
            owner, row, col = _rect_pixels(rects[views, k], views, W, xp)
            d_views = xp.asarray(views, dtype=xp.int64)
            R = batch.slot_rot[k][d_views]  # (P, 3, 3) object-to-world
            o_l = rowmat(origin[d_views] - batch.slot_pos[k][d_views], R, xp)  # (P, 3) camera in object frame
            view = d_views[owner]
            pix = view * HW + row * W + col
            Rr = xp.take(R, owner, axis=0)
            o_l = xp.take(o_l, owner, axis=0)
            d_l = rowmat(xp.take(flat_dirs, pix, axis=0), Rr, xp)
            dims = xp.take(batch.slot_dims[k][d_views], owner, axis=0)
            t, n_l = intersect(shape, o_l, d_l, dims, T_MIN, xp)
            hit = xp.isfinite(t)
            amodal[(view * K + k) * HW + row * W + col] = hit
            closer = t < depth[pix]
            depth[pix] = xp.where(closer, t, depth[pix])
            surface[pix] = xp.where(closer, FIRST_OBJECT + k, surface[pix])
            n_w = rowmat(n_l, xp.permute_dims(Rr, (0, 2, 1)), xp)
            normal[pix] = xp.where(closer[:, None], n_w, normal[pix])
            p_l = o_l + xp.where(hit, t, 0.0)[:, None] * d_l
            local[pix] = xp.where(closer[:, None], p_l, local[pix])
    return View(xp.reshape(depth, (B, H, W)), xp.reshape(surface, (B, H, W)), xp.reshape(normal, (B, H, W, 3)),
                xp.reshape(local, (B, H, W, 3)), xp.reshape(amodal, (B, K, H, W)), origin, dirs)


def shadowed(batch: ViewBatch, view_of, points, normals, to_light, t_max, surface):
    """Whether the segment from each surface point towards its light is blocked.

    view_of: (M,) int64 view of each point. points, normals: (M, 3) world.
    to_light: (M, 3) unit directions to the light. t_max: (M,) metres to the light
    (inf for directional lights). surface: (M,) surface codes of the points: a convex
    object cannot shadow its own lit side, so its own points skip the test against it.
    Returns (M,) bool. Objects are first culled by their bounding spheres.
    """
    xp = batch.xp
    start = points + normals * 2e-3  # lift off the surface against self-hits
    blocked = xp.zeros(points.shape[0], dtype=xp.bool)
    for k in range(batch.slots):
        codes = np.unique(batch.shape[:, k])
        codes = codes[codes >= 0]
        if codes.size == 0:
            continue
        c = xp.take(batch.slot_pos[k], view_of, axis=0)  # take: 4x NumPy's fancy indexing
        r = xp.take(batch.slot_radius[k], view_of, axis=0)
        oc = start - c
        b = dot(oc, to_light, xp)
        disc = b * b - (dot(oc, oc, xp) - r * r)
        root = xp.sqrt(xp.maximum(disc, 0.0))
        near = (disc > 0) & (-b + root > 0) & (-b - root < t_max) & ~blocked
        if bool(batch.shape[:, k].min() < 0):
            near = near & (xp.take(batch.slot_shape[k], view_of, axis=0) >= 0)
        if bool(np.isin(codes, CONVEX_CODES).any()):
            near = near & ~(xp.take(batch.slot_convex[k], view_of, axis=0) & (surface == FIRST_OBJECT + k))
        idx = xp.nonzero(near)[0]
        if idx.shape[0] == 0:
            continue
        for code in codes:
            sel = idx if codes.size == 1 else idx[batch.slot_shape[k][view_of[idx]] == int(code)]
            if sel.shape[0] == 0:
                continue
            v = xp.take(view_of, sel, axis=0)
            R = xp.take(batch.slot_rot[k], v, axis=0)
            o_l = rowmat(xp.take(oc, sel, axis=0), R, xp)
            d_l = rowmat(xp.take(to_light, sel, axis=0), R, xp)
            dims = xp.take(batch.slot_dims[k], v, axis=0)
            t, _ = intersect(SHAPE_CODES[int(code)], o_l, d_l, dims, T_MIN, xp)
            blocked[sel] = t < xp.take(t_max, sel, axis=0)
    return blocked
