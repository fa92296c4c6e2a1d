"""Render simulated scenes into clips of frames with every ground-truth layer.

``render_clips(clips, device, batch_views)`` renders many clips in launches of up to
``batch_views`` views (frames and motion-blur sub-frames, of any clips) each, with the
Warp kernels of :mod:`factory.render.kernels`. Per clip it returns the
:class:`~factory.render.frames.Frames` (see there for every layer's shape, dtype and
units), per-frame, per-object annotations and the T world-to-camera 4x4 matrices:

* ``bbox_amodal``: [x0, y0, x1, y1] pixel-edge box of the object's full silhouette
  (ignoring occluders) inside the image, x1/y1 exclusive; ``None`` if not in view.
* ``bbox_visible``: the same for the pixels where the object is visible (the
  instance segmentation), ``None`` if not visible.
* ``amodal_pixels``, ``visible_pixels``, ``visible_fraction`` (= visible / amodal,
  0 when the object is out of view).

The batch is a performance choice only: every pixel is computed from its own view and
the poses of its frame's next one alone, so any batch size gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from factory.render.batch import ViewSpec, pack_scenes, pack_views, scene_tables
from factory.render.device import Device, get_device, warp
from factory.render.frames import Frames
from factory.scene.types import Scene, camera_pose
from factory.timing import timed

# linear [0, 1] -> sRGB uint8 through a table: no per-pixel pow, and identical on
# every machine (transcendental functions may differ in the last bit across CPUs).
_LUT_SIZE = 4096
_x = np.arange(_LUT_SIZE) / (_LUT_SIZE - 1)
SRGB_LUT = np.round(255 * np.where(_x <= 0.0031308, 12.92 * _x, 1.055 * _x ** (1 / 2.4) - 0.055)).astype(np.uint8)


@dataclass
class Clip:
    """One clip to render: a scene, its simulated ``motion`` (see
    :mod:`factory.physics.dynamics`), the motion-blur sub-frames per frame (used when the
    camera's shutter > 0) and the generator of its sensor noise (None: no noise)."""

    scene: Scene
    motion: object
    blur_samples: int = 1
    rng: np.random.Generator | None = None


@dataclass(frozen=True)
class Quality:
    """Shading options shared by a launch (``render`` in the config): ``shadow_rays``
    per light and pixel (1: hard), ``ao_rays`` per pixel (0: no ambient occlusion)
    counting occluders within ``ao_distance`` metres."""

    shadow_rays: int = 1
    ao_rays: int = 0
    ao_distance: float = 0.5


@dataclass
class _Unit:
    """One output frame: the views it needs, each ``(w2c, positions, rotations)``: its
    own (ground truth), its motion-blur sub-frames (averaged into its RGB) and, last,
    the next frame's (the poses its flow needs; None in a clip's last frame)."""

    clip: int
    frame: int
    own: tuple
    blur: list
    next: tuple | None


def _view(clip: Clip, time: float) -> tuple:
    return (camera_pose(clip.scene.camera, time), *clip.motion.state_at(time))


def _units(clip_index: int, clip: Clip) -> list[_Unit]:
    scene, cam = clip.scene, clip.scene.camera
    blur = cam.shutter > 0 and clip.blur_samples > 1
    offsets = (np.arange(clip.blur_samples) / (clip.blur_samples - 1) - 0.5) * cam.shutter / scene.fps if blur else []
    out = []
    for t in range(scene.frames):
        time = t / scene.fps
        nxt = _view(clip, (t + 1) / scene.fps) if t + 1 < scene.frames else None
        out.append(_Unit(clip_index, t, _view(clip, time), [_view(clip, time + dt) for dt in offsets], nxt))
    return out


def _chunks(units: list[_Unit], batch_views: int) -> list[list[_Unit]]:
    """Consecutive units holding at most ``batch_views`` drawn views each (at least one unit)."""
    chunks: list[list[_Unit]] = [[]]
    size = 0
    for u in units:
        n = 1 + len(u.blur)
        if chunks[-1] and size + n > batch_views:
            chunks.append([])
            size = 0
        chunks[-1].append(u)
        size += n
    return chunks


def _boxes(b: np.ndarray) -> list:
    """Per-object [x0, y0, x1, y1] boxes from (K, 5) atomics (None where empty)."""
    return [None if row[4] == 0 else [int(x) for x in row[:4]] for row in b]


class _Launch:
    """The jobs and views of one chunk of units, as index arrays."""

    def __init__(self, chunk: list[_Unit], clips: list[Clip]):
        self.views: list[ViewSpec] = []
        job_view, job_next, job_gt, job_shade, first, count = [], [], [], [], [], []
        scene_of = {c: i for i, c in enumerate(dict.fromkeys(u.clip for u in chunk))}
        self.clips = list(scene_of)

        def add(clip: int, view: tuple) -> int:
            cam = clips[clip].scene.camera
            self.views.append(ViewSpec(scene_of[clip], view[0], cam.K, view[1], view[2]))
            return len(self.views) - 1

        for g, u in enumerate(chunk):
            own = add(u.clip, u.own)
            nxt = add(u.clip, u.next) if u.next is not None else -1
            job_view.append(own)
            job_next.append(nxt)
            job_gt.append(g)
            job_shade.append(0 if u.blur else 1)
            first.append(len(job_view) - 1 if not u.blur else len(job_view))
            count.append(max(1, len(u.blur)))
            for b in u.blur:
                job_view.append(add(u.clip, b))
                job_next.append(-1)
                job_gt.append(-1)
                job_shade.append(1)
        self.jobs = [np.array(a, np.int32) for a in (job_view, job_next, job_gt, job_shade)]
        self.first, self.count = np.array(first, np.int32), np.array(count, np.int32)


def _launch(device: Device, chunk: list[_Unit], clips: list[Clip], tables: list, quality: Quality, W: int, H: int):
    """Render one chunk: sRGB (G, H, W, 3) and ground truth as NumPy arrays, and the
    (G, K, 2, 5) box atomics."""
    wp = warp()
    from factory.render import kernels
    from factory.render.tables import Quality as QualityStruct

    plan = _Launch(chunk, clips)
    dev = device.warp_name
    G, R = len(chunk), len(plan.jobs[0])
    kmax = max(1, max(len(clips[c].scene.objects) for c in plan.clips))
    scenes = pack_scenes([tables[c] for c in plan.clips], device)
    views = pack_views(plan.views, [tables[c].radius for c in plan.clips], W, H, device)
    q = QualityStruct()
    q.shadow_rays, q.ao_rays, q.ao_distance = quality.shadow_rays, quality.ao_rays, quality.ao_distance
    jobs = [wp.array(a, dtype=wp.int32, device=dev) for a in plan.jobs]
    out = {
        "rgb": wp.empty((R, H, W), dtype=wp.vec3, device=dev),
        "depth": wp.empty((G, H, W), dtype=wp.float32, device=dev),
        "instance": wp.empty((G, H, W), dtype=wp.uint16, device=dev),
        "semantic": wp.empty((G, H, W), dtype=wp.uint8, device=dev),
        "normals": wp.empty((G, H, W), dtype=wp.vec3, device=dev),
        "flow": wp.empty((G, H, W), dtype=wp.vec2, device=dev),
        "flow_valid": wp.empty((G, H, W), dtype=wp.uint8, device=dev),
    }
    init = np.zeros((G, kmax, 2, 5), np.int32)
    init[..., 0], init[..., 1] = W, H
    boxes = wp.array(init, dtype=wp.int32, device=dev)
    wp.launch(kernels.render_views, dim=(R, H, W), device=dev,
              inputs=[views, scenes, q, *jobs, *out.values(), boxes])
    srgb = wp.empty((G, H, W, 3), dtype=wp.uint8, device=dev)
    wp.launch(kernels.resolve, dim=(G, H, W), device=dev,
              inputs=[out["rgb"], wp.array(plan.first, dtype=wp.int32, device=dev),
                      wp.array(plan.count, dtype=wp.int32, device=dev),
                      wp.array(SRGB_LUT, dtype=wp.uint8, device=dev), srgb])
    host = {k: v.numpy() for k, v in out.items() if k != "rgb"}
    host["rgb"] = srgb.numpy()
    return host, boxes.numpy()


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
                normals=np.empty((T, H, W, 3), np.float32), flow=np.empty((T, H, W, 2), np.float32),
                flow_valid=np.empty((T, H, W), bool)))
            self.annotations.append([None] * T)
            self.w2cs.append([None] * T)

    def store(self, chunk: list[_Unit], host: dict, boxes: np.ndarray, clips: list[Clip]) -> None:
        for g, u in enumerate(chunk):
            f = self.frames[u.clip]
            f.rgb[u.frame], f.depth[u.frame], f.normals[u.frame] = host["rgb"][g], host["depth"][g], host["normals"][g]
            f.instance[u.frame], f.semantic[u.frame] = host["instance"][g], host["semantic"][g]
            f.flow[u.frame], f.flow_valid[u.frame] = host["flow"][g], host["flow_valid"][g].view(bool)
            n_obj = len(clips[u.clip].scene.objects)
            amodal, visible = _boxes(boxes[g, :n_obj, 0]), _boxes(boxes[g, :n_obj, 1])
            per = []
            for k in range(n_obj):
                n_am, n_vis = int(boxes[g, k, 0, 4]), int(boxes[g, k, 1, 4])
                per.append({"bbox_amodal": amodal[k], "bbox_visible": visible[k], "amodal_pixels": n_am,
                            "visible_pixels": n_vis, "visible_fraction": round(n_vis / n_am, 6) if n_am else 0.0})
            self.annotations[u.clip][u.frame] = per
            self.w2cs[u.clip][u.frame] = u.own[0]


def render_clips(clips: list[Clip], device: Device | None = None, batch_views: int = 0,
                 timings: dict | None = None, stop: Callable[[], None] | None = None,
                 quality: Quality = Quality()) -> list[tuple[Frames, list, list]]:
    """Render every clip (all of one image size); ``(frames, annotations, w2cs)`` each.

    ``device``: where the kernels run (default: the CPU). ``batch_views``: views per
    launch, 0 to size it from the memory at hand (see :meth:`Device.batch_views`).
    ``timings``, when given, collects seconds per pass. ``stop``, when given, is called
    before each launch and raises :class:`~factory.errors.Stopped` to give the work up.
    """
    if not clips:
        return []
    device = device or get_device("cpu")
    sizes = {(c.scene.camera.width, c.scene.camera.height) for c in clips}
    if len(sizes) != 1:
        raise ValueError(f"render_clips: every clip must have one image size, got {sorted(sizes)}")
    (W, H), = sizes
    per_launch = device.batch_views(W, H, batch_views)
    tables = [scene_tables(c.scene) for c in clips]
    units = [u for i, c in enumerate(clips) for u in _units(i, c)]
    out = _Outputs(clips)
    for chunk in _chunks(units, per_launch):
        if stop is not None:
            stop()
        with timed(timings, "render", device.synchronize if timings is not None else None):
            host, boxes = _launch(device, chunk, clips, tables, quality, W, H)
        with timed(timings, "annotations"):
            out.store(chunk, host, boxes, clips)
    for c, clip in enumerate(clips):
        _add_noise(clip, out.frames[c].rgb)
    return list(zip(out.frames, out.annotations, out.w2cs))


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
                device: Device | None = None, timings: dict | None = None, batch_views: int = 0):
    """One clip: :func:`render_clips` of ``[Clip(scene, motion, blur_samples, rng)]``."""
    return render_clips([Clip(scene, motion, blur_samples, rng)], device, batch_views, timings)[0]
