"""A streaming distribution of non-negative numbers on a fixed grid, in bounded memory.

The report reads a dataset once and cannot keep every depth pixel or every per-frame
speed (a 10k-sample quickstart dataset has 1.3 billion depth pixels). A
:class:`Distribution` keeps, for a grid step ``step``:

* exact ``count``, ``sum`` (so an exact ``mean``), ``min`` and ``max`` of the values;
* a count per grid point: value ``v`` is counted at ``round(v / step)``.

Percentiles are numpy's default (linear interpolation between order statistics,
``np.percentile(values, q)``) taken over the grid-rounded values: exact when every value
is a multiple of ``step`` (depth codes in millimetres, with ``step`` 0.001 m), otherwise
within ``step / 2`` of ``np.percentile`` of the raw values. Memory is one int64 per grid
point up to the largest value seen, capped at :data:`MAX_BINS`; larger values count in
the last grid point (``clamped`` says how many), NaN, infinities and negative values are
left out (``rejected``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_BINS = 1 << 20  # 8 MiB of counts at most
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)


class Distribution:
    """Counts of values ``>= 0`` on the grid ``k * step`` (see the module docstring).

    ``unit`` is only carried along for the report (``"m"``, ``"m/s"``, ...).
    """

    def __init__(self, step: float, unit: str = ""):
        if not step > 0:
            raise ValueError(f"step must be > 0, got {step!r}")
        self.step, self.unit = float(step), unit
        self.counts = np.zeros(0, np.int64)
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.rejected = 0
        self.clamped = 0

    def add(self, values: Any) -> None:
        """Count ``values`` (any array-like of numbers)."""
        v = np.asarray(values, dtype=np.float64).ravel()
        ok = np.isfinite(v) & (v >= 0)
        self.rejected += int(v.size - ok.sum())
        v = v[ok]
        if v.size:
            k = np.rint(np.minimum(v / self.step, MAX_BINS)).astype(np.int64)  # capped before the cast
            self._count(k, float(v.sum()), float(v.min()), float(v.max()))

    def add_grid(self, points: np.ndarray) -> None:
        """Count values given as grid indices (integers ``>= 0``; value = index * step),
        e.g. depth codes in mm with ``step`` 0.001: exact, and no float rounding."""
        k = np.asarray(points).ravel()
        if k.size:
            k = k.astype(np.int64)
            if int(k.min()) < 0:
                raise ValueError(f"grid indices must be >= 0, got {int(k.min())}")
            self._count(k, float(k.sum()) * self.step, float(k.min()) * self.step, float(k.max()) * self.step)

    def _count(self, k: np.ndarray, total: float, lo: float, hi: float) -> None:
        over = k >= MAX_BINS
        if over.any():
            self.clamped += int(over.sum())
            k = np.minimum(k, MAX_BINS - 1)
        self._add(np.bincount(k), int(k.size), total, lo, hi)

    def _add(self, counts: np.ndarray, n: int, total: float, lo: float, hi: float) -> None:
        """Add per-bin ``counts`` (int64, kept as the table when longer: pass one of
        its own) of ``n`` values summing to ``total``, between ``lo`` and ``hi``."""
        if counts.size > self.counts.size:
            counts[: self.counts.size] += self.counts
            self.counts = counts
        else:
            self.counts[: counts.size] += counts
        self.count += n
        self.sum += total
        self.min, self.max = min(self.min, lo), max(self.max, hi)

    def merge(self, other: Distribution) -> None:
        """Add ``other``'s values (same step): what adding them here would have counted,
        except that ``sum`` adds two partial sums (last-bit rounding may differ)."""
        if other.step != self.step:
            raise ValueError(f"cannot merge a distribution of step {other.step} into one of step {self.step}")
        self._add(other.counts.copy(), other.count, other.sum, other.min, other.max)
        self.rejected += other.rejected
        self.clamped += other.clamped

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    def std(self) -> float | None:
        """Population standard deviation of the grid-rounded values."""
        if not self.count:
            return None
        k = np.nonzero(self.counts)[0]
        x, w = k * self.step, self.counts[k]
        m = float((x * w).sum()) / self.count
        return math.sqrt(max(float((w * (x - m) ** 2).sum()) / self.count, 0.0))

    def percentile(self, q: float) -> float | None:
        """``np.percentile`` (linear) of the grid-rounded values; None when empty."""
        if not self.count:
            return None
        cum = np.cumsum(self.counts)
        h = (self.count - 1) * q / 100.0
        lo, hi = math.floor(h), math.ceil(h)
        v_lo = int(np.searchsorted(cum, lo, side="right")) * self.step
        v_hi = int(np.searchsorted(cum, hi, side="right")) * self.step
        return v_lo + (h - lo) * (v_hi - v_lo)

    def histogram(self, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
        """``(edges (bins+1,) float64, counts (bins,) int64)`` of the grid-rounded values
        over ``[min, max]`` (one bin of width ``step`` when every value is the same)."""
        k = np.nonzero(self.counts)[0]
        if not k.size:
            return np.zeros(0), np.zeros(0, np.int64)
        lo, hi = k[0] * self.step, k[-1] * self.step
        if hi <= lo:
            return np.array([lo - self.step / 2, lo + self.step / 2]), self.counts[k].astype(np.int64)
        counts, edges = np.histogram(k * self.step, bins=bins, range=(lo, hi), weights=self.counts[k])
        return edges, counts.astype(np.int64)

    def summary(self, bins: int = 40) -> dict[str, Any]:
        """The JSON-able figures: count, mean, std, min, max, percentiles ``p1``..``p99``,
        the grid step, and a histogram (``edges``, ``counts``)."""
        edges, counts = self.histogram(bins)
        return {
            "unit": self.unit,
            "count": self.count,
            "mean": self.mean,
            "std": self.std(),
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
            **{f"p{q}": self.percentile(q) for q in PERCENTILES},
            "step": self.step,
            "rejected": self.rejected,
            "clamped": self.clamped,
            "histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
        }
