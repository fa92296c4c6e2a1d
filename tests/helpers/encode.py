"""What tests/unit/test_encode.py and tests/integration/test_encode.py share: the
documented round-trip bounds and a small shard of synthetic samples (fixtures
``samples`` and ``shard``).

webdataset and factory are imported inside the fixtures: every pytest run loads this
plugin, and importing webdataset alone takes seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from factory.render.frames import Frames
    from factory.sample.types import Sample

DEPTH_MAX = 65.535  # metres, the saturated code


FLOW_MAX = (65535 - 32768) / 64  # pixels, +-511.984375


def assert_frames_within_bounds(got: Frames, want: Frames) -> None:
    """``got`` (decoded) equals ``want`` (encoder input) within the documented bounds."""
    np.testing.assert_array_equal(got.rgb, want.rgb)
    np.testing.assert_array_equal(got.instance, want.instance)
    np.testing.assert_array_equal(got.semantic, want.semantic)
    np.testing.assert_array_equal(got.flow_valid, want.flow_valid)
    for name in ("depth", "normals", "flow"):
        assert getattr(got, name).dtype == np.float32 and getattr(got, name).shape == getattr(want, name).shape

    # depth: 0 stays 0; <= 0.5 mm (plus float32 rounding of the result) within
    # [1 mm, 65.535 m]; outside it, clamped to that range (0 is kept for "no surface").
    sky = want.depth == 0
    assert (got.depth[sky] == 0).all() and (got.depth[~sky] > 0).all()
    expected = np.clip(want.depth.astype(np.float64), 0.001, DEPTH_MAX)
    err = np.abs(got.depth - expected)
    assert (err[~sky] <= 0.0005 + 1e-7 * np.maximum(expected[~sky], 1.0) + 1e-9).all(), err.max()

    # normals: <= 1/255 per component; exactly 0 on sky.
    assert (got.normals[sky] == 0).all()
    assert np.abs(got.normals - want.normals)[~sky].max(initial=0) <= 1 / 255 + 1e-6

    # flow: <= 1/128 px where valid (after saturation at +-511.98 px); 0 where invalid.
    v = want.flow_valid
    expected_flow = np.clip(want.flow.astype(np.float64), -FLOW_MAX, FLOW_MAX)
    assert np.abs(got.flow - expected_flow)[v].max(initial=0) <= 1 / 128 + 1e-6
    assert (got.flow[~v] == 0).all()


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    from tests.helpers.clips import synthetic_sample

    # Different sizes of metadata (object counts, null boxes) across samples, as in a shard.
    return [synthetic_sample(i, frames=3, height=16, width=20, spheres=1 + 2 * i, seed=i) for i in range(3)]


@pytest.fixture(scope="module")
def shard(samples, tmp_path_factory) -> str:
    """A tar of ``samples`` as ``encode_sample`` writes them by default (the PNGs by
    libdeflate, ``output.png``'s default)."""
    import webdataset as wds

    from factory.sample.encode import encode_sample

    path = str(tmp_path_factory.mktemp("shard") / "shard-000000.tar")
    with wds.TarWriter(path, mtime=0) as sink:
        for s in samples:
            sink.write(encode_sample(s))
    return path
