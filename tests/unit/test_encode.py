"""Encoding: every modality round-trips within its documented bound, bytes are
deterministic, and webdataset decodes the members with no custom code. Ray Data's
reader on the same shard: tests/integration/test_encode.py."""

from __future__ import annotations

import json
import os
import struct
import tempfile

import cv2
import numpy as np
import pytest
import webdataset as wds
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.render.frames import Frames
from factory.sample.decode import decode_sample
from factory.sample.encode import IMAGE_MEMBERS, encode_sample
from factory.sample.types import Sample
from factory.scene.config import PNG_WRITERS
from tests.helpers.clips import synthetic_sample
from tests.helpers.encode import DEPTH_MAX, FLOW_MAX, assert_frames_within_bounds

PNG_MEMBERS = set(IMAGE_MEMBERS)


def edge_frames() -> Frames:
    """Two 3 x 8 frames holding the edge values of every encoding."""
    T, H, W = 2, 3, 8
    depth = np.array([0.0, 1e-5, 0.0004, 0.0005, 1.2345, 65.534, 65.5349, 65.535, 65.6, 1e6, 3.0, 0.25], np.float32)
    depth = np.resize(depth, (T, H, W)).astype(np.float32)
    depth[0, 0, 0] = 0.0
    flow_values = np.array(
        [0.0, 1 / 128, -1 / 128, 0.3, -0.3, 511.98, -511.98, 511.984375, -511.984375, 600.0, -1e5, 123.456], np.float32
    )
    flow = np.stack([np.resize(flow_values, (T, H, W)), np.resize(flow_values[::-1], (T, H, W))], -1)
    flow_valid = np.ones((T, H, W), bool)
    flow_valid[-1] = False  # the last frame has no successor
    flow_valid[0, 1, ::3] = False
    axes = np.array(
        [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1], [0.6, -0.8, 0], [0, 0.28, -0.96]],
        np.float32,
    )
    normals = np.resize(axes, (T, H, W, 3)).astype(np.float32)
    normals[depth == 0] = 0.0
    rgb = np.resize(np.array([0, 255, 1, 254, 128, 7], np.uint8), (T, H, W, 3))
    instance = np.resize(np.array([0, 1, 2, 300, 65534, 65535], np.uint16), (T, H, W))
    semantic = np.resize(np.array([0, 1, 2, 8, 254, 255], np.uint8), (T, H, W))
    albedo = rgb[..., ::-1].copy()
    material = (semantic % 16).astype(np.uint8)
    return Frames(rgb, depth, instance, semantic, normals, flow.astype(np.float32), flow_valid, albedo, material)


def make_sample(frames: Frames, key: str = "0000000003", meta: dict | None = None) -> Sample:
    return Sample(key=key, index=int(key), scenario="test", frames=frames, meta=meta or {"fps": 12.0})


@pytest.mark.parametrize("png", PNG_WRITERS)
def test_edge_values_round_trip_within_bounds(png):
    frames = edge_frames()
    decoded, _ = decode_sample(encode_sample(make_sample(frames), mp4=False, png=png))
    assert_frames_within_bounds(decoded, frames)
    # Spot checks of the documented codes.
    assert decoded.depth[0, 0, 1] == pytest.approx(0.001)  # 0.01 mm: kept as a surface
    assert decoded.depth.max() == pytest.approx(DEPTH_MAX)  # 1e6 m saturates
    assert decoded.flow[0].max() == pytest.approx(FLOW_MAX) and decoded.flow[0].min() == pytest.approx(-FLOW_MAX)


def test_synthetic_clip_round_trips_within_bounds():
    sample = synthetic_sample(5, frames=4, height=24, width=30, spheres=4)
    decoded, meta = decode_sample(encode_sample(sample))
    assert_frames_within_bounds(decoded, sample.frames)
    assert meta == {**sample.meta, "frames": 4, "height": 24, "width": 30}


@st.composite
def random_frames(draw) -> Frames:
    T = draw(st.integers(1, 4))
    H = draw(st.integers(1, 9))
    W = draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    depth = rng.uniform(0, 80, (T, H, W)).astype(np.float32)
    depth[rng.random((T, H, W)) < 0.2] = 0.0
    n = rng.normal(size=(T, H, W, 3))
    normals = (n / np.linalg.norm(n, axis=-1, keepdims=True)).astype(np.float32)
    normals[depth == 0] = 0.0
    return Frames(
        rgb=rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8),
        depth=depth,
        instance=rng.integers(0, 65536, (T, H, W), dtype=np.uint16),
        semantic=rng.integers(0, 256, (T, H, W), dtype=np.uint8),
        normals=normals,
        flow=rng.uniform(-600, 600, (T, H, W, 2)).astype(np.float32),
        flow_valid=rng.random((T, H, W)) < 0.7,
        albedo=rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8),
        material=rng.integers(0, 256, (T, H, W), dtype=np.uint8),
    )


@pytest.mark.parametrize("png", PNG_WRITERS)
@settings(max_examples=30, deadline=None)
@given(random_frames())
def test_random_frames_round_trip_within_bounds(png, frames):
    decoded, _ = decode_sample(encode_sample(make_sample(frames), mp4=False, png=png))
    assert_frames_within_bounds(decoded, frames)


@pytest.mark.parametrize("png", PNG_WRITERS)
def test_bytes_are_deterministic(png):
    sample = synthetic_sample(1, frames=3, height=20, width=24)
    first = encode_sample(sample, png=png)
    # Same values in fresh, differently laid-out arrays (Fortran order) and a fresh meta.
    f = sample.frames
    again = Sample(
        sample.key,
        sample.index,
        sample.scenario,
        Frames(*(None if getattr(f, k) is None else np.asfortranarray(getattr(f, k)) for k in f.__dataclass_fields__)),
        json.loads(json.dumps(sample.meta)),
    )
    assert encode_sample(again, png=png) == first
    assert encode_sample(sample, png=png) == first


def test_mp4_has_no_wall_clock_time_and_decodes():
    sample = synthetic_sample(2, frames=5, height=32, width=48)
    data = encode_sample(sample)["mp4"]
    # The muxer writes creation/modification times into 'mvhd'; they must be 0, or the
    # bytes would change from one second to the next.
    at = data.index(b"mvhd") + 4
    version = data[at]
    fmt = ">QQ" if version == 1 else ">II"
    assert struct.unpack_from(fmt, data, at + 4) == (0, 0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clip.mp4")
        with open(path, "wb") as fh:
            fh.write(data)
        cap = cv2.VideoCapture(path)
        got = []
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            got.append(bgr[..., ::-1])
        cap.release()
    assert len(got) == 5
    assert got[0].shape == (32, 48, 3)
    # Lossy: only roughly equal.
    assert np.abs(np.stack(got).astype(int) - sample.frames.rgb).mean() < 12


def test_members_keys_and_json():
    sample = synthetic_sample(42, frames=2, height=8, width=10)
    members = encode_sample(sample)
    assert members["__key__"] == "0000000042" and "." not in members["__key__"]
    assert set(members) == {"__key__", "json", "mp4", *PNG_MEMBERS}
    assert all(k == k.lower() for k in members)
    assert all(isinstance(v, bytes) for k, v in members.items() if k != "__key__")
    meta = {**sample.meta, "frames": 2, "height": 8, "width": 10}
    assert members["json"] == json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    assert "mp4" not in encode_sample(sample, mp4=False)


@pytest.mark.parametrize("png", PNG_WRITERS)
def test_png_members_are_plain_images_in_the_documented_layout(png):
    """What any PNG reader sees: the filmstrip shapes and dtypes of the member table."""
    import io

    from PIL import Image

    sample = synthetic_sample(0, frames=3, height=8, width=10)
    members = encode_sample(sample, mp4=False, png=png)
    arrays = {k: np.asarray(Image.open(io.BytesIO(members[k]))) for k in PNG_MEMBERS}
    assert {k: (a.shape, a.dtype.name) for k, a in arrays.items()} == {
        "rgb.png": ((24, 10, 3), "uint8"),
        "depth.png": ((24, 10), "uint16"),
        "instance.png": ((24, 10), "uint16"),
        "semantic.png": ((24, 10), "uint8"),
        "normals.png": ((24, 10, 3), "uint8"),
        "flow.png": ((24, 20), "uint16"),
        "albedo.png": ((24, 10, 3), "uint8"),
        "material.png": ((24, 10), "uint8"),
    }
    f = sample.frames
    np.testing.assert_array_equal(arrays["rgb.png"][8:16], f.rgb[1])  # frame 1, RGB order
    np.testing.assert_array_equal(arrays["albedo.png"][8:16], f.albedo[1])
    np.testing.assert_array_equal(arrays["material.png"][16:], f.material[2])
    np.testing.assert_array_equal(arrays["depth.png"][16:], np.rint(f.depth[2] * 1000))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: setattr(f, "depth", f.depth.astype(np.float64)), "frames.depth"),
        (lambda f: setattr(f, "instance", f.instance.astype(np.int32)), "frames.instance"),
        (lambda f: setattr(f, "rgb", f.rgb[:, :, :-1]), "frames.rgb"),
        (lambda f: f.flow.__setitem__((0, 0, 0, 0), np.nan), "frames.flow"),
        (lambda f: f.depth.__setitem__((0, 0, 0), -1.0), "frames.depth"),
        (lambda f: setattr(f, "albedo", f.albedo[..., 0]), "frames.albedo"),
        (lambda f: setattr(f, "material", None), "frames.material"),
    ],
)
def test_rejects_frames_outside_the_contract(change, message):
    sample = synthetic_sample(0, frames=2, height=6, width=7)
    change(sample.frames)
    with pytest.raises(ValueError, match=message):
        encode_sample(sample)


def test_rejects_dotted_key_and_bad_meta():
    sample = synthetic_sample(0, frames=1, height=6, width=7)
    with pytest.raises(ValueError, match="height"):
        encode_sample(Sample("a", 0, "x", sample.frames, {"height": 5}))
    with pytest.raises(ValueError, match="key"):
        encode_sample(Sample("a.b", 0, "x", sample.frames, {}))
    with pytest.raises(ValueError):
        encode_sample(Sample("a", 0, "x", sample.frames, {"bad": float("nan")}))


def test_webdataset_default_decode(samples, shard):
    rows = list(wds.WebDataset(shard, shardshuffle=False).decode())
    assert [r["__key__"] for r in rows] == [s.key for s in samples]
    for row, sample in zip(rows, samples):
        assert isinstance(row["json"], dict)  # the default handlers decode JSON, keep PNG bytes
        frames, meta = decode_sample(row)
        assert_frames_within_bounds(frames, sample.frames)
        assert meta == {**sample.meta, "frames": 3, "height": 16, "width": 20}


def test_webdataset_image_decoders(samples, shard):
    # The stock "rgb8" handler is right for rgb.png ...
    rows = list(wds.WebDataset(shard, shardshuffle=False).decode("rgb8", only=["rgb.png", "json"]))
    for row, sample in zip(rows, samples):
        T, H, W, _ = sample.frames.rgb.shape
        np.testing.assert_array_equal(row["rgb.png"], sample.frames.rgb.reshape(T * H, W, 3))
        frames, _ = decode_sample(row)
        assert_frames_within_bounds(frames, sample.frames)
    # ... but converts 16-bit members to 8 bits, which decode_sample refuses loudly.
    row = next(iter(wds.WebDataset(shard, shardshuffle=False).decode("l8", only=["depth.png"])))
    with pytest.raises(ValueError, match="16-bit"):
        decode_sample(row)
