"""Diversity and drift of an image dataset: near-duplicates, colour and edge statistics,
and how far two datasets' feature distributions lie apart.

A narrow or collapsed generator shows up as many near-identical pictures and as tight
feature distributions; a synthetic set that does not look like the real one it stands
in for (or a generator version that changed) shows up as a distance between the two
sets' features. Everything works on one picture per sample (:func:`picture`): the first
frame of a factory clip, or the image of any other WebDataset.

* **Perceptual hash** (:func:`phash`): the 64-bit DCT hash. Pictures whose hashes differ
  in at most :data:`NEAR_DUPLICATE_BITS` bits are near-duplicates
  (:func:`near_duplicates`, exact over all pairs, vectorised).
* **Features** (:data:`FEATURES`, :func:`image_features`): cheap global statistics of
  colour, exposure and edges, each with a unit (:data:`FEATURE_UNITS`).
* **Profile** (:func:`profile_dataset`): hashes and features of every picture of a
  dataset, read through :func:`factory.dataset.reader.open_dataset`.
* **Comparison** (:func:`compare`): Fréchet distance between Gaussians fitted to the two
  feature sets, 1-D Wasserstein-1 distance per feature, and how many of B's pictures
  have a near-duplicate in A. Features are first standardised with the pooled mean and
  standard deviation of both sets, so the distances are in units of "pooled standard
  deviations" whatever each feature's own unit is.

Pure numpy + OpenCV + Pillow; nothing here imports Ray.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from factory.errors import StorageError

# ---------------------------------------------------------------------------------------
# One picture per sample

# Members that hold a picture in a plain WebDataset, in the order they are preferred.
PICTURE_MEMBERS = ("jpg", "jpeg", "png", "webp")
# factory's ground-truth filmstrips: PNGs, but not pictures of the scene.
_GROUND_TRUTH = frozenset({"depth.png", "instance.png", "semantic.png", "normals.png", "flow.png"})


def picture(members: Mapping[str, bytes]) -> np.ndarray | None:
    """The picture of one WebDataset sample: (H, W, 3) uint8 RGB, or None if it has none.

    * a factory sample (``rgb.png``): its FIRST frame, rows ``[0, height)`` of the
      filmstrip, ``height`` from the ``json`` member (the whole image if the sample has
      no ``json`` member or it gives no ``height``);
    * otherwise the first of the ``jpg``, ``jpeg``, ``png``, ``webp`` members present
      (in that order), else the first member, in sample order, whose name ends in one
      of those extensions (``image.jpg``, ``left.png``, ...) and is not one of factory's
      ground-truth PNGs. Decoded with Pillow and converted to RGB (alpha dropped).

    Raises:
        ValueError: the picture member cannot be decoded, or the ``json`` member that
            should give the frame height is not valid JSON. The message names the member.
    """
    if "rgb.png" in members:
        height = _frame_height(members)
        if height is not None:
            first = _first_rows(members["rgb.png"], height)
            if first is not None:
                return first
        rgb = _decode("rgb.png", members["rgb.png"])
        return rgb[:height] if height is not None and 0 < height < rgb.shape[0] else rgb
    for name in PICTURE_MEMBERS:
        if name in members:
            return _decode(name, members[name])
    for name, data in members.items():
        if name not in _GROUND_TRUTH and name.rpartition(".")[2].lower() in PICTURE_MEMBERS:
            return _decode(name, data)
    return None


def _decode(name: str, data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            rgb = np.asarray(im.convert("RGB"))
    except Exception as e:  # noqa: BLE001 - Pillow's decoders raise many kinds; all mean "undecodable"
        raise ValueError(f"member {name!r} cannot be decoded as an image: {type(e).__name__}: {e}") from None
    return rgb


def _first_rows(data: bytes, height: int) -> np.ndarray | None:
    """Rows ``[0, height)`` of a non-interlaced PNG, decoding only those (a clip's first
    frame: 1/T of the work). Pillow decodes a PNG top to bottom as one tile; shortening
    that tile's extent stops the decoder after ``height`` rows. None when the PNG is not
    of that form or anything goes wrong: the caller then decodes the whole image."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, full = im.size
            tile = im.tile
            if (im.format != "PNG" or im.info.get("interlace") or len(tile) != 1 or tile[0][0] != "zip"
                    or tuple(tile[0][1]) != (0, 0, width, full) or not 0 < height < full):
                return None
            im.tile = [tile[0]._replace(extents=(0, 0, width, height))]
            im._size = (width, height)
            rgb = np.asarray(im.convert("RGB"))
    except Exception:  # noqa: BLE001 - any failure: fall back to the full decode, which reports it
        return None
    return rgb if rgb.shape == (height, width, 3) else None


def _frame_height(members: Mapping[str, bytes]) -> int | None:
    raw = members.get("json")
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"member 'json' is not valid JSON ({e}); it gives rgb.png's frame height") from None
    height = meta.get("height") if isinstance(meta, dict) else None
    return height if isinstance(height, int) and not isinstance(height, bool) else None


# ---------------------------------------------------------------------------------------
# Perceptual hash and near-duplicates

HASH_BITS = 64
# Default largest Hamming distance (of 64 bits) that counts as a near-duplicate. A
# hash has exactly 31 one-bits when its 63 AC coefficients are distinct (each is
# compared with their median), so distances are even. Measured on the first frames of
# 300 quickstart clips (128 x 128): the same picture after JPEG at quality 50-75, +-10
# levels of brightness, 0.9x contrast, a 3x3 or 5x5 Gaussian blur, sensor noise of 4-8
# levels or a 2x down-and-up resize moves 0-4 bits (99th percentile 2-4); a 2-pixel
# shift or a 5% crop moves 4-10. Distinct clips lie 4-56 bits apart (median 30, 1st
# percentile 14): 4 of the 44,850 pairs are 4 apart, 12 at most 6, 42 at most 8
# (quickstart scenes share one floor, horizon and camera height, which the 8 x 8
# lowest frequencies see). 4 takes every pixel-level copy and flags 2.7% of those 300
# distinct clips; 6 would flag 7%. Two unrelated random hashes are within 4 bits with
# probability ~7e-14.
NEAR_DUPLICATE_BITS = 4
# Pairs kept in NearDuplicates.pairs; a collapsed dataset of N samples has ~N^2/2.
MAX_PAIRS = 100_000
# Pairs per block of the all-pairs comparison: 2 MB of uint64 XORs, which stay in cache
# (measured 1.5-2x faster than 32 MB blocks for 20,000 hashes).
_BLOCK_ELEMENTS = 1 << 18
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma weights of R, G, B


def phash(rgb: np.ndarray) -> int:
    """The 64-bit DCT perceptual hash of an (H, W, 3) uint8 RGB picture.

    Grey (BT.601 luma, float64) -> 32 x 32 with ``cv2.INTER_AREA`` -> 2-D DCT-II ->
    the 8 x 8 lowest frequencies. Bit ``8 * row + col`` (LSB first) is 1 where that
    coefficient is greater than the median of the 63 AC coefficients; bit 0 (the DC
    term, the mean brightness) is always 0, so a uniform brightness change moves no bit.
    """
    grey = _grey(rgb)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8].ravel()
    bits = low > np.median(low[1:])
    bits[0] = False
    return sum(1 << int(k) for k in np.flatnonzero(bits))


def _checked(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB picture, got shape {rgb.shape} dtype {rgb.dtype}")
    return rgb


def _grey(rgb: np.ndarray) -> np.ndarray:
    """(H, W) float64 BT.601 luma of a checked picture (cv2.transform: one vectorised
    pass, ~3x faster than three numpy products on a large picture)."""
    rgb = _checked(rgb)
    return cv2.transform(rgb.astype(np.float64), _LUMA[None, :]).reshape(rgb.shape[:2])


def hamming(a: int, b: int) -> int:
    """Number of bits in which two hashes differ (0..64)."""
    return (int(a) ^ int(b)).bit_count()


@dataclass
class NearDuplicates:
    """Near-duplicate pairs among N hashes (samples 0..N-1 in the order given).

    ``rate``: fraction of the N samples within ``max_distance`` bits of at least one
    other sample (0 for N < 2). ``pairs``: ``(i, j, distance)`` with ``i < j``, sorted,
    at most ``max_pairs`` of them; ``pair_count`` is the number of all such pairs.
    ``groups``: connected clusters of near-duplicates (samples linked by a chain of
    pairs), each of at least 2 samples. ``duplicated``: samples in some pair.
    """

    rate: float
    pairs: list[tuple[int, int, int]]
    groups: int
    max_distance: int = NEAR_DUPLICATE_BITS
    pair_count: int = 0
    duplicated: int = 0
    samples: int = 0

    def to_json(self) -> dict:
        """The figures as plain JSON types (pairs as ``[i, j, distance]``)."""
        return {"rate": self.rate, "samples": self.samples, "duplicated": self.duplicated, "groups": self.groups,
                "pair_count": self.pair_count, "max_distance": self.max_distance,
                "pairs": [list(p) for p in self.pairs]}


def _as_hashes(hashes: Sequence[int] | np.ndarray, what: str = "hashes") -> np.ndarray:
    if isinstance(hashes, np.ndarray) and hashes.dtype == np.uint64:
        return hashes.ravel()
    try:
        return np.array([int(h) for h in hashes], dtype=np.uint64).reshape(-1)
    except (OverflowError, TypeError, ValueError) as e:
        raise ValueError(f"{what}: expected 64-bit unsigned integers ({e})") from None


def _check_distance(max_distance: int) -> int:
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)) \
            or not 0 <= max_distance <= HASH_BITS:
        raise ValueError(f"max_distance: expected an integer number of bits in 0..{HASH_BITS}, got {max_distance!r}")
    return int(max_distance)


def near_duplicates(hashes: Sequence[int] | np.ndarray, max_distance: int = NEAR_DUPLICATE_BITS, *,
                    max_pairs: int = MAX_PAIRS) -> NearDuplicates:
    """Every pair of hashes at most ``max_distance`` bits apart, exactly.

    All N(N-1)/2 pairs are compared: XOR of uint64 hashes and ``np.bitwise_count``,
    in blocks of rows against the rest so memory stays ~``_BLOCK_ELEMENTS`` pairs
    (~2.5 MB) whatever N (20,000 hashes: 2e8 pairs, about a second). Clusters are
    merged as the blocks go by, so a collapsed dataset does not need all its pairs in
    memory (only the first ``max_pairs`` are kept).
    """
    h = _as_hashes(hashes)
    max_distance = _check_distance(max_distance)
    n = len(h)
    flagged = np.zeros(n, dtype=bool)
    parent = np.arange(n, dtype=np.int64)
    pairs: list[tuple[int, int, int]] = []
    total = 0
    rows = max(1, _BLOCK_ELEMENTS // max(n, 1))
    xor, dist, hit = _buffers(rows * n)
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        shape = (i1 - i0, n - i0)
        x, d, b = (buf[: shape[0] * shape[1]].reshape(shape) for buf in (xor, dist, hit))
        np.bitwise_xor(h[i0:i1, None], h[None, i0:], out=x)
        np.bitwise_count(x, out=d)
        np.less_equal(d, max_distance, out=b)
        b[:, : i1 - i0] &= np.triu(np.ones((i1 - i0, i1 - i0), dtype=bool), 1)  # j > i only
        if not b.any():
            continue
        r, c = np.nonzero(b)  # row-major, so (i, j) come out sorted
        i, j = r + i0, c + i0
        total += len(i)
        if len(pairs) < max_pairs:
            k = max_pairs - len(pairs)
            pairs.extend(zip(i[:k].tolist(), j[:k].tolist(), d[r[:k], c[:k]].tolist()))
        flagged[i] = True
        flagged[j] = True
        _union(parent, i, j)
    groups = len(np.unique(_roots(parent)[flagged]))
    dup = int(flagged.sum())
    return NearDuplicates(rate=dup / n if n else 0.0, pairs=pairs, groups=groups, max_distance=max_distance,
                          pair_count=total, duplicated=dup, samples=n)


def _buffers(size: int, hit: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Scratch arrays reused by every block (XOR uint64, distance uint8, hit bool):
    fresh ones per block would cost page faults, and small blocks stay in cache."""
    return np.empty(size, np.uint64), np.empty(size, np.uint8), np.empty(size, bool) if hit else None


def _roots(parent: np.ndarray) -> np.ndarray:
    """Compress ``parent`` in place until every entry points at its root; returns it."""
    while True:
        up = parent[parent]
        if np.array_equal(up, parent):
            return parent
        parent[:] = up


def _union(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Merge the clusters of every edge (a[k], b[k]): hook the larger root under the
    smaller (so no cycles), compress, repeat until each edge's ends share a root."""
    while len(a):
        roots = _roots(parent)
        ra, rb = roots[a], roots[b]
        apart = ra != rb
        if not apart.any():
            return
        a, b, ra, rb = a[apart], b[apart], ra[apart], rb[apart]
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))


def nearest(reference: Sequence[int] | np.ndarray, queries: Sequence[int] | np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """For each query hash, the Hamming distance to its nearest reference hash and that
    hash's index: ``(distance (M,) int64, index (M,) int64)``; distance 65 and index -1
    when ``reference`` is empty. Exact, blocked like :func:`near_duplicates`."""
    ref, q = _as_hashes(reference, "reference"), _as_hashes(queries, "queries")
    dist = np.full(len(q), HASH_BITS + 1, dtype=np.int64)
    index = np.full(len(q), -1, dtype=np.int64)
    if not len(ref):
        return dist, index
    rows = max(1, _BLOCK_ELEMENTS // len(ref))
    xor, count, _ = _buffers(rows * len(ref), hit=False)
    for i0 in range(0, len(q), rows):
        i1 = min(len(q), i0 + rows)
        shape = (i1 - i0, len(ref))
        x, c = (buf[: shape[0] * shape[1]].reshape(shape) for buf in (xor, count))
        np.bitwise_xor(q[i0:i1, None], ref[None, :], out=x)
        np.bitwise_count(x, out=c)
        best = c.argmin(axis=1)
        index[i0:i1] = best
        dist[i0:i1] = c[np.arange(len(best)), best]
    return dist, index


# ---------------------------------------------------------------------------------------
# Features

# Pictures are measured at one scale, shorter side ANALYSIS_SIDE pixels (aspect kept):
# edge and gradient statistics depend on resolution, and a 1024-px real set must be
# comparable with a 128-px synthetic one. Larger pictures shrink with INTER_AREA,
# smaller ones grow with INTER_LINEAR. The longer side is capped at MAX_ANALYSIS_SIDE
# (only pictures more than 16 times as long as wide are squashed).
ANALYSIS_SIDE = 128
MAX_ANALYSIS_SIDE = 16 * ANALYSIS_SIDE
CANNY_THRESHOLDS = (100, 200)  # hysteresis thresholds of cv2.Canny on 8-bit grey
DARK_LEVEL, BRIGHT_LEVEL = 10, 245  # luma at or below / at or above: crushed / blown

FEATURES: tuple[str, ...] = (
    "r_mean", "g_mean", "b_mean", "r_std", "g_std", "b_std",
    "luma_mean", "luma_std", "saturation_mean", "colourfulness",
    "edge_density", "gradient_mean", "sharpness", "entropy", "dark_fraction", "bright_fraction",
)
FEATURE_UNITS: dict[str, str] = {
    "r_mean": "levels 0-255", "g_mean": "levels 0-255", "b_mean": "levels 0-255",
    "r_std": "levels", "g_std": "levels", "b_std": "levels",
    "luma_mean": "levels 0-255", "luma_std": "levels",
    "saturation_mean": "0-1", "colourfulness": "levels",
    "edge_density": "fraction 0-1", "gradient_mean": "levels/pixel", "sharpness": "levels^2",
    "entropy": "bits 0-8", "dark_fraction": "fraction 0-1", "bright_fraction": "fraction 0-1",
}
# What each feature measures, in words (for the verdict).
FEATURE_WORDS: dict[str, str] = {
    "r_mean": "red level", "g_mean": "green level", "b_mean": "blue level",
    "r_std": "red spread", "g_std": "green spread", "b_std": "blue spread",
    "luma_mean": "brightness", "luma_std": "contrast", "saturation_mean": "saturation",
    "colourfulness": "colourfulness", "edge_density": "edge density", "gradient_mean": "gradient strength",
    "sharpness": "sharpness", "entropy": "tonal entropy", "dark_fraction": "share of crushed shadows",
    "bright_fraction": "share of blown highlights",
}


def analysis_picture(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` resized (aspect kept) so its shorter side is :data:`ANALYSIS_SIDE`;
    (H', W', 3) uint8, the same array when it already is."""
    rgb = _checked(rgb)
    h, w = rgb.shape[:2]
    if min(h, w) == ANALYSIS_SIDE and max(h, w) <= MAX_ANALYSIS_SIDE:
        return rgb
    scale = ANALYSIS_SIDE / min(h, w)
    size = (min(MAX_ANALYSIS_SIDE, max(1, round(w * scale))), min(MAX_ANALYSIS_SIDE, max(1, round(h * scale))))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def image_features(rgb: np.ndarray) -> np.ndarray:
    """Global statistics of one (H, W, 3) uint8 RGB picture: shape (len(FEATURES),)
    float64, in the order of :data:`FEATURES`. Measured on :func:`analysis_picture`.

    ====================  ====================================================================
    ``r/g/b_mean``        mean of each channel, levels 0-255
    ``r/g/b_std``         standard deviation of each channel over the pixels, levels
    ``luma_mean``         mean BT.601 luma ``0.299 R + 0.587 G + 0.114 B``, levels 0-255
    ``luma_std``          its standard deviation (RMS contrast), levels
    ``saturation_mean``   mean HSV saturation ``(max - min) / max`` (0 where max = 0), 0-1
    ``colourfulness``     Hasler & Süsstrunk (2003): ``std(rg, yb) + 0.3 mean(rg, yb)`` with
                          ``rg = R - G``, ``yb = (R + G) / 2 - B`` (root-sum-squares), levels
    ``edge_density``      fraction of pixels that ``cv2.Canny`` (thresholds 100, 200, on the
                          8-bit grey picture) marks as edges, 0-1
    ``gradient_mean``     mean Sobel gradient magnitude of luma, 3 x 3 kernels divided by 8
                          so a ramp of s levels per pixel reads s; levels/pixel
    ``sharpness``         variance of the 4-neighbour Laplacian of luma, levels^2
    ``entropy``           Shannon entropy of the 256-bin 8-bit grey histogram, bits 0-8
    ``dark_fraction``     fraction of pixels with luma <= 10 (crushed shadows), 0-1
    ``bright_fraction``   fraction of pixels with luma >= 245 (blown highlights), 0-1
    ====================  ====================================================================

    Borders are reflected without repeating the edge pixel (OpenCV's default).
    """
    img = analysis_picture(rgb)
    # Contiguous float32 planes: numpy reductions over the short channel axis are slow.
    r, g, b = (c.astype(np.float32) for c in cv2.split(img))
    mean, std = cv2.meanStdDev(img)  # per channel, float64, population std
    luma = r * np.float32(_LUMA[0]) + g * np.float32(_LUMA[1]) + b * np.float32(_LUMA[2])
    hi, lo = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    saturation = np.divide(hi - lo, hi, out=np.zeros_like(hi), where=hi > 0)
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = math.hypot(rg.std(dtype=np.float64), yb.std(dtype=np.float64)) + \
        0.3 * math.hypot(rg.mean(dtype=np.float64), yb.mean(dtype=np.float64))
    grey8 = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey8, *CANNY_THRESHOLDS)
    gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)
    # np.sqrt is correctly rounded; cv2.magnitude's vector path is not, so it would
    # depend on the arrays' memory alignment.
    gradient = np.sqrt(gx * gx + gy * gy).mean(dtype=np.float64) / 8.0
    laplacian = cv2.Laplacian(luma, cv2.CV_32F, ksize=1)
    hist = np.bincount(grey8.ravel(), minlength=256).astype(np.float64)
    p = hist[hist > 0] / grey8.size
    return np.array([
        *mean.ravel(), *std.ravel(),
        luma.mean(dtype=np.float64), luma.std(dtype=np.float64),
        saturation.mean(dtype=np.float64), colourfulness,
        np.count_nonzero(edges) / edges.size, gradient,
        laplacian.var(dtype=np.float64), float(-(p * np.log2(p)).sum()) + 0.0,
        np.count_nonzero(luma <= DARK_LEVEL) / luma.size, np.count_nonzero(luma >= BRIGHT_LEVEL) / luma.size,
    ], dtype=np.float64)


# ---------------------------------------------------------------------------------------
# A dataset's profile

PERCENTILES = (5, 50, 95)


@dataclass
class Profile:
    """Hashes and features of the pictures of one dataset.

    ``keys[k]`` (``"shard/key"``), ``hashes[k]`` ((N,) uint64, :func:`phash`) and
    ``features[k]`` ((N, F) float64, :func:`image_features`) describe the k-th sample
    that has a picture, in dataset order. ``samples_read`` counts every sample read,
    ``without_picture`` those with no picture member, ``unreadable`` those whose picture
    could not be decoded (``problems``: the first few, ``"shard/key: message"``).
    """

    url: str
    keys: list[str]
    hashes: np.ndarray
    features: np.ndarray
    near_duplicates: NearDuplicates
    samples_read: int = 0
    without_picture: int = 0
    unreadable: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Number of pictures profiled (N)."""
        return len(self.keys)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per feature: ``mean``, ``std`` (population) and the ``p5``, ``p50``, ``p95``
        percentiles over the pictures, in the feature's unit; {} for an empty profile."""
        if not self.size:
            return {}
        mean, std = self.features.mean(axis=0), self.features.std(axis=0)
        pct = np.percentile(self.features, PERCENTILES, axis=0)
        return {name: {"mean": float(mean[k]), "std": float(std[k]),
                       **{f"p{q}": float(pct[i, k]) for i, q in enumerate(PERCENTILES)}}
                for k, name in enumerate(FEATURES)}

    def lines(self) -> list[str]:
        """A human-readable account: size, near-duplicates, then one line per feature."""
        nd = self.near_duplicates
        out = [f"{self.url}: {self.size} pictures of {self.samples_read} samples read"
               + (f" ({self.without_picture} without a picture)" if self.without_picture else "")
               + (f" ({self.unreadable} unreadable)" if self.unreadable else ""),
               f"near-duplicates: {nd.rate:.1%} of pictures ({nd.duplicated}) in {nd.groups} groups, "
               f"{nd.pair_count} pairs within {nd.max_distance} of {HASH_BITS} bits"]
        for name, s in self.summary().items():
            out.append(f"  {name:<16} {s['mean']:10.4g} ± {s['std']:<10.4g} p5 {s['p5']:<10.4g} "
                       f"p50 {s['p50']:<10.4g} p95 {s['p95']:<10.4g} {FEATURE_UNITS[name]}")
        out.extend(f"  unreadable: {p}" for p in self.problems)
        return out

    def to_json(self) -> dict:
        """The profile's figures as plain JSON types (no per-sample arrays)."""
        return {"url": self.url, "pictures": self.size, "samples_read": self.samples_read,
                "without_picture": self.without_picture, "unreadable": self.unreadable,
                "problems": list(self.problems), "near_duplicates": self.near_duplicates.to_json(),
                "features": self.summary(), "units": dict(FEATURE_UNITS)}


def profile_dataset(url_or_dataset: Any, *, options: Mapping[str, Any] | None = None,
                    max_samples: int | None = None, log: Callable[[str], None] | None = None,
                    max_distance: int = NEAR_DUPLICATE_BITS) -> Profile:
    """Profile the pictures of a dataset: a URL (anything :func:`factory.dataset.reader.open_dataset`
    takes, with storage ``options``), a :class:`~factory.dataset.storage.Location` or an opened
    :class:`~factory.dataset.reader.Dataset`.

    ``max_samples``: read only the first N samples in dataset order (deterministic);
    None reads all. ``log`` is called with one line per shard read. A profile may be
    empty (a dataset without pictures); :func:`compare` refuses one.

    Raises:
        StorageError: the dataset cannot be opened or read, or a shard is not a
            well-formed tar (the message names the URL and the shard).
    """
    from factory.dataset.reader import Dataset, open_dataset
    from factory.errors import ShardFormatError

    if max_samples is not None and (isinstance(max_samples, bool) or not isinstance(max_samples, int)
                                    or max_samples < 1):
        raise ValueError(f"max_samples: expected a positive integer or None, got {max_samples!r}")
    max_distance = _check_distance(max_distance)
    dataset = url_or_dataset if isinstance(url_or_dataset, Dataset) else open_dataset(url_or_dataset, options)
    url = dataset.url
    keys: list[str] = []
    hashes: list[int] = []
    rows: list[np.ndarray] = []
    read = without = bad = 0
    problems: list[str] = []
    shard_now, shard_pictures = None, 0
    try:
        for shard, key, members in dataset.samples():
            if shard != shard_now:
                if log and shard_now is not None:
                    log(f"{url}: {shard_now}: {shard_pictures} pictures")
                shard_now, shard_pictures = shard, 0
            read += 1
            try:
                rgb = picture(members)
            except ValueError as e:
                rgb = None
                bad += 1
                if len(problems) < 10:
                    problems.append(f"{shard}/{key}: {e}")
            else:
                without += int(rgb is None)
            if rgb is not None:
                keys.append(f"{shard}/{key}")
                hashes.append(phash(rgb))
                rows.append(image_features(rgb))
                shard_pictures += 1
            if max_samples is not None and read >= max_samples:
                break  # before the generator reads the next shard
    except ShardFormatError as e:
        raise StorageError(f"{url}: {e}") from e
    if log and shard_now is not None:
        log(f"{url}: {shard_now}: {shard_pictures} pictures")
    h = np.array(hashes, dtype=np.uint64)
    features = np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
    return Profile(url=url, keys=keys, hashes=h, features=features,
                   near_duplicates=near_duplicates(h, max_distance), samples_read=read,
                   without_picture=without, unreadable=bad, problems=problems)


# ---------------------------------------------------------------------------------------
# Two datasets compared

def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein squared) distance between N(mu1, cov1) and N(mu2, cov2):
    ``|mu1 - mu2|^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2))``, the formula of FID.

    The trace of the square root is taken as ``tr((S1^(1/2) S2 S1^(1/2))^(1/2))``, which
    is the same number (the two matrices are similar) but symmetric positive
    semi-definite, so symmetric eigendecompositions with negative round-off clipped to 0
    give it stably, also for singular covariances (fewer samples than features).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
    root1 = _psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    eig = np.linalg.eigvalsh(0.5 * (middle + middle.T))
    tr_root = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    d = float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_root)
    return max(d, 0.0)


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(0.5 * (cov + cov.T))
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Wasserstein-1 distance between the empirical distributions of two 1-D
    samples: ``integral over u in (0, 1) of |Qa(u) - Qb(u)|``, Q the quantile functions
    (step functions of the sorted values, integrated over the merged steps)."""
    a, b = np.sort(np.asarray(a, np.float64)), np.sort(np.asarray(b, np.float64))
    if not len(a) or not len(b):
        raise ValueError("wasserstein_1d needs at least one value on each side")
    # Both quantile functions are constant between consecutive points of the merged grid
    # {k/n} U {k/m}; on (u_prev, u] they take the value of index ceil(u*n) - 1.
    u = np.union1d(np.arange(1, len(a) + 1) / len(a), np.arange(1, len(b) + 1) / len(b))
    width = np.diff(u, prepend=0.0)
    mid = u - width / 2
    qa = a[np.minimum((mid * len(a)).astype(np.int64), len(a) - 1)]
    qb = b[np.minimum((mid * len(b)).astype(np.int64), len(b) - 1)]
    return float((np.abs(qa - qb) * width).sum())


@dataclass
class Comparison:
    """How dataset B's pictures differ from dataset A's.

    ``frechet``: Fréchet distance between Gaussians fitted (mean, covariance with
    ddof=1) to the two sets of standardised features: each feature minus the pooled
    mean of A and B together, divided by the pooled standard deviation (1 where it is
    0), so units cancel; 0 for identical sets; a shift of one pooled std in one feature
    alone adds 1. ``per_feature``: {feature: Wasserstein-1 distance between the two
    standardised marginals}, largest first (in pooled stds; at most ~2 for two
    well-separated sets of equal size; values equal to 2 decimals are ranked by the
    gap between the means in within-set stds). ``mean_shift``: {feature: (mean B - mean A) /
    pooled std}, signed. ``cross_duplicates``: fraction of B's pictures that have a
    near-duplicate in A (within ``max_distance`` bits); ``cross_examples``: up to 10
    such ``(key in B, key in A, distance)``.
    """

    a: Profile
    b: Profile
    frechet: float
    per_feature: dict[str, float]
    mean_shift: dict[str, float]
    cross_duplicates: float
    cross_examples: list[tuple[str, str, int]]
    max_distance: int = NEAR_DUPLICATE_BITS

    @property
    def near_duplicate_rate_a(self) -> float:
        return self.a.near_duplicates.rate

    @property
    def near_duplicate_rate_b(self) -> float:
        return self.b.near_duplicates.rate

    def verdict(self) -> list[str]:
        """Plain words: which features drift most, and in which direction."""
        return _verdict(self)

    def lines(self) -> list[str]:
        """A human-readable account of the comparison."""
        sa, sb = self.a.summary(), self.b.summary()
        out = []
        for tag, p in (("A", self.a), ("B", self.b)):
            nd = p.near_duplicates
            out.append(f"{tag}: {p.url}: {p.size} pictures ({p.samples_read} samples read), near-duplicates "
                       f"{nd.rate:.1%} ({nd.duplicated} pictures in {nd.groups} groups)")
        out.append(f"B pictures with a near-duplicate in A: {self.cross_duplicates:.1%} "
                   f"(within {self.max_distance} of {HASH_BITS} bits)")
        out.append(f"Fréchet distance (standardised features): {self.frechet:.4g}")
        out.append("per-feature Wasserstein-1 distance (pooled std), largest first:")
        for name, d in self.per_feature.items():
            out.append(f"  {name:<16} {d:6.2f}   A {sa[name]['mean']:9.4g} ± {sa[name]['std']:<9.4g}"
                       f" B {sb[name]['mean']:9.4g} ± {sb[name]['std']:<9.4g} {FEATURE_UNITS[name]}")
        out.extend(self.verdict())
        return out

    def to_json(self) -> dict:
        """Everything as plain JSON types (both profiles' summaries included)."""
        return {"a": self.a.to_json(), "b": self.b.to_json(), "frechet": self.frechet,
                "per_feature": dict(self.per_feature), "mean_shift": dict(self.mean_shift),
                "cross_duplicates": self.cross_duplicates,
                "cross_examples": [list(e) for e in self.cross_examples],
                "near_duplicate_rate_a": self.near_duplicate_rate_a,
                "near_duplicate_rate_b": self.near_duplicate_rate_b,
                "max_distance": self.max_distance, "verdict": self.verdict()}


def compare(a: Profile, b: Profile, *, max_distance: int | None = None) -> Comparison:
    """Compare two profiles (see :class:`Comparison`). ``max_distance`` for the cross
    near-duplicates defaults to A's near-duplicate threshold.

    Raises:
        StorageError: a profile holds no pictures (the message names its URL).
    """
    for p in (a, b):
        if not p.size:
            raise StorageError(
                f"{p.url}: none of the {p.samples_read} samples read holds a picture (an rgb.png, jpg, jpeg, "
                f"png or webp member{f'; {p.unreadable} could not be decoded' if p.unreadable else ''}); "
                "nothing to compare")
    max_distance = _check_distance(a.near_duplicates.max_distance if max_distance is None else max_distance)
    both = np.concatenate([a.features, b.features])
    center = both.mean(axis=0)
    scale = both.std(axis=0)
    scale[scale <= 0] = 1.0  # constant in both sets: every value becomes 0
    za, zb = (a.features - center) / scale, (b.features - center) / scale
    frechet = frechet_distance(za.mean(axis=0), _cov(za), zb.mean(axis=0), _cov(zb))
    w1 = {name: wasserstein_1d(za[:, k], zb[:, k]) for k, name in enumerate(FEATURES)}
    # W1 in pooled stds saturates near 2 for sets that do not overlap, so equal values
    # (to 2 decimals) are ranked by how many within-set stds the means lie apart.
    separation = _separation(za, zb)
    per_feature = dict(sorted(w1.items(), key=lambda kv: (-round(kv[1], 2), -separation[FEATURES.index(kv[0])],
                                                         FEATURES.index(kv[0]))))
    shift = {name: float(zb[:, k].mean() - za[:, k].mean()) for k, name in enumerate(FEATURES)}
    dist, index = nearest(a.hashes, b.hashes)
    close = np.flatnonzero(dist <= max_distance)
    examples = [(b.keys[k], a.keys[index[k]], int(dist[k])) for k in close[:10]]
    return Comparison(a=a, b=b, frechet=frechet, per_feature=per_feature, mean_shift=shift,
                      cross_duplicates=len(close) / b.size, cross_examples=examples, max_distance=max_distance)


def _separation(za: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """(F,) |mean B - mean A| / within-set pooled std (Cohen's d); inf where the sets
    are each constant but differ, 0 where they are equal."""
    na, nb = len(za), len(zb)
    within = (za.var(axis=0) * na + zb.var(axis=0) * nb) / max(na + nb - 2, 1)
    gap = np.abs(zb.mean(axis=0) - za.mean(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        d = gap / np.sqrt(within)
    return np.where(gap > 1e-12, np.nan_to_num(d, nan=np.inf, posinf=np.inf), 0.0)


def _cov(z: np.ndarray) -> np.ndarray:
    """(F, F) covariance with ddof=1; zeros for a single sample."""
    if len(z) < 2:
        return np.zeros((z.shape[1], z.shape[1]))
    return np.atleast_2d(np.cov(z, rowvar=False, ddof=1))


# W1 in pooled stds: below each bound, the word.
_MAGNITUDE = ((0.1, "negligible"), (0.3, "small"), (0.8, "moderate"), (math.inf, "large"))
DRIFT_NOTICEABLE = 0.1  # pooled stds of W1 below which a feature is not called drifting


def _magnitude(d: float) -> str:
    return next(word for bound, word in _MAGNITUDE if d < bound)


def _verdict(c: Comparison) -> list[str]:
    sa, sb = c.a.summary(), c.b.summary()
    drifting = [(n, d) for n, d in c.per_feature.items() if d >= DRIFT_NOTICEABLE]
    if not drifting:
        words = [f"verdict: no feature drifts noticeably (every Wasserstein-1 distance is below "
                 f"{DRIFT_NOTICEABLE} pooled std); Fréchet {c.frechet:.3g}."]
    else:
        parts = []
        for name, d in drifting[:3]:
            ma, mb = sa[name]["mean"], sb[name]["mean"]
            if abs(c.mean_shift[name]) >= DRIFT_NOTICEABLE:
                how = f"{'higher' if mb > ma else 'lower'} in B (mean {mb:.4g} vs {ma:.4g} {FEATURE_UNITS[name]})"
            else:
                how = f"similar means, different spread (std {sb[name]['std']:.4g} vs {sa[name]['std']:.4g})"
            label = name if FEATURE_WORDS[name] == name else f"{FEATURE_WORDS[name]} ({name})"
            parts.append(f"{label}: {_magnitude(d)}, {d:.2f} pooled std, {how}")
        more = f"; {len(drifting) - 3} more features drift noticeably" if len(drifting) > 3 else ""
        words = [f"verdict: B drifts from A most in {'; '.join(parts)}{more}. Fréchet {c.frechet:.3g}."]
    for tag, p in (("A", c.a), ("B", c.b)):
        if p.near_duplicates.rate >= 0.05:
            words.append(f"note: {p.near_duplicates.rate:.0%} of {tag}'s pictures have a near-duplicate in {tag}: "
                         "a narrow or collapsed set, or repeated samples.")
    if c.cross_duplicates >= 0.05:
        words.append(f"note: {c.cross_duplicates:.0%} of B's pictures nearly duplicate one of A's: the same "
                     "scenes (the hash ignores overall brightness), overlapping sets, or a leak between them.")
    return words
