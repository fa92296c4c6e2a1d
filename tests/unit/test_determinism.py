"""Same config and index -> same bytes: here, in this process, what a sample draws does
not move when another parameter is added. Across processes and orders, and with the
kernels built two ways (subprocesses and fresh kernel caches, so slow):
tests/integration/test_determinism.py."""

from __future__ import annotations


def test_adding_a_scenario_parameter_does_not_change_other_streams():
    """A constant never draws, so objects keep their numbers when the camera changes."""
    from factory.sample.generate import generate_sample
    from factory.scene.config import parse_config

    base = {"seed": 5, "render": {"width": 32, "height": 24, "frames": 2}, "output": {"mp4": False}}
    a = parse_config({**base, "scenarios": {"s": {}}})
    b = parse_config({**base, "scenarios": {"s": {"camera": {"fov_deg": 40}}}})
    oa, ob = generate_sample(a, 3).meta["objects"], generate_sample(b, 3).meta["objects"]
    assert [o["position"] for o in oa] == [o["position"] for o in ob]
