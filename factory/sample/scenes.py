"""A usable scene for a sample: drawn by :func:`factory.scene.sampling.draw_scene`,
checked, and drawn again while it cannot make a useful clip.

Three checks, each where it can tell: the camera keeps clear of the geometry
(:func:`factory.scene.clearance.camera_clearance`), the objects start clear of each
other and of the static geometry as MuJoCo's collision detection sees them
(:func:`factory.physics.spawn.spawn_overlap`), and, once simulated, some moving object
is in view at some frame (:func:`factory.scene.clearance.objects_in_view`; a scenario
with ``allow_empty`` keeps such clips).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from factory.assets.catalog import catalog_for
from factory.physics.dynamics import UnstableSimulation, simulate
from factory.physics.model import Built, build
from factory.physics.spawn import spawn_overlap
from factory.scene.clearance import camera_clearance, objects_in_view
from factory.scene.config import Config
from factory.scene.sampling import draw_scene
from factory.scene.types import Scene
from factory.timing import timed

MAX_RETRIES = 20  # scenes drawn again at most, before the sample fails


def sample_scene(config: Config, scenario_name: str, index: int) -> Scene:
    """The scene of :func:`scene_and_model`, without its model."""
    return scene_and_model(config, scenario_name, index)[0]


def scene_and_motion(config: Config, scenario_name: str, index: int, stop=None, timings: dict | None = None):
    """The scene of :func:`scene_and_model` and its motion (``simulate``), the scene
    drawn again while MuJoCo's simulation of it blows up (:class:`UnstableSimulation`)
    or no moving object is in view in any frame (unless the scenario has
    ``allow_empty``); a draw thrown away counts in ``Scene.retries``. ``stop`` and ``timings`` as
    :func:`factory.sample.generate.generate_samples` takes them.

    Raises:
        ValueError: no usable, stable scene in ``MAX_RETRIES + 1`` draws.
    """
    attempt, problem = 0, None
    while attempt <= MAX_RETRIES:
        with timed(timings, "scene sampling"):
            scene, built = scene_and_model(config, scenario_name, index, attempt)
        try:
            with timed(timings, "physics"):
                motion = simulate(scene, stop, built)
        except UnstableSimulation as e:
            attempt, problem = scene.retries + 1, e
            continue
        problem = None if config.scenarios[scenario_name].allow_empty else _empty(scene, motion)
        if problem is None:
            return scene, motion
        attempt = scene.retries + 1
    hint = "; allow_empty: true keeps clips without one" if isinstance(problem, str) else ""
    raise ValueError(f"scenario {scenario_name!r}: no stable scene in {MAX_RETRIES + 1} draws (last: {problem}){hint}")


def _empty(scene: Scene, motion) -> str | None:
    """None if some moving object of the simulated clip is in view at some frame."""
    positions, _ = motion.states_at(np.arange(scene.frames) / scene.fps)
    return objects_in_view(scene, positions)


def scene_and_model(config: Config, scenario_name: str, index: int, first: int = 0) -> tuple[Scene, Built]:
    """Sample the scene of sample ``index`` from scenario ``scenario_name``.

    The scene is :func:`~factory.scene.sampling.draw_scene`'s. A scene whose camera
    comes within a margin of its geometry (:func:`factory.scene.clearance.camera_clearance`)
    or whose objects start inside each other or the static geometry
    (:func:`factory.physics.spawn.spawn_overlap`, MuJoCo's contacts) is drawn again
    from the same scenario with fresh streams (``attempt`` 1, 2, ...), and
    ``Scene.retries`` says how many draws were thrown away (``first``: the attempt to
    start from, when earlier ones were thrown away later). Returns the scene and its
    MuJoCo model, which the check built (:func:`factory.physics.dynamics.simulate`
    takes it, so a clip compiles its model once).

    Raises:
        ValueError: no usable scene in ``MAX_RETRIES + 1`` draws (naming the scenario
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
                return replace(scene, retries=attempt), built
    raise ValueError(
        f"scenario {scenario_name!r}: no usable scene in {MAX_RETRIES + 1} draws (last: {problem}); "
        "give the camera more room (camera.distance, room size, furniture count) or the objects "
        "(objects.spawn_radius, objects.count)"
    )
