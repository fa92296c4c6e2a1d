"""Perceptual hashes and near-duplicates: the 64-bit DCT hash of a picture
(:func:`phash`), and every pair of hashes within a few bits of each other, exactly
(:func:`near_duplicates` among one set, :func:`nearest` from one set to another).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from factory.trust.diversity.pictures import LUMA, checked_rgb

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


def _grey(rgb: np.ndarray) -> np.ndarray:
    """(H, W) float64 BT.601 luma of a checked picture (cv2.transform: one vectorised
    pass, ~3x faster than three numpy products on a large picture)."""
    rgb = checked_rgb(rgb)
    return cv2.transform(rgb.astype(np.float64), LUMA[None, :]).reshape(rgb.shape[:2])


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
        return {
            "rate": self.rate,
            "samples": self.samples,
            "duplicated": self.duplicated,
            "groups": self.groups,
            "pair_count": self.pair_count,
            "max_distance": self.max_distance,
            "pairs": [list(p) for p in self.pairs],
        }


def _as_hashes(hashes: Sequence[int] | np.ndarray, what: str = "hashes") -> np.ndarray:
    if isinstance(hashes, np.ndarray) and hashes.dtype == np.uint64:
        return hashes.ravel()
    try:
        return np.array([int(h) for h in hashes], dtype=np.uint64).reshape(-1)
    except (OverflowError, TypeError, ValueError) as e:
        raise ValueError(f"{what}: expected 64-bit unsigned integers ({e})") from None


def check_distance(max_distance: int) -> int:
    """``max_distance`` as an int, when it is a whole number of bits in 0..HASH_BITS (else ValueError)."""
    if (
        isinstance(max_distance, bool)
        or not isinstance(max_distance, (int, np.integer))
        or not 0 <= max_distance <= HASH_BITS
    ):
        raise ValueError(f"max_distance: expected an integer number of bits in 0..{HASH_BITS}, got {max_distance!r}")
    return int(max_distance)


def near_duplicates(
    hashes: Sequence[int] | np.ndarray, max_distance: int = NEAR_DUPLICATE_BITS, *, max_pairs: int = MAX_PAIRS
) -> NearDuplicates:
    """Every pair of hashes at most ``max_distance`` bits apart, exactly.

    All N(N-1)/2 pairs are compared: XOR of uint64 hashes and ``np.bitwise_count``,
    in blocks of rows against the rest so memory stays ~``_BLOCK_ELEMENTS`` pairs
    (~2.5 MB) whatever N (20,000 hashes: 2e8 pairs, about a second). Clusters are
    merged as the blocks go by, so a collapsed dataset does not need all its pairs in
    memory (only the first ``max_pairs`` are kept).
    """
    h = _as_hashes(hashes)
    max_distance = check_distance(max_distance)
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
    return NearDuplicates(
        rate=dup / n if n else 0.0,
        pairs=pairs,
        groups=groups,
        max_distance=max_distance,
        pair_count=total,
        duplicated=dup,
        samples=n,
    )


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


def nearest(
    reference: Sequence[int] | np.ndarray, queries: Sequence[int] | np.ndarray
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
