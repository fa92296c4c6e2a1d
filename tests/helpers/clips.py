"""Synthetic clips for tests that must not depend on the renderer.

:func:`synthetic_frames` draws a render-like clip with plain numpy: a sky band, a
floor plane seen in perspective, and shaded spheres that move in straight lines.
Every array has the dtype, shape and units of :class:`factory.render.frames.Frames`, and the
values are structured (smooth depth, unit normals, piecewise-constant flow) so PNG
sizes and encode times measured on it resemble those of real renders.
"""

from __future__ import annotations

import numpy as np

from factory.render.frames import Frames
from factory.sample.types import Sample, sample_key
from factory.scene.shapes import CLASS_ID


def synthetic_frames(frames: int = 4, height: int = 32, width: int = 40, *, spheres: int = 3, seed: int = 0) -> Frames:
    """A clip of ``frames`` x ``height`` x ``width`` with ``spheres`` moving spheres."""
    rng = np.random.default_rng([seed, frames, height, width])
    T, H, W = frames, height, width
    v, u = np.mgrid[0:H, 0:W].astype(np.float32) + 0.5  # pixel centres
    horizon = 0.3 * H
    f = 0.9 * W  # focal length, pixels

    # Floor: a plane 1.5 m below the camera; depth grows towards the horizon.
    below = v > horizon
    floor_depth = np.where(below, np.minimum(1.5 * f / np.maximum(v - horizon, 1e-3), 50.0), 0.0).astype(np.float32)
    checker = ((np.floor(u / 6) + np.floor(v / 6)) % 2).astype(np.float32)
    floor_rgb = np.stack([150 + 40 * checker, 130 + 40 * checker, 110 + 30 * checker], -1)
    sky_rgb = np.stack([120 + 60 * v / H, 160 + 50 * v / H, 230 + 0 * v], -1)

    rgb = np.empty((T, H, W, 3), np.uint8)
    depth = np.empty((T, H, W), np.float32)
    instance = np.zeros((T, H, W), np.uint16)
    semantic = np.empty((T, H, W), np.uint8)
    normals = np.zeros((T, H, W, 3), np.float32)
    flow = np.zeros((T, H, W, 2), np.float32)
    flow_valid = np.zeros((T, H, W), bool)
    albedo = np.zeros((T, H, W, 3), np.uint8)  # the base colour: floor and spheres unlit, 0 on sky
    material = np.zeros((T, H, W), np.uint8)  # family ids: 1 floor, 2 spheres, 0 sky

    centres = rng.uniform([0.2 * W, 0.45 * H], [0.8 * W, 0.8 * H], size=(spheres, 2))
    velocity = rng.uniform(-0.08 * W, 0.08 * W, size=(spheres, 2))  # pixels per frame
    radius = rng.uniform(0.08, 0.18, size=spheres) * min(H, W)
    distance = rng.uniform(2.0, 6.0, size=spheres)
    colour = rng.uniform(60, 230, size=(spheres, 3))
    ids = rng.choice(np.arange(1, 5000), size=spheres, replace=False)
    light = np.array([0.4, -0.6, -0.7]) / np.linalg.norm([0.4, -0.6, -0.7])

    for t in range(T):
        img = np.where(below[..., None], floor_rgb, sky_rgb)
        d = floor_depth.copy()
        n = np.zeros((H, W, 3), np.float32)
        n[below] = (0.0, -0.8, -0.6)  # unit normal of the floor, camera frame
        ins = np.zeros((H, W), np.uint16)
        sem = np.where(below, CLASS_ID["floor"], CLASS_ID["background"]).astype(np.uint8)
        fl = np.zeros((H, W, 2), np.float32)
        for k in np.argsort(-distance):  # far to near, so near spheres occlude
            cx, cy = centres[k] + t * velocity[k]
            dx, dy = (u - cx) / radius[k], (v - cy) / radius[k]
            r2 = dx * dx + dy * dy
            inside = r2 < 1.0
            dz = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
            nk = np.stack([dx, dy, -dz], -1)
            shade = np.clip(-(nk @ light), 0.1, 1.0)[..., None]
            img = np.where(inside[..., None], colour[k] * shade, img)
            d = np.where(inside, distance[k] - 0.3 * dz, d)
            n = np.where(inside[..., None], nk, n)
            ins = np.where(inside, ids[k], ins).astype(np.uint16)
            sem = np.where(inside, CLASS_ID["sphere"], sem).astype(np.uint8)
            fl = np.where(inside[..., None], velocity[k], fl)
        rgb[t] = np.clip(img, 0, 255).astype(np.uint8)
        depth[t] = d
        normals[t] = n
        instance[t] = ins
        semantic[t] = sem
        flow[t] = fl
        albedo[t] = np.where(sem[..., None] == CLASS_ID["background"], 0, np.where((ins > 0)[..., None], 0, floor_rgb))
        material[t] = np.where(ins > 0, 2, np.where(sem == CLASS_ID["floor"], 1, 0))
        for k in range(spheres):
            albedo[t][ins == ids[k]] = colour[k].astype(np.uint8)
        # Defined where there is a surface, except in the last frame (no t + 1).
        flow_valid[t] = (d > 0) & (t < T - 1)
    flow[~flow_valid] = 0.0
    return Frames(rgb, depth, instance, semantic, normals, flow, flow_valid, albedo, material)


def synthetic_meta(frames: Frames) -> dict:
    """Metadata shaped like generate's: camera and objects with per-frame boxes."""
    T, H, W = frames.depth.shape
    objects = []
    for oid in np.unique(frames.instance):
        if oid == 0:
            continue
        visible = []
        for t in range(T):
            ys, xs = np.nonzero(frames.instance[t] == oid)
            visible.append(
                None if xs.size == 0 else [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
            )
        objects.append({"id": int(oid), "category": "sphere", "bbox_visible": visible, "bbox_amodal": visible})
    K = [[0.9 * W, 0.0, W / 2], [0.0, 0.9 * W, H / 2], [0.0, 0.0, 1.0]]
    eye = np.eye(4).tolist()
    return {"camera": {"K": K, "world_to_camera": [eye] * T}, "objects": objects, "fps": 12.0}


def synthetic_sample(index: int = 0, **kwargs) -> Sample:
    """A :class:`Sample` around :func:`synthetic_frames`."""
    frames = synthetic_frames(**kwargs)
    return Sample(key=sample_key(index), index=index, scenario="synthetic", frames=frames, meta=synthetic_meta(frames))
