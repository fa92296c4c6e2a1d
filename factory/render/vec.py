"""Row-wise vector arithmetic on (..., 3) arrays.

``sum(a * b, axis=-1)`` reduces over a length-3 axis, which NumPy does slowly; a
matrix-vector product with ones runs the same sum through BLAS about ten times
faster and exists in every array library.
"""

from __future__ import annotations

import numpy as np


def dot(a, b, xp=np):
    """Row-wise dot product of (..., 3) arrays -> (...)."""
    return (a * b) @ xp.ones(a.shape[-1], dtype=a.dtype)


def norm(a, xp=np):
    """Row-wise Euclidean length of a (..., 3) array -> (...)."""
    return xp.sqrt(dot(a, a, xp))


def rowmat(v, M, xp=np):
    """Row vectors times matrices, one each: (n, 3) x (n, 3, 3) -> (n, 3), ``v[i] @ M[i]``.

    Three multiply-adds rather than a stacked matmul: NumPy runs stacked 3x3 products
    one small matrix at a time, while this is a few passes over contiguous memory.
    """
    return v[:, 0:1] * M[:, 0, :] + v[:, 1:2] * M[:, 1, :] + v[:, 2:3] * M[:, 2, :]
