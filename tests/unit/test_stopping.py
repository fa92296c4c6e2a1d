"""Work that stops: ``generate_samples(..., stop=...)`` gives up between its steps
(samples, physics steps, render launches) when ``stop`` raises, never wraps that in a
sample's RenderError, and a ``stop`` that never raises changes no byte."""

from __future__ import annotations

import pytest

from factory.errors import Stopped
from factory.physics.dynamics import simulate
from factory.sample.encode import encode_sample
from factory.sample.generate import generate_samples
from factory.sample.scenes import sample_scene
from factory.scene.config import load_config
from tests.helpers import CONFIGS


def stop_after(n: int):
    """A stop that lets ``n`` steps through, then raises; ``calls`` counts the checks."""
    calls = []

    def stop() -> None:
        calls.append(1)
        if len(calls) > n:
            raise Stopped("no longer wanted")

    stop.calls = calls
    return stop


@pytest.fixture(scope="module")
def quickstart():
    return load_config(CONFIGS.parent.parent / "configs" / "quickstart.yaml")


def test_a_stop_that_never_fires_changes_no_byte(quickstart):
    stop = stop_after(10**9)
    with_stop = generate_samples(quickstart, [0, 1], samples=4, stop=stop)
    without = generate_samples(quickstart, [0, 1], samples=4)
    assert [encode_sample(s, mp4=False) for s in with_stop] == [encode_sample(s, mp4=False) for s in without]
    physics_steps = quickstart.render.frames * quickstart.render.substeps
    assert len(stop.calls) >= 2 * physics_steps  # checked at every physics step of both samples, and more


@pytest.mark.parametrize("n", [0, 5, 70])  # before the first sample, in its physics, in the second's
def test_a_stop_that_fires_stops_the_work_as_itself(quickstart, n):
    stop = stop_after(n)
    with pytest.raises(Stopped):
        generate_samples(quickstart, [0, 1], samples=4, stop=stop)
    assert len(stop.calls) == n + 1  # nothing ran after the check that said stop


def test_physics_stops_between_steps(quickstart):
    scene = sample_scene(quickstart, "nominal", 0)
    stop = stop_after(3)
    with pytest.raises(Stopped):
        simulate(scene, stop)
    assert len(stop.calls) == 4


def test_rendering_stops_between_launches(quickstart):
    from factory.render.device import get_device
    from factory.render.renderer import Clip, render_clips
    from factory.scene.sampling import rng_for

    scene = sample_scene(quickstart, "nominal", 0)
    clip = Clip(scene, simulate(scene), 1, rng_for(quickstart.seed, 0, "render"))
    stop = stop_after(1)
    with pytest.raises(Stopped):
        render_clips([clip], get_device("cpu"), batch_views=2, stop=stop)  # 8 frames: 4 launches of 2 views
    assert len(stop.calls) == 2
