"""Render simulated scenes into clips of frames with every ground-truth layer.

``render_clips(clips, device, batch_views)`` renders many clips in launches of up to
``batch_views`` views (frames and motion-blur sub-frames, of any clips) each, with the
Warp kernels of :mod:`factory.render.kernels`. Per clip it returns a
:class:`RenderedClip`: the :class:`~factory.render.frames.Frames` (see there for every
layer's shape, dtype and units), per-frame, per-object :class:`ObjectAnnotation` and
the T world-to-camera 4x4 matrices. A clip's motion is anything with the
:class:`ClipMotion` protocol (:class:`factory.physics.dynamics.Motion` is one).

The batch is a performance choice only: every pixel is computed from its own view and
the poses of its frame's next one alone, so any batch size gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from factory.render.batch import ViewSpec, pack_views, packed_scenes
from factory.render.deform import posed, with_surfaces
from factory.render.device import Device, get_device, warp
from factory.render.frames import Frames
from factory.render.layers import NONE, LayerBuffers, Layers, clip_fields
from factory.render.scene_tables import scene_tables
from factory.render.tables import NO_RGB, RGB_LINEAR, RGB_SRGB, Hit
from factory.render.tone import SRGB_LUT
from factory.scene.config import RenderSettings
from factory.scene.types import Scene, camera_pose
from factory.timing import timed

DEFAULT_SETTINGS = RenderSettings()  # render_clips' shading when none is given (the config's defaults)


class ClipMotion(Protocol):
    """What the renderer needs from a clip's motion: the objects' poses at any time of
    the clip (frames, motion-blur sub-frames). :class:`factory.physics.dynamics.Motion`
    has it; a test may hand in any object that does."""

    def state_at(self, time: float) -> tuple[np.ndarray, np.ndarray]:
        """Object centres (N, 3) float64, metres, world, and object-to-world rotations
        (N, 3, 3) float64 at ``time`` seconds; N: the scene's objects, in order."""
        ...


@dataclass
class Clip:
    """One clip to render: a scene, its simulated ``motion``, the motion-blur sub-frames
    per frame (used when the camera's shutter > 0) and the generator of its sensor noise
    (None: no noise)."""

    scene: Scene
    motion: ClipMotion
    blur_samples: int = 1
    rng: np.random.Generator | None = None
    surfaces: tuple = ()  # DeformingSurface rows after the objects (motion.deformed_at: factory.render.deform)


class ObjectAnnotation(NamedTuple):
    """What the renderer measures of one object in one frame (its fields, in this order,
    are the per-frame keys of a sample's ``objects`` entries; see docs/format.md)."""

    bbox_amodal: list[int] | None  # [x0, y0, x1, y1] pixel-edge box of the full silhouette
    # (ignoring occluders) inside the image, x1/y1 exclusive; None if not in view
    bbox_visible: list[int] | None  # the same over the pixels where it is visible (the
    # instance segmentation); None if not visible
    amodal_pixels: int  # pixels of its full silhouette inside the image
    visible_pixels: int  # pixels where it is visible
    visible_fraction: float  # visible / amodal pixels, rounded to 6 decimals; 0 when out of view


@dataclass(frozen=True)
class RenderedClip:
    """What :func:`render_clips` gives for one clip of T frames and N objects."""

    frames: Frames  # every per-pixel layer (see Frames)
    annotations: list[list[ObjectAnnotation]]  # [T][N]
    world_to_camera: list[np.ndarray]  # T (4, 4) float64 world-to-camera matrices, one per frame
    gain: tuple = (1.0, 1.0, 1.0)  # (3,) the exposure times white balance its RGB was shown with


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
    return posed((camera_pose(clip.scene.camera, time), *clip.motion.state_at(time)), clip, time)


def _units(clip_index: int, clip: Clip) -> list[_Unit]:
    scene, cam = clip.scene, clip.scene.camera
    blur = cam.shutter > 0 and clip.blur_samples > 1
    offsets = (np.arange(clip.blur_samples) / (clip.blur_samples - 1) - 0.5) * cam.shutter / scene.fps if blur else []
    frames = [_view(clip, t / scene.fps) for t in range(scene.frames)]  # a frame's own is its previous one's next
    out = []
    for t in range(scene.frames):
        time = t / scene.fps
        nxt = frames[t + 1] if t + 1 < scene.frames else None
        out.append(_Unit(clip_index, t, frames[t], [_view(clip, time + dt) for dt in offsets], nxt))
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


CARRY = 2  # hits rows 0 and 1 carry a next frame's hits from one launch to the next


def _boxes(b: np.ndarray) -> list:
    """Per-object [x0, y0, x1, y1] boxes from (K, 5) atomics (None where empty)."""
    return [None if row[4] == 0 else [int(x) for x in row[:4]] for row in b]


class _Launch:
    """The jobs and views of one chunk of units, as index arrays. A unit's ground truth
    lands in frame slot ``first_frame[clip] + frame`` of the whole call's outputs.

    Render jobs (``jobs``: view, next frame's hits row, ground-truth slot, shade, own
    hits row, next frame's view) read their primary hits from rows of
    the :class:`~factory.render.tables.Hit` array: job r's are row ``CARRY + r``, written by
    the primary tasks (``prims``: view, amodal-box slot, hits row). A frame's flow
    reads its next frame's hits: that frame's own job's when it is in the chunk, else
    (only the chunk's last unit) a primary task of that view alone into carry row
    ``index % 2``, which the next launch, whose first unit it is, then reads instead
    of tracing it again (``carried``). The same view from the same inputs: the same
    bits either way."""

    def __init__(self, chunk: list[_Unit], clips: list[Clip], first_frame: list[int], index: int, carried: bool):
        self.views: list[ViewSpec] = []
        jobs: list[list[int]] = []  # rows of the six job columns
        prims: list[tuple[int, int, int]] = []
        first, count = [], []
        scene_of = {c: i for i, c in enumerate(dict.fromkeys(u.clip for u in chunk))}
        self.clips = list(scene_of)

        def add(clip: int, view: tuple) -> int:
            cam = clips[clip].scene.camera
            self.views.append(ViewSpec(scene_of[clip], view[0], cam.K, view[1], view[2], *view[3:]))
            return len(self.views) - 1

        def job(view: int, gt: int, shade: int) -> int:
            r = len(jobs)
            if carried and r == 0:  # its hits came with the launch before
                jobs.append([view, -1, gt, shade, (index - 1) % 2, 0])
            else:
                jobs.append([view, -1, gt, shade, CARRY + r, 0])
                prims.append((view, gt, CARRY + r))
            return r

        own_job = {}  # (clip, frame) -> the job of its own view
        slot = []  # the frames whose RGB resolve averages from their blur sub-frames
        slot_clip = []  # and their clips (whose exposure and tone curve resolve applies)
        for u in chunk:
            gt = first_frame[u.clip] + u.frame
            own_job[u.clip, u.frame] = job(add(u.clip, u.own), gt, NO_RGB if u.blur else RGB_SRGB)
            if u.blur:
                first.append(len(jobs))
                count.append(len(u.blur))
                slot.append(gt)
                slot_clip.append(u.clip)
            for b in u.blur:
                job(add(u.clip, b), -1, RGB_LINEAR)
        for u in chunk:
            if u.next is None:
                continue
            row = own_job[u.clip, u.frame]
            nxt = own_job.get((u.clip, u.frame + 1))
            if nxt is not None:
                jobs[row][1], jobs[row][5] = jobs[nxt][4], jobs[nxt][0]
            else:  # the chunk's last unit: its next frame opens the next chunk
                view = add(u.clip, u.next)
                prims.append((view, first_frame[u.clip] + u.frame + 1, index % 2))
                jobs[row][1], jobs[row][5] = index % 2, view
        self.jobs = [np.array(c, np.int32) for c in zip(*jobs)]
        self.prims = [np.array(c, np.int32) for c in zip(*prims)] if prims else None
        self.first, self.count = np.array(first, np.int32), np.array(count, np.int32)
        self.slot = np.array(slot, np.int32)
        self.slot_clip = slot_clip


class _Buffers:
    """The device arrays of every frame of every clip of one call (F frames in all),
    which the launches write in place, so no frame is copied per launch: ``out``
    (sRGB (F, H, W, 3) uint8 and the ground truth, see :class:`Frames`), the box
    atomics ``boxes`` (F, K, 2, 5) int32 (amodal, visible: x0, y0, x1, y1, pixels) and
    one launch's linear RGB per job, reused by every launch."""

    def __init__(self, device: Device, clips: list[Clip], W: int, H: int, max_jobs: int, layers: Layers):
        wp = warp()
        dev = device.warp_name
        F = sum(c.scene.frames for c in clips)
        kmax = max(1, max(len(c.scene.objects) + len(c.surfaces) for c in clips))
        self.out = {
            "rgb": device.empty((F, H, W, 3), wp.uint8),
            "depth": device.empty((F, H, W), wp.float32),
            "instance": device.empty((F, H, W), wp.uint16),
            "semantic": device.empty((F, H, W), wp.uint8),
            "normals": device.empty((F, H, W), wp.vec3),
            "flow": device.empty((F, H, W), wp.vec2),
            "flow_valid": device.empty((F, H, W), wp.uint8),
            "albedo": device.empty((F, H, W, 3), wp.uint8),
            "material": device.empty((F, H, W), wp.uint8),
        }
        init = np.zeros((F, kmax, 2, 5), np.int32)
        init[..., 0], init[..., 1] = W, H
        self.boxes = wp.array(init, dtype=wp.int32, device=dev)
        self.linear = wp.empty((max_jobs, H, W), dtype=wp.vec3, device=dev)  # only blurred frames touch it
        self.hits = device.empty((CARRY + max_jobs, H, W), Hit)
        self.lut = wp.array(SRGB_LUT, dtype=wp.uint8, device=dev)
        self.layers = LayerBuffers(device, layers, clips, kmax, H, W)  # the optional layers

    def host(self) -> tuple[dict, np.ndarray]:
        """Every output as NumPy (views of the arrays on the CPU, one copy from CUDA)."""
        out = {k: v.numpy() for k, v in self.out.items()}
        out["flow_valid"] = out["flow_valid"].view(bool)
        return out, self.boxes.numpy()


def _launch(device: Device, plan: _Launch, tables: list, scenes, settings: RenderSettings, bufs, W: int, H: int):
    """Render one chunk (``scenes``: its clips' Scenes struct) into ``bufs`` with the
    shading options of ``settings``."""
    wp = warp()
    from factory.render import kernels
    from factory.render.tables import Quality

    dev = device.warp_name
    views = pack_views(plan.views, [tables[c] for c in plan.clips], W, H, device)
    q = Quality()
    q.shadow_rays, q.ao_rays, q.ao_distance = settings.shadow_rays, settings.ao_rays, settings.ao_distance
    jobs = [device.table(a, wp.int32) for a in plan.jobs]
    o = bufs.out
    span = W if device.name == "cpu" else 1  # pixels of a row per thread (see kernels)
    blocks = (W + span - 1) // span
    if plan.prims is not None:
        prims = [device.table(a, wp.int32) for a in plan.prims]
        wp.launch(
            kernels.primary,
            dim=(len(plan.prims[0]), H, blocks),
            device=dev,
            inputs=[views, scenes, *prims, bufs.hits, bufs.boxes, span, *bufs.layers.primary_inputs()],
        )
    wp.launch(
        kernels.render_views,
        dim=(len(plan.jobs[0]), H, blocks),
        device=dev,
        inputs=[
            views,
            scenes,
            q,
            *jobs,
            bufs.hits,
            bufs.linear,
            o["depth"],
            o["instance"],
            o["semantic"],
            o["normals"],
            o["flow"],
            o["flow_valid"],
            o["albedo"],
            o["material"],
            bufs.boxes,
            bufs.lut,
            o["rgb"],
            span,
        ],
    )
    bufs.layers.launch(plan, views, jobs, bufs.hits, (len(plan.jobs[0]), H, blocks), span)
    if not len(plan.slot):  # no motion-blurred frame: every frame's RGB is written
        return
    wp.launch(
        kernels.resolve,
        dim=(len(plan.slot), H, blocks),
        device=dev,
        inputs=[
            bufs.linear,
            *(device.table(a, wp.int32) for a in (plan.first, plan.count, plan.slot)),
            device.table(np.array([tables[c].gain for c in plan.slot_clip], np.float32).reshape(-1, 3), wp.vec3),
            device.table(np.array([tables[c].tone for c in plan.slot_clip], np.int32), wp.int32),
            bufs.lut,
            o["rgb"],
            span,
        ],
    )


def _annotations(boxes: np.ndarray, n_obj: int) -> list[ObjectAnnotation]:
    """Per object: boxes and pixel counts from one frame's (K, 2, 5) atomics."""
    amodal, visible = _boxes(boxes[:n_obj, 0]), _boxes(boxes[:n_obj, 1])
    per = []
    for k in range(n_obj):
        n_am, n_vis = int(boxes[k, 0, 4]), int(boxes[k, 1, 4])
        per.append(ObjectAnnotation(amodal[k], visible[k], n_am, n_vis, round(n_vis / n_am, 6) if n_am else 0.0))
    return per


def render_clips(
    clips: list[Clip],
    device: Device | None = None,
    batch_views: int = 0,
    timings: dict | None = None,
    stop: Callable[[], None] | None = None,
    settings: RenderSettings = DEFAULT_SETTINGS,
    layers: Layers = NONE,
) -> list[RenderedClip]:
    """Render every clip (all of one image size); a :class:`RenderedClip` each.

    ``device``: where the kernels run (default: the CPU). ``batch_views``: views per
    launch, 0 to size it from the memory at hand (see :meth:`Device.batch_views`).
    ``settings``: the config's render settings, of which the shading options
    (``shadow_rays``, ``ao_rays``, ``ao_distance``) are read here (default: hard
    shadows, no ambient occlusion).
    ``timings``, when given, collects seconds per pass (``mesh assets``: the mesh
    cache's look-ups and builds). ``stop``, when given, is called before each launch
    and raises :class:`~factory.errors.Stopped` to give the work up. ``layers``: the
    optional layers to render too (:class:`~factory.render.layers.Layers`; default none).
    """
    if not clips:
        return []
    device = device or get_device("cpu")
    sizes = {(c.scene.camera.width, c.scene.camera.height) for c in clips}
    if len(sizes) != 1:
        raise ValueError(f"render_clips: every clip must have one image size, got {sorted(sizes)}")
    ((W, H),) = sizes
    first_frame = np.cumsum([0] + [c.scene.frames for c in clips]).tolist()
    units = [u for i, c in enumerate(clips) for u in _units(i, c)]
    tables = [with_surfaces(scene_tables(c.scene), c, [u for u in units if u.clip == i]) for i, c in enumerate(clips)]
    lights = max(len(c.scene.lights) for c in clips)
    rays = settings.rays_per_pixel(lights)
    chunks = _chunks(units, device.batch_views(W, H, batch_views, rays))
    plans = [
        _Launch(c, clips, first_frame, n, n > 0 and chunks[n - 1][-1].next is not None) for n, c in enumerate(chunks)
    ]
    with timed(timings, "render", device.synchronize if timings is not None else None):
        bufs = _Buffers(device, clips, W, H, max(len(p.jobs[0]) for p in plans), layers)
    packed: dict = {}
    for plan in plans:
        if stop is not None:
            stop()
        scenes = packed_scenes([tables[c] for c in plan.clips], device, tuple(plan.clips), packed, timings)
        with timed(timings, "render", device.synchronize if timings is not None else None):
            _launch(device, plan, tables, scenes, settings, bufs, W, H)
    with timed(timings, "annotations"):
        out, boxes = bufs.host()
        extra = bufs.layers.host()
        results = []
        for c, clip in enumerate(clips):
            at = slice(first_frame[c], first_frame[c + 1])
            n_obj = len(clip.scene.objects) + len(clip.surfaces)
            frames = Frames(**{k: v[at] for k, v in out.items()}, **clip_fields(extra, at, n_obj))
            _add_noise(clip, frames.rgb)
            ann = [_annotations(boxes[f], n_obj) for f in range(at.start, at.stop)]
            results.append(RenderedClip(frames, ann, [u.own[0] for u in units if u.clip == c], tables[c].gain))
    return results


def _add_noise(clip: Clip, rgb: np.ndarray) -> None:
    """Sensor noise (the camera's ``noise_std`` 8-bit levels), frame by frame in order
    from the clip's own generator, so it is the same whatever the batching."""
    std = clip.scene.camera.noise_std
    if std <= 0 or clip.rng is None:
        return
    for t in range(rgb.shape[0]):
        noise = clip.rng.normal(0.0, std, size=rgb.shape[1:])
        rgb[t] = np.clip(np.round(rgb[t].astype(np.float64) + noise), 0, 255).astype(np.uint8)


def render_clip(
    scene: Scene,
    motion: ClipMotion,
    blur_samples: int = 1,
    rng: np.random.Generator | None = None,
    device: Device | None = None,
    timings: dict | None = None,
    batch_views: int = 0,
) -> RenderedClip:
    """One clip: :func:`render_clips` of ``[Clip(scene, motion, blur_samples, rng)]``."""
    return render_clips([Clip(scene, motion, blur_samples, rng)], device, batch_views, timings)[0]
