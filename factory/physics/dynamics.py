"""Rigid-body motion of a scene's objects over a clip, simulated by MuJoCo.

Full 6-DoF free bodies: they fall, bounce, slide, roll, tumble, topple and stack,
against the floor, the room's walls, the furniture and each other (the model:
:mod:`factory.physics.model`). States are recorded at every physics substep
(``fps * substeps`` per second); MuJoCo integrates between them at steps of at most
2 ms: with RK4 while nothing touches, which is exact in free flight (a parabola, to
rounding), and with its semi-implicit Euler while any contact is active, at a quarter
of RK4's cost (a 40-object pile is in contact nearly all the time). A body still in
flight while others touch then leaves its parabola by at most g t h / 2 (h the step:
about 4 mm after 0.5 s); the restitution calibration is Euler's
(:func:`factory.physics.model.damping_ratio`). MuJoCo is deterministic for one build
and one input, and the choice of integrator is made from the state, so the motion is a
pure function of the scene.

Recorded states: object centres (world, m); object-to-world rotations as quaternions
(w, x, y, z); linear and angular velocities in the world frame (m/s, rad/s).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from factory.physics.cloth import ClothRecord, ClothStepper, record
from factory.physics.liquid_coupling import liquid_mesh_at
from factory.physics.model import build, quat_wxyz
from factory.physics.softbody import initial_velocities
from factory.scene.types import Scene, quat_to_matrix

EVENT_SPEED = 0.05  # m/s: slower new contacts are not recorded as collision events
# Integrator steps Euler is kept after the last contact: a body resting on the floor
# touches it at most steps, not all (its soft contact settles at zero depth), and
# alternating integrators would leave it bouncing by one step's fall.
EULER_HOLD = 16
IMPACT_WINDOW = 0.05  # s: an event's impulse sums at most this long after it begins


@dataclass
class CollisionEvent:
    """A contact that starts (the two were not touching at the integrator step before)
    while closing at ``EVENT_SPEED`` m/s or more; its fields, in this order, are the keys
    of a sample's ``collisions`` entries (numbers rounded there, see docs/format.md).

    ``impulse`` and ``duration`` grow while the event is open (see :class:`_Contacts`).
    """

    frame: int  # the frame whose interval [frame, frame+1) / fps holds the event
    time: float  # s: the end of the integrator step that found it
    kind: Literal["floor", "wall", "furniture", "object"]  # what b is (object: another moving one)
    a: int  # instance id of a moving object
    b: int  # instance id of the other (0: the floor and walls)
    speed: float  # m/s: closing speed of the two centres along the normal, before that step
    position: list[float]  # (3,) the contact point, world, metres
    normal: list[float]  # (3,) unit contact normal, world (MuJoCo's: from its first geom to its second)
    force: float  # N: the normal force at that step
    impulse: float  # N s: the normal force integrated until the two part or IMPACT_WINDOW s pass
    duration: float  # s: how long that integration ran (a bounce: the contact's length)


@dataclass
class _Open:
    """An event still summing its impulse: when it began, and the last step counted."""

    event: CollisionEvent
    start: float  # s
    last: float  # s: the end of the last step whose force was added (once a step, however many points)


@dataclass
class Motion:
    """Object states at every physics substep of a clip.

    S = frames * substeps + 1 states at times ``k / (fps * substeps)`` seconds; N objects.
    """

    times: np.ndarray  # (S,) seconds
    positions: np.ndarray  # (S, N, 3) metres, world, object centres
    quats: np.ndarray  # (S, N, 4) object-to-world, (w, x, y, z)
    velocities: np.ndarray  # (S, N, 3) m/s, world
    angular: np.ndarray  # (S, N, 3) rad/s, world
    events: list[CollisionEvent]  # in the order they began
    masses: np.ndarray  # (N,) kg (inf for static objects)
    inertia: np.ndarray  # (N, 3) kg m^2, principal moments (0 for static objects)
    inertia_frame: np.ndarray  # (N, 3, 3) principal axes in the object frame (columns)
    centre_of_mass: np.ndarray  # (N, 3) metres, object frame (0 but for meshes like a cone)
    # Per scene cloth (factory.physics.cloth), at the same S substep times; empty without cloth.
    cloth_positions: list[np.ndarray] = field(default_factory=list)  # per cloth (S, V, 3) metres, world
    cloth_velocities: list[np.ndarray] = field(default_factory=list)  # per cloth (S, V, 3) m/s, world
    cloth_contacts: list[np.ndarray] = field(default_factory=list)  # per cloth (S,) int: contact points with objects
    # Per scene soft body (factory.physics.softbody), the same; empty without soft bodies.
    soft_positions: list[np.ndarray] = field(default_factory=list)  # per soft body (S, V, 3) metres, world
    soft_velocities: list[np.ndarray] = field(default_factory=list)  # per soft body (S, V, 3) m/s, world
    soft_contacts: list[np.ndarray] = field(default_factory=list)  # per soft body (S,) int: contact points with objects
    # Per liquid (factory.physics.liquid_coupling): its LiquidRecord and surface per frame (FrameMeshes).
    liquids: list = field(default_factory=list)
    liquid_meshes: list = field(default_factory=list)

    def state_at(self, time: float) -> tuple[np.ndarray, np.ndarray]:
        """Positions (N, 3) and rotations (N, 3, 3) at ``time`` seconds, interpolated
        between substeps (positions linearly, orientations by normalised linear
        quaternion interpolation; exact at substep times, e.g. every frame)."""
        pos, rot = self.states_at([time])
        return pos[0], rot[0]

    def states_at(self, times) -> tuple[np.ndarray, np.ndarray]:
        """Positions (F, N, 3) and rotations (F, N, 3, 3) at ``times`` (F,) seconds, each
        :meth:`state_at`'s. The quaternion sums run over rows of (F * N, 4), the layout
        one time's (N, 4) has, so a pose is the same bits at any F."""
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        F, N = len(times), self.positions.shape[1]
        t = np.clip(times, self.times[0], self.times[-1])
        k = np.maximum(np.minimum(np.searchsorted(self.times, t, side="right") - 1, len(self.times) - 2), 0)
        w = ((t - self.times[k]) / (self.times[k + 1] - self.times[k]))[:, None, None]
        pos = self.positions[k] * (1 - w) + self.positions[k + 1] * w
        q0, q1 = self.quats[k].reshape(-1, 4), self.quats[k + 1].reshape(-1, 4)
        q1 = np.where((np.sum(q0 * q1, axis=-1) < 0)[:, None], -q1, q1)
        w = np.repeat(w[:, 0], N, axis=0)  # (F * N, 1)
        q = q0 * (1 - w) + q1 * w
        q = q / np.linalg.norm(q, axis=-1, keepdims=True).clip(1e-12)
        return pos, quat_to_matrix(q).reshape(F, N, 3, 3) if len(q) else np.zeros((F, N, 3, 3))

    def cloth_at(self, time: float) -> list[np.ndarray]:
        """Per cloth its vertex positions (V, 3) at ``time`` seconds, interpolated
        linearly between substeps like :meth:`state_at` (exact at substep times)."""
        return self._vertices_at(time, self.cloth_positions)

    def soft_at(self, time: float) -> list[np.ndarray]:
        """Per soft body its vertex positions (V, 3) at ``time`` seconds, as :meth:`cloth_at`."""
        return self._vertices_at(time, self.soft_positions)

    def _vertices_at(self, time: float, positions: list[np.ndarray]) -> list[np.ndarray]:
        """Each of ``positions`` (S, V, 3) at ``time`` seconds, linear between substeps."""
        t = float(np.clip(time, self.times[0], self.times[-1]))
        k = int(min(max(np.searchsorted(self.times, t, side="right") - 1, 0), len(self.times) - 2))
        w = (t - self.times[k]) / (self.times[k + 1] - self.times[k])
        return [p[k] * (1 - w) + p[k + 1] * w for p in positions]

    def deformed_at(self, time: float) -> list:
        """Per deforming surface of the scene, what the renderer draws of it at ``time``
        seconds (:mod:`factory.render.deform`): its cloths' and soft bodies' vertex
        positions (V, 3) float64, in order, then per liquid its surface (vertices,
        faces, vertex velocities) of the nearest frame, moved on by its velocities
        to ``time`` (:func:`factory.physics.liquid_coupling.liquid_mesh_at`)."""
        return self.cloth_at(time) + self.soft_at(time) + [liquid_mesh_at(m, time) for m in self.liquid_meshes]


def _initial(scene: Scene, data, built) -> None:
    """Initial velocities: linear (world) and angular (the spin about world z plus the
    object's angular velocity, world), given to MuJoCo in the body frame as its free
    joint wants."""
    model = built.model
    for o, b in zip(scene.objects, built.body_of):
        if b < 0:
            continue
        adr = model.jnt_dofadr[model.body_jntadr[b]]
        R = o.rotation
        data.qvel[adr : adr + 3] = o.velocity
        data.qvel[adr + 3 : adr + 6] = R.T @ (np.array([0.0, 0.0, o.spin]) + np.asarray(o.angular_velocity))
    initial_velocities(built.soft, data.qvel)


class _Contacts:
    """Collision events, found at every integrator step (see :func:`simulate`).

    A pair of owners (instance ids; 0 the floor and walls) that touches now but did not
    at the step before, closing at ``EVENT_SPEED`` or more, opens an event; an open
    event sums its pair's normal force x step into ``impulse`` until the two part or
    ``IMPACT_WINDOW`` seconds have passed."""

    def __init__(self, built, scene: Scene):
        self.built, self.owners = built, built.geom_owner
        self.statics = {o.id for o in scene.objects if o.static}
        self.dof = {
            o.id: built.model.jnt_dofadr[built.model.body_jntadr[b]]
            for o, b in zip(scene.objects, built.body_of)
            if b >= 0
        }
        self.touching: set = set()
        self.open: dict[tuple[int, int], _Open] = {}
        self.events: list[CollisionEvent] = []
        self.force = np.zeros(6)
        self.dt = model_step(built)

    def _velocity(self, qvel: np.ndarray, owner: int) -> np.ndarray:
        """An owner's centre velocity (3,) m/s (0 for the floor, walls and furniture)."""
        adr = self.dof.get(owner)
        return np.zeros(3) if adr is None else qvel[adr : adr + 3]

    def step(self, data, time: float, frame: int, qvel_before: np.ndarray) -> None:
        """Update after an integrator step that ended at ``time`` s in ``frame``;
        ``qvel_before`` is the velocities before it (the closing speed's)."""
        import mujoco

        if data.ncon == 0:
            if self.touching or self.open:
                self.touching, self.open = set(), {}
            return
        geoms = data.contact.geom
        rows = None  # contact indices of the geom-geom contacts, when cloth contacts are left out
        if self.built.cloth or self.built.soft:  # a flex's contact has no geom (-1): counted by factory.physics.cloth
            rows = np.flatnonzero((geoms >= 0).all(axis=1))
            geoms = geoms[rows]
        owners = self.owners[geoms]  # (ncon, 2): the owners of geom1 and geom2
        pairs = owners.copy()
        pairs.sort(axis=1)
        pairs = pairs.tolist()  # per contact [lo, hi]
        now = {(x, y) for x, y in pairs if x != y}
        new_pairs = now - self.touching
        self.touching = now
        if self.open:
            self.open = {p: v for p, v in self.open.items() if p in now and time - v.start < IMPACT_WINDOW}
        if not new_pairs and not self.open:
            return
        model, dt = self.built.model, self.dt
        owners = owners.tolist()
        for j, (x, y) in enumerate(pairs):
            pair, c = (x, y), j if rows is None else int(rows[j])
            if pair in self.open:
                mujoco.mj_contactForce(model, data, c, self.force)
                opened = self.open[pair]
                opened.event.impulse += float(self.force[0]) * dt
                if opened.last != time:  # once a step, however many contact points
                    opened.last, opened.event.duration = time, opened.event.duration + dt
            elif pair in new_pairs:
                new_pairs.discard(pair)  # one event for the pair's first contact point
                self._begin(model, data, c, pair, owners[j][0], owners[j][1], time, frame, qvel_before)

    def _begin(self, model, data, c: int, pair, a: int, b: int, time: float, frame: int, qvel) -> None:
        """Open an event for contact ``c`` between owners ``a`` (geom1's) and ``b``."""
        import mujoco

        con = data.contact[c]
        normal = np.array(con.frame[:3])  # from geom1 towards geom2
        rel = self._velocity(qvel, b) - self._velocity(qvel, a)
        speed = float(-rel @ normal)  # > 0: closing
        if speed < EVENT_SPEED:
            return
        mujoco.mj_contactForce(model, data, c, self.force)
        if pair[0] == 0:
            kind = "floor" if self.built.floor_geom in (con.geom1, con.geom2) else "wall"
        else:
            kind = "furniture" if pair[0] in self.statics or pair[1] in self.statics else "object"
        first, second = (pair[1], pair[0]) if pair[0] == 0 or pair[0] in self.statics else pair
        event = CollisionEvent(
            frame=frame,
            time=time,
            kind=kind,
            a=first,
            b=second,
            speed=speed,
            position=[float(x) for x in con.pos],
            normal=[float(x) for x in normal],
            force=float(self.force[0]),
            impulse=float(self.force[0]) * self.dt,
            duration=self.dt,
        )
        self.events.append(event)
        self.open[pair] = _Open(event, time, time)


def model_step(built) -> float:
    """The integrator's step (s)."""
    return float(built.model.opt.timestep)


class _Stepper:
    """Integrator steps: RK4 while nothing has touched for ``EULER_HOLD`` steps (exact
    in free flight), else MuJoCo's semi-implicit Euler (a quarter of the cost). An RK4
    step that met a contact (MuJoCo finds contacts at a step's start) is taken again
    from the saved state as Euler, so every step a contact acts in is Euler's, as the
    restitution calibration's were. ``quiet``: the steps since a contact last acted.
    The model's integrator is set only when it changes (nothing else sets it)."""

    def __init__(self, model, data):
        import mujoco

        self.model, self.data, self.mj_step = model, data, mujoco.mj_step
        self.get_state, self.set_state = mujoco.mj_getState, mujoco.mj_setState
        self.what = mujoco.mjtState.mjSTATE_INTEGRATION
        self.saved = np.zeros(mujoco.mj_stateSize(model, self.what))
        self.rk4, self.euler = mujoco.mjtIntegrator.mjINT_RK4, mujoco.mjtIntegrator.mjINT_EULER
        self.integrator = model.opt.integrator
        self.quiet = EULER_HOLD + 1

    def _use(self, integrator) -> None:
        if self.integrator != integrator:
            self.model.opt.integrator = self.integrator = integrator

    def step(self) -> None:
        model, data = self.model, self.data
        if self.quiet > EULER_HOLD:
            self.get_state(model, data, self.saved, self.what)
            self._use(self.rk4)
            self.mj_step(model, data)
            if data.ncon == 0:
                self.quiet += 1
                return
            self.set_state(model, data, self.saved, self.what)
        self._use(self.euler)
        self.mj_step(model, data)
        self.quiet = 0 if data.ncon else self.quiet + 1


def _log_warning(text: str) -> None:
    """MuJoCo's warnings to the log, not to stderr and a MUJOCO_LOG.TXT in the working
    folder (its default): the one that matters, a bad acceleration, raises
    :class:`UnstableSimulation` from :func:`simulate`."""
    logging.getLogger(__name__).warning("MuJoCo: %s", text)


@functools.cache
def _route_warnings() -> None:
    import mujoco

    mujoco.set_mju_user_warning(_log_warning)


class UnstableSimulation(ValueError):
    """MuJoCo's simulation of a scene blew up (a NaN, infinite or huge acceleration):
    MuJoCo then resets its state, so the motion after it would be made up. The sampler
    draws the scene again (:func:`factory.sample.scenes.scene_and_motion`)."""


def simulate(scene: Scene, stop: Callable[[], None] | None = None, built=None) -> Motion:
    """Simulate ``scene.frames`` frames of motion (``built``: the model of ``scene``,
    made here when not given).

    The motion's collision events are :class:`CollisionEvent` records, unrounded.
    ``stop``, when given, is called every substep.

    Raises:
        UnstableSimulation: MuJoCo warned of a bad acceleration (and reset its state).
    """
    import mujoco

    _route_warnings()
    objs = scene.objects
    n = len(objs)
    built = build(scene) if built is None else built
    model, data = built.model, mujoco.MjData(built.model)
    _initial(scene, data, built)
    mujoco.mj_forward(model, data)
    S = scene.frames * scene.substeps + 1
    dt = 1.0 / (scene.fps * scene.substeps)
    pos, quat = np.zeros((S, n, 3)), np.zeros((S, n, 4))
    vel, ang = np.zeros((S, n, 3)), np.zeros((S, n, 3))
    for k, o in enumerate(objs):  # static objects keep their pose
        if o.static:
            pos[:, k], quat[:, k] = o.position, quat_wxyz(o.rotation)
    moving = np.array([k for k, b in enumerate(built.body_of) if b >= 0], dtype=np.intp)
    bodies = np.array([built.body_of[k] for k in moving], dtype=np.intp)
    dof = np.array([model.jnt_dofadr[model.body_jntadr[b]] for b in bodies], dtype=np.intp).reshape(-1, 1)
    linear, angular = dof + np.arange(3), dof + 3 + np.arange(3)
    flexes = built.cloth or built.soft
    stepper = _Stepper(model, data) if not flexes else ClothStepper(model, data, built.cloth, scene.wind)
    contacts, cloth, soft = _Contacts(built, scene), ClothRecord(), ClothRecord()
    per_frame = built.steps_per_substep * scene.substeps
    h = model_step(built)
    before = np.empty_like(data.qvel)  # the velocities before each integrator step
    i = 0  # integrator steps taken
    for step in range(S):
        if step:
            if stop is not None:  # raises Stopped when whoever asked no longer wants it
                stop()
            for _ in range(built.steps_per_substep):
                np.copyto(before, data.qvel)
                stepper.step()
                i += 1
                contacts.step(data, i * h, (i - 1) // per_frame, before)
        if len(moving):
            pos[step, moving], quat[step, moving] = data.xpos[bodies], data.xquat[bodies]
            vel[step, moving] = data.qvel[linear]
            ang[step, moving] = np.einsum("nij,nj->ni", data.xmat[bodies].reshape(-1, 3, 3), data.qvel[angular])
        if built.cloth:
            record(cloth, built.cloth, data, built.geom_owner, step, S)
        if built.soft:
            record(soft, built.soft, data, built.geom_owner, step, S)
    bad = data.warning[mujoco.mjtWarning.mjWARN_BADQACC]
    if bad.number:  # MuJoCo reset the state when it happened: what follows is not motion
        raise UnstableSimulation(
            f"MuJoCo's simulation became unstable (bad acceleration at dof {bad.lastinfo}, "
            f"{bad.number} time(s)); the scene is drawn again"
        )
    masses = np.array([model.body_mass[b] if b >= 0 else np.inf for b in built.body_of])
    inertia = np.array([model.body_inertia[b] if b >= 0 else np.zeros(3) for b in built.body_of]).reshape(n, 3)
    frames = np.array(
        [quat_to_matrix(np.asarray(model.body_iquat[b])) if b >= 0 else np.eye(3) for b in built.body_of]
    ).reshape(n, 3, 3)
    com = np.array([model.body_ipos[b] if b >= 0 else np.zeros(3) for b in built.body_of]).reshape(n, 3)
    motion = Motion(
        np.arange(S) * dt, pos, quat, vel, ang, contacts.events, masses, inertia, frames, com, *cloth.astuple()
    )
    motion.soft_positions, motion.soft_velocities, motion.soft_contacts = soft.astuple()
    return motion
