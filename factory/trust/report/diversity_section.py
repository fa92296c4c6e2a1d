"""The report's diversity section: near-duplicates, colour and edge statistics, drift.

Everything here is :mod:`factory.trust.diversity`'s, computed on the same picture per sample
(the first frame of a factory clip, or a real sample's image): a 64-bit perceptual hash
for near-duplicates (pairs within ``NEAR_DUPLICATE_BITS`` bits) and the global colour
and edge features ``FEATURES``. The hashes and features are gathered sample by sample
during the report's single pass (:class:`DiversityCollector`), so the dataset is not
read a second time; only a ``--reference`` dataset is read, by
``factory.trust.diversity.profile_dataset``, to compare against.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np

MAX_PAIRS_SHOWN = 20


def _diversity():
    return importlib.import_module("factory.trust.diversity")


class DiversityCollector:
    """Hashes and features of each sample's picture, in dataset order."""

    def __init__(self) -> None:
        self.keys: list[str] = []  # "shard/key" of each sample with a picture
        self._hashes: list[int] = []
        self._features: list[np.ndarray] = []
        self.without_picture = 0
        self.unreadable = 0  # samples whose picture member could not be decoded
        self.samples = 0

    @staticmethod
    def picture(members: Mapping[str, bytes]) -> np.ndarray | None:
        """The sample's (H, W, 3) uint8 picture, or None (``factory.trust.diversity.picture``)."""
        return _diversity().picture(members)

    def add(self, name: str, rgb: np.ndarray | None) -> None:
        """Count one sample: its picture (None: it has none)."""
        self.samples += 1
        if rgb is None:
            self.without_picture += 1
            return
        div = _diversity()
        self.keys.append(name)
        self._hashes.append(int(div.phash(rgb)))
        self._features.append(np.asarray(div.image_features(rgb), dtype=np.float64))

    @property
    def hashes(self) -> np.ndarray:
        """(N,) uint64 perceptual hashes."""
        return np.array(self._hashes, dtype=np.uint64)

    @property
    def features(self) -> np.ndarray:
        """(N, F) float64 features, F = ``len(factory.trust.diversity.FEATURES)``."""
        if not self._features:
            return np.zeros((0, len(_diversity().FEATURES)))
        return np.stack(self._features)

    def bad_picture(self) -> None:
        """Count one sample whose picture could not be decoded."""
        self.samples += 1
        self.unreadable += 1

    def merge(self, other: DiversityCollector) -> None:
        """Append ``other``'s samples (which come after this collection's)."""
        self.keys += other.keys
        self._hashes += other._hashes
        self._features += other._features
        self.without_picture += other.without_picture
        self.unreadable += other.unreadable
        self.samples += other.samples

    def profile(self, url: str):
        """This collection as a ``factory.trust.diversity.Profile``: what
        ``factory.trust.diversity.profile_dataset`` would return for the same samples."""
        div = _diversity()
        return div.Profile(
            url=url,
            keys=list(self.keys),
            hashes=self.hashes,
            features=self.features,
            near_duplicates=div.near_duplicates(self.hashes),
            samples_read=self.samples,
            without_picture=self.without_picture,
            unreadable=self.unreadable,
        )


def section(
    collected: DiversityCollector,
    *,
    url: str,
    reference: str | None = None,
    options: Mapping[str, Any] | None = None,
    max_samples: int | None = None,
) -> dict[str, Any]:
    """The diversity figures as JSON-able data.

    ``{"pictures", "without_picture", "unreadable", "max_distance", "near_duplicate_rate",
    "near_duplicate_pairs", "duplicated", "groups", "pair_examples": [{"a", "b",
    "distance"}], "features": {name: {"unit", "mean", "std", "p5", "p50", "p95"}},
    "reference": None | {...}}``. With ``reference`` (a dataset URL, read up to
    ``max_samples`` samples too), ``reference`` holds ``compare(this, reference)``:
    ``{"url", "pictures", "frechet", "per_feature", "mean_shift", "cross_duplicates",
    "cross_examples", "near_duplicate_rate", "near_duplicate_rate_reference", "verdict",
    "lines", "features"}`` (``features``: the reference's feature summary).
    """
    div = _diversity()
    mine = collected.profile(url)
    nd = mine.near_duplicates
    units = getattr(div, "FEATURE_UNITS", {})
    out: dict[str, Any] = {
        "pictures": mine.size,
        "without_picture": collected.without_picture,
        "unreadable": collected.unreadable,
        "max_distance": nd.max_distance,
        "near_duplicate_rate": float(nd.rate),
        "near_duplicate_pairs": int(nd.pair_count),
        "duplicated": int(nd.duplicated),
        "groups": int(nd.groups),
        "pair_examples": [
            {"a": mine.keys[i], "b": mine.keys[j], "distance": int(d)} for i, j, d in nd.pairs[:MAX_PAIRS_SHOWN]
        ],
        "features": {name: {"unit": units.get(name, ""), **s} for name, s in mine.summary().items()},
        "reference": None,
    }
    if reference is not None:
        ref = div.profile_dataset(reference, options=options, max_samples=max_samples)
        cmp = div.compare(mine, ref)
        out["reference"] = {
            "url": ref.url,
            "pictures": ref.size,
            "frechet": float(cmp.frechet),
            "per_feature": dict(cmp.per_feature),
            "mean_shift": dict(cmp.mean_shift),
            "cross_duplicates": float(cmp.cross_duplicates),
            "cross_examples": [list(e) for e in cmp.cross_examples],
            "near_duplicate_rate": float(cmp.near_duplicate_rate_a),
            "near_duplicate_rate_reference": float(cmp.near_duplicate_rate_b),
            "verdict": list(cmp.verdict()),
            "lines": list(cmp.lines()),
            "features": ref.summary(),
        }
    return out
