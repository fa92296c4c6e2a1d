"""The oracle over one sample: :func:`check_sample` samples pixels per frame, runs every
layer check of :data:`~factory.trust.oracle.layers.LAYERS` there and the per-object
corner check, applies the silhouette rule and returns an :class:`OracleReport`
(per-layer error statistics, failures naming frame, pixel and layer).

The silhouette rule (docs/trust.md): a pixel whose stored value the oracle does not
reproduce through the pixel centre is tolerated when it does through a point
:data:`EDGE_DELTA` px away (one of four): the centre grazes an edge, and a float32
renderer and a float64 oracle may fall either side. Such pixels are counted
(``edges``); the dataset fails when there are more than chance allows at a share of
:data:`EDGE_SHARE` (:func:`edges_exceed`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from factory.trust.oracle.layers import LAYERS, TOLERANCES, Pixels, Stored
from factory.trust.oracle.optional import NEEDS  # importing it registers the optional layers in LAYERS
from factory.trust.oracle.scene import OracleScene, oracle_scene
from factory.trust.oracle.tracks import TRACK_STATS, check_tracks

DEFAULT_FRACTION = 0.002  # of each frame's pixels (benchmarks/README.md, "Issue 26: oracle")
EDGE_DELTA = 0.01  # px: the silhouette rule's offset (float32 against float64 needs far less)
EDGE_OFFSETS = ((EDGE_DELTA, 0.0), (-EDGE_DELTA, 0.0), (0.0, EDGE_DELTA), (0.0, -EDGE_DELTA))
EDGE_SHARE = 0.001  # at most this share of the sampled pixels may agree only by the silhouette rule
CORNER_M = 1e-5  # m: a corner's camera-frame error from the metadata's rounded pose (6 decimals)
POINT = -2  # an OracleFailure's row for a point track (its col: the point's index)
LISTED = 3  # failures listed per layer and sample (all are counted)
BINS = 80  # error histogram: BINS bins of error / tolerance in [0, 4), then one overflow bin


@dataclass
class LayerStats:
    """One layer's figures: ``sampled`` pixels (or objects x frames), ``compared``
    values, their ``max`` error, a histogram of error / tolerance (for p99),
    ``failures`` and ``edges`` (pixels agreeing only by the silhouette rule)."""

    tolerance: float
    sampled: int = 0
    compared: int = 0
    max: float = 0.0
    failures: int = 0
    edges: int = 0
    hist: list = field(default_factory=lambda: [0] * (BINS + 1))

    def add(self, errors: np.ndarray) -> None:
        errors = errors[~np.isnan(errors)]
        self.compared += len(errors)
        if len(errors):
            self.max = max(self.max, float(errors.max()))
            scale = self.tolerance if self.tolerance > 0 else 1.0
            bins = np.minimum((errors / scale * BINS / 4).astype(np.int64), BINS)
            for b, n in zip(*np.unique(bins, return_counts=True)):
                self.hist[int(b)] += int(n)

    def merge(self, other: LayerStats) -> None:
        self.sampled += other.sampled
        self.compared += other.compared
        self.max = max(self.max, other.max)
        self.failures += other.failures
        self.edges += other.edges
        self.hist = [a + b for a, b in zip(self.hist, other.hist)]

    @property
    def p99(self) -> float:
        """The 99th percentile of the errors (the upper edge of its histogram bin; past 4
        tolerances, the max: an upper bound that stays finite in the JSON)."""
        if not self.compared:
            return 0.0
        k = np.searchsorted(np.cumsum(self.hist), 0.99 * self.compared)
        if self.tolerance == 0:  # an exact layer (ids, boxes): errors are 0 (agree) or 1
            return 0.0 if k == 0 else self.max
        scale = self.tolerance
        return self.max if k >= BINS else min((k + 1) * 4 * scale / BINS, self.max)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class OracleFailure:
    """A value the oracle does not reproduce: its layer, frame and pixel (row, col;
    the object's id as col and -1 as row for a per-object check) and what differs."""

    layer: str
    frame: int
    row: int
    col: int
    message: str

    def describe(self) -> str:
        where = f"object {self.col}" if self.row < 0 else f"pixel (row {self.row}, col {self.col})"
        where = f"point {self.col}" if self.row == POINT else where
        return f"frame {self.frame} {where}: {self.message}"


@dataclass
class OracleReport:
    """One sample's oracle outcome: ``stats`` per layer, ``failures`` (at most LISTED
    per layer listed, every one counted in its layer's ``failures``), ``skipped``."""

    stats: dict
    failures: list
    skipped: list


def sample_pixels(key: str, frame: int, height: int, width: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The pixels (rows, cols) the oracle checks in ``frame`` of sample ``key``: a
    share ``fraction`` of them (at least one), drawn by a generator seeded from the key
    and the frame, so every run checks the same ones; all of them at 1."""
    n = height * width
    m = n if fraction >= 1 else max(1, round(fraction * n))
    seed = int.from_bytes(hashlib.sha256(f"oracle:{key}:{frame}".encode()).digest()[:8], "little")
    flat = np.arange(n) if m == n else np.sort(np.random.default_rng(seed).choice(n, m, replace=False))
    return flat // width, flat % width


def _layer(name, fn, px: Pixels, stats, failures) -> None:
    """Layer ``name`` at the pixels ``px`` (their rays cast once for every layer), the
    silhouette rule on those not ok."""
    scene, stored, frame, rows, cols = px.scene, px.stored, px.frame, px.rows, px.cols
    verdict = fn(px)
    st = stats[name]
    st.sampled += len(rows)
    bad = np.flatnonzero(~verdict.ok)
    # Only a disagreement on what is seen may be a silhouette's; a value off on the
    # surface both see is not retried (tolerated stays False for it).
    label = np.ones(len(bad), bool) if verdict.label is None else verdict.label[bad]
    tolerated = np.zeros(len(bad), bool)
    for offset in EDGE_OFFSETS if len(bad) else ():
        todo = np.flatnonzero(~tolerated & label)
        if not len(todo):
            break
        shifted = fn(Pixels(scene, stored, frame, rows[bad[todo]], cols[bad[todo]], offset))
        tolerated[todo[shifted.ok]] = True
    st.edges += int(tolerated.sum())
    errors = verdict.error.copy()
    errors[bad[tolerated]] = np.nan  # an edge pixel's error is not the surface's
    st.add(errors)
    for m in bad[~tolerated]:
        st.failures += 1
        if sum(f.layer == name for f in failures) < LISTED:
            failures.append(OracleFailure(name, frame, int(rows[m]), int(cols[m]), verdict.message(int(m))))


def _corners(scene: OracleScene, meta: dict, stats, failures) -> None:
    """corners_2d / corners_depth: the corners of ``half_extents`` posed and projected.

    Compared in the camera frame: each stored corner is lifted back to camera space
    (its pixel and depth through K), which stays well conditioned where a corner nears
    the camera plane and its pixel runs off to thousands. Its tolerance: CORNER_M, plus
    the rounding of its pixel (5e-4 px, times z / f) and of its depth (5e-7 m, times
    (u - c) / f). The figures are errors in units of that tolerance (1: at the bound)."""
    st = stats["corners"]
    objects = {int(o["id"]): o for o in meta["objects"]}
    signs = np.array([[sx, sy, sz] for sz in (-1, 1) for sy in (-1, 1) for sx in (-1, 1)], np.float64)
    f, c = np.diag(scene.K)[:2], scene.K[:2, 2]
    for body in scene.bodies:
        if body.id not in objects:  # a deformable: no box of its own frame
            continue
        o = objects[body.id]
        for t in range(scene.frames):
            world = (signs * body.half_extents) @ body.rotations[t].T + body.positions[t]
            cam = world @ scene.world_to_camera[t][:3, :3].T + scene.world_to_camera[t][:3, 3]
            z_s = np.asarray(o["corners_depth"][t], np.float64)
            ray = (np.asarray(o["corners_2d"][t], np.float64) - c) / f  # (8, 2): x / z, y / z
            lifted = np.concatenate([ray * z_s[:, None], z_s[:, None]], 1)
            tol = np.concatenate(
                [CORNER_M + np.abs(ray) * 5e-7 + np.abs(z_s)[:, None] * 5e-4 / f, np.full((8, 1), CORNER_M)], 1
            )
            ratio = float((np.abs(lifted - cam) / tol).max())
            st.sampled += 1
            st.add(np.array([ratio]))
            if ratio > 1.0:
                st.failures += 1
                if sum(x.layer == "corners" for x in failures) < LISTED:
                    err = np.abs(lifted - cam).max()
                    msg = f"a corner of corners_2d/corners_depth is {err:.6f} m ({ratio:.1f} tolerances) from the box half_extents posed"
                    failures.append(OracleFailure("corners", t, -1, body.id, msg))


def new_stats() -> dict:
    """Empty statistics for every layer (the corners' and the tracks' positions: errors
    in units of their tolerance; the tracks' states exact)."""
    tracks = dict(zip(TRACK_STATS, (LayerStats(1.0), LayerStats(0.0))))
    return {**{name: LayerStats(TOLERANCES[name]) for name in LAYERS}, "corners": LayerStats(1.0), **tracks}


def check_sample(key: str, stored: Stored, geometry: bytes | None, fraction: float) -> OracleReport:
    """The oracle over one decoded sample (``stored``) with its ``geometry.glb`` bytes
    (None: the sample has none) at ``fraction`` of each frame's pixels."""
    scene = oracle_scene(stored.meta, geometry, deform=stored.deform, liquid=stored.liquid)
    stats, failures = new_stats(), []
    unknown = list(scene.unknown_ids)
    absent = {name for name, need in NEEDS.items() if getattr(stored, need) is None}  # the sample lacks the member
    absent |= set(TRACK_STATS) if stored.tracks is None else set()
    for t in range(scene.frames):
        rows, cols = sample_pixels(key, t, scene.height, scene.width, fraction)
        keep = ~np.isin(stored.instance[t, rows, cols], unknown)  # objects the oracle cannot rebuild
        rows, cols = rows[keep], cols[keep]
        px = Pixels(scene, stored, t, rows, cols)
        for name, fn in LAYERS.items():
            if name not in absent:
                _layer(name, fn, px, stats, failures)
    _corners(scene, stored.meta, stats, failures)
    if stored.tracks is not None:
        for layer, frame, point, message in check_tracks(key, scene, stored, fraction, stats):
            stats[layer].failures += 1
            if sum(f.layer == layer for f in failures) < LISTED:
                failures.append(OracleFailure(layer, frame, POINT, point, message))
    stats = {name: s for name, s in stats.items() if name not in absent}
    return OracleReport(stats, failures, scene.skipped)


def edges_exceed(edges: int, sampled: int) -> bool:
    """Whether ``edges`` of ``sampled`` pixels agreeing only by the silhouette rule is
    more than a share of EDGE_SHARE gives by chance (its mean + 3 sigma + 1)."""
    mean = EDGE_SHARE * sampled
    return edges > mean + 3.0 * math.sqrt(mean) + 1.0
