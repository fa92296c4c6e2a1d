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

from factory.render.raycast import FIRST_OBJECT, SKY, View
from factory.render.vec import dot


def forward_flow(view_t: View, view_next: View, K, w2c_next, pos_next, rot_next, xp=np):
    """Flow (H, W, 2) float32 in pixels and validity (H, W) bool from frame t to t+1.

    pos_next (N, 3) and rot_next (N, 3, 3): object poses at frame t+1.
    """
    H, W = view_t.depth.shape
    fx, fy, cx, cy = (float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))  # keep float32
    surf = view_t.surface
    local = view_t.local
    moved = local.copy()  # floor/walls: the world point stays where it is
    for k in range(pos_next.shape[0]):
        m = surf == FIRST_OBJECT + k
        if not bool(m.any()):
            continue
        R = xp.asarray(rot_next[k], dtype=xp.float32)
        p = xp.asarray(pos_next[k], dtype=xp.float32)
        moved[m] = local[m] @ R.T + p
    R = xp.asarray(w2c_next[:3, :3], dtype=xp.float32)
    tr = xp.asarray(w2c_next[:3, 3], dtype=xp.float32)
    cam = moved @ R.T + tr
    z = cam[..., 2]
    zs = xp.where(z > 1e-6, z, 1.0)
    u = fx * cam[..., 0] / zs + cx
    v = fy * cam[..., 1] / zs + cy
    jj = (xp.arange(W, dtype=xp.float32) + 0.5)[None, :]
    ii = (xp.arange(H, dtype=xp.float32) + 0.5)[:, None]
    flow = xp.stack([u - jj, v - ii], axis=-1).astype(xp.float32)

    inside = (surf != SKY) & (z > 1e-6) & (u >= 0) & (u < W) & (v >= 0) & (v < H)
    qi = xp.clip(xp.floor(v), 0, H - 1).astype(xp.int64)
    qj = xp.clip(xp.floor(u), 0, W - 1).astype(xp.int64)
    seen = view_next.surface[qi, qj] != SKY
    # Tangent plane of the surface seen at the landing pixel in frame t+1 (world).
    d_q = view_next.dirs[qi, qj]
    y_q = view_next.origin + xp.where(seen, view_next.depth[qi, qj], 0.0)[..., None] * d_q
    n_q = view_next.normal[qi, qj]
    # The landing ray through the exact sub-pixel position (u, v), camera z = 1.
    ray_cam = xp.stack([(u - cx) / fx, (v - cy) / fy, xp.ones_like(u)], axis=-1)
    ray = ray_cam @ R  # world direction, camera z = 1
    denom = dot(n_q, ray, xp)
    num = dot(n_q, y_q - view_next.origin, xp)
    plane_z = num / xp.where(xp.abs(denom) > 1e-6, denom, 1e-6)
    agree = xp.abs(plane_z - z) <= 0.01 * xp.abs(z) + 0.01
    valid = inside & seen & agree & (xp.abs(denom) > 1e-6)
    flow = xp.where(valid[..., None], flow, 0.0).astype(xp.float32)
    return flow, valid
