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
