"""Noise-displaced rocks: an icosphere pushed along its radii by smooth noise.

The noise is a sum over ``octaves`` of sinusoidal plane waves in random directions,
each octave twice the frequency and half the amplitude of the one before, its
directions and phases drawn from ``numpy.random.default_rng(seed)``: ``seed`` is a
param, so the noise depends on the params alone. Normalised to |noise| <= 1, the
radius 1 + roughness * noise stays >= 0.55, so the surface stays star-shaped about
the origin (no self-intersection) and as closed as the icosphere. Then scaled per
axis to (size_x, size_y, size_z). Faces: 20 * 4^subdivisions (1,280 at 3). No uv.

The noise is smooth (its waves are at most a few per circumference), so a rock is
close to convex: its collision piece is its own hull (one part). Roughness is drawn
from 0.15 up: under that a rock reads as a smooth pebble.
"""

from __future__ import annotations

import numpy as np

from factory.assets.generators.mesh import RawMesh
from factory.assets.generators.spec import Param

WAVES = 3  # plane waves per octave

SPEC = {
    "size_x": Param(0.05, 0.30, 0.01, 2.0, doc="bounding-box extent along x, m"),
    "size_y": Param(0.05, 0.30, 0.01, 2.0, doc="bounding-box extent along y, m"),
    "size_z": Param(0.04, 0.25, 0.01, 2.0, doc="bounding-box extent along z, m"),
    "roughness": Param(0.15, 0.35, 0.0, 0.45, doc="largest radial displacement, share of the radius"),
    "octaves": Param(2, 4, 1, 6, integer=True, doc="noise octaves"),
    "subdivisions": Param(3, 3, 1, 3, integer=True, doc="icosphere subdivisions"),
    "seed": Param(0, 2**31 - 1, 0, 2**31 - 1, integer=True, doc="seed of the noise's directions and phases"),
}


def noise(points: np.ndarray, p: dict) -> np.ndarray:
    """The rock's noise (N,) float64 in [-1, 1] at unit directions ``points`` (N, 3)."""
    rng = np.random.default_rng(p["seed"])
    total = np.zeros(len(points))
    weight = 0.0
    for k in range(p["octaves"]):
        dirs = rng.normal(size=(WAVES, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        phase = rng.uniform(0.0, 2 * np.pi, WAVES)
        amp, freq = 0.5**k, 1.5 * 2.0**k
        total += amp * np.sin(freq * points @ dirs.T + phase).sum(1)
        weight += amp * WAVES
    return total / weight


def build(p: dict) -> RawMesh:
    """The rock with params ``p`` (see :data:`SPEC`)."""
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=p["subdivisions"])
    v = np.asarray(sphere.vertices, np.float64)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    v = v * (1.0 + p["roughness"] * noise(v, p))[:, None]
    return RawMesh(v, np.asarray(sphere.faces), None, (p["size_x"], p["size_y"], p["size_z"]))
