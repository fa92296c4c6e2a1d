"""Noise-displaced rocks: an icosphere cut by random planes (chipped facets) and pushed
along its radii by smooth noise.

The facets: ``facets`` planes with normals uniform on the sphere at distances
U(0.75, 0.95) from the origin, drawn from ``numpy.random.default_rng(seed + 1)``; each
vertex direction's radius is first cut to the nearest plane along it (the sphere
intersected with the half-spaces: a convex, star-shaped solid with flat faces).

The noise is a sum over ``octaves`` of sinusoidal plane waves in random directions,
each octave twice the frequency and half the amplitude of the one before, its
directions and phases drawn from ``numpy.random.default_rng(seed)``: ``seed`` is a
param, so the noise depends on the params alone. Scaled so that its largest |value|
over the icosphere's vertices is 1 (a sum of random waves seldom nears its bound, so
dividing by the bound left most rocks a few per cent off a sphere): the largest
radial displacement is ``roughness`` times the cut radius, and the radius stays
>= 0.75 * 0.55, so the surface stays star-shaped about
the origin (no self-intersection) and as closed as the icosphere. Then scaled per
axis to (size_x, size_y, size_z). Faces: 20 * 4^subdivisions (1,280 at 3). No uv.

The noise is smooth (its waves are a few per circumference), so a rock is close to
convex: its collision piece is its own hull (one part; the hull's volume is within
~5% of the rock's, and it stands at most ~1% of the size out of the rock's dents). Roughness is drawn from 0.15 up: under that a rock reads as a
smooth pebble.
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
    "facets": Param(4, 12, 0, 32, integer=True, doc="planes that chip flat faces off the sphere"),
    "subdivisions": Param(3, 3, 1, 3, integer=True, doc="icosphere subdivisions"),
    "seed": Param(0, 2**31 - 1, 0, 2**31 - 1, integer=True, doc="seed of the noise's directions and phases"),
}


def noise(points: np.ndarray, p: dict) -> np.ndarray:
    """The rock's noise (N,) float64 at unit directions ``points`` (N, 3), scaled so that
    its largest |value| over them is 1."""
    rng = np.random.default_rng(p["seed"])
    total = np.zeros(len(points))
    for k in range(p["octaves"]):
        dirs = rng.normal(size=(WAVES, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        phase = rng.uniform(0.0, 2 * np.pi, WAVES)
        amp, freq = 0.5**k, 2.0 * 2.0**k
        total += amp * np.sin(freq * points @ dirs.T + phase).sum(1)
    return total / np.abs(total).max()


def cut_radius(points: np.ndarray, p: dict) -> np.ndarray:
    """The radius (N,) float64 in [0.75, 1] along unit directions ``points`` (N, 3) of
    the unit sphere cut by the rock's ``facets`` planes."""
    rng = np.random.default_rng(p["seed"] + 1)
    normals = rng.normal(size=(p["facets"], 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    dist = rng.uniform(0.75, 0.95, p["facets"])
    along = points @ normals.T  # (N, K): how far along each normal a unit step goes
    with np.errstate(divide="ignore"):
        reach = np.where(along > 0, dist / np.where(along > 0, along, 1.0), np.inf)
    return np.minimum(1.0, reach.min(1, initial=np.inf))


def build(p: dict) -> RawMesh:
    """The rock with params ``p`` (see :data:`SPEC`)."""
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=p["subdivisions"])
    v = np.asarray(sphere.vertices, np.float64)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    v = v * (cut_radius(v, p) * (1.0 + p["roughness"] * noise(v, p)))[:, None]
    return RawMesh(v, np.asarray(sphere.faces), None, (p["size_x"], p["size_y"], p["size_z"]))
