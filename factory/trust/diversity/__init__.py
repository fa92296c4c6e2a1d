"""Diversity and drift of an image dataset: near-duplicates, colour and edge statistics,
and how far two datasets' feature distributions lie apart.

A narrow or collapsed generator shows up as many near-identical pictures and as tight
feature distributions; a synthetic set that does not look like the real one it stands
in for (or a generator version that changed) shows up as a distance between the two
sets' features. Everything works on one picture per sample (:func:`picture`): the first
frame of a factory clip, or the image of any other WebDataset.

* **Perceptual hash** (:mod:`~factory.trust.diversity.hashing`, :func:`phash`): the
  64-bit DCT hash. Pictures whose hashes differ in at most :data:`NEAR_DUPLICATE_BITS`
  bits are near-duplicates (:func:`near_duplicates`, exact over all pairs, vectorised).
* **Features** (:mod:`~factory.trust.diversity.features`, :data:`FEATURES`,
  :func:`image_features`): cheap global statistics of colour, exposure and edges, each
  with a unit (:data:`FEATURE_UNITS`).
* **Profile** (:mod:`~factory.trust.diversity.profile`, :func:`profile_dataset`): hashes
  and features of every picture of a dataset, read through
  :func:`factory.dataset.reader.open_dataset`.
* **Comparison** (:mod:`~factory.trust.diversity.drift`, :func:`compare`): Fréchet
  distance between Gaussians fitted to the two feature sets, 1-D Wasserstein-1 distance
  per feature, and how many of B's pictures have a near-duplicate in A. Features are
  first standardised with the pooled mean and standard deviation of both sets, so the
  distances are in units of "pooled standard deviations" whatever each feature's own
  unit is.

:mod:`~factory.trust.diversity.pictures` takes the picture from a sample. This package
re-exports every public name of its modules. Pure numpy + OpenCV + Pillow; nothing here
imports Ray.
"""

from __future__ import annotations

from factory.trust.diversity.drift import DRIFT_NOTICEABLE, Comparison, compare, frechet_distance, wasserstein_1d
from factory.trust.diversity.features import (
    ANALYSIS_SIDE,
    BRIGHT_LEVEL,
    CANNY_THRESHOLDS,
    DARK_LEVEL,
    FEATURE_UNITS,
    FEATURE_WORDS,
    FEATURES,
    MAX_ANALYSIS_SIDE,
    analysis_picture,
    image_features,
)
from factory.trust.diversity.hashing import (
    HASH_BITS,
    MAX_PAIRS,
    NEAR_DUPLICATE_BITS,
    NearDuplicates,
    hamming,
    near_duplicates,
    nearest,
    phash,
)
from factory.trust.diversity.pictures import LUMA, PICTURE_MEMBERS, checked_rgb, picture
from factory.trust.diversity.profile import PERCENTILES, Profile, profile_dataset

__all__ = [
    "ANALYSIS_SIDE",
    "BRIGHT_LEVEL",
    "CANNY_THRESHOLDS",
    "DARK_LEVEL",
    "DRIFT_NOTICEABLE",
    "FEATURES",
    "FEATURE_UNITS",
    "FEATURE_WORDS",
    "HASH_BITS",
    "LUMA",
    "MAX_ANALYSIS_SIDE",
    "MAX_PAIRS",
    "NEAR_DUPLICATE_BITS",
    "PERCENTILES",
    "PICTURE_MEMBERS",
    "Comparison",
    "NearDuplicates",
    "Profile",
    "analysis_picture",
    "checked_rgb",
    "compare",
    "frechet_distance",
    "hamming",
    "image_features",
    "near_duplicates",
    "nearest",
    "phash",
    "picture",
    "profile_dataset",
    "wasserstein_1d",
]
