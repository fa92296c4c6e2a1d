"""Render simulated scenes into clips of frames with every ground-truth layer.

``render_clips(clips, backend, batch_views)`` renders many clips in launches of up to
``batch_views`` views (frames and motion-blur sub-frames, of any clips) each, on the
backend's device (see :mod:`factory.render.backend`). Per clip it returns the
:class:`~factory.render.frames.Frames` (see there for every layer's shape, dtype and units),
per-frame, per-object annotations and the T world-to-camera 4x4 matrices:

* ``bbox_amodal``: [x0, y0, x1, y1] pixel-edge box of the object's full silhouette
  (ignoring occluders) inside the image, x1/y1 exclusive; ``None`` if not in view.
* ``bbox_visible``: the same for the pixels where the object is visible (the
  instance segmentation), ``None`` if not visible.
* ``amodal_pixels``, ``visible_pixels``, ``visible_fraction`` (= visible / amodal,
  0 when the object is out of view).

The batch is a performance choice only: a view's pixels do not depend on which other
views share its launch, so any batch size gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from factory.render.backend import NUMPY, Backend
from factory.render.batch import ViewBatch, scene_tables
from factory.render.flow import forward_flow
from factory.render.frames import Frames
from factory.render.raycast import FIRST_OBJECT, View, cast
from factory.render.shading import shade, to_srgb8
from factory.scene.types import Scene, camera_pose
from factory.timing import timed


@dataclass
class Clip:
    """One clip to render: a scene, its simulated ``motion`` (see
    :mod:`factory.physics.dynamics`), the motion-blur sub-frames per frame (used when the
    camera's shutter > 0) and the generator of its sensor noise (None: no noise)."""

    scene: Scene
    motion: object
    blur_samples: int = 1
    rng: np.random.Generator | None = None


@dataclass
class _Unit:
    """One output frame: its ground-truth view and the views averaged into its RGB."""

    clip: int
    frame: int
    views: list  # (w2c, positions, rotations) per view; the first is the frame's own


def _units(clip_index: int, clip: Clip) -> list[_Unit]:
    scene, cam = clip.scene, clip.scene.camera
    blur = cam.shutter > 0 and clip.blur_samples > 1
    offsets = (np.arange(clip.blur_samples) / (clip.blur_samples - 1) - 0.5) * cam.shutter / scene.fps if blur else []
    out = []
    for t in range(scene.frames):
        time = t / scene.fps
        views = [(camera_pose(cam, time), *clip.motion.state_at(time))]
        views += [(camera_pose(cam, time + dt), *clip.motion.state_at(time + dt)) for dt in offsets]
        out.append(_Unit(clip_index, t, views))
    return out


def _chunks(units: list[_Unit], batch_views: int) -> list[list[_Unit]]:
    """Consecutive units holding at most ``batch_views`` views each (at least one unit)."""
    chunks: list[list[_Unit]] = [[]]
    size = 0
    for u in units:
        n = len(u.views)
        if chunks[-1] and size + n > batch_views:
            chunks.append([])
            size = 0
        chunks[-1].append(u)
        size += n
    return chunks


def _boxes(rows: np.ndarray, cols: np.ndarray) -> list:
    """Pixel-edge boxes [x0, y0, x1, y1] from per-row (n, H) and per-column (n, W)
    occupancy; None where a mask is empty."""
    out = []
    for r, c in zip(rows, cols):
        ri, ci = np.flatnonzero(r), np.flatnonzero(c)
        out.append(None if ri.size == 0 else [int(ci[0]), int(ri[0]), int(ci[-1] + 1), int(ri[-1] + 1)])
    return out


def _annotations(be: Backend, view: View, gt, objects: list[int]) -> list[list[dict]]:
    """Per unit, per object: boxes and pixel counts (see the module docstring)."""
    xp = be.xp
    amodal = view.amodal[gt]  # (U, K, H, W)
    codes = FIRST_OBJECT + xp.arange(amodal.shape[1], dtype=xp.int64)
    visible = view.surface[gt][:, None, :, :] == codes[None, :, None, None]
    stats = []
    for mask in (amodal, visible):
        stats.append((be.numpy(xp.any(mask, axis=3)), be.numpy(xp.any(mask, axis=2)),
                      be.numpy(xp.sum(xp.astype(mask, xp.int64), axis=(2, 3)))))
    out = []
    for u, n_obj in enumerate(objects):
        am_box = _boxes(stats[0][0][u, :n_obj], stats[0][1][u, :n_obj])
        vis_box = _boxes(stats[1][0][u, :n_obj], stats[1][1][u, :n_obj])
        per = []
        for k in range(n_obj):
            n_am, n_vis = int(stats[0][2][u, k]), int(stats[1][2][u, k])
            per.append({"bbox_amodal": am_box[k], "bbox_visible": vis_box[k], "amodal_pixels": n_am,
                        "visible_pixels": n_vis, "visible_fraction": round(n_vis / n_am, 6) if n_am else 0.0})
        out.append(per)
    return out


class _Outputs:
    """The host arrays of every clip, filled frame by frame."""

    def __init__(self, clips: list[Clip]):
        self.frames, self.annotations, self.w2cs = [], [], []
        for c in clips:
            cam, T = c.scene.camera, c.scene.frames
            H, W = cam.height, cam.width
            self.frames.append(Frames(
                rgb=np.empty((T, H, W, 3), np.uint8), depth=np.empty((T, H, W), np.float32),
                instance=np.empty((T, H, W), np.uint16), semantic=np.empty((T, H, W), np.uint8),
                normals=np.empty((T, H, W, 3), np.float32), flow=np.zeros((T, H, W, 2), np.float32),
                flow_valid=np.zeros((T, H, W), bool)))
            self.annotations.append([None] * T)
            self.w2cs.append([None] * T)


def render_clips(clips: list[Clip], backend: Backend = NUMPY, batch_views: int = 0,
                 timings: dict | None = None, stop: Callable[[], None] | None = None) -> list[tuple[Frames, list, list]]:
    """Render every clip (all of one image size); ``(frames, annotations, w2cs)`` each.

    ``batch_views``: views per launch, 0 to size it from the memory at hand (see
    :meth:`Backend.batch_views`). ``timings``, when given, collects seconds per pass.
    ``stop``, when given, is called before each launch and raises
    :class:`~factory.errors.Stopped` to give the work up.
    """
    if not clips:
        return []
    be, xp = backend, backend.xp
    sizes = {(c.scene.camera.width, c.scene.camera.height) for c in clips}
    if len(sizes) != 1:
        raise ValueError(f"render_clips: every clip must have one image size, got {sorted(sizes)}")
    (W, H), = sizes
    per_launch = be.batch_views(W, H, batch_views)
    tables = [scene_tables(c.scene) for c in clips]
    units = [u for i, c in enumerate(clips) for u in _units(i, c)]
    out = _Outputs(clips)
    carry = None  # the last frame's view of the previous launch, if its clip goes on

    def clock(name):
        return timed(timings, name, be.synchronize if timings is not None else None)

    for chunk in _chunks(units, per_launch):
        if stop is not None:
            stop()
        specs = [(u.clip, v) for u in chunk for v in u.views]
        with clock("primary rays"):
            batch = ViewBatch([tables[c] for c, _ in specs], [v[0] for _, v in specs],
                              [clips[c].scene.camera.K for c, _ in specs], [v[1] for _, v in specs],
                              [v[2] for _, v in specs], W, H, xp)
            view = cast(batch)
        starts = np.cumsum([0] + [len(u.views) for u in chunk])[:-1]
        gt = xp.asarray(starts, dtype=xp.int64)
        with clock("shading + shadows"):
            linear = shade(batch, view)
            rgb_linear = linear[gt]
            for m in sorted({len(u.views) for u in chunk if len(u.views) > 1}):
                units_m = np.array([i for i, u in enumerate(chunk) if len(u.views) == m])
                sub = xp.asarray(starts[units_m][:, None] + 1 + np.arange(m - 1)[None, :], dtype=xp.int64)
                rgb_linear[xp.asarray(units_m, dtype=xp.int64)] = xp.mean(linear[sub], axis=1)
            rgb = be.numpy(to_srgb8(xp.clip(rgb_linear, 0.0, 1.0), xp))
        with clock("depth, segmentation, normals"):
            v_gt = view.take(starts, xp)
            depth = be.numpy(xp.where(xp.isfinite(v_gt.depth), v_gt.depth, 0.0))
            inst = be.numpy(_lookup(batch.instance[gt], v_gt.surface, xp))
            sem = be.numpy(_lookup(batch.semantic[gt], v_gt.surface, xp))
            R = xp.asarray(batch.w2c[starts, :3, :3], dtype=xp.float32)
            U = len(chunk)
            normals = be.numpy(xp.reshape(xp.matmul(xp.reshape(v_gt.normal, (U, H * W, 3)),
                                                    xp.permute_dims(R, (0, 2, 1))), (U, H, W, 3)))
        with clock("boxes + visibility"):
            ann = _annotations(be, view, gt, [len(clips[u.clip].scene.objects) for u in chunk])
        for i, u in enumerate(chunk):
            f = out.frames[u.clip]
            f.rgb[u.frame], f.depth[u.frame], f.normals[u.frame] = rgb[i], depth[i], normals[i]
            f.instance[u.frame], f.semantic[u.frame] = inst[i], sem[i]
            out.annotations[u.clip][u.frame] = ann[i]
            out.w2cs[u.clip][u.frame] = u.views[0][0]
        with clock("optical flow"):
            carry = _flows(be, chunk, batch, v_gt, starts, carry, out)
    for c, clip in enumerate(clips):
        _add_noise(clip, out.frames[c].rgb)
    return list(zip(out.frames, out.annotations, out.w2cs))


def _lookup(table, surface, xp):
    """Per-view table (U, S) looked up at surface codes (U, H, W) -> (U, H, W)."""
    U = surface.shape[0]
    flat = xp.reshape(surface, (U, -1)) + xp.arange(U, dtype=xp.int64)[:, None] * table.shape[1]
    return xp.reshape(xp.reshape(table, (-1,))[flat], surface.shape)


def _flows(be: Backend, chunk: list[_Unit], batch: ViewBatch, v_gt: View, starts: np.ndarray, carry, out):
    """Forward flow of every frame whose next frame is in this launch, and of the
    carried last frame of the previous launch; returns this launch's carry."""
    xp = be.xp
    pairs = [(i, i + 1) for i in range(len(chunk) - 1) if chunk[i + 1].clip == chunk[i].clip]
    jobs = []
    if pairs:
        a, b = np.array(pairs).T
        jobs.append((v_gt.take(a, xp), v_gt.take(b, xp), starts[b], [chunk[i] for i in a]))
    first = chunk[0]
    if carry is not None and carry[1].clip == first.clip and carry[1].frame + 1 == first.frame:
        jobs.append((carry[0], v_gt.take([0], xp), starts[:1], [carry[1]]))
    for view_t, view_next, nxt, whose in jobs:
        flow, valid = forward_flow(view_t, view_next, _Next(batch, nxt, xp), xp)
        flow, valid = be.numpy(flow), be.numpy(valid)
        for p, u in enumerate(whose):
            out.frames[u.clip].flow[u.frame], out.frames[u.clip].flow_valid[u.frame] = flow[p], valid[p]
    last = chunk[-1]
    return (v_gt.take([len(chunk) - 1], xp), last) if last.frame + 1 < len(out.w2cs[last.clip]) else None


class _Next:
    """The camera and object poses of the views ``idx`` of ``batch`` (what
    :func:`forward_flow` needs of frame t+1)."""

    def __init__(self, batch: ViewBatch, idx: np.ndarray, xp):
        d = xp.asarray(idx, dtype=xp.int64)
        self.K, self.w2c = batch.K[idx], batch.w2c[idx]
        self.d_rot, self.d_pos = batch.d_rot[d], batch.d_pos[d]


def _add_noise(clip: Clip, rgb: np.ndarray) -> None:
    """Sensor noise (the camera's ``noise_std`` 8-bit levels), frame by frame in order
    from the clip's own generator, so it is the same whatever the batching."""
    std = clip.scene.camera.noise_std
    if std <= 0 or clip.rng is None:
        return
    for t in range(rgb.shape[0]):
        noise = clip.rng.normal(0.0, std, size=rgb.shape[1:])
        rgb[t] = np.clip(np.round(rgb[t].astype(np.float64) + noise), 0, 255).astype(np.uint8)


def render_clip(scene: Scene, motion, blur_samples: int = 1, rng: np.random.Generator | None = None,
                backend: Backend = NUMPY, timings: dict | None = None, batch_views: int = 0):
    """One clip: :func:`render_clips` of ``[Clip(scene, motion, blur_samples, rng)]``."""
    return render_clips([Clip(scene, motion, blur_samples, rng)], backend, batch_views, timings)[0]
