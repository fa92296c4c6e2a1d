"""Liquids in a scene, as pure data: a particle liquid and the rigid shapes it meets.

A :class:`Liquid` starts as the axis-aligned box ``block`` (metres, world) filled with
particles on a cubic lattice of ``spacing``: particle centres at ``lo + spacing * (i +
1/2)`` along each axis, ``n = round((hi - lo) / spacing)`` per axis, so the particles
tile the block exactly and each stands for a cube of ``spacing**3`` of liquid. Each
particle's mass is ``density * spacing**3`` kg, fixed for the clip (no particle is ever
made or destroyed). The physics (:mod:`factory.physics.liquid`) moves them by
position-based fluids.

The liquid meets rigid geometry through :class:`Collider` primitives (oriented boxes,
spheres, capsules), the floor plane z = 0 and an optional axis-aligned ``bounds`` box
(room walls, a tank's outside) that keeps every particle in. Coupling is **one-way**: a
collider's pose over time is given (the rigid simulation's, or a test's), it pushes the
liquid out of itself, and the liquid never pushes it back (no force or torque reaches a
rigid body). :func:`open_box` and :func:`ramp` make containers and slopes from boxes.

Nothing here draws random numbers: whoever builds a liquid (a test, later the scene
sampler) draws its parameters from its own stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from factory.scene.types import Material

COLLIDER_KINDS = ("box", "sphere", "capsule", "cylinder")  # in the kernels' code order


def _vec3(name: str, owner: str, value) -> np.ndarray:
    a = np.asarray(value, np.float64)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{owner}: {name} = {value!r}; must be 3 finite numbers")
    return a


@dataclass(frozen=True)
class Liquid:
    """A particle liquid (see the module docstring for its lattice and masses)."""

    id: int  # instance id (shares the objects' id space; 0 is the floor and walls)
    block: tuple[tuple[float, float, float], tuple[float, float, float]]  # metres, world: (min, max) corner
    spacing: float = 0.03  # metres: the lattice spacing, [0.005, 0.2]
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)  # m/s, world: every particle's at the start
    density: float = 1000.0  # kg/m^3: rest density, (0, 20000]
    # XSPH viscosity coefficient c, dimensionless in [0, 1], given for a 1/240 s step:
    # each substep of dt seconds moves a particle's velocity by c' sum_j spacing^3
    # (v_j - v_i) W_ij towards its neighbours' with c' = min(1, c * 240 dt) (Macklin &
    # Mueller 2013, eq. 17, scaled so that the substep count does not change it); the
    # floor's and bounds' ghost particles count as neighbours at rest (the walls' drag,
    # which keeps lone particles from skating on a frictionless floor). At 0.02 a dam
    # break's surge front follows Martin and Moyce's within 10% (1 cm particles).
    viscosity: float = 0.02
    # Cohesion gamma, m/s^2 in [0, 5]: Akinci et al. 2013's cohesion term (without
    # its curvature term) as an acceleration a_i = -gamma sum_j spacing^3 C(r_ij)
    # r_ij / |r_ij|, C their cohesion spline (1/m^3) of support 2 spacing. It pulls a
    # free blob round (a 16 cm cube in zero g, 2 cm particles, 10 substeps at 12 fps:
    # its farthest particle from 12.1 cm to 10.6 in 1 s at 2, to 10.0 at 5; a sphere's
    # is 8.9). The range stops at 5, the strongest measured stable at those steps
    # (10 flung particles out in an earlier version). 0: no tension.
    surface_tension: float = 0.0
    material: Material | None = None  # its look (the renderer's, later)
    substeps: int = 12  # PBF substeps per frame of its clip (factory.physics.liquid_coupling)
    iterations: int = 4  # PBF iterations per substep

    def __post_init__(self):
        owner = f"liquid {self.id}"
        lo, hi = _vec3("block[0]", owner, self.block[0]), _vec3("block[1]", owner, self.block[1])
        if not np.all(hi > lo):
            raise ValueError(f"{owner}: block = {self.block}; the max corner must exceed the min on every axis")
        if not 0.005 <= self.spacing <= 0.2:
            raise ValueError(f"{owner}: spacing = {self.spacing}; allowed [0.005, 0.2] m")
        _vec3("velocity", owner, self.velocity)
        if not 0 < self.density <= 20000:
            raise ValueError(f"{owner}: density = {self.density}; allowed (0, 20000] kg/m^3")
        if not 0 <= self.viscosity <= 1:
            raise ValueError(f"{owner}: viscosity = {self.viscosity}; allowed [0, 1] (XSPH coefficient)")
        if not 0 <= self.surface_tension <= 5:
            raise ValueError(f"{owner}: surface_tension = {self.surface_tension}; allowed [0, 5] m/s^2 (cohesion)")
        counts = np.round((hi - lo) / self.spacing).astype(int)
        if np.any(counts < 1) or int(np.prod(counts)) > 2_000_000:
            raise ValueError(
                f"{owner}: block / spacing gives {tuple(counts)} particles per axis; each >= 1, total <= 2e6"
            )

    @property
    def counts(self) -> tuple[int, int, int]:
        """Particles along x, y, z."""
        lo, hi = np.asarray(self.block[0], np.float64), np.asarray(self.block[1], np.float64)
        return tuple(int(n) for n in np.round((hi - lo) / self.spacing))

    @property
    def particle_count(self) -> int:
        return int(np.prod(self.counts))

    @property
    def particle_mass(self) -> float:
        """kg: every particle's, ``density * spacing**3``."""
        return self.density * self.spacing**3

    def initial_positions(self) -> np.ndarray:
        """(P, 3) float32 metres, world: the lattice (x fastest, then y, then z)."""
        lo = np.asarray(self.block[0], np.float64)
        nx, ny, nz = self.counts
        z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
        idx = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
        return (lo + self.spacing * (idx + 0.5)).astype(np.float32)


@dataclass(frozen=True)
class Collider:
    """A rigid shape the liquid cannot enter, at a pose (its rest pose; the simulation
    may be given a pose per substep instead). ``size``: a box's half-extents along its
    local axes; a sphere's ``(radius, 0, 0)``; a capsule's ``(radius, half_length, 0)``
    with its core segment along local z (caps beyond); a cylinder's ``(radius,
    half_height, 0)`` along local z (flat ends). World point = ``rotation @ local +
    position``."""

    kind: str  # one of COLLIDER_KINDS
    size: tuple[float, float, float]  # metres (see the class docstring)
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)  # metres, world
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))  # (3, 3) local-to-world

    def __post_init__(self):
        owner = f"collider {self.kind}"
        if self.kind not in COLLIDER_KINDS:
            raise ValueError(f"collider: kind = {self.kind!r}; allowed {COLLIDER_KINDS}")
        s = _vec3("size", owner, self.size)
        need = {"box": s > 0, "sphere": s[:1] > 0, "capsule": s[:2] > 0, "cylinder": s[:2] > 0}[self.kind]
        if not np.all(need):
            raise ValueError(f"{owner}: size = {self.size}; its used entries must be > 0")
        _vec3("position", owner, self.position)
        r = np.asarray(self.rotation, np.float64)
        if r.shape != (3, 3) or not np.allclose(r @ r.T, np.eye(3), atol=1e-6) or np.linalg.det(r) < 0:
            raise ValueError(f"{owner}: rotation must be a (3, 3) proper rotation matrix")


def axis_rotation(axis: str, angle: float) -> np.ndarray:
    """(3, 3) rotation by ``angle`` radians about world ``axis`` (x, y or z)."""
    c, s = math.cos(angle), math.sin(angle)
    i = "xyz".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    r = np.eye(3)
    r[j, j], r[j, k], r[k, j], r[k, k] = c, -s, s, c
    return r


def open_box(
    centre: tuple[float, float, float], inner_size: tuple[float, float, float], wall: float = 0.04, floor: bool = True
) -> list[Collider]:
    """A container open at the top, as box colliders: ``centre`` the inner floor's
    centre (metres, world), ``inner_size`` the inside (x, y, z extent, metres),
    ``wall`` the thickness of its walls and floor (metres; make it > a particle's
    travel per substep, or a fast particle may pass through). A tank (tall), a cup
    (small), a bowl (wide and low) or a tray are all this. ``floor`` False leaves it
    bottomless (standing on the ground plane)."""
    c, (sx, sy, sz) = np.asarray(centre, np.float64), inner_size
    if min(sx, sy, sz) <= 0 or wall <= 0:
        raise ValueError(f"open_box: inner_size = {inner_size}, wall = {wall}; all must be > 0")
    hz = sz / 2
    parts = [
        ((-(sx + wall) / 2, 0, hz), (wall / 2, sy / 2 + wall, hz)),
        (((sx + wall) / 2, 0, hz), (wall / 2, sy / 2 + wall, hz)),
        ((0, -(sy + wall) / 2, hz), (sx / 2, wall / 2, hz)),
        ((0, (sy + wall) / 2, hz), (sx / 2, wall / 2, hz)),
    ]
    if floor:
        parts.append(((0, 0, -wall / 2), (sx / 2 + wall, sy / 2 + wall, wall / 2)))
    return [Collider("box", tuple(h), tuple(c + np.asarray(o))) for o, h in parts]


def ramp(
    start: tuple[float, float, float], length: float, width: float, angle: float, thickness: float = 0.04
) -> Collider:
    """A slope as one box: its top face starts at ``start`` (metres, world: the middle
    of its high edge) and runs ``length`` metres down along +x at ``angle`` radians
    below horizontal, ``width`` metres across (y), ``thickness`` metres thick."""
    if length <= 0 or width <= 0 or thickness <= 0 or not 0 <= angle < math.pi / 2:
        raise ValueError(
            f"ramp: length = {length}, width = {width}, thickness = {thickness} must be > 0"
            f" and angle = {angle} in [0, pi/2)"
        )
    rot = axis_rotation("y", angle)  # local +x tilts down (towards -z) by angle
    top_mid = np.asarray(start, np.float64) + rot @ np.array([length / 2, 0.0, 0.0])
    centre = top_mid - rot @ np.array([0.0, 0.0, thickness / 2])
    return Collider("box", (length / 2, width / 2, thickness / 2), tuple(centre), rot)


def moved(
    colliders: list[Collider],
    rotation: np.ndarray,
    pivot: tuple[float, float, float] = (0.0, 0.0, 0.0),
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray]:
    """The poses of a rigid group of colliders (a cup of :func:`open_box`'s boxes)
    turned by ``rotation`` (3, 3) about ``pivot`` (metres, world) and then shifted by
    ``translation`` (metres): (positions (K, 3), rotations (K, 3, 3)), the form
    :func:`factory.physics.liquid.simulate_liquid`'s ``poses`` takes at one time."""
    r, c = np.asarray(rotation, np.float64), np.asarray(pivot, np.float64)
    pos = np.array([c + r @ (np.asarray(k.position, np.float64) - c) for k in colliders]).reshape(-1, 3)
    rot = np.array([r @ np.asarray(k.rotation, np.float64) for k in colliders]).reshape(-1, 3, 3)
    return pos + np.asarray(translation, np.float64), rot
