"""Point tracks as members: the encoder's .npy members decode with both WebDataset
readers' default decoders, round-trip exactly, hold the TAP-Vid and TAPVid-3D layouts
of the same tracks, and a sample without tracks decodes to None."""

from __future__ import annotations

import io

import numpy as np
import pytest

from factory.render.tracks import VISIBLE
from factory.sample.decode import decode_sample, decode_tracks
from factory.sample.encode import encode_sample
from factory.sample.generate import generate_members, generate_sample
from factory.sample.track_members import TRACK_MEMBERS
from factory.scene.config import parse_config
from tests.helpers.clips import synthetic_sample
from tests.helpers.tracks import N, T, assert_tracks_equal, made_up_tracks


@pytest.fixture(scope="module")
def members() -> dict:
    sample = synthetic_sample(0, frames=T, height=16, width=20)
    sample.tracks = made_up_tracks()
    return encode_sample(sample, mp4=False)


def test_round_trip_and_layouts(members):
    tr = made_up_tracks()
    assert set(TRACK_MEMBERS) <= set(members)
    assert_tracks_equal(decode_tracks(members), tr)
    arr = {k[: -len(".npy")]: np.load(io.BytesIO(members[k])) for k in TRACK_MEMBERS}
    # TAP-Vid: [t, y, x] queries, (N, T, 2) [x, y] targets, occluded = not visible (occluded or out of view).
    np.testing.assert_array_equal(arr["query_points"][:, 0], tr.query_frame)
    np.testing.assert_array_equal(arr["query_points"][:, 1:], tr.query_uv[:, ::-1])
    for t in range(T):
        np.testing.assert_array_equal(arr["target_points"][:, t], tr.uv[t])
        np.testing.assert_array_equal(arr["occluded"][:, t], tr.state[t] != VISIBLE)
    # TAPVid-3D: (T, N, 3) camera-frame xyz, (T, N) visibility, [x, y, t] queries, fx fy cx cy.
    np.testing.assert_array_equal(arr["visibility"], tr.state == VISIBLE)
    np.testing.assert_array_equal(arr["queries_xyt"], np.c_[tr.query_uv, tr.query_frame])
    np.testing.assert_array_equal(arr["tracks_xyz"][..., 2], tr.depth)
    assert arr["intrinsics"].shape == (4,) and arr["occluded"].dtype == bool


def test_both_readers_decode_the_members(members, tmp_path):
    import webdataset as wds

    path = str(tmp_path / "tracks-000000.tar")
    with wds.TarWriter(path, mtime=0) as sink:
        sink.write(members)
    (got,) = list(wds.WebDataset(path, shardshuffle=False).decode())
    assert all(isinstance(got[k], np.ndarray) for k in TRACK_MEMBERS)
    assert_tracks_equal(decode_tracks(got), made_up_tracks())
    decode_sample(got)  # the image members still decode beside them
    ray_decoder = pytest.importorskip("ray.data._internal.datasource.webdataset_datasource")._default_decoder
    row = ray_decoder(dict(members))  # what read_webdataset does to each sample
    assert_tracks_equal(decode_tracks(row), made_up_tracks())


def test_no_tracks_decode_to_none_and_bad_members_are_named(members):
    plain = encode_sample(synthetic_sample(0, frames=T, height=16, width=20), mp4=False)
    assert not any(k.endswith(".npy") for k in plain) and decode_tracks(plain) is None
    partial = {k: v for k, v in members.items() if k != "track_world.npy"}
    with pytest.raises(ValueError, match="track_world.npy"):
        decode_tracks(partial)
    bad = dict(members, **{"visibility.npy": members["track_state.npy"]})
    with pytest.raises(ValueError, match="visibility.npy"):
        decode_tracks(bad)


def test_generated_members_carry_themade_up_tracks():
    config = parse_config(
        {
            "seed": 1,
            "render": {"width": 32, "height": 24, "frames": 3, "fps": 12, "substeps": 2},
            "output": {"mp4": False, "tracks": 40},
            "scenarios": {"s": {"objects": {"count": 2, "shape": "sphere"}}},
        }
    )
    sample = generate_sample(config, 0)
    got = decode_tracks(generate_members(config, 0))
    assert_tracks_equal(got, sample.tracks)
    assert got.state.shape == (3, 40) and np.isin(got.surface, [0] + [o["id"] for o in sample.meta["objects"]]).all()
    off = parse_config(config.model_dump() | {"output": {"mp4": False, "tracks": 0}})
    assert generate_sample(off, 0).tracks is None


def test_the_torch_dataset_hands_the_tracks_over(members, tmp_path):
    torch = pytest.importorskip("torch")
    import webdataset as wds

    from factory.client.torch_data import TRACK_TENSORS, ShardDataset, collate

    path = str(tmp_path / "tracks-000000.tar")
    with wds.TarWriter(path, mtime=0) as sink:
        sink.write(members)
        sink.write(dict(members, __key__="0000000001"))
    (got, _) = items = list(ShardDataset(path))
    assert set(TRACK_TENSORS) <= set(got)
    tr = made_up_tracks()
    assert torch.equal(got["track_state"], torch.from_numpy(tr.state))
    assert torch.equal(got["occluded"], torch.from_numpy(tr.state.T != VISIBLE))
    assert collate(items)["target_points"].shape == (2, N, T, 2)
    assert "track_state" not in next(iter(ShardDataset(path, modalities=["rgb"])))


def test_validate_passes_a_dataset_with_tracks_and_names_a_missing_member(tiny_config, tmp_path):
    from factory.trust.validate.run import validate_dataset
    from tests.helpers.datasets import write_dataset
    from tests.helpers.validate import read_tar, rewrite_shard

    config = tiny_config.model_copy(update={"output": tiny_config.output.model_copy(update={"tracks": 24})})
    write_dataset(config, tmp_path, 3, 3)
    result = validate_dataset(tmp_path)
    assert result.failures == [], result.failures
    ((key, first), *rest) = read_tar(tmp_path / "tiny-000000.tar")

    def npy(a) -> bytes:
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        return buf.getvalue()

    world = np.load(io.BytesIO(first["track_world.npy"]))
    for damaged, check, says in (
        ({k: v for k, v in first.items() if k != "occluded.npy"}, "members.set", "occluded.npy"),
        (dict(first, **{"track_world.npy": npy(world + np.float32(0.01))}), "tracks.layout", "world_to_camera"),
        (dict(first, **{"visibility.npy": npy(~np.load(io.BytesIO(first["visibility.npy"])))}), "tracks.layout", "vis"),
        (dict(first, **{"track_state.npy": npy(np.zeros((2, 3), np.uint8))}), "tracks.decode", "query_points"),
    ):
        rewrite_shard(tmp_path, 0, [(key, damaged), *rest])
        bad = validate_dataset(tmp_path).failures
        assert [(f["check"], f["key"]) for f in bad if says in f["message"]] == [(check, key)], bad


def test_hugging_face_datasets_hands_the_tracks_over(tiny_config, tmp_path):
    datasets = pytest.importorskip("datasets")
    from factory.client.hf import features
    from factory.dataset.reader import open_dataset
    from tests.helpers.datasets import write_dataset

    config = tiny_config.model_copy(update={"output": tiny_config.output.model_copy(update={"tracks": 12})})
    write_dataset(config, tmp_path / "ds", 2, 2)
    want = {key: decode_tracks(m) for _, key, m in open_dataset(str(tmp_path / "ds")).samples()}
    ds = datasets.load_dataset(
        "webdataset",
        data_files={"train": [str(p) for p in (tmp_path / "ds").glob("*.tar")]},
        split="train",
        features=features(tracks=True),
        cache_dir=str(tmp_path / "hf-cache"),
    )
    for rows in (ds, ds.with_format("numpy")):  # nested lists; arrays with ints widened to int64
        for row in rows:
            assert_tracks_equal(decode_tracks(row), want[row["__key__"]])


def test_the_config_bounds_the_tracks():
    from factory.errors import ConfigError

    for output, render, says in (
        ({"tracks": 16385}, {}, "output.tracks"),
        ({"tracks": -1}, {}, "output.tracks"),
        ({"tracks": 8, "track_object_share": 1.5}, {}, "output.track_object_share"),
        ({"tracks": 16384}, {"frames": 257}, "output.tracks x render.frames"),
    ):
        with pytest.raises(ConfigError, match=says.replace(".", r"\.")):
            parse_config({"render": render, "output": output, "scenarios": {"s": {}}})
    assert parse_config({"render": {"frames": 256}, "output": {"tracks": 16384}, "scenarios": {"s": {}}})
