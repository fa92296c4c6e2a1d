"""The liquids' members held to their spec (docs/format.md, "Liquids"): they decode;
their tables cover the frames, particles and surface ranges the metadata's ``liquids``
entries name, each frame's triangles within its own vertex block; every value is
finite; the mass is the particle count times the particle mass in every frame,
exactly (no particle is ever made or lost); the volume the particles fill stays within
:data:`VOLUME_TOL` of the first frame's (a liquid compressed beyond that is not one).
Whether the rendered pixels show those surfaces is the oracle's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from factory.sample.liquid_members import LIQUID_MEMBERS, decode_liquids

VOLUME_TOL = 0.05  # of the first frame's volume: PBF measured within 1% (benchmarks/README.md)


def check_liquids(add: Callable[[str, str], None], members: dict[str, Any], meta: dict) -> None:
    """Report ``liquid.decode``, ``liquid.layout`` or ``liquid.mass`` findings through
    ``add(check, message)`` (none of the members, or some missing, which
    ``members.set`` reports: nothing to check)."""
    if not all(name in members for name in LIQUID_MEMBERS):
        return
    try:
        d = decode_liquids(members)
    except ValueError as e:
        add("liquid.decode", str(e))
        return
    entries = meta.get("liquids") or []
    for p in _layout(d, entries, int(meta.get("frames", 0))):
        add("liquid.layout", p)
    for e in entries:
        P, m = int(e["particles"][1]), float(e["particle_mass"])
        mass, volume = np.asarray(e["mass"], np.float64), np.asarray(e["volume"], np.float64)
        if len(mass) and np.abs(mass - P * m).max() > 1e-9 * max(P * m, 1.0) + 1e-9:
            add("liquid.mass", f"liquid {e['id']}: mass {mass.min()}..{mass.max()} kg, its {P} particles weigh {P * m}")
        if len(volume) and np.abs(volume / volume[0] - 1).max() > VOLUME_TOL:
            drift = float(np.abs(volume / volume[0] - 1).max())
            add(
                "liquid.mass",
                f"liquid {e['id']}: its volume moves {drift:.1%} from the first frame's (allowed {VOLUME_TOL:.0%})",
            )


def _layout(d: dict, entries: list, T: int) -> list[str]:
    """Shapes, ranges and finiteness against the metadata."""
    out = []
    x, V, F = d["particles"], len(d["surface_vertices"]), len(d["surface_faces"])
    if x.shape[0] != T:
        out.append(f"liquid_particles.npy holds {x.shape[0]} frames, the metadata says {T}")
    P = sum(int(e["particles"][1]) for e in entries)
    if x.shape[1] != P:
        out.append(f"{x.shape[1]} particles, the metadata's liquids name {P}")
    for name in ("particles", "velocities", "surface_vertices", "surface_velocities"):
        if not np.isfinite(d[name]).all():
            out.append(f"liquid_{name}.npy holds NaN or inf")
    for e in entries:
        if len(e["surface_vertices"]) != T or len(e["surface_faces"]) != T:
            out.append(f"liquid {e['id']}: surface ranges for {len(e['surface_vertices'])} frames, not {T}")
            continue
        for t, ((v0, nv), (f0, nf)) in enumerate(zip(e["surface_vertices"], e["surface_faces"])):
            if v0 + nv > V or f0 + nf > F:
                out.append(
                    f"liquid {e['id']} frame {t}: its surface ranges run past the tables ({V} vertices, {F} faces)"
                )
                break
            faces = d["surface_faces"][f0 : f0 + nf]
            if len(faces) and (faces.min() < v0 or faces.max() >= v0 + nv):
                out.append(f"liquid {e['id']} frame {t}: its faces reach vertices outside its own [{v0}, {v0 + nv})")
                break
    return out
