"""The deformables' ``.npy`` members (docs/format.md, "Deformables";
:mod:`factory.sample.deformables` makes their arrays): written and read back here,
with NumPy alone, so a reader need not import the physics or the renderer."""

from __future__ import annotations

import io

import numpy as np

# name: (dtype, ndim) of the decoded array
DEFORM_MEMBERS = {
    "deform_vertices.npy": ("float32", 3),  # (T, V, 3) world positions, metres
    "deform_velocities.npy": ("float32", 3),  # (T, V, 3) world velocities, m/s
    "deform_faces.npy": ("int32", 2),  # (F, 3) indices of the V vertices
}


def encode_deform(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """The ``.npy`` bytes of each member."""
    out = {}
    for name in DEFORM_MEMBERS:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
        out[name] = buf.getvalue()
    return out


def decode_deform(members: dict) -> dict[str, np.ndarray] | None:
    """The arrays of a sample's deformables members (bytes, or arrays a reader already
    decoded), by name without ``.npy``: ``vertices`` (T, V, 3), ``velocities`` (T, V, 3),
    ``faces`` (F, 3); None when the sample has none.

    Raises:
        ValueError: a member missing while others are there, or of the wrong dtype or shape.
    """
    have = [n for n in DEFORM_MEMBERS if n in members]
    if not have:
        return None
    out = {}
    for name, (dtype, ndim) in DEFORM_MEMBERS.items():
        if name not in members:
            raise ValueError(f"{name}: missing (the sample has {', '.join(have)})")
        raw = members[name]
        if isinstance(raw, (bytes, bytearray, memoryview)):
            a = np.load(io.BytesIO(bytes(raw)), allow_pickle=False)
        else:  # a reader's array, or nested lists (Hugging Face's): the documented dtype
            a = raw if isinstance(raw, np.ndarray) else np.asarray(raw, dtype)
            a = a.reshape((0,) * (ndim - 1) + (3,)) if a.size == 0 and a.ndim != ndim else a
        if a.dtype != np.dtype(dtype) or a.ndim != ndim or a.shape[-1] != 3:
            raise ValueError(f"{name}: {a.dtype} {a.shape}, expected {dtype} with {ndim} axes, the last of 3")
        out[name[: -len(".npy")].removeprefix("deform_")] = a
    if out["vertices"].shape != out["velocities"].shape:
        raise ValueError(f"deform_velocities.npy: shape {out['velocities'].shape}, vertices' {out['vertices'].shape}")
    f = out["faces"]
    if f.size and (f.min() < 0 or f.max() >= out["vertices"].shape[1]):
        raise ValueError(f"deform_faces.npy: indices {f.min()}..{f.max()} outside [0, {out['vertices'].shape[1]})")
    return out


def declares_deformables(config: dict | None) -> bool | None:
    """Whether a dataset's resolved config (its manifest's dict) draws deformables, so
    that its samples carry these members; None when it is not known (no config)."""
    if config is None:
        return None
    for sc in (config.get("scenarios") or {}).values():
        for block in ("cloth", "soft"):
            spec = (sc or {}).get(block)
            if spec is not None and (spec or {}).get("count", 1) != 0:
                return True
    return False


def instances(meta: dict) -> list:
    """Every instance a sample draws, in the order of its amodal masks and of the
    renderer's annotations: ``meta["objects"]``, then ``meta["deformables"]``, then
    ``meta["liquids"]`` (each entry has an ``id``, a ``class_id`` and the per-frame
    boxes and pixel counts)."""
    objects = meta.get("objects")
    if not isinstance(objects, list):
        return objects  # malformed: the metadata checks say so
    return objects + list(meta.get("deformables") or []) + list(meta.get("liquids") or [])
