"""Made-up point tracks for format tests (no render needed) and an exact comparison."""

from __future__ import annotations

import numpy as np

from factory.render.tracks import OCCLUDED, OUT_OF_VIEW, VISIBLE, Tracks

T, N = 3, 17  # frames and points of the made-up tracks


def made_up_tracks(seed: int = 0, N: int = N) -> Tracks:
    """Made-up tracks of N points over T frames (a format test needs no render)."""
    rng = np.random.default_rng(seed)
    f = np.float32
    state = rng.choice([VISIBLE, OCCLUDED, OUT_OF_VIEW], size=(T, N)).astype(np.uint8)
    xyz = rng.normal(size=(T, N, 3)).astype(f)
    return Tracks(
        query_frame=rng.integers(0, T, N).astype(np.int32),
        query_uv=(rng.integers(0, 20, (N, 2)) + 0.5).astype(f),
        surface=rng.integers(0, 4, N).astype(np.int32),
        uv=rng.uniform(-5, 25, (T, N, 2)).astype(f),
        depth=xyz[..., 2].copy(),
        xyz=xyz,
        world=rng.normal(size=(T, N, 3)).astype(f),
        state=state,
        intrinsics=np.array([18.0, 18.0, 10.0, 8.0], f),
    )


def assert_tracks_equal(a: Tracks, b: Tracks) -> None:
    for name in Tracks.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)
