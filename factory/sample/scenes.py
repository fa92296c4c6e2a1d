"""A usable scene for a sample: drawn by :func:`factory.scene.sampling.draw_scene`,
checked, and drawn again while it cannot make a useful clip.

Four checks, each where it can tell: the camera keeps clear of the geometry
(:func:`factory.scene.clearance.camera_clearance`), the objects start clear of each
other and of the static geometry as MuJoCo's collision detection sees them
(:func:`factory.physics.spawn.spawn_overlap`), and, once simulated, some moving object
is in view at some frame (:func:`factory.scene.clearance.objects_in_view`, bounding
spheres against the frustum) and, once rendered, shows at least one pixel
(:func:`shows_nothing`, checked by :func:`factory.sample.generate.generate_samples`);
a scenario with ``allow_empty`` keeps clips that fail the last two. Every draw thrown
away counts in ``Scene.retries`` with its reason (:data:`RETRY_REASONS`) in
``Scene.retry_reasons``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from factory.assets.catalog import catalog_for
from factory.physics.dynamics import UnstableSimulation, simulate
from factory.physics.liquid_coupling import with_liquids
from factory.physics.model import Built, build
from factory.physics.spawn import spawn_overlap
from factory.scene.clearance import camera_clearance, objects_in_view
from factory.scene.config import Config
from factory.scene.sampling import draw_scene
from factory.scene.types import Scene
from factory.timing import timed

MAX_RETRIES = 20  # scenes drawn again at most, before the sample fails

# Why a draw was thrown away: the codes of ``Scene.retry_reasons`` (and the metadata's
# ``retry_reasons``), each with what it means.
RETRY_REASONS = {
    "camera": "the camera came too near an object, furniture, a wall or the floor",
    "spawn": "two shapes, or a shape and the static geometry, started inside each other",
    "unstable": "MuJoCo's simulation blew up",
    "empty_view": "no moving object's bounding sphere met the view in any frame",
    "empty_render": "no pixel of a moving object was rendered in any frame",
}


def sample_scene(config: Config, scenario_name: str, index: int) -> Scene:
    """The scene of :func:`scene_and_model`, without its model."""
    return scene_and_model(config, scenario_name, index)[0]


def scene_and_motion(
    config: Config,
    scenario_name: str,
    index: int,
    stop=None,
    timings: dict | None = None,
    first: int = 0,
    reasons: tuple[str, ...] = (),
):
    """The scene of :func:`scene_and_model` and its motion (``simulate``), the scene
    drawn again while MuJoCo's simulation of it blows up (:class:`UnstableSimulation`)
    or no moving object is in view in any frame (unless the scenario has
    ``allow_empty``); a draw thrown away counts in ``Scene.retries`` and
    ``Scene.retry_reasons``. ``stop`` and ``timings`` as
    :func:`factory.sample.generate.generate_samples` takes them; ``first`` and
    ``reasons``: the attempt to start from and why the ones before it were thrown away
    (when a later check threw a scene away).

    Raises:
        ValueError: no usable, stable scene by attempt ``MAX_RETRIES``.
    """
    attempt, problem = first, None
    while attempt <= MAX_RETRIES:
        with timed(timings, "scene sampling"):
            scene, built = scene_and_model(config, scenario_name, index, attempt, reasons)
        reasons = scene.retry_reasons
        try:
            with timed(timings, "physics"):
                motion = simulate(scene, stop, built)

        except UnstableSimulation as e:
            attempt, problem, reasons = scene.retries + 1, e, (*reasons, "unstable")
            continue
        problem = None if config.scenarios[scenario_name].allow_empty else _empty(scene, motion)
        if problem is None:  # the liquids last: they cost the most, and no check throws them away
            with timed(timings, "liquid"):
                return scene, with_liquids(scene, motion, stop)
        attempt, reasons = scene.retries + 1, (*reasons, "empty_view")
    hint = "; allow_empty: true keeps clips without one" if isinstance(problem, str) else ""
    raise ValueError(f"scenario {scenario_name!r}: no stable scene in {MAX_RETRIES + 1} draws (last: {problem}){hint}")


def _empty(scene: Scene, motion) -> str | None:
    """None if some moving object of the simulated clip is in view at some frame."""
    positions, _ = motion.states_at(np.arange(scene.frames) / scene.fps)
    return objects_in_view(scene, positions)


def shows_nothing(scene: Scene, visible_pixels: np.ndarray) -> bool:
    """Whether a rendered clip is empty: the scene has moving objects and none of them
    has a visible pixel in any frame. ``visible_pixels``: (T, N) int, each object's
    visible pixel count per frame (the renderer's annotations)."""
    moving = [k for k, o in enumerate(scene.objects) if not o.static]
    return bool(moving) and not np.asarray(visible_pixels)[:, moving].any()


def scene_and_model(
    config: Config, scenario_name: str, index: int, first: int = 0, reasons: tuple[str, ...] = ()
) -> tuple[Scene, Built]:
    """Sample the scene of sample ``index`` from scenario ``scenario_name``.

    The scene is :func:`~factory.scene.sampling.draw_scene`'s. A scene whose camera
    comes within a margin of its geometry (:func:`factory.scene.clearance.camera_clearance`)
    or whose objects start inside each other or the static geometry
    (:func:`factory.physics.spawn.spawn_overlap`, MuJoCo's contacts) is drawn again
    from the same scenario with fresh streams (``attempt`` 1, 2, ...), and
    ``Scene.retries`` says how many draws were thrown away (``first``: the attempt to
    start from, when earlier ones were thrown away later, for the ``reasons`` given),
    ``Scene.retry_reasons`` why. Returns the scene and its MuJoCo model, which the
    check built (:func:`factory.physics.dynamics.simulate` takes it, so a clip
    compiles its model once).

    Raises:
        ValueError: no usable scene by attempt ``MAX_RETRIES`` (naming the scenario
            and what the last draw hit).
    """
    problem, catalog = None, catalog_for(config)  # looked up by the config's hash: once, not per draw
    for attempt in range(first, MAX_RETRIES + 1):
        scene = draw_scene(config, scenario_name, index, attempt, catalog)
        problem = camera_clearance(scene)
        if problem is None:
            built = build(scene)
            problem = spawn_overlap(scene, built)
            if problem is None:
                return replace(scene, retries=attempt, retry_reasons=reasons), built
            reasons = (*reasons, "spawn")
        else:
            reasons = (*reasons, "camera")
    raise ValueError(
        f"scenario {scenario_name!r}: no usable scene in {MAX_RETRIES + 1} draws (last: {problem}); "
        "give the camera more room (camera.distance, room size, furniture count) or the objects "
        "(objects.spawn_radius, objects.count)"
    )
