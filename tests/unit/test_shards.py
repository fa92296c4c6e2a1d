"""Shard bytes are a pure function of the members: fixed tar metadata and order."""

from __future__ import annotations

import io
import tarfile

import pytest
import webdataset as wds

from factory.dataset import shards


def _samples(n, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [
        (f"{i:010d}", {"rgb.png": rng.bytes(700 + i), "json": b'{"i": %d}' % i, "depth.png": rng.bytes(3), "mp4": b""})
        for i in range(n)
    ]


def test_segments_assemble_to_exactly_what_tarfile_writes():
    samples = _samples(5)
    fast = shards.assemble(shards.sample_segment(k, m) for k, m in samples)
    assert fast == shards.build_shard(samples)
    assert len(fast) % tarfile.RECORDSIZE == 0
    assert shards.assemble([]) == shards.build_shard([])


def test_tar_metadata_is_fixed_and_member_order_is_json_first():
    data = shards.build_shard(_samples(2))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == [
        "0000000000.json",
        "0000000000.depth.png",
        "0000000000.mp4",
        "0000000000.rgb.png",
        "0000000001.json",
        "0000000001.depth.png",
        "0000000001.mp4",
        "0000000001.rgb.png",
    ]
    for info in infos:
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode) == (
            shards.TAR_MTIME,
            0,
            0,
            "",
            "",
            0o644,
        )
        assert info.isreg()


def test_same_members_in_any_dict_order_give_the_same_bytes():
    key, members = _samples(1)[0]
    reordered = dict(reversed(list(members.items())))
    assert shards.sample_segment(key, members) == shards.sample_segment(key, reordered)
    assert shards.sample_segment(key, {"__key__": key, **members}) == shards.sample_segment(key, members)


def test_webdataset_reads_the_members_back(tmp_path):
    samples = _samples(3)
    path = tmp_path / "x-000000.tar"
    path.write_bytes(shards.build_shard(samples))
    got = list(wds.WebDataset(str(path), shardshuffle=False))
    assert [g["__key__"] for g in got] == [k for k, _ in samples]
    for g, (_, m) in zip(got, samples):
        assert {k: v for k, v in g.items() if not k.startswith("__")} == m


@pytest.mark.parametrize("key, ext", [("0000.1", "json"), ("", "json"), ("a/b", "json"), ("k", "PNG"), ("k", "")])
def test_bad_keys_and_extensions_are_refused(key, ext):
    with pytest.raises(ValueError):
        shards.sample_segment(key, {ext: b"x"})


def test_names_counts_and_ranges():
    assert shards.shard_name("quick", 12) == "quick-000012.tar"
    assert shards.shard_count(10, 4) == 3 and shards.shard_count(8, 4) == 2 and shards.shard_count(1, 100) == 1
    assert list(shards.shard_indices(2, 10, 4)) == [8, 9]
    assert list(shards.shard_indices(0, 10, 4)) == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        shards.shard_count(5, 0)
