"""The particle liquid's simulation: position-based fluids in Warp, CPU or CUDA.

Why PBF (Macklin & Mueller 2013) and not weakly compressible SPH: PBF is stable at the
substeps the clips can afford (1-4 ms for 1-4 cm particles) because its density
constraint is solved as positions, not as a stiff pressure force; WCSPH at the same
incompressibility needs a step bounded by an artificial speed of sound (the usual
argument, not measured here). Per substep of ``dt = 1 / (fps * substeps)`` seconds:

1. predict ``xp = x + (v + g dt) dt`` and push it out of the colliders, the floor and
   the bounds (:func:`factory.physics.liquid_kernels.collide`);
2. build a ``wp.HashGrid`` of cell ``h = 2 spacing`` (the kernels' support) on ``xp``
   and from it each particle's neighbour list (pairs within 1.1 h, at most 64, in the
   grid's query order: the iterations then walk ~35 neighbours instead of the ~200
   candidates of the grid's 27 cells);
3. ``iterations`` times: lambdas from the one-sided density constraint, one position
   correction, out of the colliders again; walls count as ghost particles
   (``wall_table``) so a particle against a wall or the floor is not short of
   neighbours (without them a column settled 7% low; where two or three walls meet
   their ghosts overlap and count up to 9% too dense, so corners stay slightly
   emptier). No artificial pressure
   (``s_corr``): with a one-sided constraint nothing pulls particles into clumps, and
   measured, it kept a settled column jittering at 5 cm/s mean speed (0.5 without),
   made a free blob swell, and threw a spray of lone particles ahead of a dam break's
   front (30-60% ahead of Martin and Moyce; within 15% without);
4. ``v = (xp - x) / dt`` plus XSPH viscosity (the floor's and bounds' ghosts at rest
   among the neighbours: the walls' drag) and cohesion, on the same lists;
   ``x = xp``.

Colliders (:class:`factory.scene.liquids.Collider`) are one-way: given their pose at
each substep's end, they push particles out to ``spacing / 2`` (a particle's radius)
beyond their surface and feel nothing back. A particle that would leave the floor
(z = 0) or the bounds is projected back in; none is ever made or destroyed, so the
mass is exact. Where a particle is squeezed between a collider and the floor or the
bounds closer than a spacing, the floor and bounds win (it ends inside the collider's
margin). A collider thinner than a particle's travel per substep can be passed
through (make walls >= 2 spacing and keep ``v dt`` below a spacing).

What :class:`LiquidRecord` holds is specified in ``docs/format.md`` ("Liquid state
(draft)"). Determinism: see :mod:`factory.physics.liquid_kernels`; the same inputs
give the same bytes on the CPU in any process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from factory.physics import liquid_kernels as lk
from factory.physics.liquid_kernels import wp
from factory.scene.liquids import COLLIDER_KINDS, Collider, Liquid
from factory.scene.shapes import shape_kind
from factory.scene.types import SceneObject

# (positions (K, 3) metres, rotations (K, 3, 3)) of the colliders at a time in seconds
Poses = Callable[[float], tuple[np.ndarray, np.ndarray]]
_FAR = 1.0e4  # metres: the bounds when none are given (the floor z = 0 always holds)
MAX_NEIGHBOURS = 64  # per particle (an interior lattice particle has 33 within 1.1 h)
REACH = 1.1  # neighbour lists hold pairs within REACH * h, so pairs that close in during the iterations count
XSPH_STEP = 1.0 / 240.0  # s: the step the XSPH coefficient is given for (it scales with dt)


@dataclass
class LiquidRecord:
    """A liquid's recorded states (S of them; see ``docs/format.md``)."""

    positions: np.ndarray  # (S, P, 3) float32 metres, world: particle centres
    velocities: np.ndarray  # (S, P, 3) float32 m/s, world
    times: np.ndarray  # (S,) float64 seconds
    mass: np.ndarray  # (S,) float64 kg: total mass (P x particle_mass; never changes)
    volume: np.ndarray  # (S,) float64 m^3: sum_i spacing^3 * min(1, n0 / n_i)
    density_max: np.ndarray  # (S,) float64 kg/m^3: the densest particle's, density * n_i / n0
    particle_mass: float  # kg: every particle's
    spacing: float  # metres: the lattice spacing (a particle's volume is spacing^3)


def lattice_sums(spacing: float, h: float) -> tuple[float, float]:
    """(n0 1/m^3, S0 1/m^2): an interior lattice particle's number density and the
    squared gradient norm of its density constraint, sum_j |grad W_ij / n0|^2 (its own
    gradient's norm is 0 by symmetry)."""
    m = int(np.ceil(h / spacing))
    g = np.arange(-m, m + 1) * spacing
    r = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    d = np.linalg.norm(r, axis=1)
    w = np.where(d < h, 315.0 / (64.0 * np.pi * h**9) * np.clip(h * h - d * d, 0, None) ** 3, 0.0)
    n0 = float(w.sum())
    inside = (d < h) & (d > 0)
    grad = 45.0 / (np.pi * h**6) * (h - d[inside]) ** 2 / n0
    return n0, float((grad**2).sum())


def wall_table(spacing: float, h: float, count: int = 65) -> np.ndarray:
    """(count,) float32 1/m^3: the number density that a wall's missing neighbours
    would add to a particle at distance s = k h / (count - 1) from it: a half-space of
    ghost particles continuing the lattice (layers at s + spacing (1/2 + k) behind the
    particle, laterally on the lattice), so a particle resting against a wall (s =
    spacing / 2) sees a whole neighbourhood (n0) instead of a deficient one."""
    m = int(np.ceil(h / spacing))
    g = np.arange(-m, m + 1) * spacing
    a, b, k = np.meshgrid(g, g, np.arange(m + 1), indexing="ij")
    out = []
    for s in np.linspace(0.0, h, count):
        r2 = a**2 + b**2 + (s + spacing * (0.5 + k)) ** 2
        out.append((315.0 / (64.0 * np.pi * h**9) * np.clip(h * h - r2, 0, None) ** 3).sum())
    return np.array(out, np.float32)


def cfl_substeps(spacing: float, fps: float, speed: float, courant: float = 0.4) -> int:
    """Substeps a frame so that a particle at ``speed`` m/s moves at most ``courant``
    spacings a substep (PBF's neighbourhoods and the colliders' push-out assume less
    than a spacing). For a fall or a dam break of height H, speed ~ sqrt(2 g H)."""
    if not (spacing > 0 and fps > 0 and speed >= 0 and courant > 0):
        raise ValueError(
            f"cfl_substeps: spacing = {spacing}, fps = {fps}, courant = {courant} must be > 0, speed = {speed} >= 0"
        )
    return max(1, int(np.ceil(speed / (fps * courant * spacing))))


def object_colliders(objects: Sequence[SceneObject]) -> tuple[list[Collider], np.ndarray]:
    """Colliders standing in for rigid objects, for the one-way coupling: an analytic
    kind's own parts (a sphere, box, capsule or cylinder each; an ell its two boxes),
    a mesh kind its object-frame bounding box (the liquid flows around the box, not
    into a bowl-shaped mesh: build containers from :func:`open_box` instead). Each
    collider's pose is in its object's frame; returns them and (K,) int the index in
    ``objects`` of each one's object, for :func:`object_poses`."""
    out, owners = [], []
    for index, obj in enumerate(objects):
        kind = shape_kind(obj.shape)
        if kind.is_mesh:
            v = kind.vertices(obj.dims, mesh=obj.mesh)
            lo, hi = v.min(axis=0), v.max(axis=0)
            parts = [("box", (hi + lo) / 2, (hi - lo) / 2)]
        else:
            parts = [(p.primitive, *map(np.asarray, p.placed(obj.dims))) for p in kind.parts]
        for primitive, centre, half in parts:
            size = {
                "box": tuple(half),
                "sphere": (half[0], 0.0, 0.0),
                "capsule": (half[0], max(half[2] - half[0], 1e-6), 0.0),  # dims (r, r, hz): caps in hz
                "cylinder": (half[0], half[2], 0.0),
            }[primitive]
            out.append(Collider(primitive, size, tuple(float(c) for c in centre)))
            owners.append(index)
    return out, np.array(owners, dtype=int)


def object_poses(
    colliders: Sequence[Collider], owners: np.ndarray, positions: np.ndarray, rotations: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The world poses ((K, 3) metres, (K, 3, 3)) of :func:`object_colliders`' colliders
    when the objects are at ``positions`` (N, 3) and ``rotations`` (N, 3, 3) object-to-
    world: e.g. ``poses=lambda t: object_poses(cs, owners, *motion.state_at(t))``."""
    pos, rot = np.asarray(positions, np.float64)[owners], np.asarray(rotations, np.float64)[owners]
    local = np.array([c.position for c in colliders], np.float64).reshape(-1, 3)
    base = np.array([np.asarray(c.rotation, np.float64) for c in colliders]).reshape(-1, 3, 3)
    return pos + np.einsum("kij,kj->ki", rot, local), rot @ base


def _collider_arrays(colliders: Sequence[Collider], device) -> tuple:
    kinds = wp.array([COLLIDER_KINDS.index(c.kind) for c in colliders], dtype=int, device=device)
    sizes = wp.array(np.array([c.size for c in colliders], np.float32).reshape(-1, 3), dtype=wp.vec3, device=device)
    return kinds, sizes


def _poses_at(colliders: Sequence[Collider], poses, step: int, time: float) -> tuple[np.ndarray, np.ndarray]:
    """(K, 3) positions, (K, 3, 3) rotations at substep ``step`` (time seconds)."""
    if poses is None:
        pos = np.array([c.position for c in colliders], np.float64).reshape(-1, 3)
        rot = np.array([np.asarray(c.rotation, np.float64) for c in colliders]).reshape(-1, 3, 3)
        return pos, rot
    if callable(poses):
        pos, rot = poses(time)
    else:
        pos, rot = poses[0][step], poses[1][step]
    pos, rot = np.asarray(pos, np.float64), np.asarray(rot, np.float64)
    if pos.shape != (len(colliders), 3) or rot.shape != (len(colliders), 3, 3):
        raise ValueError(
            f"poses at t = {time}: shapes {pos.shape}, {rot.shape}; want ({len(colliders)}, 3), ({len(colliders)}, 3, 3)"
        )
    return pos, rot


def _check(frames: int, fps: float, substeps: int, iterations: int, record: str):
    for name, value, low in (("frames", frames, 1), ("substeps", substeps, 1), ("iterations", iterations, 1)):
        if int(value) != value or value < low:
            raise ValueError(f"simulate_liquid: {name} = {value}; must be an integer >= {low}")
    if not fps > 0:
        raise ValueError(f"simulate_liquid: fps = {fps}; must be > 0")
    if record not in ("frame", "substep"):
        raise ValueError(f"simulate_liquid: record = {record!r}; allowed frame, substep")


class _Solver:
    """The arrays and launches of one liquid's run (see the module docstring)."""

    def __init__(self, liquid: Liquid, colliders: Sequence[Collider], dt: float, device: str, bounds, poses):
        self.liquid, self.colliders, self.poses, self.dt, self.device = liquid, colliders, poses, dt, device
        d = liquid.spacing
        self.h, self.radius = 2.0 * d, 0.5 * d
        self.n0, self.s0 = lattice_sums(d, self.h)
        lo, hi = (np.array(b, np.float64) for b in (bounds or ((-_FAR, -_FAR, 0.0), (_FAR, _FAR, _FAR))))
        lo[2] = max(lo[2], 0.0)
        self.lo, self.hi = wp.vec3(*lo), wp.vec3(*hi)
        self.table = wp.array(wall_table(d, self.h), dtype=float, device=device)
        self.p = p = liquid.particle_count
        self.kinds, self.sizes = _collider_arrays(colliders, device)
        self.x = wp.array(liquid.initial_positions(), dtype=wp.vec3, device=device)
        v0 = np.tile(np.asarray(liquid.velocity, np.float32), (p, 1))
        self.v = wp.array(v0, dtype=wp.vec3, device=device)
        self.xp, self.xq = wp.empty_like(self.x), wp.empty_like(self.x)
        self.lam, self.n = (wp.zeros(p, dtype=float, device=device) for _ in range(2))
        dim = 64 if p <= 32768 else 128
        self.grid = wp.HashGrid(dim, dim, dim, device=device)
        self.nbr = wp.zeros((p, MAX_NEIGHBOURS), dtype=int, device=device)
        self.count = wp.zeros(p, dtype=int, device=device)

    def find(self, x):
        """Neighbour lists (self.nbr, self.count) at positions x (hash grid, then lists)."""
        self.grid.build(points=x, radius=self.h)
        self.launch(lk.neighbours, (self.grid.id, x, REACH * self.h), [self.nbr, self.count])

    def shape(self, step: int) -> tuple:
        """The colliders, bounds and wall table at substep ``step``'s end, as kernel arguments."""
        pos, rot = _poses_at(self.colliders, self.poses, step, step * self.dt)
        return (
            self.kinds,
            self.sizes,
            wp.array(pos.astype(np.float32), dtype=wp.vec3, device=self.device),
            wp.array(rot.astype(np.float32), dtype=wp.mat33, device=self.device),
            self.lo,
            self.hi,
            self.radius,
            self.table,
        )

    def launch(self, kernel, inputs: tuple, outputs: list):
        wp.launch(kernel, self.p, inputs, outputs, device=self.device)

    def start(self):
        """The lattice pushed out of anything it overlaps (velocity kept), and its densities."""
        shape = self.shape(0)
        self.launch(lk.predict, (self.x, self.v, wp.vec3(), 0.0, *shape[:-1]), [self.xp])
        wp.copy(self.x, self.xp)
        self.find(self.x)
        args = (self.nbr, self.count, self.x, self.x, self.dt, self.h, 1.0, 0.0, 0.0, *shape)
        self.launch(lk.finish, args, [self.xq, self.n])

    def substep(self, step: int, iterations: int, gravity: float):
        """Advance x, v by one substep to substep ``step``'s end; n its number densities."""
        liquid, h, shape = self.liquid, self.h, self.shape(step)
        self.launch(lk.predict, (self.x, self.v, wp.vec3(0.0, 0.0, -gravity), self.dt, *shape[:-1]), [self.xp])
        self.find(self.xp)
        for _ in range(iterations):
            self.launch(lk.lambdas, (self.nbr, self.count, self.xp, h, self.n0, 0.01 * self.s0, *shape), [self.lam])
            args = (self.nbr, self.count, self.xp, self.lam, h, self.n0, *shape)
            self.launch(lk.correct, args, [self.xq])
            self.xp, self.xq = self.xq, self.xp
        # the same lists: pairs within 1.1 h before the iterations hold every pair
        # within h after them unless two particles closed in by 0.2 spacing meanwhile
        xsph = min(1.0, liquid.viscosity * self.dt / XSPH_STEP)
        args = (self.nbr, self.count, self.x, self.xp, self.dt, h, liquid.spacing**3, xsph, liquid.surface_tension)
        self.launch(lk.finish, (*args, *shape), [self.v, self.n])
        self.x, self.xp = self.xp, self.x

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of (positions (P, 3) float32, velocities (P, 3) float32, n (P,) float64)."""
        return self.x.numpy().copy(), self.v.numpy().copy(), self.n.numpy().astype(np.float64)


def simulate_liquid(
    liquid: Liquid,
    colliders: Sequence[Collider] = (),
    frames: int = 24,
    fps: float = 12.0,
    substeps: int = 20,
    iterations: int = 4,
    device: str = "cpu",
    gravity: float = 9.81,
    stop: Callable[[], None] | None = None,
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None,
    poses: Poses | tuple[np.ndarray, np.ndarray] | None = None,
    record: str = "frame",
) -> LiquidRecord:
    """Simulate ``liquid`` for ``frames`` frames at ``fps``, ``substeps`` substeps a
    frame and ``iterations`` PBF iterations a substep, on ``device`` (a Warp device).

    ``gravity`` m/s^2 along -z. ``bounds``: an axis-aligned (min, max) corner box in
    metres that the particles stay in (with the floor z = 0 always). ``poses``: the
    colliders' poses over time, either a callable ``time -> ((K, 3), (K, 3, 3))`` or
    two arrays (T, K, 3) and (T, K, 3, 3) at substep ends ``t = k / (fps * substeps)``,
    k = 0 .. frames * substeps; None keeps each collider at its own pose. ``stop``, when
    given, is called every substep (it raises to abandon the clip). ``record``: "frame"
    keeps S = frames + 1 states at t = k / fps (so flow to frame t + 1 exists for every
    frame); "substep" keeps all S = frames * substeps + 1."""
    _check(frames, fps, substeps, iterations, record)
    if poses is not None and not colliders:
        raise ValueError("simulate_liquid: poses given for no colliders")
    if poses is not None and not callable(poses) and min(len(poses[0]), len(poses[1])) < frames * substeps + 1:
        raise ValueError(
            f"simulate_liquid: poses hold {min(len(poses[0]), len(poses[1]))} substeps; need frames * substeps + 1"
            f" = {frames * substeps + 1}"
        )
    dt = 1.0 / (fps * substeps)
    solver = _Solver(liquid, colliders, dt, device, bounds, poses)
    solver.start()
    states = [solver.state()]
    for step in range(1, frames * substeps + 1):
        if stop is not None:
            stop()
        solver.substep(step, iterations, gravity)
        if record == "substep" or step % substeps == 0:
            states.append(solver.state())
    x, v, n = (np.stack(a) for a in zip(*states, strict=True))
    d, count = liquid.spacing, len(states)
    return LiquidRecord(
        positions=x.astype(np.float32),
        velocities=v.astype(np.float32),
        times=np.arange(count, dtype=np.float64) * (dt if record == "substep" else 1.0 / fps),
        mass=np.full(count, liquid.particle_count * liquid.particle_mass),
        volume=(d**3 * np.minimum(1.0, solver.n0 / np.maximum(n, 1e-30))).sum(axis=1),
        density_max=n.max(axis=1) * (liquid.density / solver.n0),
        particle_mass=liquid.particle_mass,
        spacing=d,
    )
