"""Diversity and drift (``factory.trust.diversity``, ``factory compare``) on real data.

Datasets are real tars: factory ones written by ``write_dataset`` (the tiny config, and
a dark variant of it), real-style ones by ``webdataset.TarWriter``. The checks are
independent of the code under test: hashes against a perceptual hash written here with
a matrix DCT and block means, pictures decoded here with tarfile + PIL + json, features
against hand-computed values on constructed images, near-duplicates against a Python
double loop, distances against closed forms. ``factory compare`` on S3 (the moto server):
tests/integration/test_diversity.py.
"""

from __future__ import annotations

import io
import json
import math
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import webdataset as wds
from PIL import Image

from factory.cli import main
from factory.errors import StorageError
from factory.scene.config import parse_config
from factory.trust.diversity import (
    FEATURES,
    NEAR_DUPLICATE_BITS,
    Profile,
    compare,
    frechet_distance,
    hamming,
    hashing,
    image_features,
    near_duplicates,
    nearest,
    phash,
    picture,
    profile_dataset,
    wasserstein_1d,
)
from tests.helpers.datasets import memory_url, write_dataset
from tests.helpers.diversity import TINY_SAMPLES, TINY_SHARD

F = {name: k for k, name in enumerate(FEATURES)}


def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix: row k = sqrt((1 or 2) / n) * cos(pi (2i + 1) k / 2n)."""
    i = np.arange(n)
    m = np.cos(np.pi * (2 * i[None, :] + 1) * i[:, None] / (2 * n)) * math.sqrt(2 / n)
    m[0] /= math.sqrt(2)
    return m


def ref_phash(rgb: np.ndarray) -> int:
    """The documented hash, written out: luma, 32x32 block means (sides multiples of 32),
    2-D DCT, 8x8 low frequencies, bit = AC coefficient > AC median, DC bit 0, LSB first."""
    h, w = rgb.shape[:2]
    assert h % 32 == 0 and w % 32 == 0
    x = rgb.astype(np.float64)
    grey = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    small = grey.reshape(32, h // 32, 32, w // 32).mean(axis=(1, 3))
    c = dct_matrix(32)
    low = (c @ small @ c.T)[:8, :8].ravel()
    median = np.median(low[1:])
    return sum(1 << k for k in range(1, 64) if low[k] > median)


def pairs_by_loop(hashes: list[int], max_distance: int) -> list[tuple[int, int, int]]:
    out = []
    for i in range(len(hashes)):
        for j in range(i + 1, len(hashes)):
            d = bin(hashes[i] ^ hashes[j]).count("1")
            if d <= max_distance:
                out.append((i, j, d))
    return out


def groups_of(n: int, pairs) -> int:
    """Connected components of size >= 2, by a plain dict union-find."""
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for i, j, _ in pairs:
        parent[find(i)] = find(j)
    return len({find(i) for p in pairs for i in p[:2]})


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(rgb: np.ndarray, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def first_frames(folder: Path) -> list[tuple[str, np.ndarray]]:
    """``("shard/key", first frame)`` of every sample of a factory dataset, read here
    with tarfile + PIL + json in the manifest's shard order."""
    doc = json.loads((folder / "manifest.json").read_text())
    out = []
    for record in doc["shards"]:
        with tarfile.open(folder / record["name"]) as tar:
            members: dict[str, dict[str, bytes]] = {}
            for info in tar:
                key, _, ext = info.name.partition(".")
                members.setdefault(key, {})[ext] = tar.extractfile(info).read()
        for key, m in members.items():
            height = json.loads(m["json"])["height"]
            strip = np.asarray(Image.open(io.BytesIO(m["rgb.png"])).convert("RGB"))
            out.append((f"{record['name']}/{key}", strip[:height]))
    return out


def smooth_image(rng, size=128, cells=6) -> np.ndarray:
    """A random picture with structure at several scales (not white noise)."""
    coarse = rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8)
    big = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(big.astype(np.int16) + rng.integers(-20, 21, big.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def dark_ds(tiny_config) -> str:
    """The tiny config with the lights nearly off, a dark sky and a camera that does not
    meter them back up (in memory: only the code under test reads it)."""
    doc = tiny_config.resolved()
    doc["name"] = "tiny_dark"
    for scenario in doc["scenarios"].values():
        scenario["lighting"].update(intensity=0.08, ambient=0.02, sky_value=0.03)
        scenario["backdrop"].update(strength=0.05)
        scenario["camera"].update(exposure="fixed", ev=-4.0)  # the sky is ~10 kcd/m^2: radiance 1/16 shows as 1
    url = memory_url("dark")
    write_dataset(parse_config(doc, "dark"), url, TINY_SAMPLES, TINY_SHARD)
    return url


def write_real(folder: Path, shards: list[list[dict]]) -> Path:
    """A real-style WebDataset (no manifest): ``real-00000i.tar`` holding ``shards[i]``."""
    folder.mkdir(parents=True, exist_ok=True)
    for s, samples in enumerate(shards):
        with wds.TarWriter(str(folder / f"real-{s:06d}.tar"), mtime=0) as sink:
            for sample in samples:
                sink.write(sample)
    return folder


@pytest.fixture(scope="module")
def real_pictures():
    rng = np.random.default_rng(11)
    return [smooth_image(rng, size=64 + 32 * (k % 3)) for k in range(10)]


@pytest.fixture(scope="module")
def real_ds(real_pictures, tmp_path_factory) -> Path:
    """Two shards: jpg + cls samples, png + json samples, one sample without a picture,
    and two re-encoded copies of picture 0 (near-duplicates)."""
    pics = real_pictures
    first = [{"__key__": f"s{k:03d}", "jpg": jpeg(pics[k]), "cls": str(k % 3).encode()} for k in range(5)]
    second = [
        {"__key__": f"t{k:03d}", "png": png(pics[k]), "json": json.dumps({"k": k}).encode()} for k in range(5, 10)
    ]
    second.append({"__key__": "t100", "cls": b"1"})  # no picture
    second.append({"__key__": "t101", "jpg": jpeg(pics[0], quality=70), "cls": b"0"})
    second.append({"__key__": "t102", "png": png(pics[0]), "json": b"{}"})
    return write_real(tmp_path_factory.mktemp("real") / "ds", [first, second])


def test_phash_matches_an_independent_dct_hash_on_random_images():
    rng = np.random.default_rng(0)
    shapes = [(32, 32), (64, 64), (64, 96), (128, 128), (96, 160)]
    for k in range(25):
        h, w = shapes[k % len(shapes)]
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8) if k % 2 else smooth_image(rng, size=h)[:, :h]
        if k % 2 == 0:
            rgb = cv2.resize(rgb, (w, h))
        assert phash(rgb) == ref_phash(rgb), (k, h, w)


def test_phash_is_stable_under_small_changes_and_far_for_other_pictures():
    from factory.sample.generate import generate_members
    from factory.scene.config import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml")
    scene = picture(generate_members(config, 0, mp4=False, only=("rgb.png",)))
    assert scene.shape == (128, 128, 3)
    h = phash(scene)
    assert 0 <= h < 2**64 and h & 1 == 0  # DC bit always 0
    assert hamming(h, phash(scene.copy())) == 0
    brighter = np.clip(scene.astype(np.int16) + 8, 0, 255).astype(np.uint8)
    assert hamming(h, phash(brighter)) <= NEAR_DUPLICATE_BITS
    assert hamming(h, phash(cv2.GaussianBlur(scene, (3, 3), 0))) <= NEAR_DUPLICATE_BITS
    reencoded = np.asarray(Image.open(io.BytesIO(jpeg(scene, 75))).convert("RGB"))
    assert hamming(h, phash(reencoded)) <= NEAR_DUPLICATE_BITS
    # Unrelated pictures: hash bits behave like fair coins, ~32 of 64 apart.
    rng = np.random.default_rng(5)
    others = [phash(smooth_image(rng)) for _ in range(40)]
    assert 20 <= hamming(h, others[0]) <= 44
    distances = [hamming(a, b) for k, a in enumerate(others) for b in others[k + 1 :]]
    assert 28 <= np.mean(distances) <= 35 and min(distances) > NEAR_DUPLICATE_BITS


def test_phash_refuses_what_is_not_an_rgb_picture():
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        phash(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="float"):
        phash(np.zeros((8, 8, 3), np.float32))


def test_hamming():
    assert hamming(0, 0) == 0 and hamming(0b1011, 0b0001) == 2 and hamming(0, 2**64 - 1) == 64


def test_near_duplicates_finds_exactly_the_planted_copies():
    rng = np.random.default_rng(1)
    base = [smooth_image(rng) for _ in range(30)]
    pictures = list(base)
    planted = {3: 2, 7: 1, 20: 1}  # base index: number of noisy copies appended
    owner = {}
    for k, copies in planted.items():
        for _ in range(copies):
            noisy = np.clip(base[k] + rng.normal(0, 1.5, base[k].shape), 0, 255).astype(np.uint8)
            owner[len(pictures)] = k
            pictures.append(noisy)
    hashes = [phash(p) for p in pictures]
    expected = set()
    for c, k in owner.items():
        expected.add((k, c))
    expected.add((30, 31))  # the two copies of picture 3 are near-duplicates of each other
    result = near_duplicates(hashes)
    assert {(i, j) for i, j, _ in result.pairs} == expected
    assert result.pairs == pairs_by_loop(hashes, NEAR_DUPLICATE_BITS)
    assert result.rate == pytest.approx(7 / 34)  # 3 bases + 4 copies of 34 pictures
    assert result.groups == 3 and result.duplicated == 7 and result.pair_count == 5 and result.samples == 34


def test_near_duplicates_equals_a_double_loop_across_many_blocks(monkeypatch):
    rng = np.random.default_rng(2)
    # Clustered hashes: 40 centres, each with a few copies with a few bits flipped.
    centres = rng.integers(0, 2**63, 40, dtype=np.uint64).tolist()
    hashes = []
    for _ in range(300):
        h = int(centres[rng.integers(40)])
        for bit in rng.choice(64, size=rng.integers(0, 6), replace=False):
            h ^= 1 << int(bit)
        hashes.append(h)
    monkeypatch.setattr(hashing, "_BLOCK_ELEMENTS", 1000)  # 3 rows per block: 100 blocks
    for max_distance in (0, 3, 8):
        result = near_duplicates(hashes, max_distance)
        expected = pairs_by_loop(hashes, max_distance)
        assert result.pairs == expected and result.pair_count == len(expected)
        flagged = {i for p in expected for i in p[:2]}
        assert result.rate == len(flagged) / 300 and result.duplicated == len(flagged)
        assert result.groups == groups_of(300, expected)
    capped = near_duplicates(hashes, 8, max_pairs=50)
    assert capped.pairs == expected[:50] and capped.pair_count == len(expected)


def test_near_duplicates_edge_cases():
    assert near_duplicates([]).rate == 0.0 and near_duplicates([5]).groups == 0
    assert near_duplicates(np.array([7, 7, 7], dtype=np.uint64)).pairs == [(0, 1, 0), (0, 2, 0), (1, 2, 0)]
    assert near_duplicates([2**64 - 1, 2**64 - 1]).rate == 1.0
    with pytest.raises(ValueError, match="max_distance.*0..64.*65"):
        near_duplicates([1, 2], 65)


def test_nearest_is_the_minimum_over_the_reference():
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 2**63, 57, dtype=np.uint64)
    queries = rng.integers(0, 2**63, 23, dtype=np.uint64)
    dist, index = nearest(ref, queries)
    for q, d, i in zip(queries.tolist(), dist, index):
        all_d = [bin(q ^ r).count("1") for r in ref.tolist()]
        assert d == min(all_d) and all_d[i] == d
    assert nearest([], [1, 2])[1].tolist() == [-1, -1]


def test_features_of_a_solid_colour():
    rgb = np.empty((128, 128, 3), np.uint8)
    rgb[...] = (200, 100, 50)
    f = dict(zip(FEATURES, image_features(rgb)))
    assert (f["r_mean"], f["g_mean"], f["b_mean"]) == pytest.approx((200, 100, 50))
    for name in (
        "r_std",
        "g_std",
        "b_std",
        "luma_std",
        "edge_density",
        "gradient_mean",
        "sharpness",
        "entropy",
        "dark_fraction",
        "bright_fraction",
    ):
        assert f[name] == pytest.approx(0, abs=1e-9), name
    assert f["luma_mean"] == pytest.approx(0.299 * 200 + 0.587 * 100 + 0.114 * 50, abs=1e-3)
    assert f["saturation_mean"] == pytest.approx(150 / 200)
    # rg = 100, yb = (200 + 100) / 2 - 50 = 100, no spread: 0.3 * sqrt(100^2 + 100^2)
    assert f["colourfulness"] == pytest.approx(0.3 * math.hypot(100, 100))
    black = dict(zip(FEATURES, image_features(np.zeros((40, 60, 3), np.uint8))))
    assert black["dark_fraction"] == 1 and black["saturation_mean"] == 0 and black["colourfulness"] == 0
    white = dict(zip(FEATURES, image_features(np.full((128, 128, 3), 255, np.uint8))))
    assert white["bright_fraction"] == 1 and white["luma_mean"] == pytest.approx(255)


def stripes(size: int, width: int) -> np.ndarray:
    """Vertical black and white stripes ``width`` pixels wide, starting black."""
    column = ((np.arange(size) // width) % 2 * 255).astype(np.uint8)
    return np.repeat(np.broadcast_to(column, (size, size))[..., None], 3, axis=2).copy()


def test_features_of_stripes():
    f = dict(zip(FEATURES, image_features(stripes(128, 16))))
    boundaries = 128 // 16 - 1  # 7 steps of 255 inside the picture; none at the reflected borders
    # The 3x3 Sobel over a step of 255 reads (1 + 2 + 1) * 255 on both adjacent columns; / 8.
    assert f["gradient_mean"] == pytest.approx(2 * boundaries * 127.5 / 128, rel=1e-6)
    # Canny keeps one of the two columns of a clean step.
    assert boundaries / 128 <= f["edge_density"] <= 2 * boundaries / 128
    # 4-neighbour Laplacian: +255 and -255 on the two columns of each step, 0 elsewhere.
    assert f["sharpness"] == pytest.approx(2 * boundaries * 255**2 / 128, rel=1e-6)
    assert f["luma_mean"] == pytest.approx(127.5) and f["luma_std"] == pytest.approx(127.5)
    assert f["entropy"] == pytest.approx(1.0) and f["dark_fraction"] == 0.5 and f["bright_fraction"] == 0.5
    assert f["saturation_mean"] == 0 and f["colourfulness"] == pytest.approx(0, abs=1e-9)
    # Measured at one scale: the same stripes drawn at twice the size read the same.
    big = image_features(stripes(256, 32))
    assert big == pytest.approx(image_features(stripes(128, 16)), rel=1e-6, abs=1e-9)


def test_features_do_not_depend_on_memory_layout():
    rng = np.random.default_rng(12)
    pic = smooth_image(rng, size=96)
    want = image_features(pic)
    store = np.zeros(pic.size + 64, np.uint8)
    for offset in range(0, 64, 3):
        moved = store[offset : offset + pic.size].reshape(pic.shape)
        moved[...] = pic
        assert np.array_equal(image_features(moved), want), offset
    assert np.array_equal(image_features(np.concatenate([pic, pic])[:96]), want)
    # Fresh intermediate arrays land at other alignments between calls (OpenCV's
    # cv2.magnitude, for one, rounds differently then).
    held = []
    for k in range(20):
        held.append(np.empty(8 * k + 1, np.uint8))
        assert np.array_equal(image_features(pic), want), k


def sobel_mean(grey: np.ndarray) -> float:
    """Mean Sobel magnitude / 8 with mirrored borders (not repeating the edge pixel)."""
    p = np.pad(grey.astype(np.float64), 1, mode="reflect")
    gx = (p[:-2, 2:] - p[:-2, :-2]) + 2 * (p[1:-1, 2:] - p[1:-1, :-2]) + (p[2:, 2:] - p[2:, :-2])
    gy = (p[2:, :-2] - p[:-2, :-2]) + 2 * (p[2:, 1:-1] - p[:-2, 1:-1]) + (p[2:, 2:] - p[:-2, 2:])
    return float(np.hypot(gx, gy).mean() / 8)


def test_features_of_a_checkerboard_and_of_random_pictures():
    y, x = np.mgrid[:128, :128]
    board = (((x // 8) + (y // 8)) % 2 * 200 + 20).astype(np.uint8)
    rgb = np.repeat(board[..., None], 3, axis=2)
    f = dict(zip(FEATURES, image_features(rgb)))
    assert f["gradient_mean"] == pytest.approx(sobel_mean(board), rel=1e-5)
    # 15 interior edges each way; Canny keeps 1-2 pixels across each.
    assert 2 * 15 * 128 - 15 * 15 * 4 <= f["edge_density"] * 128 * 128 <= 2 * 2 * 15 * 128
    rng = np.random.default_rng(4)
    for _ in range(5):
        pic = smooth_image(rng)
        x64 = pic.astype(np.float64)
        r, g, b = x64[..., 0], x64[..., 1], x64[..., 2]
        luma = 0.299 * r + 0.587 * g + 0.114 * b
        rg, yb = r - g, (r + g) / 2 - b
        mx, mn = x64.max(axis=2), x64.min(axis=2)
        sat = np.where(mx > 0, (mx - mn) / np.where(mx > 0, mx, 1), 0)
        want = {
            "r_mean": r.mean(),
            "g_mean": g.mean(),
            "b_mean": b.mean(),
            "r_std": r.std(),
            "g_std": g.std(),
            "b_std": b.std(),
            "luma_mean": luma.mean(),
            "luma_std": luma.std(),
            "saturation_mean": sat.mean(),
            "colourfulness": math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()),
            "gradient_mean": sobel_mean(luma),
            "dark_fraction": (luma <= 10).mean(),
            "bright_fraction": (luma >= 245).mean(),
        }
        got = dict(zip(FEATURES, image_features(pic)))
        for name, value in want.items():
            assert got[name] == pytest.approx(value, rel=1e-4, abs=1e-4), name


def test_picture_of_each_kind_of_sample():
    rng = np.random.default_rng(6)
    a, b, c = (rng.integers(0, 256, (8, 6, 3), dtype=np.uint8) for _ in range(3))
    strip = np.concatenate([a, b])
    assert np.array_equal(picture({"rgb.png": png(strip), "json": json.dumps({"height": 8}).encode()}), a)
    assert np.array_equal(picture({"rgb.png": png(strip)}), strip)  # no json: the whole image
    tall = np.concatenate([strip, c])  # 3 frames of 8 rows
    for mode in ("P", "L", "RGBA"):
        buf = io.BytesIO()
        Image.fromarray(tall).convert(mode).save(buf, format="PNG")
        whole = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        got = picture({"rgb.png": buf.getvalue(), "json": b'{"height": 8}'})
        assert np.array_equal(got, whole[:8]), mode
    assert np.array_equal(picture({"png": png(a), "jpeg": png(b), "jpg": png(c)}), c)  # jpg first
    assert np.array_equal(picture({"json": b"{}", "image.png": png(b)}), b)
    grey = Image.fromarray(a[..., 0])
    buf = io.BytesIO()
    grey.save(buf, format="PNG")
    assert np.array_equal(picture({"png": buf.getvalue()}), np.repeat(a[..., :1], 3, axis=2))
    rgba = io.BytesIO()
    Image.fromarray(np.dstack([a, np.full((8, 6), 7, np.uint8)])).save(rgba, format="PNG")
    assert np.array_equal(picture({"webp": rgba.getvalue()}), a)
    assert picture({"cls": b"3", "depth.png": png(a), "json": b"{}"}) is None
    with pytest.raises(ValueError, match="'jpg'"):
        picture({"jpg": b"not a jpeg"})
    with pytest.raises(ValueError, match="'json'"):
        picture({"rgb.png": png(strip), "json": b"{"})


def test_profile_of_a_factory_dataset(tiny_ds):
    frames = first_frames(tiny_ds)
    logged = []
    p = profile_dataset(str(tiny_ds), log=logged.append)
    assert p.keys == [k for k, _ in frames] and p.size == TINY_SAMPLES == p.samples_read
    assert p.hashes.dtype == np.uint64 and p.hashes.tolist() == [ref_phash(rgb) for _, rgb in frames]
    assert p.features.shape == (TINY_SAMPLES, len(FEATURES)) and p.features.dtype == np.float64
    for k, (_, rgb) in enumerate(frames):
        assert np.array_equal(p.features[k], image_features(rgb))  # deterministic to the bit
        # 32 px frames are upsampled to 128 bilinearly, which keeps the mean within a level
        assert p.features[k, F["g_mean"]] == pytest.approx(rgb[..., 1].mean(), abs=1.0)
    assert len(logged) == 3 and all(str(tiny_ds) in line for line in logged)
    assert p.without_picture == 0 and p.unreadable == 0
    s = p.summary()
    assert list(s) == list(FEATURES)
    assert s["luma_mean"]["mean"] == pytest.approx(p.features[:, F["luma_mean"]].mean())
    assert s["luma_mean"]["p5"] <= s["luma_mean"]["p50"] <= s["luma_mean"]["p95"]
    doc = p.to_json()
    assert json.loads(json.dumps(doc))["pictures"] == TINY_SAMPLES
    text = "\n".join(p.lines())
    assert text.startswith(f"{tiny_ds}: {TINY_SAMPLES} pictures") and all(name in text for name in FEATURES)
    first7 = profile_dataset(str(tiny_ds), max_samples=7)
    assert first7.keys == p.keys[:7] and first7.samples_read == 7
    assert np.array_equal(first7.features, p.features[:7])


def test_profile_of_a_real_style_dataset_shows_its_duplicates(real_ds, real_pictures):
    p = profile_dataset(str(real_ds))
    names = [f"real-000000.tar/s{k:03d}" for k in range(5)] + [f"real-000001.tar/t{k:03d}" for k in range(5, 10)]
    assert p.keys == names + ["real-000001.tar/t101", "real-000001.tar/t102"]
    assert p.samples_read == 13 and p.without_picture == 1 and p.size == 12
    # png members are lossless: their hashes are the originals'
    for k in range(5, 10):
        assert int(p.hashes[k]) == ref_phash(real_pictures[k])
    assert int(p.hashes[11]) == ref_phash(real_pictures[0])
    nd = p.near_duplicates
    assert {(i, j) for i, j, _ in nd.pairs} == {(0, 10), (0, 11), (10, 11)}
    assert nd.rate == pytest.approx(3 / 12) and nd.groups == 1
    one_tar = profile_dataset(str(real_ds / "real-000000.tar"))
    assert one_tar.keys == [f"real-000000.tar/s{k:03d}" for k in range(5)]


def test_profile_counts_undecodable_pictures_and_names_corrupt_shards(tmp_path, real_pictures):
    folder = write_real(
        tmp_path / "bad", [[{"__key__": "a", "jpg": jpeg(real_pictures[0])}, {"__key__": "b", "jpg": b"garbage"}]]
    )
    p = profile_dataset(str(folder))
    assert p.size == 1 and p.unreadable == 1 and "real-000000.tar/b" in p.problems[0]
    data = (folder / "real-000000.tar").read_bytes()
    (folder / "real-000000.tar").write_bytes(data[:700])
    with pytest.raises(StorageError, match="real-000000.tar"):
        profile_dataset(str(folder))


def test_frechet_distance_closed_forms():
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)
    # diagonal: the sum of the 1-D distances
    d = frechet_distance([0, 1], np.diag([1.0, 4.0]), [2, 1], np.diag([9.0, 1.0]))
    assert d == pytest.approx(4 + (1 - 3) ** 2 + (2 - 1) ** 2)
    # a full covariance against itself scaled by c^2: tr(S) (1 - c)^2
    rng = np.random.default_rng(7)
    m = rng.normal(size=(5, 5))
    s = m @ m.T
    assert frechet_distance(np.zeros(5), s, np.ones(5), 4 * s) == pytest.approx(5 + np.trace(s), rel=1e-9)
    # singular covariances (fewer samples than features) are fine
    low = rng.normal(size=(5, 2))
    assert frechet_distance(np.zeros(5), low @ low.T, np.zeros(5), low @ low.T) == pytest.approx(0, abs=1e-9)


def w1_by_cdf(a, b) -> float:
    """W1 as the integral of |F_a - F_b| over x (the other classic exact formula)."""
    a, b = np.sort(a), np.sort(b)
    x = np.sort(np.concatenate([a, b]))
    fa = np.searchsorted(a, x[:-1], side="right") / len(a)
    fb = np.searchsorted(b, x[:-1], side="right") / len(b)
    return float((np.abs(fa - fb) * np.diff(x)).sum())


def test_wasserstein_1d_is_exact():
    assert wasserstein_1d([0, 1, 2], [0, 1, 2]) == 0
    assert wasserstein_1d([0, 0], [1, 1, 1]) == pytest.approx(1)
    assert wasserstein_1d([0, 2], [1]) == pytest.approx(1)
    rng = np.random.default_rng(8)
    for n, m in ((7, 7), (5, 13), (40, 3)):
        a, b = rng.normal(size=n), rng.normal(1, 2, size=m)
        assert wasserstein_1d(a, b) == pytest.approx(w1_by_cdf(a, b), rel=1e-12)
        if n == m:
            assert wasserstein_1d(a, b) == pytest.approx(np.abs(np.sort(a) - np.sort(b)).mean(), rel=1e-12)


def made_profile(url: str, features: np.ndarray, hashes) -> Profile:
    hashes = np.array(hashes, dtype=np.uint64)
    return Profile(
        url=url,
        keys=[f"{url}/{k}" for k in range(len(features))],
        hashes=hashes,
        features=features,
        near_duplicates=near_duplicates(hashes),
        samples_read=len(features),
    )


def test_compare_is_the_1d_frechet_when_one_feature_varies():
    rng = np.random.default_rng(9)
    fa, fb = np.full((20, len(FEATURES)), 3.0), np.full((30, len(FEATURES)), 3.0)
    fa[:, F["entropy"]] = rng.normal(2.0, 0.5, 20)
    fb[:, F["entropy"]] = rng.normal(4.0, 0.2, 30)
    a = made_profile("a", fa, rng.integers(0, 2**63, 20))
    b = made_profile("b", fb, rng.integers(0, 2**63, 30))
    c = compare(a, b)
    both = np.concatenate([fa[:, F["entropy"]], fb[:, F["entropy"]]])
    za, zb = (fa[:, F["entropy"]] - both.mean()) / both.std(), (fb[:, F["entropy"]] - both.mean()) / both.std()
    expect = (za.mean() - zb.mean()) ** 2 + (za.std(ddof=1) - zb.std(ddof=1)) ** 2
    assert c.frechet == pytest.approx(expect, rel=1e-9)
    assert next(iter(c.per_feature)) == "entropy" and c.per_feature["entropy"] == pytest.approx(w1_by_cdf(za, zb))
    assert all(v == 0 for k, v in c.per_feature.items() if k != "entropy")
    assert c.mean_shift["entropy"] == pytest.approx(zb.mean() - za.mean()) and c.mean_shift["entropy"] > 0
    assert c.cross_duplicates == 0
    assert "entropy" in c.verdict()[0] and "higher in B" in c.verdict()[0]


def test_compare_a_dataset_with_itself_and_with_a_dark_one(tiny_ds, dark_ds, tiny_config):
    a = profile_dataset(str(tiny_ds))
    same = compare(a, profile_dataset(str(tiny_ds)))
    assert same.frechet == pytest.approx(0, abs=1e-9)
    assert all(v == 0 for v in same.per_feature.values())
    assert same.cross_duplicates == 1.0 and "no feature drifts" in same.verdict()[0]
    # Another 12 samples of the same config: the same distribution, a smaller distance
    # than to the dark variant, whose brightness drifts most.
    other = memory_url("other")
    write_dataset(tiny_config, other, 24, 12)
    later = profile_dataset(other)
    later = made_profile("later", later.features[12:], later.hashes[12:])
    dark = profile_dataset(str(dark_ds))
    drift, baseline = compare(a, dark), compare(a, later)
    assert drift.frechet > 3 * baseline.frechet
    brightness = {"r_mean", "g_mean", "b_mean", "luma_mean", "dark_fraction"}
    top = list(drift.per_feature)[:3]
    assert brightness & set(top), top
    assert drift.mean_shift["luma_mean"] < -1.0
    assert drift.per_feature["luma_mean"] > 1.5  # nearly separate sets: W1 near its maximum of 2
    assert "lower in B" in drift.verdict()[0]
    doc = json.loads(json.dumps(drift.to_json()))
    assert doc["frechet"] == drift.frechet and list(doc["per_feature"]) == list(drift.per_feature)


def test_compare_ranks_the_one_drifting_colour_first(tmp_path):
    rng = np.random.default_rng(10)

    def pictures(blue: int) -> list[np.ndarray]:
        out = []
        for _ in range(16):
            pic = smooth_image(rng, size=64)
            pic[..., 2] = np.clip(blue + rng.integers(-3, 4, pic.shape[:2]), 0, 255)
            out.append(pic)
        return out

    a = write_real(tmp_path / "a", [[{"__key__": f"{k:04d}", "png": png(p)} for k, p in enumerate(pictures(90))]])
    b = write_real(tmp_path / "b", [[{"__key__": f"{k:04d}", "png": png(p)} for k, p in enumerate(pictures(170))]])
    c = compare(profile_dataset(str(a)), profile_dataset(str(b)))
    assert next(iter(c.per_feature)) == "b_mean" and c.per_feature["b_mean"] > 1.9
    assert c.mean_shift["b_mean"] > 0
    assert "b_mean" in c.verdict()[0]


def test_compare_refuses_a_dataset_without_pictures(tmp_path, real_ds):
    folder = write_real(tmp_path / "labels", [[{"__key__": "a", "cls": b"1"}, {"__key__": "b", "txt": b"x"}]])
    empty = profile_dataset(str(folder))
    assert empty.size == 0 and empty.samples_read == 2 and empty.summary() == {}
    with pytest.raises(StorageError, match=f"{folder}.*none of the 2 samples"):
        compare(profile_dataset(str(real_ds)), empty)


def test_compare_command_prints_and_writes_json(tiny_ds, dark_ds, tmp_path, capsys):
    out = tmp_path / "cmp.json"
    assert main(["compare", str(tiny_ds), str(dark_ds), "--json", str(out), "--max-samples", "10"]) == 0
    text = capsys.readouterr().out
    assert f"A: {tiny_ds}: 10 pictures" in text and f"B: {dark_ds}: 10 pictures" in text
    assert "Fréchet distance" in text and "verdict: B drifts from A most in" in text
    lines = [ln.split() for ln in text.splitlines() if ln.startswith("  ") and ln.split()[0] in FEATURES]
    assert [ln[0] for ln in lines] == list(json.loads(out.read_text())["per_feature"])
    values = [float(ln[1]) for ln in lines]
    assert values == sorted(values, reverse=True) and len(values) == len(FEATURES)
    doc = json.loads(out.read_text())
    assert doc["a"]["pictures"] == 10 and doc["b"]["samples_read"] == 10 and doc["frechet"] > 0
    assert set(doc["a"]["features"]) == set(FEATURES)


def test_compare_command_errors(tmp_path, tiny_ds, capsys):
    missing = tmp_path / "nowhere"
    assert main(["compare", str(missing), str(tiny_ds)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err
    labels = write_real(tmp_path / "labels", [[{"__key__": "a", "cls": b"1"}]])
    assert main(["compare", str(tiny_ds), str(labels)]) == 2
    assert str(labels) in capsys.readouterr().err
    assert main(["compare", str(tiny_ds), str(tiny_ds), "--json", str(tmp_path / "no" / "x.json")]) == 2
    assert "--json" in capsys.readouterr().err
    for bad in (["--near-duplicate-bits", "65"], ["--max-samples", "0"]):
        with pytest.raises(SystemExit) as e:
            main(["compare", str(tiny_ds), str(tiny_ds), *bad])
        assert e.value.code == 2
        assert bad[0] in capsys.readouterr().err
