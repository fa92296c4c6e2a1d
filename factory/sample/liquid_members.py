"""A sample's liquids as members and metadata (docs/format.md, "Liquids"), written and
read back with NumPy alone.

Per sample of a config that draws a liquid (every sample then has them, empty without
one, as Ray's reader makes one table of a dataset's members):

* ``liquid_particles.npy`` (T, P, 3) float32: every particle's centre at each frame,
  world, metres (the liquids of ``meta["liquids"]`` one after another, each its
  ``particles: [first, count]``);
* ``liquid_velocities.npy`` (T, P, 3) float32: their velocities, m/s;
* ``liquid_surface_vertices.npy`` (V, 3) float32 and ``liquid_surface_velocities.npy``
  (V, 3) float32: the rendered surfaces' vertices (world, metres) and their velocities
  (m/s), every liquid's every frame one after another (a liquid's frame t is its
  ``surface_vertices[t] = [first, count]``);
* ``liquid_surface_faces.npy`` (F, 3) int32: their triangles, indices into that vertex
  table (``surface_faces[t] = [first, count]``), counter-clockwise from outside.
"""

from __future__ import annotations

import numpy as np

from factory.sample.npy_members import decode_npy, encode_npy

LIQUID_MEMBERS = {
    "liquid_particles.npy": ("float32", 3),
    "liquid_velocities.npy": ("float32", 3),
    "liquid_surface_vertices.npy": ("float32", 2),
    "liquid_surface_velocities.npy": ("float32", 2),
    "liquid_surface_faces.npy": ("int32", 2),
}


def liquid_arrays(frames: int, motion) -> tuple[dict[str, np.ndarray], list[dict]]:
    """The members' arrays (module docstring) of a clip of ``frames`` frames, and per
    liquid its tables' ranges: ``particles`` [first, count], ``surface_vertices`` and
    ``surface_faces`` (per frame [first, count])."""
    T = frames
    parts, vels, sv, su, sf, ranges = [], [], [], [], [], []
    first_p = first_v = first_f = 0
    for record, meshes in zip(motion.liquids, motion.liquid_meshes):
        P = record.positions.shape[1]
        parts.append(record.positions[:T])
        vels.append(record.velocities[:T])
        entry = {"particles": [first_p, P], "surface_vertices": [], "surface_faces": []}
        for verts, faces, u in meshes[:T]:
            sv.append(verts)
            su.append(u)
            sf.append(np.asarray(faces, np.int64) + first_v)
            entry["surface_vertices"].append([first_v, len(verts)])
            entry["surface_faces"].append([first_f, len(faces)])
            first_v, first_f = first_v + len(verts), first_f + len(faces)
        ranges.append(entry)
        first_p += P

    def cat(arrays: list, shape: tuple, dtype) -> np.ndarray:
        return np.concatenate(arrays, axis=len(shape) - 2).astype(dtype) if arrays else np.zeros(shape, dtype)

    arrays = {
        "liquid_particles.npy": cat(parts, (T, 0, 3), np.float32),
        "liquid_velocities.npy": cat(vels, (T, 0, 3), np.float32),
        "liquid_surface_vertices.npy": cat(sv, (0, 3), np.float32),
        "liquid_surface_velocities.npy": cat(su, (0, 3), np.float32),
        "liquid_surface_faces.npy": cat(sf, (0, 3), np.int32),
    }
    return arrays, ranges


def encode_liquids(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """The ``.npy`` bytes of each member."""
    return encode_npy({name: arrays[name] for name in LIQUID_MEMBERS})


def decode_liquids(members: dict) -> dict[str, np.ndarray] | None:
    """The arrays of a sample's liquid members (bytes, reader-decoded arrays or nested
    lists), by name without ``liquid_`` and ``.npy``: ``particles``, ``velocities``,
    ``surface_vertices``, ``surface_velocities``, ``surface_faces``; None when the
    sample has none.

    Raises:
        ValueError: a member missing while others are there, or of the wrong dtype or shape.
    """
    raw = decode_npy(members, LIQUID_MEMBERS)
    if raw is None:
        return None
    out = {name.removeprefix("liquid_").removesuffix(".npy"): a for name, a in raw.items()}
    if out["particles"].shape != out["velocities"].shape:
        raise ValueError(f"liquid_velocities.npy: shape {out['velocities'].shape}, particles' {out['particles'].shape}")
    if out["surface_vertices"].shape != out["surface_velocities"].shape:
        raise ValueError("liquid_surface_velocities.npy: not one row per surface vertex")
    f, V = out["surface_faces"], len(out["surface_vertices"])
    if f.size and (f.min() < 0 or f.max() >= V):
        raise ValueError(f"liquid_surface_faces.npy: indices {f.min()}..{f.max()} outside [0, {V})")
    return out


def declares_liquids(config: dict | None) -> bool | None:
    """Whether a dataset's resolved config (its manifest's dict) draws a liquid; None
    when it is not known."""
    if config is None:
        return None
    return any((sc or {}).get("liquid") is not None for sc in (config.get("scenarios") or {}).values())
