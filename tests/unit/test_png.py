"""The PNG writers (``output.png``): libdeflate's members (factory.sample.png, the
default) decode, with factory's decoder and those both WebDataset readers use by
default, to exactly the arrays of OpenCV's members; every path that encodes follows the
config's choice; and the in-place codes equal their formulas."""

from __future__ import annotations

import io

import numpy as np
import PIL.Image
import pytest
import webdataset as wds

from factory.sample import png as fast
from factory.sample.decode import decode_sample
from factory.sample.encode import IMAGE_MEMBERS, encode_depth, encode_flow, encode_normals, encode_sample
from factory.sample.generate import generate_members, generate_sample
from factory.scene.config import PNG_WRITERS, parse_config
from tests.helpers.clips import synthetic_sample


@pytest.fixture(scope="module")
def pair():
    sample = synthetic_sample(1, frames=3, height=16, width=20, spheres=3, seed=1)
    return encode_sample(sample, mp4=False, png="opencv"), encode_sample(sample, mp4=False, png="libdeflate")


def _pil(data: bytes) -> np.ndarray:
    # ray.data.read_webdataset's default decoder for a .png member
    return np.asarray(PIL.Image.open(io.BytesIO(data)))


@pytest.mark.parametrize("member", IMAGE_MEMBERS)
def test_libdeflate_members_decode_to_the_opencv_arrays(pair, member):
    opencv, libdeflate = pair
    assert libdeflate[member] != opencv[member]  # other bytes ...
    got, want = _pil(libdeflate[member]), _pil(opencv[member])
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)  # ... the same image
    # webdataset's image handlers (.decode("pil"), "rgb8", ...): the same as OpenCV's bytes give
    for spec in ("pil", "rgb8", "l"):
        handler = wds.autodecode.imagehandler(spec)
        np.testing.assert_array_equal(
            np.asarray(handler("png", libdeflate[member])), np.asarray(handler("png", opencv[member]))
        )


def test_json_and_other_members_do_not_depend_on_the_writer(pair):
    opencv, libdeflate = pair
    assert opencv.keys() == libdeflate.keys() and opencv["json"] == libdeflate["json"]


def test_factory_decodes_both_writers_to_the_same_arrays(pair):
    (a, meta_a), (b, meta_b) = (decode_sample(members) for members in pair)
    assert meta_a == meta_b
    for name in a.__dataclass_fields__:
        got, want = getattr(b, name), getattr(a, name)
        if want is None:  # an optional layer this sample does not have
            assert got is None
            continue
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_the_default_writer_is_libdeflate(pair):
    sample = synthetic_sample(1, frames=3, height=16, width=20, spheres=3, seed=1)
    assert encode_sample(sample, mp4=False) == pair[1]


def test_generate_members_writes_with_the_configs_writer():
    data = {"render": {"width": 16, "height": 12, "frames": 2}, "scenarios": {"a": {}}}
    made = {}
    for png in PNG_WRITERS:
        config = parse_config({**data, "output": {"mp4": False, "png": png}})
        made[png] = generate_members(config, 0)
        assert made[png] == encode_sample(generate_sample(config, 0), mp4=False, png=png)
    assert generate_members(parse_config({**data, "output": {"mp4": False}}), 0) == made["libdeflate"]
    (x, _), (y, _) = decode_sample(made["opencv"]), decode_sample(made["libdeflate"])
    for name in x.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(x, name), getattr(y, name))


@pytest.mark.parametrize("filter", sorted(fast.FILTERS))
@pytest.mark.parametrize(
    "image",
    [
        np.arange(5 * 7, dtype=np.uint8).reshape(5, 7) * 37,
        (np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 111),
        np.random.default_rng(0).integers(0, 65536, (9, 11), dtype=np.uint16),
        np.random.default_rng(1).integers(0, 256, (3, 2, 3), dtype=np.uint8),
    ],
    ids=["grey8", "rgb8", "grey16", "rgb8-random"],
)
def test_every_filter_round_trips(image, filter):
    np.testing.assert_array_equal(_pil(fast.png(image, filter)), image)


def test_rejects_what_it_cannot_write():
    with pytest.raises(ValueError, match="expected"):
        fast.png(np.zeros((2, 2, 4), np.uint8), "sub")
    with pytest.raises(ValueError, match="expected"):
        fast.png(np.zeros((2, 2), np.float32), "sub")
    with pytest.raises(ValueError, match="expected"):
        fast.png(np.zeros((2, 2, 3), np.uint16), "sub")
    with pytest.raises(ValueError, match="filter"):
        fast.png(np.zeros((2, 2), np.uint8), "paeth")
    with pytest.raises(ValueError, match="PNG writer"):
        encode_sample(synthetic_sample(0, frames=1, height=4, width=4, spheres=1, seed=0), png="pillow")


def test_in_place_codes_equal_their_formulas():
    rng = np.random.default_rng(2)
    depth = np.array([0, 1e-5, 4e-4, 5e-4, 6e-4, 0.0015, 65.5349, 65.535, 65.5351, 1e9, 3.25], np.float32)
    want = np.where(depth > 0, np.maximum(np.minimum(np.rint(depth.astype(np.float64) * 1000.0), 65535), 1), 0)
    np.testing.assert_array_equal(encode_depth(depth), want.astype(np.uint16))
    normals = rng.uniform(-1.1, 1.1, (3, 4, 5, 3)).astype(np.float32)
    want = np.clip(np.rint((normals + np.float32(1.0)) * np.float32(127.5)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(encode_normals(normals), want)
    flow = rng.normal(0.0, 300.0, (2, 5, 7, 2)).astype(np.float32)
    flow[0, 0, :2] = [[1e6, -1e6], [0.5 / 64, -0.5 / 64]]
    valid = rng.random((2, 5, 7)) > 0.3
    code = np.clip(np.rint(flow * np.float32(64.0)) + 32768, 1, 65535)
    code = np.where(valid[..., None], code, 0).astype(np.uint16)
    np.testing.assert_array_equal(encode_flow(flow, valid), np.concatenate([code[..., 0], code[..., 1]], -1))
