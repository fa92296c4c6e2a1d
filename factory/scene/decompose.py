"""Convex pieces for the physics of strongly non-convex meshes (a torus, a tube).

MuJoCo collides a mesh as its convex hull: a torus would be a disc and a tube a solid
rod, so a rod could never pass through a ring. Those kinds collide as a convex
decomposition made by CoACD (``coacd``, MIT; Wei et al., SIGGRAPH 2022) at concavity
threshold :data:`THRESHOLD`: the torus in 11 pieces, the tube in 12, about 2-3 s of
CPU each. The decomposition is made once, when an asset changes, and stored in
:data:`PARTS_FILE` with a fingerprint of the mesh it was made from: no worker pays
for it, nothing at run time depends on CoACD's build, and every machine collides the
very same pieces.

    pip install -e '.[assets]' && python -m factory.scene.decompose   # rewrites PARTS_FILE
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

DECOMPOSED = ("torus", "tube")  # the other kinds collide as their own hull
THRESHOLD = 0.05  # CoACD's concavity threshold (fraction of the mesh's size)
SEED = 1  # CoACD's random seed: the same pieces every run
PARTS_FILE = Path(__file__).with_name("convex_parts.npz")


def fingerprint(mesh) -> str:
    """A digest of a trimesh's vertices (float64) and faces (int64)."""
    h = hashlib.sha256(np.ascontiguousarray(mesh.vertices, np.float64).tobytes())
    h.update(np.ascontiguousarray(mesh.faces, np.int64).tobytes())
    return h.hexdigest()[:32]


def stored_hulls(kind: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The stored pieces of ``kind`` (one of DECOMPOSED) with their hulls' faces:
    [(vertices (P_j, 3) float64, faces (Q_j, 3) int32)], for checking them."""
    with np.load(PARTS_FILE) as stored:
        return [
            (np.array(stored[f"{kind}_{j}"]), np.array(stored[f"{kind}_{j}_faces"]))
            for j in range(int(stored[f"{kind}_count"]))
        ]


def convex_parts(kind: str, mesh) -> tuple:
    """The vertex sets (P_j, 3) float64 whose convex hulls collide for asset ``kind``,
    given its unit trimesh ``mesh``.

    Raises:
        RuntimeError: the stored pieces were made from another mesh (the asset changed
            without running this module again).
    """
    if kind not in DECOMPOSED:
        return (np.asarray(mesh.vertices, np.float64),)
    with np.load(PARTS_FILE) as stored:
        if str(stored[f"{kind}_fingerprint"]) != fingerprint(mesh):
            raise RuntimeError(
                f"{PARTS_FILE.name}: the convex pieces of {kind!r} were made from another mesh; "
                "run `python -m factory.scene.decompose` (needs the 'assets' extra)"
            )
        count = int(stored[f"{kind}_count"])
        return tuple(np.array(stored[f"{kind}_{j}"]) for j in range(count))


def decompose(mesh) -> list[tuple[np.ndarray, np.ndarray]]:
    """CoACD's convex pieces of a trimesh: vertices (P_j, 3) float64 and faces (Q_j, 3)
    int32 of each piece's hull."""
    import coacd  # the 'assets' extra: only this module's main needs it

    coacd.set_log_level("error")
    parts = coacd.run_coacd(
        coacd.Mesh(np.asarray(mesh.vertices), np.asarray(mesh.faces)), threshold=THRESHOLD, seed=SEED
    )
    return [(np.asarray(v, np.float64), np.asarray(f, np.int32)) for v, f in parts]


def main() -> None:
    from factory.scene.unit_meshes import unit_mesh

    out: dict[str, np.ndarray] = {}
    for kind in DECOMPOSED:
        mesh = unit_mesh(kind)
        start = time.perf_counter()
        parts = decompose(mesh)
        print(f"{kind}: {len(parts)} convex pieces in {time.perf_counter() - start:.2f} s")
        out[f"{kind}_fingerprint"] = np.array(fingerprint(mesh))
        out[f"{kind}_count"] = np.array(len(parts))
        for j, (v, f) in enumerate(parts):
            out[f"{kind}_{j}"], out[f"{kind}_{j}_faces"] = v, f
    np.savez_compressed(PARTS_FILE, **out)
    print(f"wrote {PARTS_FILE}")


if __name__ == "__main__":
    main()
