"""The deformables' members held to their spec (docs/format.md, "Deformables"): they
decode, they cover the frames and the vertex and face ranges the metadata's
``deformables`` entries name, every value is finite and a pinned vertex stays where it
started. Whether the rendered pixels show those vertices is the oracle's. (The
velocities are not held to the positions' differences: a sheet meeting an object
changes its velocity within one physics step, far inside a frame.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from factory.sample.deform_members import DEFORM_MEMBERS, decode_deform

PIN_TOL = 1e-6  # metres: a pinned vertex is held exactly (float32 storage)


def check_deform(add: Callable[[str, str], None], members: dict[str, Any], meta: dict) -> None:
    """Report ``deform.decode`` or ``deform.layout`` findings through ``add(check,
    message)`` (none of the members, or some missing, which ``members.set`` reports:
    nothing to check)."""
    if not all(name in members for name in DEFORM_MEMBERS):
        return
    try:
        d = decode_deform(members)
    except ValueError as e:
        add("deform.decode", str(e))
        return
    entries = meta.get("deformables") or []
    problems = _layout(d, entries, int(meta.get("frames", 0)))
    if not problems:
        problems = _pins(d, entries)
    for p in problems:
        add("deform.layout", p)


def _layout(d: dict, entries: list, T: int) -> list[str]:
    """Shapes, ranges and finiteness against the metadata."""
    v, f = d["vertices"], d["faces"]
    out = []
    if v.shape[0] != T:
        out.append(f"deform_vertices.npy holds {v.shape[0]} frames, the metadata says {T}")
    V = sum(int(e["vertices"][1]) for e in entries)
    F = sum(int(e["faces"][1]) for e in entries)
    if v.shape[1] != V or len(f) != F:
        out.append(f"{v.shape[1]} vertices and {len(f)} faces, the metadata's deformables name {V} and {F}")
    if not (np.isfinite(v).all() and np.isfinite(d["velocities"]).all()):
        out.append("deform_vertices.npy or deform_velocities.npy holds NaN or inf")
    for e in entries:
        v0, nv = e["vertices"]
        f0, nf = e["faces"]
        faces = f[f0 : f0 + nf]
        if len(faces) and (faces.min() < v0 or faces.max() >= v0 + nv):
            out.append(f"deformable {e['id']}: its faces reach vertices outside its own [{v0}, {v0 + nv})")
    return out


def _pins(d: dict, entries: list) -> list[str]:
    """A pinned vertex holds its first frame's position in every frame."""
    v, out = d["vertices"], []
    for e in entries:
        pins = [int(e["vertices"][0]) + int(p) for p in e.get("pinned", [])]
        if pins and len(v):
            moved = float(np.abs(v[:, pins].astype(np.float64) - v[:1, pins]).max())
            if moved > PIN_TOL:
                out.append(f"deformable {e['id']}: a pinned vertex moves {moved:.3g} m")
    return out
