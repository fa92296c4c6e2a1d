"""Render a simulated scene into a clip of frames with every ground-truth layer.

``render_clip(scene, motion, blur_samples, rng, xp)`` returns the
:class:`~factory.sample.Frames` (see there for every layer's shape, dtype and units)
and per-frame, per-object annotations:

* ``bbox_amodal``: [x0, y0, x1, y1] pixel-edge box of the object's full silhouette
  (ignoring occluders) inside the image, x1/y1 exclusive; ``None`` if not in view.
* ``bbox_visible``: the same for the pixels where the object is visible (the
  instance segmentation), ``None`` if not visible.
* ``amodal_pixels``, ``visible_pixels``, ``visible_fraction`` (= visible / amodal,
  0 when the object is out of view).

One algorithm written against the array namespace ``xp``; NumPy by default.
"""

from __future__ import annotations

import numpy as np

from factory.render.flow import forward_flow
from factory.render.raycast import FIRST_OBJECT, cast
from factory.render.shading import materials, shade, to_srgb8
from factory.sample import Frames
from factory.scene import CLASS_ID, Scene, camera_pose
from factory.timing import timed


def _semantic_table(scene: Scene) -> np.ndarray:
    """Surface code -> semantic class id (uint8)."""
    table = [CLASS_ID["background"], CLASS_ID["floor"], CLASS_ID["wall"]]
    table += [CLASS_ID[o.category] for o in scene.objects]
    return np.array(table, dtype=np.uint8)


def _instance_table(scene: Scene) -> np.ndarray:
    """Surface code -> instance id (uint16); floor, walls and sky are 0."""
    return np.array([0, 0, 0] + [o.id for o in scene.objects], dtype=np.uint16)


def _box(mask, i0: int, j0: int):
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return [int(j0 + cols[0]), int(i0 + rows[0]), int(j0 + cols[-1] + 1), int(i0 + rows[-1] + 1)]


def render_clip(scene: Scene, motion, blur_samples: int = 1, rng: np.random.Generator | None = None, xp=np,
                timings: dict | None = None):
    """Render every frame of ``scene`` moved by ``motion`` (see :mod:`factory.dynamics`).

    Returns ``(frames, annotations, world_to_camera)``: :class:`Frames` as NumPy arrays,
    ``annotations[t][k]`` a dict for object k at frame t (see the module docstring), and
    the T world-to-camera 4x4 matrices. ``rng`` draws the sensor noise (only used when
    the camera's noise_std > 0). ``timings``, when given, collects seconds per pass.
    """
    cam = scene.camera
    T, H, W = scene.frames, cam.height, cam.width
    K = cam.K
    mats = materials(scene)
    sem_table = xp.asarray(_semantic_table(scene))
    inst_table = xp.asarray(_instance_table(scene))

    views, poses, w2cs = [], [], []
    rgb = np.empty((T, H, W, 3), np.uint8)
    annotations = []
    for t in range(T):
        time = t / scene.fps
        w2c = camera_pose(cam, time)
        pos, rot = motion.state_at(time)
        with timed(timings, "primary rays"):
            view = cast(scene, K, w2c, pos, rot, xp)
        with timed(timings, "shading + shadows"):
            linear = shade(scene, view, pos, rot, mats, xp)
        if cam.shutter > 0 and blur_samples > 1:
            with timed(timings, "motion blur"):
                linear = _blurred(scene, motion, mats, time, blur_samples, xp)
        frame = to_srgb8(xp.clip(linear, 0.0, 1.0), xp)
        if cam.noise_std > 0 and rng is not None:
            noise = rng.normal(0.0, cam.noise_std, size=(H, W, 3))
            frame = np.clip(np.round(np.asarray(frame, np.float64) + noise), 0, 255).astype(np.uint8)
        rgb[t] = np.asarray(frame)
        views.append(view)
        poses.append((pos, rot))
        w2cs.append(w2c)
        with timed(timings, "boxes + visibility"):
            annotations.append(_annotate(scene, view))

    with timed(timings, "depth, segmentation, normals"):
        depth = np.stack([np.asarray(xp.where(xp.isfinite(v.depth), v.depth, 0.0)) for v in views]).astype(np.float32)
        instance = np.stack([np.asarray(inst_table[v.surface]) for v in views])
        semantic = np.stack([np.asarray(sem_table[v.surface]) for v in views])
        normals = np.stack([np.asarray(v.normal @ xp.asarray(w2c[:3, :3].T, dtype=xp.float32))
                            for v, w2c in zip(views, w2cs)]).astype(np.float32)
    flow = np.zeros((T, H, W, 2), np.float32)
    valid = np.zeros((T, H, W), bool)
    with timed(timings, "optical flow"):
        for t in range(T - 1):
            f, m = forward_flow(views[t], views[t + 1], K, w2cs[t + 1], poses[t + 1][0], poses[t + 1][1], xp)
            flow[t], valid[t] = np.asarray(f), np.asarray(m)
    frames = Frames(rgb=rgb, depth=depth, instance=instance, semantic=semantic, normals=normals,
                    flow=flow, flow_valid=valid)
    return frames, annotations, w2cs


def _blurred(scene: Scene, motion, mats, time: float, samples: int, xp):
    """Linear RGB averaged over renders across the open shutter, centred on ``time``."""
    cam = scene.camera
    acc = None
    offsets = (np.arange(samples) / (samples - 1) - 0.5) * cam.shutter / scene.fps
    for dt in offsets:
        pos, rot = motion.state_at(time + dt)
        view = cast(scene, cam.K, camera_pose(cam, time + dt), pos, rot, xp)
        linear = shade(scene, view, pos, rot, mats, xp)
        acc = linear if acc is None else acc + linear
    return acc / samples


def _annotate(scene: Scene, view) -> list[dict]:
    """Per-object boxes and pixel counts for one view."""
    surface = np.asarray(view.surface)
    out = []
    for k, am in enumerate(view.amodal):
        if am is None:
            out.append({"bbox_amodal": None, "bbox_visible": None, "amodal_pixels": 0,
                        "visible_pixels": 0, "visible_fraction": 0.0})
            continue
        i0, i1, j0, j1, mask = am
        mask = np.asarray(mask)
        vis = surface[i0:i1, j0:j1] == FIRST_OBJECT + k
        n_am, n_vis = int(mask.sum()), int(vis.sum())
        out.append({
            "bbox_amodal": _box(mask, i0, j0),
            "bbox_visible": _box(vis, i0, j0),
            "amodal_pixels": n_am,
            "visible_pixels": n_vis,
            "visible_fraction": round(n_vis / n_am, 6) if n_am else 0.0,
        })
    return out

