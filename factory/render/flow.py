"""Forward optical flow from the known 3D motion, with an occlusion-aware validity mask.

For each pixel of frame t that sees a surface, the hit point is carried to frame t+1
by that surface's rigid motion (objects move with their pose, floor and walls stay),
and projected with the camera of frame t+1. The flow is that projection minus the
pixel centre.

Validity does not look at instance ids (the tests check flow against ids
independently). A pixel is valid when the carried point lands inside frame t+1 in
front of the camera and is not hidden there: the surface seen at the landing pixel in
frame t+1, taken as its tangent plane, passes within ``1% of depth + 1 cm`` of the
carried point along the landing ray.
"""

from __future__ import annotations

import numpy as np

from factory.render.batch import ViewBatch
from factory.render.raycast import FIRST_OBJECT, SKY, View
from factory.render.vec import dot, rowmat


def forward_flow(view_t: View, view_next: View, nxt: ViewBatch, xp=np):
    """Flow (P, H, W, 2) float32 in pixels and validity (P, H, W) bool for P pairs of
    views: ``view_t[p]`` is frame t of a clip and ``view_next[p]`` its frame t+1, whose
    camera and object poses are view ``p`` of ``nxt``.
    """
    P, H, W = view_t.depth.shape
    K = nxt.K
    f = xp.asarray(np.stack([K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2]], 1), dtype=xp.float32)
    fx, fy, cx, cy = (f[:, i][:, None, None] for i in range(4))
    surf = xp.reshape(view_t.surface, (-1,))
    local = xp.reshape(view_t.local, (-1, 3))
    moved = local  # floor/walls: the world point stays where it is
    idx = xp.nonzero(surf >= FIRST_OBJECT)[0]
    if idx.shape[0]:
        pair = idx // (H * W)
        k = surf[idx] - FIRST_OBJECT
        R = nxt.d_rot[pair, k]  # object-to-world at t+1
        moved = xp.asarray(local, copy=True)
        moved[idx] = rowmat(local[idx], xp.permute_dims(R, (0, 2, 1)), xp) + nxt.d_pos[pair, k]
    R = xp.asarray(nxt.w2c[:, :3, :3], dtype=xp.float32)
    tr = xp.asarray(nxt.w2c[:, :3, 3], dtype=xp.float32)
    cam = xp.matmul(xp.reshape(moved, (P, H * W, 3)), xp.permute_dims(R, (0, 2, 1))) + tr[:, None, :]
    cam = xp.reshape(cam, (P, H, W, 3))
    z = cam[..., 2]
    zs = xp.where(z > 1e-6, z, 1.0)
    u = fx * cam[..., 0] / zs + cx
    v = fy * cam[..., 1] / zs + cy
    jj = (xp.arange(W, dtype=xp.float32) + 0.5)[None, None, :]
    ii = (xp.arange(H, dtype=xp.float32) + 0.5)[None, :, None]
    flow = xp.stack([u - jj, v - ii], axis=-1)

    inside = (view_t.surface != SKY) & (z > 1e-6) & (u >= 0) & (u < W) & (v >= 0) & (v < H)
    # The landing pixel in frame t+1, as a flat index into its (P, H, W) arrays.
    qi = xp.astype(xp.clip(xp.floor(v), 0, H - 1), xp.int64)
    qj = xp.astype(xp.clip(xp.floor(u), 0, W - 1), xp.int64)
    q = xp.arange(P, dtype=xp.int64)[:, None, None] * (H * W) + qi * W + qj
    seen = xp.reshape(view_next.surface, (-1,))[q] != SKY
    # Tangent plane of the surface seen at the landing pixel in frame t+1 (world).
    d_q = xp.reshape(view_next.dirs, (-1, 3))[q]
    origin = view_next.origin[:, None, None, :]
    y_q = origin + xp.where(seen, xp.reshape(view_next.depth, (-1,))[q], 0.0)[..., None] * d_q
    n_q = xp.reshape(view_next.normal, (-1, 3))[q]
    # The landing ray through the exact sub-pixel position (u, v), camera z = 1.
    ray_cam = xp.stack([(u - cx) / fx, (v - cy) / fy, xp.ones_like(u)], axis=-1)
    ray = xp.reshape(xp.matmul(xp.reshape(ray_cam, (P, H * W, 3)), R), (P, H, W, 3))  # world, camera z = 1
    denom = dot(n_q, ray, xp)
    num = dot(n_q, y_q - origin, xp)
    plane_z = num / xp.where(xp.abs(denom) > 1e-6, denom, 1e-6)
    agree = xp.abs(plane_z - z) <= 0.01 * xp.abs(z) + 0.01
    valid = inside & seen & agree & (xp.abs(denom) > 1e-6)
    flow = xp.where(valid[..., None], flow, 0.0)
    return flow, valid
