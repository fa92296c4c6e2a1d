"""``.npy`` members, written and read back with NumPy alone: the one encoding of the
array members of a sample (the deformables', the liquids'; docs/format.md)."""

from __future__ import annotations

import io

import numpy as np


def encode_npy(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """The ``.npy`` bytes (no pickle) of each array, by member name."""
    out = {}
    for name, a in arrays.items():
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
        out[name] = buf.getvalue()
    return out


def decode_npy(members: dict, spec: dict[str, tuple[str, int]]) -> dict[str, np.ndarray] | None:
    """The members of ``spec`` (name: (dtype, number of axes, the last of 3)) as
    arrays, by name: bytes decoded, a reader's arrays kept, nested lists (Hugging
    Face's) made arrays of the documented dtype; None when none of them is there.

    Raises:
        ValueError: some of them missing, or one of another dtype or shape.
    """
    have = [n for n in spec if n in members]
    if not have:
        return None
    out = {}
    for name, (dtype, ndim) in spec.items():
        if name not in members:
            raise ValueError(f"{name}: missing (the sample has {', '.join(have)})")
        raw = members[name]
        if isinstance(raw, (bytes, bytearray, memoryview)):
            a = np.load(io.BytesIO(bytes(raw)), allow_pickle=False)
        else:
            a = raw if isinstance(raw, np.ndarray) else np.asarray(raw, dtype)
            a = a.reshape((0,) * (ndim - 1) + (3,)) if a.size == 0 and a.ndim != ndim else a
        if a.dtype != np.dtype(dtype) or a.ndim != ndim or a.shape[-1] != 3:
            raise ValueError(f"{name}: {a.dtype} {a.shape}, expected {dtype} with {ndim} axes, the last of 3")
        out[name] = a
    return out
