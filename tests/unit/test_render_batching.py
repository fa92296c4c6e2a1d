"""The renderer's devices and batching.

* Batching is a performance choice only: any number of views per launch, and any
  mix of clips in one launch, gives the same bytes as one clip rendered alone.
* CUDA (where a GPU is at hand) agrees with the CPU within the tolerances that
  docs/format.md states, on every modality, over scenes with rooms, point lights,
  motion blur, sensor noise, clutter, tiny objects and meshes.
* A device that cannot be used is refused with the field, the value and the choices.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import yaml

from factory.physics.dynamics import simulate
from factory.render import Clip, render_clips
from factory.render.device import cuda_available, get_device
from factory.sample.generate import generate_sample, generate_samples
from factory.sample.scenes import sample_scene
from factory.scene.config import ConfigError, parse_config
from factory.scene.sampling import rng_for
from tests.helpers import TESTS

CONFIGS = TESTS.parent / "configs"
SMALL = {"width": 64, "height": 48, "frames": 4, "fps": 24, "substeps": 4, "motion_blur_samples": 3}

# The stated tolerances (docs/format.md, "Tolerances"): the share of pixels that must agree
# exactly or within the bound, per modality.
SEGMENTATION_SHARE = 0.999  # instance and semantic identical
RGB_SHARE = 0.999  # within 1 level of 255
DEPTH_REL = 1e-4  # relative, where both see the same surface
NORMAL_ABS = 1e-3
FLOW_PX = 1e-2  # pixels, where both call the flow valid
FLOW_VALID_SHARE = 0.999


def _config(name: str, **render) -> object:
    data = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    data["render"] = {**SMALL, **render}
    return parse_config(data, name)


def _clips(config, indices, samples):
    out = []
    for i in indices:
        scene = sample_scene(config, config_scenario(config, i, samples), i)
        out.append(Clip(scene, simulate(scene), config.render.motion_blur_samples, rng_for(config.seed, i, "render")))
    return out


def config_scenario(config, index, samples):
    from factory.sample.generate import scenario_of

    return scenario_of(config, index, samples)


def _same(a, b):
    """Two render_clips results are identical, array for array and box for box."""
    for field in ("rgb", "depth", "instance", "semantic", "normals", "flow", "flow_valid"):
        x, y = getattr(a.frames, field), getattr(b.frames, field)
        assert x.dtype == y.dtype and x.shape == y.shape, field
        assert np.array_equal(x, y), field
    assert a.annotations == b.annotations
    assert len(a.world_to_camera) == len(b.world_to_camera)
    assert all(np.array_equal(p, q) for p, q in zip(a.world_to_camera, b.world_to_camera))


@pytest.mark.parametrize("name", ["edge_cases", "rooms", "shapes"])
def test_batching_never_changes_a_byte(name):
    config = _config(name)
    samples = 12
    indices = list(range(samples))  # every edge case and room scenario at least once
    alone = [render_clips(_clips(config, [i], samples), batch_views=64)[0] for i in indices]
    scenarios = {config_scenario(config, i, samples) for i in indices}
    assert len(scenarios) >= 2
    for batch_views in (1, 3, 7, 500):  # per view, across frame and clip boundaries, all at once
        together = render_clips(_clips(config, indices, samples), batch_views=batch_views)
        for x, y in zip(alone, together):
            _same(x, y)


def test_motion_blur_and_noise_are_exercised():
    """The batching test above covers blur sub-frames and noise: check they occur."""
    config = _config("edge_cases")
    scenes = [sample_scene(config, config_scenario(config, i, 12), i) for i in range(12)]
    assert any(s.camera.shutter > 0 for s in scenes)
    assert any(s.camera.noise_std > 0 for s in scenes)
    assert any(
        s.room is not None
        for s in (sample_scene(_config("rooms"), config_scenario(_config("rooms"), i, 4), i) for i in range(4))
    )


def test_generate_samples_equals_generate_sample(tiny_config):
    batched = generate_samples(tiny_config, [3, 0, 5], samples=8)
    for sample in batched:
        alone = generate_sample(tiny_config, sample.index, samples=8)
        assert sample.meta == alone.meta
        assert np.array_equal(sample.frames.rgb, alone.frames.rgb)
        assert np.array_equal(sample.frames.flow, alone.frames.flow)


def _with_device(config, device: str):
    return config.model_copy(update={"render": config.render.model_copy(update={"device": device})})


def _compare(ref, other):
    """Per-modality agreement of two samples of the same scene; returns the shares."""
    a, b = ref.frames, other.frames
    seg = (a.instance == b.instance) & (a.semantic == b.semantic) & (a.material == b.material)
    rgb_ok = (np.abs(a.rgb.astype(np.int16) - b.rgb.astype(np.int16)) <= 1).all(axis=-1)
    albedo_ok = (np.abs(a.albedo.astype(np.int16) - b.albedo.astype(np.int16)) <= 1).all(axis=-1)
    same = seg & (a.depth > 0)
    depth_rel = np.abs(a.depth[same] - b.depth[same]) / a.depth[same]
    normal_err = np.abs(a.normals[same] - b.normals[same]).max(axis=-1)
    both_valid = a.flow_valid & b.flow_valid
    flow_err = np.abs(a.flow[both_valid] - b.flow[both_valid]).max(axis=-1)
    return {
        "segmentation": seg.mean(),
        "rgb": rgb_ok.mean(),
        "albedo": albedo_ok.mean(),
        "depth": float(depth_rel.max()) if depth_rel.size else 0.0,
        "normals_share": (normal_err <= NORMAL_ABS).mean() if normal_err.size else 1.0,
        "flow_share": (flow_err <= FLOW_PX).mean() if flow_err.size else 1.0,
        "flow_valid": (a.flow_valid == b.flow_valid).mean(),
    }


def _assert_parity(device: str):
    for name in ("edge_cases", "rooms", "shapes"):
        config = _config(name)
        other_config = _with_device(config, device)
        ref = generate_samples(config, range(8), samples=8)
        other = generate_samples(other_config, range(8), samples=8)
        for r, o in zip(ref, other):
            # The sampled scene is identical: every parameter, pose and camera.
            assert _scene_of(o.meta) == _scene_of(r.meta)
            _assert_boxes_close(r.meta, o.meta)
            shares = _compare(r, o)
            assert shares["segmentation"] >= SEGMENTATION_SHARE, (name, r.index, shares)
            assert shares["rgb"] >= RGB_SHARE, (name, r.index, shares)
            assert shares["albedo"] >= RGB_SHARE, (name, r.index, shares)
            assert shares["depth"] <= DEPTH_REL, (name, r.index, shares)
            assert shares["normals_share"] >= SEGMENTATION_SHARE, (name, r.index, shares)
            assert shares["flow_share"] >= SEGMENTATION_SHARE, (name, r.index, shares)
            assert shares["flow_valid"] >= FLOW_VALID_SHARE, (name, r.index, shares)


_PIXEL_STATS = ("bbox_amodal", "bbox_visible", "amodal_pixels", "visible_pixels", "visible_fraction")


def _scene_of(meta: dict) -> dict:
    """The metadata without what the renderer measures (boxes, pixel counts) and the
    config hash (which names the device)."""
    out = {k: v for k, v in meta.items() if k not in ("config_hash", "objects")}
    out["objects"] = [{k: v for k, v in o.items() if k not in _PIXEL_STATS} for o in meta["objects"]]
    return out


def _assert_boxes_close(a: dict, b: dict) -> None:
    """Boxes may move by one edge pixel, and appear or vanish only for a 1-2 px object."""
    for oa, ob in zip(a["objects"], b["objects"]):
        for key, pixels in (("bbox_amodal", "amodal_pixels"), ("bbox_visible", "visible_pixels")):
            for t, (ba, bb) in enumerate(zip(oa[key], ob[key])):
                if ba is None or bb is None:
                    assert max(oa[pixels][t], ob[pixels][t]) <= 2, (key, t, ba, bb)
                else:
                    assert max(abs(x - y) for x, y in zip(ba, bb)) <= 1, (key, t, ba, bb)


@pytest.mark.cuda
def test_cuda_agrees_with_the_cpu():
    _assert_parity("cuda")


@pytest.mark.cuda
def test_cuda_batching_never_changes_a_byte():
    config = _with_device(_config("edge_cases"), "cuda")
    one = [
        generate_samples(
            config.model_copy(update={"render": config.render.model_copy(update={"batch_views": 1})}), [i], samples=8
        )[0]
        for i in range(4)
    ]
    many = generate_samples(config, range(4), samples=8)
    for a, b in zip(one, many):
        assert np.array_equal(a.frames.rgb, b.frames.rgb) and np.array_equal(a.frames.depth, b.frames.depth)


def test_the_config_names_a_bad_device():
    data = yaml.safe_load((TESTS / "configs" / "tiny.yaml").read_text())
    data["render"]["device"] = "tpu"
    with pytest.raises(ConfigError) as err:
        parse_config(data, "tiny")
    text = str(err.value)
    assert "render.device" in text and "tpu" in text and "'cpu' or 'cuda'" in text


def test_an_unusable_device_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match=r"render.device: 'tpu' is not one of cpu, cuda"):
        get_device("tpu")
    if not cuda_available():
        with pytest.raises(ConfigError, match=r"render.device: 'cuda' needs a CUDA device"):
            get_device("cuda")


def test_batch_size_is_not_part_of_the_config_hash_but_the_device_is(tiny_config):
    batched = tiny_config.model_copy(update={"render": tiny_config.render.model_copy(update={"batch_views": 7})})
    assert batched.config_hash() == tiny_config.config_hash()
    assert _with_device(tiny_config, "cuda").config_hash() != tiny_config.config_hash()


def test_batch_size_follows_the_limit_or_the_memory():
    be = get_device("cpu")
    assert be.batch_views(256, 256, 5) == 5
    auto_small, auto_large = be.batch_views(32, 32), be.batch_views(512, 512)
    assert auto_small > auto_large >= 1


def test_the_renderer_reads_a_clips_motion_only_through_its_poses():
    """Any ClipMotion will do: a motion frozen at t = 0 renders every frame as the
    simulated clip's first frame (colour, depth, ids), and its boxes with it."""
    config = _config("shapes")
    (clip,) = _clips(config, [0], 4)
    scene = replace(clip.scene, camera=replace(clip.scene.camera, trajectory="static"))
    simulated = clip.motion

    class Frozen:
        def state_at(self, time):
            return simulated.state_at(0.0)

    moving = render_clips([Clip(scene, simulated, 1, None)], batch_views=64)[0]
    frozen = render_clips([Clip(scene, Frozen(), 1, None)], batch_views=64)[0]
    for t in range(scene.frames):
        for field in ("rgb", "depth", "instance"):
            assert np.array_equal(getattr(frozen.frames, field)[t], getattr(moving.frames, field)[0]), (field, t)
        assert frozen.annotations[t] == moving.annotations[0]
    assert not np.array_equal(moving.frames.depth[-1], moving.frames.depth[0])  # the simulated clip does move


def test_a_failed_batch_is_retried_item_by_item_and_the_error_lands_on_its_item():
    from factory.errors import Stopped
    from factory.sample.generate import batch_or_each

    calls = []

    def run(batch):
        calls.append(list(batch))
        if 3 in batch:
            raise ValueError(f"3 is bad (in {batch})")
        return [x * 10 for x in batch]

    got = batch_or_each(run, [1, 3, 5], lambda item, e: (item, str(e)))
    assert got == [10, (3, "3 is bad (in [3])"), 50]
    assert calls == [[1, 3, 5], [1], [3], [5]]
    assert batch_or_each(run, [3], lambda item, e: "failed") == ["failed"]  # one item: not tried twice
    assert calls[-1] == [3] and calls[-2] == [5]

    def stopped(batch):
        raise Stopped("no longer wanted")

    with pytest.raises(Stopped):  # giving up is never taken for one item's failure
        batch_or_each(stopped, [1, 2], lambda item, e: None)
