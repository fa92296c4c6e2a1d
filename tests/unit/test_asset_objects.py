"""Generated and pack objects in scenes: the config's asset fields checked before any
sample, the draws deterministic, each object's metadata enough to rebuild its mesh, and
the renderer's ids and depth over those rebuilt meshes agreeing with trimesh's ray caster.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from factory.assets.catalog import Catalog
from factory.assets.generators.registry import build
from factory.assets.loaded import STARTER
from factory.assets.pack import held_out, load_pack
from factory.errors import ConfigError
from factory.sample.generate import generate_sample
from factory.scene.config import parse_config
from factory.scene.sampling import draw_scene
from factory.scene.shapes import CLASSES
from factory.trust.oracle.scene import Mesh
from tests.helpers.oracle import oracle_pixels

SHAPES = ["gen:bottle", "gen:mug", "gen:gear", "gen:rock", "gen:superquadric", "pack:starter"]


def _config(**assets) -> object:
    return parse_config(
        {
            "seed": 11,
            "render": {"width": 96, "height": 72, "frames": 3, "fps": 12, "substeps": 4},
            "output": {"mp4": False},
            **({"assets": assets} if assets else {}),
            "scenarios": {
                "a": {
                    "objects": {
                        "count": 6,
                        "shape": {"dist": "choice", "values": SHAPES},
                        "scale": {"dist": "uniform", "low": 1.5, "high": 2.5},
                        "pack_size": [0.1, 0.6],
                        "tumble": 1.0,
                        "spawn_radius": 0.6,
                        "speed": 0.5,
                    },
                    "camera": {"distance": 1.7, "trajectory": "orbit"},
                }
            },
        }
    )


def _problems(config_data: dict) -> str:
    with pytest.raises(ConfigError) as err:
        Catalog(parse_config(config_data))
    return str(err.value)


def _scenario(objects: dict, **top) -> dict:
    return {**top, "scenarios": {"a": {"objects": objects}}}


def test_bad_asset_fields_are_named_before_any_sample():
    assert "scenarios.a.objects.shape: unknown generator" in _problems(_scenario({"shape": "gen:teapot"}))
    text = _problems(_scenario({"shape": "gen:bottle", "generators": {"bottle": {"nope": 1.0}}}))
    assert "scenarios.a.objects.generators.bottle" in text and "nope" in text
    text = _problems(_scenario({"shape": "gen:bottle", "generators": {"bottle": {"height": 99.0}}}))
    assert "scenarios.a.objects.generators.bottle" in text and "99" in text
    assert "pack 'mine' is not in assets.packs" in _problems(_scenario({"shape": "pack:mine"}))
    text = _problems(_scenario({"shape": "pack:starter", "pack_size": [50.0, 60.0]}))
    assert "scenarios.a.objects.pack_size" in text
    text = _problems(_scenario({"shape": "pack:starter"}, assets={"allowed_licences": ["CC-BY-4.0", "Bogus-1"]}))
    assert "assets.allowed_licences" in text and "Bogus-1" in text
    # The starter pack is all CC0: allowing CC-BY only leaves nothing to draw.
    text = _problems(_scenario({"shape": "pack:starter"}, assets={"allowed_licences": ["CC-BY-4.0"]}))
    assert "assets.packs.starter" in text and "allowed licences" in text
    bad = tmp_pack = "/nonexistent/pack"
    text = _problems(_scenario({"shape": "pack:p"}, assets={"packs": {"p": tmp_pack}}))
    assert "assets.packs.p" in text and bad in text


def test_plan_refuses_bad_asset_fields_naming_the_file(tmp_path):
    from factory.commands.preflight import plan_config

    path = tmp_path / "bad.yaml"
    path.write_text("scenarios:\n  a: {objects: {shape: {dist: choice, values: [sphere, gen:teapot]}}}\n")
    with pytest.raises(ConfigError) as err:
        plan_config(path, 10)
    assert str(path) in str(err.value) and "scenarios.a.objects.shape" in str(err.value)
    assert "'gen:teapot'" in str(err.value)


def _refs(config, index: int) -> list:
    scene = draw_scene(config, "a", index, 0, Catalog(config))
    return [(o.shape, o.category, o.dims, o.asset) for o in scene.objects]


def test_draws_are_deterministic_across_processes():
    config = _config()
    here = [_refs(config, i) for i in range(3)]
    assert here == [_refs(config, i) for i in range(3)]
    code = (
        "import json, sys; from tests.unit.test_asset_objects import _config, _refs; "
        "print(json.dumps([[list(map(str, r)) for r in _refs(_config(), i)] for i in range(3)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [[list(map(str, r)) for r in refs] for refs in here]
    kinds = {shape for refs in here for shape, *_ in refs}
    assert len(kinds) >= 3  # the choice spreads over the shapes


def test_the_split_and_the_class_table():
    for split in ("train", "test"):
        config = _config(split=split)
        ids = {r.asset_id for i in range(12) for *_, r in _refs(config, i) if r.source == "pack"}
        assert ids and all(held_out(i) == (split == "test") for i in ids)
    catalog = Catalog(_config())
    assert catalog.classes[: len(CLASSES)] == CLASSES
    new = catalog.classes[len(CLASSES) :]
    assert list(new) == sorted(new) and {"bottle", "mug", "gear"} <= set(new)


def _rebuilt(o: dict, pack) -> tuple[np.ndarray, np.ndarray, None]:
    """The unit mesh of an object from its metadata alone: the generator's build of its
    params, or its pack asset's mesh, centred and scaled to the unit box."""
    asset = o["asset"]
    if asset["source"] == "generator":
        mesh = build(asset["name"], asset["params"])
        digest = hashlib.sha256(np.ascontiguousarray(mesh.vertices, np.float64).tobytes())
        digest.update(np.ascontiguousarray(mesh.faces, np.int32).tobytes())
        assert digest.hexdigest() == asset["sha256"]
        v, f = np.asarray(mesh.vertices, np.float64), mesh.faces
    else:
        record = next(a for a in pack.assets if a.id == asset["id"])
        assert record.sha256[record.mesh] == asset["sha256"] and record.licence == asset["licence"]
        data = pack.read_mesh(record)
        v, f = np.asarray(data.vertices, np.float64), data.faces
    lo, hi = v.min(0), v.max(0)
    return (v - (lo + hi) / 2) / (np.abs(hi - lo).max() / 2), f, None


@pytest.fixture(scope="module")
def asset_sample():
    # The first sample holding both a generated and a pack object (the draws decide).
    config = _config()
    index = next(
        i for i in range(50) if {r.source for *_, r in _refs(config, i) if r is not None} == {"generator", "pack"}
    )
    return generate_sample(config, index)


@pytest.mark.parametrize("t", [0, 2])
def test_ids_and_depth_agree_with_trimesh_over_meshes_rebuilt_from_metadata(asset_sample, t):
    meta, f = asset_sample.meta, asset_sample.frames
    pack = load_pack(str(STARTER))
    sources = {o["asset"]["source"] for o in meta["objects"]}
    assert sources == {"generator", "pack"}
    # The oracle over meshes rebuilt from the objects' asset records, not geometry.glb.
    meshes = {}
    for o in meta["objects"]:
        v, faces, _ = _rebuilt(o, pack)
        meshes[o["mesh"]["id"]] = Mesh(o["mesh"]["id"], v, np.asarray(faces, np.int64), np.zeros_like(v))
    px = oracle_pixels(asset_sample, t, meshes)
    expect_id, expect_depth = px.oracle_id, px.hits.t
    got_id = px.stored_at(f.instance).astype(np.int64)
    got_depth = px.stored_at(f.depth).astype(np.float64)
    on_mesh = expect_id > 0
    assert on_mesh.sum() > 100
    assert (got_id == expect_id).mean() >= 0.99  # silhouette pixels may differ in float32
    same = on_mesh & (got_id == expect_id)
    rel = np.abs(got_depth[same] - expect_depth[same]) / expect_depth[same]
    assert np.quantile(rel, 0.99) < 1e-4


def test_metadata_names_classes_and_licences(asset_sample):
    meta, f = asset_sample.meta, asset_sample.frames
    classes = meta["classes"]
    assert classes[: len(CLASSES)] == list(CLASSES)
    counts: dict[str, int] = {}
    for o in meta["objects"]:
        assert classes[o["class_id"]] == o["category"]
        counts[o["asset"]["licence"]] = counts.get(o["asset"]["licence"], 0) + 1
        mask = f.instance[0] == o["id"]
        if mask.sum() > 5:  # visible: its semantic pixels carry its class id
            assert (f.semantic[0][mask] == o["class_id"]).all()
    assert "asset" not in meta["backdrop"]  # a sky: no backdrop asset counted beside the objects
    assert meta["asset_licences"] == [{"licence": k, "objects": n, "backdrops": 0} for k, n in sorted(counts.items())]
