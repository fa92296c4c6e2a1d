"""``generate_samples(config, indices, samples=N)`` and its one-sample form
``generate_sample``: what every path calls (the pipeline, the endpoint, the previews,
the tests).

Per sample: its scenario from the allocation (:func:`scenario_of`) -> a usable scene
and its MuJoCo model (:func:`factory.sample.scenes.scene_and_model`: drawn, checked for
camera clearance and spawn overlaps, drawn again) -> its motion
(:func:`factory.physics.dynamics.simulate`) -> then all the call's clips rendered
together (:func:`factory.render.renderer.render_clips`, in launches of
``render.batch_views`` views) -> the metadata. A sample depends only on the config
(with its seed), the index and, through the scenario allocation, the dataset's size
(``samples``; None for the open-ended stream, see :mod:`factory.scene.allocation`), so
the same sample is the same bytes on any worker, in any order and in any batch. A
sample that fails is a :class:`~factory.errors.RenderError` naming the index, the
scenario and the seed: returned in its place by :func:`generate_samples`, raised by
:func:`generate_sample`. :func:`generate_members` encodes one sample as a shard holds
it. What a sample holds: ``docs/format.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TypeVar

import numpy as np

from factory import __version__
from factory.errors import RenderError, Stopped
from factory.physics.dynamics import Motion, simulate
from factory.physics.model import effective_restitution
from factory.render.device import get_device
from factory.render.renderer import Clip, ObjectAnnotation, RenderedClip, render_clips
from factory.sample.scenes import scene_and_model
from factory.sample.types import Sample, sample_key
from factory.scene.allocation import allocation_of
from factory.scene.config import Config
from factory.scene.sampling import rng_for
from factory.scene.shapes import CLASSES, box_corners
from factory.scene.types import Scene
from factory.timing import timed

Item = TypeVar("Item")
Result = TypeVar("Result")


def _r(x, nd: int = 6):
    """Round floats (in nested lists, tuples, arrays and dict values too) to ``nd``
    decimals so the JSON is compact and platform-stable; NumPy integers become ints.
    The metadata's one rounding rule."""
    if isinstance(x, dict):
        return {k: _r(v, nd) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_r(v, nd) for v in x]
    if isinstance(x, np.ndarray):
        return _r(x.tolist(), nd)
    if isinstance(x, (float, np.floating)):
        return round(float(x), nd)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _project(K: np.ndarray, w2c: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (M, 2) and camera depth (M,) of world points (M, 3)."""
    cam = points @ w2c[:3, :3].T + w2c[:3, 3]
    z = cam[:, 2]
    zs = np.where(np.abs(z) > 1e-9, z, 1e-9)
    return np.stack([K[0, 0] * cam[:, 0] / zs + K[0, 2], K[1, 1] * cam[:, 1] / zs + K[1, 2]], 1), z


REST_SPEED = 5e-3  # m/s: an object moving slower than this, and turning slower than REST_SPIN, is at rest
REST_SPIN = 5e-2  # rad/s


def _at_rest(motion: Motion, k: int, s: int, substeps: int) -> bool:
    """Whether object ``k`` is at rest at state ``s``: its mean speed and turn rate over
    the frame either side are under REST_SPEED and REST_SPIN. Means over a frame, not
    the state's velocity: a body resting on a soft contact chatters at the step's scale
    (mm/s back and forth, a micrometre)."""
    a, b = max(s - substeps, 0), min(s + substeps, len(motion.times) - 1)
    span = motion.times[b] - motion.times[a]
    q0, q1 = motion.quats[a, k], motion.quats[b, k]
    turn = 2.0 * np.arccos(min(1.0, abs(float(q0 @ q1))))  # rad between the two orientations
    return bool(
        np.linalg.norm(motion.positions[b, k] - motion.positions[a, k]) < REST_SPEED * span and turn < REST_SPIN * span
    )


def _object_metadata(k: int, scene: Scene, motion: Motion, rendered: RenderedClip, states: list) -> dict:
    """The JSON of object ``k``: what it is, then its per-frame pose, motion, boxes and
    the renderer's annotations (``states``: (positions, rotations) per frame)."""
    o = scene.objects[k]
    T = scene.frames
    corners_local = box_corners(o.half_extents)
    per_frame = {
        "position": [],
        "rotation": [],
        "velocity": [],
        "angular_velocity": [],
        "at_rest": [],
        "corners_2d": [],
        "corners_depth": [],
    }
    for t in range(T):
        s = t * scene.substeps  # the frame's physics step
        pos, rot = states[t]
        world = corners_local @ rot[k].T + pos[k]
        uv, z = _project(scene.camera.K, rendered.world_to_camera[t], world)
        per_frame["position"].append(_r(pos[k]))
        per_frame["rotation"].append(_r(rot[k]))
        per_frame["velocity"].append(_r(motion.velocities[s, k]))
        per_frame["angular_velocity"].append(_r(motion.angular[s, k]))
        per_frame["at_rest"].append(_at_rest(motion, k, s, scene.substeps))
        per_frame["corners_2d"].append(_r(uv, 3))
        per_frame["corners_depth"].append(_r(z))
    for key in ObjectAnnotation._fields:
        per_frame[key] = [getattr(rendered.annotations[t][k], key) for t in range(T)]
    m = o.material
    return {
        "id": o.id,
        "shape": o.shape,
        "category": o.category,
        "class_id": CLASSES.index(o.category),
        "dims": _r(o.dims),
        "static": o.static,
        "mass": None if o.static else _r(motion.masses[k]),
        "inertia": None if o.static else _r(motion.inertia[k]),
        "inertia_axes": None if o.static else _r(motion.inertia_frame[k]),
        "centre_of_mass": None if o.static else _r(motion.centre_of_mass[k]),
        "restitution": _r(effective_restitution(o.restitution, scene)),
        "friction": _r(o.friction),
        "material": {
            "color": _r(m.color),
            "color2": _r(m.color2),
            "texture": m.texture,
            "texture_scale": _r(m.texture_scale),
            "roughness": _r(m.roughness),
            "specular": _r(m.specular),
        },
        **per_frame,
    }


def _metadata(config: Config, scenario: str, index: int, scene: Scene, motion: Motion, rendered: RenderedClip) -> dict:
    T = scene.frames
    w2cs = rendered.world_to_camera
    states = [motion.state_at(t / scene.fps) for t in range(T)]  # poses of every object, per frame
    objects = [_object_metadata(k, scene, motion, rendered, states) for k in range(len(scene.objects))]
    cam = scene.camera
    params = {k: _r(v) for k, v in scene.params.items()}
    return {
        "key": sample_key(index),
        "index": index,
        "seed": config.seed,
        "scenario": scenario,
        "dataset": config.name,
        "config_hash": config.config_hash(),
        "generator": "factory",
        "generator_version": __version__,
        "licence": config.licence,
        "frames": T,
        "fps": scene.fps,
        "width": cam.width,
        "height": cam.height,
        "params": params,
        "retries": scene.retries,
        "classes": list(CLASSES),
        "camera": {
            "K": _r(cam.K),
            "world_to_camera": [_r(m, 9) for m in w2cs],
            "trajectory": cam.trajectory,
            "shutter": _r(cam.shutter),
            "noise_std": _r(cam.noise_std),
        },
        "lights": [
            {"kind": li.kind, "vector": _r(li.vector), "intensity": _r(li.intensity), "size": _r(li.size)}
            for li in scene.lights
        ],
        "ambient": _r(scene.ambient),
        "room": None
        if scene.room is None
        else {"width": _r(scene.room.width), "depth": _r(scene.room.depth), "height": _r(scene.room.height)},
        "objects": objects,
        "collisions": [_r(asdict(e)) for e in motion.events],
    }


def scenario_of(config: Config, index: int, samples: int | None = None) -> str:
    """The scenario of sample ``index`` of a dataset of ``samples`` (None: the stream)."""
    return allocation_of(config, samples).scenario_of(index)


def _check_index(index, samples: int | None) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"index must be an integer >= 0, got {index!r}")
    if samples is not None and index >= samples:
        raise ValueError(f"index {index} is outside a dataset of {samples} samples (0 to {samples - 1})")
    return int(index)


def generate_sample(
    config: Config,
    index: int,
    timings: dict | None = None,
    *,
    samples: int | None = None,
    stop: Callable[[], None] | None = None,
) -> Sample:
    """Generate sample ``index`` (>= 0) of the dataset of ``samples`` samples described
    by ``config`` (``samples`` None: the open-ended stream, see :mod:`factory.scene.allocation`).

    ``timings``, when given, collects the seconds spent in each stage and render pass;
    ``stop``, see :func:`generate_samples`.

    Raises:
        ValueError: ``index`` is not an integer >= 0, or not below ``samples``.
        ConfigError: the scenarios' minimum counts exceed ``samples``.
        RenderError: generating it failed (names the index, scenario and seed).
    """
    result = generate_samples(config, [index], timings, samples=samples, stop=stop)[0]
    if isinstance(result, RenderError):
        raise result
    return result


def generate_samples(
    config: Config,
    indices,
    timings: dict | None = None,
    *,
    samples: int | None = None,
    stop: Callable[[], None] | None = None,
) -> list[Sample | RenderError]:
    """Samples ``indices`` of the dataset (see :func:`generate_sample`), rendered
    together in launches of ``config.render.batch_views`` views on
    ``config.render.device`` (see :mod:`factory.render.device`).

    Each sample is the same as :func:`generate_sample` makes alone. A sample that
    fails comes back as its :class:`RenderError` in its place, so one bad sample
    costs only itself. ``stop``, when given, is called between the steps of the work
    (samples, physics steps, render launches) and raises
    :class:`~factory.errors.Stopped` to give all of it up; it changes no byte.

    Raises:
        ValueError: an index is not an integer >= 0 below ``samples``; the device
            cannot be used (names ``render.device``).
    """
    indices = [_check_index(i, samples) for i in indices]
    device = get_device(config.render.device)
    out: list[Sample | RenderError | None] = [None] * len(indices)
    jobs = []  # (position, scenario, scene, motion)
    for pos, index in enumerate(indices):
        scenario = scenario_of(config, index, samples)
        try:
            if stop is not None:
                stop()
            with timed(timings, "scene sampling"):
                scene, built = scene_and_model(config, scenario, index)
            with timed(timings, "physics"):
                motion = simulate(scene, stop, built)
            jobs.append((pos, scenario, scene, motion))
        except Stopped:
            raise
        except Exception as e:  # noqa: BLE001 - returned with what reproduces it
            out[pos] = _failed(config, index, scenario, e)
    rendered = _render(config, indices, jobs, device, timings, stop)
    for (pos, scenario, scene, motion), result in zip(jobs, rendered):
        index = indices[pos]
        if isinstance(result, RenderError):
            out[pos] = result
            continue
        try:
            with timed(timings, "metadata"):
                meta = _metadata(config, scenario, index, scene, motion, result)
        except Exception as e:  # noqa: BLE001 - returned with what reproduces it
            out[pos] = _failed(config, index, scenario, e)
            continue
        out[pos] = Sample(key=sample_key(index), index=index, scenario=scenario, frames=result.frames, meta=meta)
    return out


def _failed(config: Config, index: int, scenario: str, err: Exception) -> RenderError:
    rerr = RenderError(index, scenario, config.seed, err)
    rerr.__cause__ = err
    return rerr


def batch_or_each(
    run: Callable[[list[Item]], list[Result]], items: list[Item], failed: Callable[[Item, Exception], Result]
) -> list[Result]:
    """``run(items)``: one result per item, in order. If that raises, each item is run
    alone, so an error lands on the item that caused it (``failed(item, error)`` in its
    place) and the rest still come back. :class:`~factory.errors.Stopped` is never
    caught: it gives all of the work up. Batching here and in the endpoint
    (:func:`factory.service.payload.make_batch`) goes through this one rule."""
    try:
        return run(items)
    except Stopped:
        raise
    except Exception as e:  # noqa: BLE001 - retried one by one to find whose it is
        if len(items) == 1:
            return [failed(items[0], e)]
    out: list[Result] = []
    for item in items:
        try:
            out.extend(run([item]))
        except Stopped:
            raise
        except Exception as e:  # noqa: BLE001 - handed back in the item's place
            out.append(failed(item, e))
    return out


def _render(config: Config, indices: list[int], jobs: list, device, timings, stop=None) -> list:
    """Render the jobs' clips together; if that fails, each alone, so the error lands
    on the sample that caused it (:func:`batch_or_each`)."""
    r = config.render

    def render(batch: list) -> list:
        # Clips made anew for every try: a failed one may have drawn from a clip's noise generator.
        clips = [
            Clip(scene, motion, r.motion_blur_samples, rng_for(config.seed, indices[pos], "render"))
            for pos, _, scene, motion in batch
        ]
        return render_clips(clips, device, r.batch_views, timings, stop, r)

    return batch_or_each(render, jobs, lambda job, e: _failed(config, indices[job[0]], job[1], e))


def generate_members(
    config: Config,
    index: int,
    *,
    samples: int | None = None,
    mp4: bool | None = None,
    only: tuple[str, ...] | None = None,
) -> dict:
    """Sample ``index`` of a dataset of ``samples`` (see :func:`generate_sample`) encoded
    as one WebDataset sample ``{"__key__": ..., ext: bytes}``.

    ``mp4`` defaults to the config's ``output.mp4``; ``only`` names the image members to
    encode (see :func:`factory.sample.encode.encode_sample`; None: all, as a shard holds them);
    the PNGs are written by the config's ``output.png`` writer.
    """
    from factory.sample.encode import encode_sample

    return encode_sample(
        generate_sample(config, index, samples=samples),
        mp4=config.output.mp4 if mp4 is None else mp4,
        only=only,
        png=config.output.png,
    )
