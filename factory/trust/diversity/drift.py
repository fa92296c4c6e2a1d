"""Two datasets compared (:func:`compare`): Fréchet distance between Gaussians fitted to
the two sets of standardised features, Wasserstein-1 distance per feature, cross
near-duplicates, and a verdict in words."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from factory.errors import StorageError
from factory.trust.diversity.features import FEATURE_UNITS, FEATURE_WORDS, FEATURES
from factory.trust.diversity.hashing import HASH_BITS, NEAR_DUPLICATE_BITS, check_distance, nearest
from factory.trust.diversity.profile import Profile


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
            out.append(
                f"{tag}: {p.url}: {p.size} pictures ({p.samples_read} samples read), near-duplicates "
                f"{nd.rate:.1%} ({nd.duplicated} pictures in {nd.groups} groups)"
            )
        out.append(
            f"B pictures with a near-duplicate in A: {self.cross_duplicates:.1%} "
            f"(within {self.max_distance} of {HASH_BITS} bits)"
        )
        out.append(f"Fréchet distance (standardised features): {self.frechet:.4g}")
        out.append("per-feature Wasserstein-1 distance (pooled std), largest first:")
        for name, d in self.per_feature.items():
            out.append(
                f"  {name:<16} {d:6.2f}   A {sa[name]['mean']:9.4g} ± {sa[name]['std']:<9.4g}"
                f" B {sb[name]['mean']:9.4g} ± {sb[name]['std']:<9.4g} {FEATURE_UNITS[name]}"
            )
        out.extend(self.verdict())
        return out

    def to_json(self) -> dict:
        """Everything as plain JSON types (both profiles' summaries included)."""
        return {
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "frechet": self.frechet,
            "per_feature": dict(self.per_feature),
            "mean_shift": dict(self.mean_shift),
            "cross_duplicates": self.cross_duplicates,
            "cross_examples": [list(e) for e in self.cross_examples],
            "near_duplicate_rate_a": self.near_duplicate_rate_a,
            "near_duplicate_rate_b": self.near_duplicate_rate_b,
            "max_distance": self.max_distance,
            "verdict": self.verdict(),
        }


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
                "nothing to compare"
            )
    max_distance = check_distance(a.near_duplicates.max_distance if max_distance is None else max_distance)
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
    per_feature = dict(
        sorted(w1.items(), key=lambda kv: (-round(kv[1], 2), -separation[FEATURES.index(kv[0])], FEATURES.index(kv[0])))
    )
    shift = {name: float(zb[:, k].mean() - za[:, k].mean()) for k, name in enumerate(FEATURES)}
    dist, index = nearest(a.hashes, b.hashes)
    close = np.flatnonzero(dist <= max_distance)
    examples = [(b.keys[k], a.keys[index[k]], int(dist[k])) for k in close[:10]]
    return Comparison(
        a=a,
        b=b,
        frechet=frechet,
        per_feature=per_feature,
        mean_shift=shift,
        cross_duplicates=len(close) / b.size,
        cross_examples=examples,
        max_distance=max_distance,
    )


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
        words = [
            f"verdict: no feature drifts noticeably (every Wasserstein-1 distance is below "
            f"{DRIFT_NOTICEABLE} pooled std); Fréchet {c.frechet:.3g}."
        ]
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
            words.append(
                f"note: {p.near_duplicates.rate:.0%} of {tag}'s pictures have a near-duplicate in {tag}: "
                "a narrow or collapsed set, or repeated samples."
            )
    if c.cross_duplicates >= 0.05:
        words.append(
            f"note: {c.cross_duplicates:.0%} of B's pictures nearly duplicate one of A's: the same "
            "scenes (the hash ignores overall brightness), overlapping sets, or a leak between them."
        )
    return words
