"""Point tracks through ``ray.data.read_webdataset``: its default decoder and Arrow
blocks hand the tracks members over as arrays (samples of different point counts in
one block), and they decode to the tracks encoded. The other reader and the round
trips: tests/unit/test_tracks_members.py."""

from __future__ import annotations

import pytest

from factory.sample.decode import decode_tracks
from factory.sample.encode import encode_sample
from tests.helpers.clips import synthetic_sample
from tests.helpers.tracks import T, assert_tracks_equal, made_up_tracks


@pytest.mark.ray
def test_ray_read_webdataset_decodes_the_tracks(ray_local, tmp_path):
    import webdataset as wds

    expect = {}
    path = str(tmp_path / "tracks-000000.tar")
    with wds.TarWriter(path, mtime=0) as sink:
        for i in range(3):
            sample = synthetic_sample(i, frames=T, height=16, width=20, seed=i)
            tracks = made_up_tracks(i, N=5 if i == 1 else 17)  # two point counts in one block
            sample.tracks = expect[sample.key] = tracks
            sink.write(encode_sample(sample, mp4=False))
    rows = ray_local.data.read_webdataset(path).take_all()
    assert sorted(r["__key__"] for r in rows) == sorted(expect)
    for row in rows:
        assert_tracks_equal(decode_tracks(row), expect[row["__key__"]])
