"""The optional layers' members (factory.sample.layers): round trips within the bounds
of docs/format.md with both PNG writers, the documented filmstrip layout read with
Pillow, old samples without the members, the config's switches and limits, and the
PyTorch tensors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from factory.assets.generators.registry import build as build_generated
from factory.client.torch_data import collate, to_tensors
from factory.errors import ConfigError
from factory.render.layers import Layers
from factory.sample.decode import decode_present, decode_sample, png_array
from factory.sample.encode import encode_sample
from factory.sample.generate import generate_members
from factory.sample.layers import LAYER_MEMBERS
from factory.sample.types import Sample
from factory.scene.assets import MESH_KINDS, mesh_asset
from factory.scene.config import MAX_MEMBER_PIXELS, PNG_WRITERS, load_config, parse_config
from factory.scene.shapes import ANALYTIC
from factory.trust.validate.run import validate_dataset
from tests.helpers.clips import synthetic_frames
from tests.helpers.datasets import write_dataset
from tests.helpers.validate import read_tar, rewrite_shard

T, H, W, K = 3, 20, 24, 2


def _with_layers(seed: int = 0):
    """Synthetic frames with random optional layers over every code's range, and their meta."""
    rng = np.random.default_rng(seed)
    f = synthetic_frames(T, H, W, spheres=K, seed=seed)
    bvalid = rng.random((T, H, W)) < 0.7
    bflow = np.where(bvalid[..., None], rng.uniform(-40, 40, (T, H, W, 2)), 0).astype(np.float32)
    svalid = f.depth > 0
    svalid[-1] = False
    sflow = np.where(svalid[..., None], rng.uniform(-3.2, 3.2, (T, H, W, 3)), 0).astype(np.float32)
    coords = rng.uniform(0, 1, (T, H, W, 3)).astype(np.float32)
    coords[..., 0][f.instance == 0] = np.nan
    coords[f.instance == 0] = np.nan
    coords[0, 0, 0] = (0.0, 1.0, 0.5)
    amodal = rng.random((T, K, H, W)) < 0.3
    amodal_depth = np.where(amodal, rng.uniform(0.1, 60.0, (T, K, H, W)), 0).astype(np.float32)
    f = replace(
        f,
        backward_flow=bflow,
        backward_valid=bvalid,
        scene_flow=sflow,
        scene_flow_valid=svalid,
        object_coords=coords,
        amodal=amodal,
        amodal_depth=amodal_depth,
    )
    meta = {"fps": 12.0, "objects": [{"id": k + 1} for k in range(K)]}
    return f, meta


def _sample(f, meta) -> Sample:
    return Sample(key="0000000001", index=1, scenario="test", frames=f, meta=meta)


@pytest.mark.parametrize("png", PNG_WRITERS)
def test_every_layer_round_trips_within_its_bound(png):
    f, meta = _with_layers()
    members = encode_sample(_sample(f, meta), mp4=False, png=png)
    assert set(LAYER_MEMBERS) <= set(members)
    g, _ = decode_sample(members)
    assert np.array_equal(g.backward_valid, f.backward_valid)
    assert np.abs(g.backward_flow - f.backward_flow).max() <= 1 / 128 + 1e-6
    assert np.array_equal(g.scene_flow_valid, f.scene_flow_valid)
    assert np.abs(g.scene_flow - f.scene_flow).max() <= 0.5e-4 + 1e-6
    assert np.array_equal(np.isnan(g.object_coords), np.isnan(f.object_coords))
    assert np.nanmax(np.abs(g.object_coords - f.object_coords)) <= 0.5 / 65534 + 1e-7
    assert g.object_coords[0, 0, 0].tolist() == [0.0, 1.0, pytest.approx(0.5, abs=1e-5)]
    assert np.array_equal(g.amodal, f.amodal)
    assert np.abs(g.amodal_depth - f.amodal_depth).max() <= 0.5e-3 + 1e-6
    assert not g.amodal_depth[~g.amodal].any()


def test_members_are_filmstrips_in_the_documented_layout():
    """Read with Pillow alone: frame t is rows [tH, (t+1)H); component c / object k
    columns [cW, (c+1)W); the documented codes."""
    f, meta = _with_layers(1)
    m = encode_sample(_sample(f, meta), mp4=False)
    am = png_array(m["amodal.png"])
    assert am.shape == (T * H, K * W) and am.dtype == np.uint8
    t, k = 2, 1
    assert np.array_equal(am[t * H : (t + 1) * H, k * W : (k + 1) * W], f.amodal[t, k].astype(np.uint8))
    sf = png_array(m["scene_flow.png"])
    assert sf.shape == (T * H, 3 * W) and sf.dtype == np.uint16
    z = sf[t * H : (t + 1) * H, 2 * W : 3 * W].astype(float)
    expect = np.clip(np.rint(f.scene_flow[t, ..., 2].astype(np.float64) * 10000) + 32768, 1, 65535)
    assert np.array_equal(z, np.where(f.scene_flow_valid[t], expect, 0))
    oc = png_array(m["object_coords.png"])
    x = oc[t * H : (t + 1) * H, :W]
    assert (x[f.instance[t] == 0] == 0).all() and (x[f.instance[t] > 0] >= 1).all()
    bf = png_array(m["backward_flow.png"])
    assert bf.shape == (T * H, 2 * W) and bf.dtype == np.uint16


def test_samples_without_the_layers_decode_with_none():
    f, meta = _with_layers()
    plain = replace(f, **dict.fromkeys(("backward_flow", "backward_valid", "scene_flow", "scene_flow_valid")))
    plain = replace(plain, object_coords=None, amodal=None, amodal_depth=None)
    members = encode_sample(_sample(plain, meta), mp4=False)
    assert not set(LAYER_MEMBERS) & set(members)
    g, _ = decode_sample(members)
    assert g.backward_flow is None and g.scene_flow is None and g.object_coords is None and g.amodal is None
    only = encode_sample(_sample(f, meta), mp4=False, only=["amodal.png"])
    assert set(decode_present(only)) == {"meta", "amodal"}


def test_a_clip_without_objects_has_one_empty_block():
    f, meta = _with_layers()
    f = replace(f, amodal=f.amodal[:, :0], amodal_depth=f.amodal_depth[:, :0])
    g, _ = decode_sample(encode_sample(_sample(f, {"fps": 12.0, "objects": []}), mp4=False))
    assert g.amodal.shape == (T, 0, H, W) and g.amodal_depth.shape == (T, 0, H, W)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("backward_valid", None, "give both or neither"),
        ("scene_flow", np.zeros((T, H, W, 2), np.float32), "frames.scene_flow"),
        ("amodal_depth", np.full((T, K, H, W), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_layers_are_refused_naming_the_field(field, value, message):
    f, meta = _with_layers()
    with pytest.raises(ValueError, match=message):
        encode_sample(_sample(replace(f, **{field: value}), meta), mp4=False)


def _config(output: dict, count: int = 5, size: int = 64) -> dict:
    return {
        "render": {"width": size, "height": size, "frames": 8},
        "output": output,
        "scenarios": {"a": {"objects": {"count": {"dist": "randint", "low": 1, "high": count}}}},
    }


def test_the_config_switches_each_layer_and_defaults_to_off():
    assert Layers.of(parse_config(_config({})).output) == Layers()
    on = {"backward_flow": True, "scene_flow": True, "object_coords": True, "amodal": True, "amodal_depth": True}
    assert Layers.of(parse_config(_config(on)).output) == Layers(True, True, True, True, True)


def test_amodal_depth_needs_amodal():
    with pytest.raises(ConfigError) as info:
        parse_config(_config({"amodal_depth": True}))
    assert any(p.startswith("output:") and "amodal_depth" in p and "amodal: true" in p for p in info.value.problems)


def test_amodal_must_fit_one_member_for_the_most_objects_a_scenario_draws():
    size = 1024
    objects = MAX_MEMBER_PIXELS // (8 * size * size) + 1  # one object too many at 8 frames of 1024 x 1024
    parse_config(_config({"amodal": True}, count=objects - 1, size=size))
    with pytest.raises(ConfigError) as info:
        parse_config(_config({"amodal": True}, count=objects, size=size))
    text = " ".join(info.value.problems)
    assert "amodal.png of scenario a" in text and f"({objects} objects" in text and str(MAX_MEMBER_PIXELS) in text
    parse_config(_config({"amodal": False}, count=objects, size=size))  # off: no limit of its own


@pytest.mark.parametrize("layer", ["scene_flow", "object_coords"])
def test_three_component_layers_must_fit_one_member(layer):
    """3W wide: 36 frames of 1024 x 1024 fit flow.png (2W) but not these."""
    data = _config({layer: True}, size=1024)
    data["render"]["frames"] = 36
    assert 36 * 1024 * 2 * 1024 <= MAX_MEMBER_PIXELS < 36 * 1024 * 3 * 1024
    parse_config(dict(data, output={}))
    with pytest.raises(ConfigError, match=f"{layer}.png would have"):
        parse_config(data)


def test_the_torch_tensors_carry_the_layers_and_collate_pads_the_objects():
    f, meta = _with_layers()
    arrays = decode_present(encode_sample(_sample(f, meta), mp4=False))
    one = to_tensors(arrays, arrays.pop("meta"))
    assert one["backward_flow"].shape == (T, 2, H, W) and one["scene_flow"].shape == (T, 3, H, W)
    assert one["object_coords"].shape == (T, 3, H, W) and one["amodal"].dtype == torch.bool
    fewer = dict(one, amodal=one["amodal"][:, :1], amodal_depth=one["amodal_depth"][:, :1])
    fewer.update(box_ids=one["box_ids"][:1], box_classes=one["box_classes"][:1], boxes=one["boxes"][:, :1])
    batch = collate([one, fewer])
    assert batch["amodal"].shape == (2, T, K, H, W) and not batch["amodal"][1, :, 1].any()
    assert torch.equal(batch["amodal_depth"][0], one["amodal_depth"])


@pytest.mark.parametrize("config", ["rooms", "shapes", "household"])
def test_generated_samples_carry_the_layers_and_leave_the_other_members_alone(config):
    """Through generate_members: the layers' members decode, each amodal mask counts
    the metadata's amodal_pixels and holds the object's visible pixels, object
    coordinates lie in [0, 1] where an object is seen; the other image members are the
    bytes of the same sample with the layers off."""
    base = load_config(f"configs/{config}.yaml")
    base = base.model_copy(update={"render": base.render.model_copy(update={"width": 48, "height": 40, "frames": 3})})
    on = dict.fromkeys(("backward_flow", "scene_flow", "object_coords", "amodal", "amodal_depth"), True)
    layered = base.model_copy(update={"output": base.output.model_copy(update={"mp4": False, **on})})
    plain = base.model_copy(update={"output": base.output.model_copy(update={"mp4": False})})
    for index in (0, 1):
        members = generate_members(layered, index)
        assert set(LAYER_MEMBERS) <= set(members)
        f, meta = decode_sample(members)
        for k, o in enumerate(meta["objects"]):
            assert f.amodal[:, k].sum((1, 2)).tolist() == o["amodal_pixels"]
            assert f.amodal[:, k][f.instance == o["id"]].all()
        seen = f.instance > 0
        assert np.isnan(f.object_coords[~seen]).all() and (np.abs(f.object_coords[seen] - 0.5) <= 0.5).all()
        assert _coords_map_to_the_depths_point(f, meta) > 0
        assert not f.backward_valid[0].any() and not f.scene_flow_valid[-1].any()
        again = generate_members(plain, index)
        for name in again:
            if name.endswith(".png"):
                assert members[name] == again[name], (config, index, name)


def _half_extents(o: dict) -> np.ndarray | None:
    """An object's box half-extents from its metadata: ``dims`` for an analytic shape;
    for a mesh, its unit mesh's (largest half-extent 1) times ``dims``, the axis scales:
    a built-in kind's asset, or a generated mesh rebuilt from its generator and params
    (None for a pack asset, whose mesh is a file of the pack)."""
    dims = np.asarray(o["dims"])
    if o["shape"] in ANALYTIC:
        return dims
    if o["shape"] in MESH_KINDS:
        return np.abs(mesh_asset(o["shape"]).vertices * dims).max(0)
    if o.get("asset", {}).get("source") == "generator":
        half = np.abs(build_generated(o["asset"]["name"], o["asset"]["params"]).vertices).max(0)
        return half / half.max() * dims
    return None


def _coords_map_to_the_depths_point(f, meta: dict) -> int:
    """Decoded object coordinates, back through the normalisation and the metadata's
    pose, land on the point the decoded depth gives (camera ray x depth): within the
    depth's 0.5 mm step along the ray (and the coordinates' own 7.6e-6). Returns the
    pixels checked."""
    T, H, W = f.depth.shape
    K = np.asarray(meta["camera"]["K"])
    v, u = np.mgrid[0:H, 0:W] + 0.5
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones((H, W))], -1)
    checked = 0
    for t in range(T):
        M = np.asarray(meta["camera"]["world_to_camera"][t])
        world = (rays * f.depth[t][..., None] - M[:3, 3]) @ M[:3, :3]
        for o in meta["objects"]:
            m, e = f.instance[t] == o["id"], _half_extents(o)
            if e is None or not m.any():
                continue
            R, p = np.asarray(o["rotation"][t]), np.asarray(o["position"][t])
            back = (f.object_coords[t][m] - 0.5) * 2 * np.linalg.norm(e) @ R.T + p
            bound = 0.5e-3 * np.linalg.norm(rays[m], axis=-1) + 2e-5  # + the metadata's 6-decimal poses
            assert (np.linalg.norm(back - world[m], axis=-1) <= bound).all(), (o["shape"], t)
            checked += int(m.sum())
    return checked


def test_validate_expects_the_layers_the_config_asks_for(tmp_path, tiny_config):
    """A dataset made with every layer on validates; a sample missing one of them fails
    members.set, naming it."""
    on = dict.fromkeys(("backward_flow", "scene_flow", "object_coords", "amodal", "amodal_depth"), True)
    config = tiny_config.model_copy(update={"output": tiny_config.output.model_copy(update=on)})
    folder = tmp_path / "ds"
    write_dataset(config, folder, 3, 3)
    assert validate_dataset(folder).ok
    samples = read_tar(folder / "tiny-000000.tar")
    del samples[1][1]["scene_flow.png"]
    rewrite_shard(folder, 0, samples)
    result = validate_dataset(folder)
    assert not result.ok
    assert any(f["check"] == "members.set" and "missing scene_flow.png" in f["message"] for f in result.failures)
