"""Scenes that cannot make a useful clip are drawn again: the camera is never inside,
or within a margin of, the room's furniture, its walls or an object as it starts."""

from __future__ import annotations

import numpy as np
import pytest

from factory.assets.catalog import catalog_for
from factory.sample.generate import generate_sample, scenario_of
from factory.sample.scenes import MAX_RETRIES, sample_scene
from factory.scene.config import load_config, parse_config
from factory.scene.sampling import draw_scene
from factory.scene.types import camera_pose
from tests.helpers import TESTS

ROOMS = load_config(TESTS.parent / "configs" / "rooms.yaml")
N = 300


def _eyes(scene) -> np.ndarray:
    out = []
    for t in range(scene.frames):
        M = camera_pose(scene.camera, t / scene.fps)
        out.append(np.linalg.solve(M[:3, :3], -M[:3, 3]))  # R eye + t = 0
    return np.array(out)


def _inside_furniture(scene, margin: float = 0.1) -> bool:
    """Whether an eye of the clip is within ``margin`` of an axis-aligned furniture box."""
    eyes = _eyes(scene)
    for o in scene.objects:
        if o.static:  # furniture stands upright and unturned: position +- dims is its box
            lo, hi = np.array(o.position) - o.dims - margin, np.array(o.position) + o.dims + margin
            if ((eyes > lo) & (eyes < hi)).all(axis=1).any():
                return True
    return False


@pytest.fixture(scope="module")
def rooms_scenes():
    return [sample_scene(ROOMS, scenario_of(ROOMS, i, N), i) for i in range(N)]


def test_no_rooms_camera_is_inside_furniture_or_outside_the_walls(rooms_scenes):
    for scene in rooms_scenes:
        assert not _inside_furniture(scene)
        eyes = _eyes(scene)
        assert (np.abs(eyes[:, 0]) < scene.room.width / 2).all() and (np.abs(eyes[:, 1]) < scene.room.depth / 2).all()
        assert (eyes[:, 2] > 0).all()


def test_the_scenes_drawn_again_were_the_useless_ones(rooms_scenes):
    redrawn = [i for i, s in enumerate(rooms_scenes) if s.retries > 0]
    assert len(redrawn) >= 10  # dim_storage put the camera in a box about one sample in ten
    first_draws = [draw_scene(ROOMS, scenario_of(ROOMS, i, N), i, 0, catalog_for(ROOMS)) for i in redrawn]
    assert sum(_inside_furniture(s) for s in first_draws) >= 10  # what the retries were for
    kept = [i for i, s in enumerate(rooms_scenes) if s.retries == 0]
    for i in kept[:20]:  # a scene that was fine is the very scene it always was
        assert draw_scene(ROOMS, scenario_of(ROOMS, i, N), i, 0, catalog_for(ROOMS)).params == rooms_scenes[i].params


def test_a_redrawn_sample_sees_its_objects_and_records_its_retries(rooms_scenes):
    index = next(
        i
        for i, s in enumerate(rooms_scenes)
        if s.retries > 0 and _inside_furniture(draw_scene(ROOMS, scenario_of(ROOMS, i, N), i, 0, catalog_for(ROOMS)))
    )
    small = ROOMS.model_copy(
        update={"render": ROOMS.render.model_copy(update={"width": 48, "height": 36, "frames": 2})}
    )
    sample = generate_sample(small, index, samples=N)
    assert sample.meta["retries"] == rooms_scenes[index].retries >= 1
    assert len(np.unique(sample.frames.instance[0])) >= 3  # floor/walls and at least two objects in view


def test_a_scene_that_is_never_clear_fails_naming_the_scenario():
    config = parse_config(
        {
            "seed": 1,
            "render": {"width": 32, "height": 32, "frames": 2},
            "scenarios": {
                "swallowed": {
                    "objects": {"count": 1, "shape": "sphere", "size": 6.0, "spawn_radius": 0.0},
                    "camera": {"distance": 2.0},
                }
            },
        }
    )
    with pytest.raises(
        ValueError, match=rf"scenario 'swallowed': no usable scene in {MAX_RETRIES + 1} draws .*inside object 1"
    ):
        sample_scene(config, "swallowed", 0)
