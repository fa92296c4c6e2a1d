"""Cloth in the MuJoCo model and its simulation (issue 27's first step).

* The model: each :class:`factory.scene.deformables.Cloth` is a MuJoCo flex of
  dimension 2 built by hand on the ``MjSpec`` (what ``<flexcomp type="grid">`` makes):
  a body per vertex with three world-axis slide joints (a pinned vertex's body has
  none, so it holds its rest position), the vertex's lumped mass (its triangles' area x
  density / 3) and the grid's triangles as the flex's elements, in the scene record's
  vertex order. Stretch and bending come from MuJoCo's shell elasticity (``young``,
  ``poisson``, ``thickness``, ``damping``; ``elastic2d`` "both", or "stretch" when the
  cloth does not bend). The flex collides with the floor, walls, furniture and rigid
  objects (not with itself: self-collision is off, a cost the first scenarios do not
  need), within ``radius`` of its surface, with the cloth's friction.
* Integration: MuJoCo 4 integrates flex elasticity only with its ``discrete``
  integrator (it refuses implicit and implicitfast; explicit Euler blew up a 16 x 16
  sheet at 0.5-1 ms), so a scene with cloth steps every integrator step with it, at the
  rigid path's step (at most 2 ms). A rigid-only scene never comes here and keeps its
  RK4 / semi-implicit Euler stepping (:class:`factory.physics.dynamics._Stepper`) and
  its bytes.
* Wind: MuJoCo's own fluid model is off (``density`` 0); each step, every face gets
  quadratic normal drag ``0.5 rho C A (u . n) |u . n| n`` (u the air's velocity minus
  the face's mean vertex velocity, n its unit normal, A its area, from the current
  vertex positions), a third on each corner, through ``xfrc_applied``: a pure function
  of the state and the time, so deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from factory.scene.deformables import Cloth, Wind
from factory.scene.types import Scene

_MIN_INERTIA = 1e-9  # kg m^2: a vertex body's (slide joints only: it never turns)


@dataclass
class ClothModel:
    """A compiled cloth (or soft body, :mod:`factory.physics.softbody`): where its
    vertices are in MuJoCo's arrays."""

    cloth: Cloth  # or a factory.scene.deformables.SoftBody
    flex: int  # the flex id
    bodies: np.ndarray  # (V,) int: each vertex's body id
    dofs: np.ndarray  # (V, 3) int: each vertex's slide dofs (-1: pinned)
    faces: np.ndarray  # (F, 3) int32 (a soft body's: its boundary triangles)

    @property
    def free(self) -> np.ndarray:
        """(V,) bool: vertices that move."""
        return self.dofs[:, 0] >= 0


@dataclass
class ClothRecord:
    """Per cloth (or soft body), the states :func:`factory.physics.dynamics.simulate`
    records (S substeps)."""

    positions: list[np.ndarray] = field(default_factory=list)  # per cloth (S, V, 3) metres, world
    velocities: list[np.ndarray] = field(default_factory=list)  # per cloth (S, V, 3) m/s, world
    contacts: list[np.ndarray] = field(default_factory=list)  # per cloth (S,) int: contact points with objects

    def astuple(self) -> tuple[list, list, list]:
        return self.positions, self.velocities, self.contacts


def use_discrete(spec) -> None:
    """Step ``spec``'s model as a scene with deformables (see the module docstring):
    MuJoCo's discrete integrator and CG solver, its fluid model off."""
    import mujoco

    spec.option.integrator = mujoco.mjtIntegrator.mjINT_DISCRETE
    spec.option.density = 0.0  # wind is ours (ClothStepper), not MuJoCo's fluid model
    # CG, not Newton: a 32 x 32 sheet lying on the floor (1,024 contacts) steps 4x faster
    # (5 vs 21 ms); PGS is refused with flex under the discrete integrator.
    spec.option.solver = mujoco.mjtSolver.mjSOL_CG


def add_vertex_bodies(spec, name: str, rest: np.ndarray, masses: np.ndarray, moving: list[bool]) -> list:
    """A body per vertex of a flex, on the world body: named ``{name}_{v}``, at ``rest``
    (V, 3) metres, of mass ``masses`` (V,) kg, with three world-axis slide joints where
    ``moving`` (V,) (none, so it holds its rest position, where not). Returns the MjsBodies."""
    import mujoco

    bodies = []
    for v in range(len(rest)):
        body = spec.worldbody.add_body(name=f"{name}_{v}", pos=rest[v].tolist())
        body.explicitinertial = True
        body.mass = float(masses[v])
        body.inertia = [_MIN_INERTIA] * 3
        if moving[v]:
            for axis in np.eye(3):
                body.add_joint(type=mujoco.mjtJoint.mjJNT_SLIDE, axis=axis.tolist())
        bodies.append(body)
    return bodies


def add_cloths(spec, scene: Scene) -> list[tuple]:
    """Add ``scene.cloths`` to ``spec`` (see the module docstring); returns per cloth
    (its cloth, its MjsFlex, its vertex MjsBodies, whether each has joints)."""
    import mujoco

    if not scene.cloths:
        return []
    use_discrete(spec)
    made = []
    for c in scene.cloths:
        pinned = set(c.pinned)
        moving = [v not in pinned for v in range(c.vertex_count)]
        bodies = add_vertex_bodies(spec, f"cloth{c.id}", c.rest_vertices(), c.vertex_masses(), moving)
        flex = spec.add_flex()
        flex.name, flex.dim = f"cloth{c.id}", 2
        flex.vertbody = [b.name for b in bodies]
        flex.vert = [0.0] * (3 * c.vertex_count)  # each vertex at its body's origin
        flex.elem = c.faces().ravel().tolist()
        flex.young, flex.poisson, flex.thickness, flex.damping = c.young, c.poisson, c.thickness, c.damping
        flex.elastic2d = 3 if c.bend else 2  # MuJoCo's mjtElastic2D: both | stretch
        flex.radius = c.radius
        flex.friction = [c.friction, 0.005, 0.0001]
        flex.selfcollide = mujoco.mjtFlexSelf.mjFLEXSELF_NONE
        made.append((c, flex, bodies, moving))
    return made


def compiled(model, made: list[tuple]) -> list[ClothModel]:
    """The :class:`ClothModel` of each cloth :func:`add_cloths` made, in ``model``."""
    import mujoco

    out = []
    for c, flex, bodies, moving in made:
        ids = np.array([model.bind(b).id for b in bodies], dtype=np.intp)
        dofs = np.full((len(ids), 3), -1, dtype=np.intp)
        for v, (b, m) in enumerate(zip(ids, moving)):
            if m:
                dofs[v] = model.jnt_dofadr[model.body_jntadr[b]] + np.arange(3)
        out.append(ClothModel(c, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_FLEX, flex.name), ids, dofs, c.faces()))
    return out


def vertex_state(cm: ClothModel, data) -> tuple[np.ndarray, np.ndarray]:
    """Positions (V, 3) metres and velocities (V, 3) m/s, world, of a cloth's vertices."""
    pos = np.array(data.xpos[cm.bodies])
    vel = np.zeros_like(pos)
    free = cm.free
    vel[free] = data.qvel[cm.dofs[free]]
    return pos, vel


def face_drag(pos: np.ndarray, vel: np.ndarray, faces: np.ndarray, air: np.ndarray, wind: Wind) -> np.ndarray:
    """(V, 3) N: the wind's force on each vertex, a third of each face's quadratic normal
    drag ``0.5 rho C A (u . n) |u . n| n`` (see the module docstring)."""
    a, b, c = pos[faces[:, 0]], pos[faces[:, 1]], pos[faces[:, 2]]
    cross = np.cross(b - a, c - a)
    twice = np.linalg.norm(cross, axis=1)
    n = cross / np.maximum(twice, 1e-15)[:, None]
    u = air - (vel[faces[:, 0]] + vel[faces[:, 1]] + vel[faces[:, 2]]) / 3.0
    un = np.sum(u * n, axis=1)
    f = (0.5 * wind.air_density * wind.drag * 0.5 * twice * un * np.abs(un) / 3.0)[:, None] * n
    out = np.zeros_like(pos)
    for k in range(3):
        np.add.at(out, faces[:, k], f)
    return out


class ClothStepper:
    """Integrator steps of a scene with cloth: MuJoCo's ``discrete`` integrator every
    step (set in the model), the wind's drag applied before each from the state then."""

    def __init__(self, model, data, cloths: list[ClothModel], wind: Wind | None):
        import mujoco

        self.model, self.data, self.mj_step = model, data, mujoco.mj_step
        self.cloths, self.wind = cloths, wind
        self.h = float(model.opt.timestep)
        self.steps = 0

    def step(self) -> None:
        data = self.data
        if self.wind is not None:
            air = self.wind.velocity(self.steps * self.h)
            for cm in self.cloths:
                pos, vel = vertex_state(cm, data)
                data.xfrc_applied[cm.bodies, :3] = face_drag(pos, vel, cm.faces, air, self.wind)
        self.mj_step(self.model, data)
        self.steps += 1


def object_contacts(cm: ClothModel, data, owners: np.ndarray) -> int:
    """Contact points now between a cloth (or soft body) and any object's geom (moving or furniture;
    not the floor or walls, whose owner is 0)."""
    if data.ncon == 0:
        return 0
    flex, geom = np.asarray(data.contact.flex), np.asarray(data.contact.geom)
    n = 0
    for side in (0, 1):
        mine = flex[:, side] == cm.flex
        other = geom[mine, 1 - side]
        other = other[other >= 0]
        n += int(np.count_nonzero(owners[other] > 0))
    return n


def record(rec: ClothRecord, cloths: list[ClothModel], data, owners: np.ndarray, step: int, S: int) -> None:
    """Store every cloth's (or soft body's) state at recorded state ``step`` of ``S``."""
    if not rec.positions:
        for cm in cloths:
            V = len(cm.bodies)
            rec.positions.append(np.zeros((S, V, 3)))
            rec.velocities.append(np.zeros((S, V, 3)))
            rec.contacts.append(np.zeros(S, np.int64))
    for k, cm in enumerate(cloths):
        rec.positions[k][step], rec.velocities[k][step] = vertex_state(cm, data)
        rec.contacts[k][step] = object_contacts(cm, data, owners)
