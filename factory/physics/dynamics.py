"""Rigid-body motion of a scene's objects over a clip, simulated by MuJoCo.

Full 6-DoF free bodies: they fall, bounce, slide, roll, tumble, topple and stack,
against the floor, the room's walls, the furniture and each other (the model:
:mod:`factory.physics.model`). States are recorded at every physics substep
(``fps * substeps`` per second); MuJoCo integrates between them with RK4 at steps of
at most 2 ms. MuJoCo is deterministic for one build and one input, so the motion is a
pure function of the scene.

Conventions of the recorded states: positions are object centres (world, metres);
orientations are object-to-world rotations, stored as quaternions (w, x, y, z);
linear and angular velocities are in the world frame (m/s, rad/s; MuJoCo's free
joint gives angular velocity in the body frame, turned into the world's here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from factory.physics.model import build, quat_wxyz
from factory.scene.types import Scene, quat_to_matrix

EVENT_SPEED = 0.05  # m/s: slower new contacts are not recorded as collision events


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
    events: list  # collision events, dicts (see simulate)
    masses: np.ndarray  # (N,) kg (inf for static objects)
    inertia: np.ndarray  # (N, 3) kg m^2, principal moments (0 for static objects)
    inertia_frame: np.ndarray  # (N, 3, 3) principal axes in the object frame (columns)

    def state_at(self, time: float) -> tuple[np.ndarray, np.ndarray]:
        """Positions (N, 3) and rotations (N, 3, 3) at ``time`` seconds, interpolated
        between substeps (positions linearly, orientations by normalised linear
        quaternion interpolation; exact at substep times, e.g. every frame)."""
        t = float(np.clip(time, self.times[0], self.times[-1]))
        k = max(min(int(np.searchsorted(self.times, t, side="right")) - 1, len(self.times) - 2), 0)
        w = (t - self.times[k]) / (self.times[k + 1] - self.times[k])
        pos = self.positions[k] * (1 - w) + self.positions[k + 1] * w
        q0, q1 = self.quats[k], self.quats[k + 1]
        q1 = np.where((np.sum(q0 * q1, axis=-1) < 0)[:, None], -q1, q1)
        q = q0 * (1 - w) + q1 * w
        q = q / np.linalg.norm(q, axis=-1, keepdims=True).clip(1e-12)
        return pos, quat_to_matrix(q) if len(q) else np.zeros((0, 3, 3))


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
        data.qvel[adr:adr + 3] = o.velocity
        data.qvel[adr + 3:adr + 6] = R.T @ (np.array([0.0, 0.0, o.spin]) + np.asarray(o.angular_velocity))


def _contacts(built, data, statics: set, prev_vel: np.ndarray, index_of: dict, frame: int, time: float,
              before: set, events: list) -> set:
    """The pairs of owners in contact now; each pair not in contact at the last record
    and closing at ``EVENT_SPEED`` or more becomes an event (see :func:`simulate`)."""
    import mujoco

    model, owners = built.model, built.geom_owner
    if data.ncon == 0:
        return set()
    # Every contact's owners at once; Python only for pairs that were not touching.
    contacts = data.contact
    a_all, b_all = owners[contacts.geom1], owners[contacts.geom2]
    lo, hi = np.minimum(a_all, b_all), np.maximum(a_all, b_all)
    now = {(int(x), int(y)) for x, y in set(zip(lo.tolist(), hi.tolist())) if x != y}
    new_pairs = now - before
    if not new_pairs:
        return now
    force = np.zeros(6)
    seen: set = set()
    for c in range(data.ncon):
        pair = (int(lo[c]), int(hi[c]))
        if pair not in new_pairs or pair in seen:
            continue
        seen.add(pair)
        con = contacts[c]
        a, b = int(a_all[c]), int(b_all[c])
        normal = np.array(con.frame[:3])  # from geom1 towards geom2
        # Closing speed before the contact began to push: the centres' velocities at the
        # previous record (the soft contact has already slowed them by now).
        rel = (prev_vel[index_of[b]] if b else 0.0) - (prev_vel[index_of[a]] if a else 0.0)
        speed = float(-rel @ normal)  # > 0: closing
        if speed < EVENT_SPEED:
            continue
        mujoco.mj_contactForce(model, data, c, force)
        if pair[0] == 0:
            names = (model.geom(con.geom1).name, model.geom(con.geom2).name)
            kind = "floor" if "floor" in names else "wall"
        else:
            kind = "furniture" if pair[0] in statics or pair[1] in statics else "object"
        first, second = (pair[1], pair[0]) if pair[0] == 0 or pair[0] in statics else pair
        events.append({"frame": frame, "time": round(time, 6), "kind": kind, "a": first, "b": second,
                       "speed": round(speed, 6), "position": [round(float(x), 6) for x in con.pos],
                       "normal": [round(float(x), 6) for x in normal], "force": round(float(force[0]), 6)})
    return now


def simulate(scene: Scene, stop: Callable[[], None] | None = None) -> Motion:
    """Simulate ``scene.frames`` frames of motion.

    Collision events are dicts ``{"frame", "time", "kind", "a", "b", "speed",
    "position", "normal", "force"}``: a contact that starts (the two were not touching
    at the previous substep) while closing at ``EVENT_SPEED`` m/s or more. ``kind`` is
    ``floor``, ``wall``, ``furniture`` or ``object``; ``a``/``b`` are instance ids
    (``a`` a moving object; ``b`` 0 for the floor and walls); ``speed`` the closing
    speed along the contact normal (m/s), ``position`` the contact point (world, m),
    ``normal`` the unit contact normal (world), ``force`` the normal force (N) at the
    substep that found it. The frame is the one whose interval [frame, frame+1) / fps
    holds the event. ``stop``, when given, is called every substep.
    """
    import mujoco

    objs = scene.objects
    n = len(objs)
    built = build(scene)
    model, data = built.model, mujoco.MjData(built.model)
    _initial(scene, data, built)
    mujoco.mj_forward(model, data)
    S = scene.frames * scene.substeps + 1
    dt = 1.0 / (scene.fps * scene.substeps)
    pos, quat = np.zeros((S, n, 3)), np.zeros((S, n, 4))
    vel, ang = np.zeros((S, n, 3)), np.zeros((S, n, 3))
    statics = {o.id for o in objs if o.static}
    for k, o in enumerate(objs):  # static objects keep their pose
        if o.static:
            pos[:, k], quat[:, k] = o.position, quat_wxyz(o.rotation)
    moving = np.array([k for k, b in enumerate(built.body_of) if b >= 0], dtype=np.intp)
    bodies = np.array([built.body_of[k] for k in moving], dtype=np.intp)
    dof = np.array([model.jnt_dofadr[model.body_jntadr[b]] for b in bodies], dtype=np.intp).reshape(-1, 1)
    linear, angular = dof + np.arange(3), dof + 3 + np.arange(3)
    index_of = {o.id: k for k, o in enumerate(objs)}
    events: list[dict] = []
    touching: set = set()
    for step in range(S):
        if step:
            if stop is not None:  # raises Stopped when whoever asked no longer wants it
                stop()
            for _ in range(built.steps_per_substep):
                mujoco.mj_step(model, data)
            touching = _contacts(built, data, statics, vel[step - 1], index_of, (step - 1) // scene.substeps,
                                 step * dt, touching, events)
        if len(moving):
            pos[step, moving], quat[step, moving] = data.xpos[bodies], data.xquat[bodies]
            vel[step, moving] = data.qvel[linear]
            ang[step, moving] = np.einsum("nij,nj->ni", data.xmat[bodies].reshape(-1, 3, 3), data.qvel[angular])
    masses = np.array([model.body_mass[b] if b >= 0 else np.inf for b in built.body_of])
    inertia = np.array([model.body_inertia[b] if b >= 0 else np.zeros(3) for b in built.body_of]).reshape(n, 3)
    frames = np.array([quat_to_matrix(np.asarray(model.body_iquat[b])) if b >= 0 else np.eye(3)
                       for b in built.body_of]).reshape(n, 3, 3)
    return Motion(np.arange(S) * dt, pos, quat, vel, ang, events, masses, inertia, frames)
