"""Degenerate clips (issue 26): a draw in which no moving object is ever in view is
drawn again (the retry recorded), unless the scenario sets ``allow_empty``.

The view test is checked against an independent projection of the objects' centres
through K and the camera pose; the resampling against the first draw it threw away.
"""

from __future__ import annotations

import numpy as np
import pytest

from factory.errors import RenderError
from factory.physics.dynamics import simulate
from factory.sample.generate import generate_sample, generate_samples
from factory.sample.scenes import scene_and_model, scene_and_motion
from factory.scene.clearance import objects_in_view
from factory.scene.config import parse_config
from factory.scene.sampling import draw_scene
from factory.scene.types import camera_pose

RENDER = {"width": 48, "height": 36, "frames": 3, "fps": 12, "substeps": 2}


def _config(camera: dict, allow_empty: bool = False, objects: dict | None = None):
    return parse_config(
        {
            "seed": 5,
            "render": RENDER,
            "output": {"mp4": False},
            "scenarios": {
                "s": {
                    "allow_empty": allow_empty,
                    "objects": {"count": 1, "shape": "sphere", "size": 0.2, "speed": 0.0, **(objects or {})},
                    "backdrop": {"kind": "flat"},
                    "camera": {"distance": 4.0, "elevation_deg": 20.0, "azimuth_deg": 0.0, **camera},
                }
            },
        }
    )


# The camera looks at a point 30 m up: objects on the floor are ~80 degrees below its axis.
LOOKING_UP = {"target_height": 30.0, "elevation_deg": 5.0}


def _pixel(scene, point: np.ndarray, t: int) -> tuple[float, float, float]:
    """(u, v, z) of a world point in frame t, by K and the camera pose."""
    M = camera_pose(scene.camera, t / scene.fps)
    c = M[:3, :3] @ point + M[:3, 3]
    u, v, w = scene.camera.K @ c
    return u / w, v / w, c[2]


def test_the_view_test_agrees_with_a_projection_of_the_centres():
    config = _config({})
    scene = draw_scene(config, "s", 0)
    cam = scene.camera
    r = scene.objects[0].bounding_radius
    T = scene.frames
    at = lambda p: np.broadcast_to(np.asarray(p, np.float64), (T, 1, 3))  # noqa: E731
    target = np.asarray(cam.target)
    assert objects_in_view(scene, at(target)) is None  # the look-at point is in the middle
    u, v, z = _pixel(scene, target, 0)
    assert 0 < u < cam.width and 0 < v < cam.height and z > 0
    eye = -camera_pose(cam, 0)[:3, :3].T @ camera_pose(cam, 0)[:3, 3]
    behind = eye + (eye - target)  # as far behind the camera as the target is in front
    assert _pixel(scene, behind, 0)[2] < 0 and objects_in_view(scene, at(behind)) is not None
    side = target + 40.0 * np.array([0.0, 1.0, 0.0])  # far off to the side at the same distance
    u, v, z = _pixel(scene, side, 0)
    assert not (0 <= u <= cam.width) and objects_in_view(scene, at(side)) is not None
    # A centre just outside the left edge whose sphere reaches into the image passes.
    d = np.linalg.norm(target - eye)
    fx = cam.K[0, 0]
    right = camera_pose(cam, 0)[0, :3]  # the camera's x axis in the world
    edge = target - right * d * (cam.K[0, 2] / fx) - right * 0.5 * r  # half a radius past the left edge
    assert _pixel(scene, edge, 0)[0] < 0 and objects_in_view(scene, at(edge)) is None


def test_a_clip_that_never_shows_an_object_is_drawn_again_or_refused():
    config = _config(LOOKING_UP)
    scene, built = scene_and_model(config, "s", 0)
    positions, _ = simulate(scene, None, built).states_at(np.arange(scene.frames) / scene.fps)
    assert objects_in_view(scene, positions) is not None  # every draw looks away
    with pytest.raises(ValueError, match="allow_empty"):
        scene_and_motion(config, "s", 0)
    kept, _ = scene_and_motion(_config(LOOKING_UP, allow_empty=True), "s", 0)
    assert kept.retries == 0


def test_the_retry_is_recorded_and_the_kept_draw_shows_an_object():
    # A narrow lens turned at random, objects spread wide: some draws see nothing.
    config = _config(
        {"fov_deg": 30.0, "azimuth_deg": {"dist": "uniform", "low": 0, "high": 360}},
        objects={"count": 2, "spawn_radius": 2.5},
    )
    found = 0
    for index in range(40):
        scene, motion = scene_and_motion(config, "s", index)
        positions, _ = motion.states_at(np.arange(scene.frames) / scene.fps)
        assert objects_in_view(scene, positions) is None
        if scene.retries == 0:
            continue
        first, built = scene_and_model(config, "s", index)  # the draw that was thrown away
        moved, _ = simulate(first, None, built).states_at(np.arange(first.frames) / first.fps)
        assert objects_in_view(first, moved) is not None
        assert len(scene.retry_reasons) == scene.retries and scene.retry_reasons[0] == "empty_view"
        found += 1
    assert found >= 2


def test_a_clip_kept_by_allow_empty_renders_no_object():
    sample = generate_sample(_config(LOOKING_UP, allow_empty=True), 0)
    assert sample.meta["retries"] == 0
    assert all(not any(o["visible_pixels"]) for o in sample.meta["objects"])
    assert not sample.frames.instance.any()  # no object pixel in any frame
    seen = generate_sample(_config({}), 0)  # the same draw with the camera on the objects
    assert any(any(o["visible_pixels"]) for o in seen.meta["objects"])


def test_a_clip_that_renders_no_pixel_of_an_object_is_drawn_again():
    # Objects of 0.5 mm to 20 cm at 4 m, 48 px wide: a small one can pass the bounding
    # sphere test and still cover no pixel centre; such a clip is drawn and rendered again.
    config = _config({}, objects={"size": {"dist": "uniform", "low": 0.0005, "high": 0.2}})
    samples = generate_samples(config, range(24))
    redrawn = [s for s in samples if "empty_render" in s.meta["retry_reasons"]]
    assert redrawn, "no draw of a tiny object in 24 samples"
    for s in samples:
        assert len(s.meta["retry_reasons"]) == s.meta["retries"]
        assert s.frames.instance.any()  # every kept clip shows its object
    # The thrown-away draw rendered nothing: the same scenario with allow_empty keeps it.
    s = redrawn[0]
    kept = generate_sample(_config({}, True, {"size": {"dist": "uniform", "low": 0.0005, "high": 0.2}}), s.index)
    assert kept.meta["retries"] == s.meta["retry_reasons"].index("empty_render")
    assert not kept.frames.instance.any()
    # Alone or in a batch: the same bytes.
    alone = generate_sample(config, s.index)
    assert alone.meta == s.meta and np.array_equal(alone.frames.rgb, s.frames.rgb)


def test_a_scenario_whose_objects_never_cover_a_pixel_is_refused():
    config = _config({}, objects={"size": 0.0005})
    with pytest.raises(RenderError, match="no clip showing a moving object in 21 draws; allow_empty"):
        generate_sample(config, 0)
