"""Hugging Face ``datasets`` loads factory shards with its ``webdataset`` builder, and
factory's decoder turns its rows into the very arrays of the tar's bytes (the example
in ``docs/training.md``)."""

from __future__ import annotations

import numpy as np

from factory.client.hf import features
from factory.dataset.reader import open_dataset
from factory.sample.decode import decode_sample
from factory.scene.config import parse_config
from tests.helpers.datasets import write_dataset


def _assert_same_json(got, want, path="meta"):
    """Equal JSON, numbers to 1e-12 relative (Arrow's JSON type prints some floats
    differently: -0.548768 comes back as -0.5487679999999999)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), path
        for k in want:
            _assert_same_json(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same_json(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert abs(got - want) <= 1e-12 * max(1.0, abs(want)), path
    else:
        assert got == want and type(got) is type(want), path


def test_hugging_face_datasets_loads_factory_shards(tmp_path, tiny_config):
    import datasets

    write_dataset(tiny_config, tmp_path / "ds", 7, 3)
    shards = sorted(str(p) for p in (tmp_path / "ds").glob("*.tar"))
    ds = datasets.load_dataset(
        "webdataset",
        data_files={"train": shards},
        split="train",
        features=features(geometry=True),
        cache_dir=str(tmp_path / "hf-cache"),
    )
    assert ds.num_rows == 7
    samples = list(open_dataset(str(tmp_path / "ds")).samples())
    want = {key: decode_sample(members) for _, key, members in samples}
    geometry = {key: members["geometry.glb"] for _, key, members in samples}
    for row in ds:
        frames, meta = decode_sample(row)  # PIL images and a dict, as the builder decodes them
        ref_frames, ref_meta = want[row["__key__"]]
        _assert_same_json(meta, ref_meta)
        for name in ("rgb", "depth", "instance", "semantic", "normals", "flow", "flow_valid"):
            assert np.array_equal(getattr(frames, name), getattr(ref_frames, name)), name
        assert row["geometry.glb"] == geometry[row["__key__"]]  # the meshes' bytes, untouched


def test_hugging_face_datasets_hands_over_the_deformables_vertices(tmp_path, tiny_config):
    import datasets

    from factory.sample.deform_members import decode_deform

    data = tiny_config.resolved()
    data["scenarios"] = {"sheet": {"objects": {"count": 1}, "cloth": {"resolution": 4, "lift": 0.3}}}
    config = parse_config(data)
    write_dataset(config, tmp_path / "ds", 2, 2)
    shards = sorted(str(p) for p in (tmp_path / "ds").glob("*.tar"))
    ds = datasets.load_dataset(
        "webdataset", data_files={"train": shards}, split="train", features=features(deform=True),
        cache_dir=str(tmp_path / "hf-cache"),
    )  # fmt: skip
    want = {key: decode_deform(m) for _, key, m in open_dataset(str(tmp_path / "ds")).samples()}
    for row in ds:
        got, ref = decode_deform(row), want[row["__key__"]]
        assert ref["vertices"].shape[1] == 16  # the sheet's 4 x 4 vertices
        for name in ("vertices", "velocities", "faces"):
            assert got[name].dtype == ref[name].dtype and np.array_equal(got[name], ref[name]), name
