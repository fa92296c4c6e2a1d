"""A dataset's profile: the hash and features of every picture of a dataset
(:func:`profile_dataset`), read through :func:`factory.dataset.reader.open_dataset`, and
their summary (:class:`Profile`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from factory.errors import StorageError
from factory.trust.diversity.features import FEATURE_UNITS, FEATURES, image_features
from factory.trust.diversity.hashing import (
    HASH_BITS,
    NEAR_DUPLICATE_BITS,
    NearDuplicates,
    check_distance,
    near_duplicates,
    phash,
)
from factory.trust.diversity.pictures import picture

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
        return {
            name: {
                "mean": float(mean[k]),
                "std": float(std[k]),
                **{f"p{q}": float(pct[i, k]) for i, q in enumerate(PERCENTILES)},
            }
            for k, name in enumerate(FEATURES)
        }

    def lines(self) -> list[str]:
        """A human-readable account: size, near-duplicates, then one line per feature."""
        nd = self.near_duplicates
        out = [
            f"{self.url}: {self.size} pictures of {self.samples_read} samples read"
            + (f" ({self.without_picture} without a picture)" if self.without_picture else "")
            + (f" ({self.unreadable} unreadable)" if self.unreadable else ""),
            f"near-duplicates: {nd.rate:.1%} of pictures ({nd.duplicated}) in {nd.groups} groups, "
            f"{nd.pair_count} pairs within {nd.max_distance} of {HASH_BITS} bits",
        ]
        for name, s in self.summary().items():
            out.append(
                f"  {name:<16} {s['mean']:10.4g} ± {s['std']:<10.4g} p5 {s['p5']:<10.4g} "
                f"p50 {s['p50']:<10.4g} p95 {s['p95']:<10.4g} {FEATURE_UNITS[name]}"
            )
        out.extend(f"  unreadable: {p}" for p in self.problems)
        return out

    def to_json(self) -> dict:
        """The profile's figures as plain JSON types (no per-sample arrays)."""
        return {
            "url": self.url,
            "pictures": self.size,
            "samples_read": self.samples_read,
            "without_picture": self.without_picture,
            "unreadable": self.unreadable,
            "problems": list(self.problems),
            "near_duplicates": self.near_duplicates.to_json(),
            "features": self.summary(),
            "units": dict(FEATURE_UNITS),
        }


def profile_dataset(
    url_or_dataset: Any,
    *,
    options: Mapping[str, Any] | None = None,
    max_samples: int | None = None,
    log: Callable[[str], None] | None = None,
    max_distance: int = NEAR_DUPLICATE_BITS,
) -> Profile:
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

    if max_samples is not None and (
        isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1
    ):
        raise ValueError(f"max_samples: expected a positive integer or None, got {max_samples!r}")
    max_distance = check_distance(max_distance)
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
    return Profile(
        url=url,
        keys=keys,
        hashes=h,
        features=features,
        near_duplicates=near_duplicates(h, max_distance),
        samples_read=read,
        without_picture=without,
        unreadable=bad,
        problems=problems,
    )
