"""``generate_samples(config, indices, samples=N)`` and its one-sample form
``generate_sample``: what every path calls (the pipeline, the endpoint, the previews,
the tests).

Per sample: its scenario from the allocation (:func:`scenario_of`) -> a usable scene
and its motion (:func:`factory.sample.scenes.scene_and_motion`: drawn, checked for
camera clearance and spawn overlaps, simulated by :func:`factory.physics.dynamics.simulate`,
drawn again while a check fails or the simulation blows up) -> then all the call's clips rendered
together (:func:`factory.render.renderer.render_clips`, in launches of
``render.batch_views`` views) -> the metadata
(:func:`factory.sample.metadata.metadata`). A sample depends only on the config
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
from typing import TypeVar

import numpy as np

from factory.errors import RenderError, Stopped
from factory.render.device import get_device
from factory.render.layers import Layers
from factory.render.renderer import Clip, render_clips
from factory.render.tracks import TrackRequest, render_tracks
from factory.sample.deformables import deform_arrays, has_deformables, has_liquids, surfaces
from factory.sample.geometry import geometry_member
from factory.sample.liquid_members import liquid_arrays
from factory.sample.metadata import camera_entries, metadata
from factory.sample.scenes import MAX_RETRIES, scene_and_motion, shows_nothing
from factory.sample.types import CameraView, Sample, sample_key
from factory.scene.allocation import allocation_of
from factory.scene.camera_rig import with_camera
from factory.scene.config import Config
from factory.scene.sampling import rng_for
from factory.timing import timed

Item = TypeVar("Item")
Result = TypeVar("Result")


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
            scene, motion = scene_and_motion(config, scenario, index, stop, timings)
            jobs.append((pos, scenario, scene, motion))
        except Stopped:
            raise
        except Exception as e:  # noqa: BLE001 - returned with what reproduces it
            out[pos] = _failed(config, index, scenario, e)
    rendered = _render(config, indices, jobs, device, timings, stop)
    _redraw_empty(config, indices, jobs, rendered, device, timings, stop)
    config_hash = config.config_hash() if jobs else None  # once for all the samples' metadata
    for (pos, scenario, scene, motion), result in zip(jobs, rendered):
        index = indices[pos]
        if isinstance(result, RenderError):
            out[pos] = result
            continue
        result, tracks, views = result  # camera 0's rendered clip, its point tracks (None: none asked for), the rig's
        try:
            with timed(timings, "metadata"):
                liquid, ranges = liquid_arrays(scene.frames, motion) if has_liquids(config) else (None, None)
                meta = metadata(config, scenario, index, scene, motion, result, config_hash, ranges)
                if views:  # a rig: camera 0 is the sample's camera, the rest go under "cameras"
                    meta["cameras"] = camera_entries(scene, motion, [result, *(v[0] for v in views)])
                geometry = geometry_member(scene)
                deform = deform_arrays(scene, motion) if has_deformables(config) else None
        except Exception as e:  # noqa: BLE001 - returned with what reproduces it
            out[pos] = _failed(config, index, scenario, e)
            continue
        out[pos] = Sample(
            key=sample_key(index),
            index=index,
            scenario=scenario,
            frames=result.frames,
            meta=meta,
            tracks=tracks,
            views=tuple(CameraView(r.frames, t) for r, t in views),
            geometry=geometry,
            deform=deform,
            liquid=liquid,
        )
    return out


def _redraw_empty(config: Config, indices: list[int], jobs: list, rendered: list, device, timings, stop) -> None:
    """Draw again, in place in ``jobs`` and ``rendered``, every clip that rendered no
    pixel of a moving object in any frame (:func:`factory.sample.scenes.shows_nothing`;
    a scenario with ``allow_empty`` keeps them), until each shows one or fails after
    ``MAX_RETRIES`` draws. Only such clips are drawn and rendered again, each from its
    own next attempt, so a sample's bytes do not depend on the batch it came in."""
    while True:
        again = []
        for n, ((pos, scenario, scene, _), result) in enumerate(zip(jobs, rendered)):
            if isinstance(result, RenderError) or config.scenarios[scenario].allow_empty:
                continue
            # (rendered clip, tracks, the rig's (clip, tracks)): an object seen by any camera counts;
            # the annotations' rows past the objects are the deforming surfaces'
            N = len(scene.objects)
            visible = sum(
                np.array([[a.visible_pixels for a in frame[:N]] for frame in r.annotations]).reshape(scene.frames, N)
                for r in [result[0], *(v[0] for v in result[2])]
            )
            if not shows_nothing(scene, visible):
                continue
            try:
                if scene.retries >= MAX_RETRIES:
                    raise ValueError(
                        f"scenario {scenario!r}: no clip showing a moving object in {MAX_RETRIES + 1} draws; "
                        "allow_empty: true keeps clips without one"
                    )
                reasons = (*scene.retry_reasons, "empty_render")
                redrawn = scene_and_motion(config, scenario, indices[pos], stop, timings, scene.retries + 1, reasons)
                jobs[n] = (pos, scenario, *redrawn)
                again.append(n)
            except Stopped:
                raise
            except Exception as e:  # noqa: BLE001 - returned with what reproduces it
                rendered[n] = _failed(config, indices[pos], scenario, e)
        if not again:
            return
        for n, result in zip(again, _render(config, indices, [jobs[n] for n in again], device, timings, stop)):
            rendered[n] = result


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
        # A rig's K cameras are K clips of one scene and motion, side by side in the same launches.
        K = r.cameras
        clips = [
            Clip(
                scene if K == 1 else with_camera(scene, c),
                motion,
                r.motion_blur_samples,
                _noise_rng(config, indices[pos], c),
                drawn,
            )
            for pos, _, scene, motion in batch
            for drawn in [surfaces(scene)]  # once per scene, shared by its K cameras
            for c in range(K)
        ]
        rendered = render_clips(clips, device, r.batch_views, timings, stop, r, Layers.of(config.output))
        index_of = [indices[job[0]] for job in batch for _ in range(K)]
        flat = _with_tracks(config, index_of, clips, rendered, device, timings)
        return [(*flat[n * K], flat[n * K + 1 : (n + 1) * K]) for n in range(len(batch))]

    return batch_or_each(render, jobs, lambda job, e: _failed(config, indices[job[0]], job[1], e))


def _noise_rng(config: Config, index: int, c: int):
    """Camera ``c``'s sensor-noise generator: the sample's ``render`` stream for camera
    0 (as before rigs), ``rig_render`` numbered by the camera for the others."""
    return rng_for(config.seed, index, "render") if c == 0 else rng_for(config.seed, index, "rig_render", c)


def _with_tracks(config: Config, indices: list[int], clips: list[Clip], rendered: list, device, timings) -> list:
    """``(rendered clip, its point tracks)`` per clip: ``config.output.tracks`` points
    each, drawn from each sample's own ``tracks`` stream (:mod:`factory.render.tracks`),
    or None when the config asks for none."""
    out = config.output
    if not out.tracks:
        return [(r, None) for r in rendered]
    K = config.render.cameras  # a rig's cameras follow camera 0's points (the clip K places before)
    requests = [
        TrackRequest(
            c.scene, c.motion, r.frames.depth, r.frames.instance, out.tracks, out.track_object_share,
            rng_for(config.seed, index, "tracks"), points_of=-1 if n % K == 0 else n - n % K, surfaces=c.surfaces,
        )
        for n, (index, c, r) in enumerate(zip(indices, clips, rendered))
    ]  # fmt: skip
    with timed(timings, "tracks", device.synchronize if timings is not None else None):
        tracks = render_tracks(requests, device)
    return list(zip(rendered, tracks))


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
