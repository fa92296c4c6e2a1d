"""The deformables' ``.npy`` members (docs/format.md, "Deformables";
:mod:`factory.sample.deformables` makes their arrays): written and read back here,
with NumPy alone, so a reader need not import the physics or the renderer."""

from __future__ import annotations

import numpy as np

from factory.sample.npy_members import decode_npy, encode_npy

# name: (dtype, ndim) of the decoded array
DEFORM_MEMBERS = {
    "deform_vertices.npy": ("float32", 3),  # (T, V, 3) world positions, metres
    "deform_velocities.npy": ("float32", 3),  # (T, V, 3) world velocities, m/s
    "deform_faces.npy": ("int32", 2),  # (F, 3) indices of the V vertices
}


def encode_deform(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """The ``.npy`` bytes of each member."""
    return encode_npy({name: arrays[name] for name in DEFORM_MEMBERS})


def decode_deform(members: dict) -> dict[str, np.ndarray] | None:
    """The arrays of a sample's deformables members (bytes, or arrays a reader already
    decoded), by name without ``.npy``: ``vertices`` (T, V, 3), ``velocities`` (T, V, 3),
    ``faces`` (F, 3); None when the sample has none.

    Raises:
        ValueError: a member missing while others are there, or of the wrong dtype or shape.
    """
    raw = decode_npy(members, DEFORM_MEMBERS)
    if raw is None:
        return None
    out = {name[: -len(".npy")].removeprefix("deform_"): a for name, a in raw.items()}
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
