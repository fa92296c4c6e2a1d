"""Encoding, the half that needs Ray: ``ray.data.read_webdataset`` decodes the members
with no custom code and gives the encoder's input back within the documented bounds.
The round trips, determinism and webdataset's reader: tests/unit/test_encode.py."""

from __future__ import annotations

import numpy as np
import pytest

from factory.sample.decode import decode_sample
from tests.helpers.encode import assert_frames_within_bounds


@pytest.mark.ray
def test_ray_read_webdataset(samples, shard, ray_local):
    rows = sorted(ray_local.data.read_webdataset(shard).take_all(), key=lambda r: r["__key__"])
    assert [r["__key__"] for r in rows] == [s.key for s in samples]
    for row, sample in zip(rows, samples):
        assert isinstance(row["depth.png"], np.ndarray) and row["depth.png"].dtype == np.uint16
        frames, meta = decode_sample(row)
        assert_frames_within_bounds(frames, sample.frames)
        assert meta == {**sample.meta, "frames": 3, "height": 16, "width": 20}


@pytest.mark.ray
def test_ray_reads_the_libdeflate_writer_as_the_opencv_one(samples, shard, ray_local, tmp_path):
    import webdataset as wds

    from factory.sample.encode import IMAGE_MEMBERS, encode_sample

    # the shard fixture holds the default (libdeflate) writer's members
    opencv = str(tmp_path / "opencv-000000.tar")
    with wds.TarWriter(opencv, mtime=0) as sink:
        for s in samples:
            sink.write(encode_sample(s, png="opencv"))
    got, want = (
        sorted(ray_local.data.read_webdataset(p).take_all(), key=lambda r: r["__key__"]) for p in (shard, opencv)
    )
    assert [r["__key__"] for r in got] == [r["__key__"] for r in want]
    for a, b in zip(got, want):
        for member in IMAGE_MEMBERS:
            assert a[member].dtype == b[member].dtype
            np.testing.assert_array_equal(a[member], b[member])
