"""The unit trimeshes of the mesh assets, built with ``trimesh.creation``: watertight,
shared vertices, centred on their bounding box with max |coordinate| = 1. The
renderer's asset (:mod:`factory.scene.assets`) and the physics' convex pieces
(:mod:`factory.scene.decompose`) are both made from these."""

from __future__ import annotations

import numpy as np


def _rock(trimesh):
    m = trimesh.creation.icosphere(subdivisions=3)
    v = m.vertices
    # Low-frequency bumps from fixed sinusoids of the direction: smooth, deterministic.
    bump = 1.0 + 0.12 * np.sin(3.1 * v[:, 0] + 1.3) * np.sin(2.3 * v[:, 1] + 0.4) + 0.08 * np.sin(4.7 * v[:, 2])
    return trimesh.Trimesh(v * bump[:, None], m.faces, process=False)


def _build(kind: str, trimesh):
    c = trimesh.creation
    if kind == "torus":
        return c.torus(major_radius=1.0, minor_radius=0.35, major_sections=48, minor_sections=24)
    if kind == "rock":
        return _rock(trimesh)
    if kind == "cone":
        return c.cone(radius=1.0, height=2.0, sections=64)
    if kind == "tube":
        return c.annulus(r_min=0.6, r_max=1.0, height=2.0, sections=64)
    return c.icosahedron()


def unit_mesh(kind: str):
    """The trimesh of ``kind`` normalised to max |coordinate| = 1 (watertight, shared
    vertices: what the physics measures and decomposes)."""
    import trimesh  # the scene layer needs it only when a scene has meshes

    m = _build(kind, trimesh)
    lo, hi = m.bounds
    v = (m.vertices - (lo + hi) / 2) / np.abs(hi - lo).max() * 2.0
    return trimesh.Trimesh(v, m.faces, process=False)
