"""The placement modes (factory.scene.placement) start objects where they say, and
the motion that follows is the one they are for: leaning stacks fall, rolled
cylinders roll without slipping, objects pushed off furniture end up on the floor."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from factory.errors import ConfigError
from factory.physics.dynamics import simulate
from factory.physics.spawn import spawn_overlap
from factory.sample.generate import scenario_of
from factory.sample.scenes import sample_scene
from factory.scene.config import load_config, parse_config
from factory.scene.types import quat_to_matrix
from tests.helpers import TESTS


def _shipped(path: str, scenario: str, count: int, n: int = 400) -> list:
    config = load_config(TESTS.parent / "configs" / f"{path}.yaml")
    return [sample_scene(config, scenario, i) for i in range(n) if scenario_of(config, i, n) == scenario][:count]


def test_a_stack_starts_as_a_column_of_objects_each_resting_on_the_one_below():
    for scene in _shipped("edge_cases", "falling_stack", 5):
        column = [o for o in scene.objects if not o.static]
        assert abs(column[0].position[2] - column[0].support_depth()) < 1e-9  # the foot on the floor
        for below, above in zip(column, column[1:]):
            gap = (above.position[2] - above.support_depth()) - (below.position[2] + below.top_height())
            assert 0.0 < gap <= 2e-3
            shift = np.hypot(above.position[0] - below.position[0], above.position[1] - below.position[1])
            assert shift <= 1.2 * above.dims[0] + 1e-9  # stack_offset's upper end
        assert spawn_overlap(scene) is None


def test_leaning_stacks_fall():
    scenes = _shipped("edge_cases", "falling_stack", 6)
    fell = 0
    for scene in scenes:
        scene = replace(scene, frames=36)  # 1.5 s
        m = simulate(scene)
        top = m.positions[:, -1, 2]
        fell += top[-1] < top[0] - 0.1
        assert any(e.kind == "object" for e in m.events)
    assert fell >= len(scenes) // 2


def test_rolled_cylinders_roll_without_slipping():
    for scene in _shipped("edge_cases", "rolling", 4):
        m = simulate(scene)
        for k, o in enumerate(scene.objects):
            r = o.support_depth()
            assert o.position[2] == pytest.approx(r)
            if o.shape in ("cylinder", "capsule"):
                axis = o.rotation[:, 2]
                assert abs(axis[2]) < 1e-9  # lying on its side
                assert abs(np.dot(axis, o.velocity)) < 1e-9  # sent across its axis

            # The contact point's velocity, v + w x (-r z), is zero: at the start, exactly,
            # and while it rolls on alone before anything hits it.
            def slip(s, m=m, k=k, r=r):
                return np.linalg.norm(m.velocities[s, k] + np.cross(m.angular[s, k], [0.0, 0.0, -r]))

            assert slip(0) < 1e-9
            first_hit = min([e.time for e in m.events if k + 1 in (e.a, e.b) and e.kind != "floor"] + [m.times[-1]])
            alone = m.times < first_hit
            assert max(slip(s) for s in np.flatnonzero(alone)) < 0.05 * np.linalg.norm(o.velocity)
            up = quat_to_matrix(m.quats[np.flatnonzero(alone)[-1], k])[:, 2]
            if o.shape == "cylinder" and np.flatnonzero(alone)[-1] > 4:
                assert abs(up[2]) < 0.05  # still on its side


def test_objects_pushed_off_furniture_start_on_it_and_end_below_it():
    landed = total = 0
    for scene in _shipped("rooms", "shelf_spill", 4):
        furniture = [o for o in scene.objects if o.static]
        scene = replace(scene, frames=30)  # 2 s at 15 fps
        m = simulate(scene)
        for k, o in enumerate(scene.objects):
            if o.static:
                continue
            bottom = o.position[2] - o.support_depth()
            under = [
                f
                for f in furniture
                if abs(o.position[0] - f.position[0]) <= f.dims[0] and abs(o.position[1] - f.position[1]) <= f.dims[1]
            ]
            heights = [bottom - 2 * f.dims[2] for f in under]  # above each top under it
            others = [
                p
                for p in scene.objects[:k]
                if not p.static
                and np.hypot(o.position[0] - p.position[0], o.position[1] - p.position[1])
                < o.bounding_radius + p.bounding_radius
            ]
            # On a top (1 mm up), or raised over objects placed there before it.
            assert any(0.0 < h <= 2e-3 or (h > 0 and others) for h in heights)
            total += 1
            landed += m.positions[-1, k, 2] < o.position[2] - 0.3
    assert landed >= 0.75 * total


def test_on_furniture_without_furniture_is_a_config_error():
    with pytest.raises(ConfigError, match=r"objects.placement 'on_furniture'.*no room block"):
        parse_config({"seed": 1, "scenarios": {"a": {"objects": {"placement": "on_furniture"}}}})
    with pytest.raises(ConfigError, match=r"no furniture block"):
        parse_config(
            {
                "seed": 1,
                "scenarios": {
                    "a": {
                        "room": {},
                        "objects": {"placement": {"dist": "choice", "values": ["scatter", "on_furniture"]}},
                    }
                },
            }
        )


def test_mujoco_finds_objects_that_start_inside_each_other():
    scene = _shipped("edge_cases", "falling_stack", 1)[0]
    a, b = scene.objects[:2]
    sunk = replace(b, position=(a.position[0], a.position[1], a.position[2] + 0.05))
    problem = spawn_overlap(replace(scene, objects=(a, sunk) + scene.objects[2:]))
    assert problem is not None and f"object {b.id}" in problem and f"object {a.id}" in problem
