"""Rigid-body motion of a scene's objects over a clip.

A small, deterministic simulator, enough for plausible clips with exact ground truth:
gravity along -z, semi-implicit Euler at ``fps * substeps`` Hz, bounces on the floor
with restitution and Coulomb friction, walls of a room, static furniture, and
object-object collisions between bounding spheres (exact for spheres, conservative
for the other shapes, so objects never interpenetrate; non-spheres may rest a few
millimetres apart). Objects turn only about world z (``yaw``), which keeps the lowest
point of every shape at a fixed depth below its centre, so floor contact is exact.

All arrays are float64 NumPy; the result is a pure function of the scene.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from factory.scene.types import Scene, rot_z

GRAVITY = 9.81  # m/s^2
REST_SPEED = 0.15  # m/s: slower impacts come to rest instead of bouncing
EVENT_SPEED = 0.05  # m/s: slower contacts are not recorded as collision events


@dataclass
class Motion:
    """Object states at every physics step of a clip.

    S = frames * substeps + 1 states, at times ``k / (fps * substeps)`` seconds.
    """

    times: np.ndarray  # (S,) seconds
    positions: np.ndarray  # (S, N, 3) metres, world, object centres
    yaw: np.ndarray  # (S, N) radians about world z
    velocities: np.ndarray  # (S, N, 3) m/s, world
    spin: np.ndarray  # (S, N) rad/s about world z
    events: list  # collision events, dicts (see simulate)
    base_rotations: np.ndarray  # (N, 3, 3)

    def state_at(self, time: float) -> tuple[np.ndarray, np.ndarray]:
        """Positions (N, 3) and rotations (N, 3, 3) at ``time`` seconds, interpolated
        linearly between physics steps (exact at step times, e.g. every frame)."""
        t = float(np.clip(time, self.times[0], self.times[-1]))
        k = min(int(np.searchsorted(self.times, t, side="right")) - 1, len(self.times) - 2)
        k = max(k, 0)
        w = (t - self.times[k]) / (self.times[k + 1] - self.times[k])
        pos = self.positions[k] * (1 - w) + self.positions[k + 1] * w
        yaw = self.yaw[k] * (1 - w) + self.yaw[k + 1] * w
        rots = np.stack([rot_z(a) @ R0 for a, R0 in zip(yaw, self.base_rotations)]) if len(yaw) else np.zeros((0, 3, 3))
        return pos, rots


def simulate(scene: Scene, stop: Callable[[], None] | None = None) -> Motion:
    """Simulate ``scene.frames`` frames of motion.

    Collision events are dicts ``{"frame", "time", "kind", "a", "b", "speed"}``: kind is
    ``floor``, ``wall``, ``furniture`` or ``object``; ``a``/``b`` are instance ids (b is
    0 for the floor and walls, the furniture's id for furniture); ``speed`` is the
    closing speed along the contact normal in m/s. The frame is the one whose interval
    [frame, frame+1) / fps holds the event.
    """
    objs = scene.objects
    n = len(objs)
    steps = scene.frames * scene.substeps
    dt = 1.0 / (scene.fps * scene.substeps)
    dyn = np.array([not o.static for o in objs], dtype=bool)
    pos = np.array([o.position for o in objs], dtype=np.float64).reshape(n, 3)
    vel = np.array([o.velocity for o in objs], dtype=np.float64).reshape(n, 3)
    vel[~dyn] = 0.0
    yaw = np.array([o.yaw for o in objs], dtype=np.float64)
    spin = np.array([o.spin if not o.static else 0.0 for o in objs], dtype=np.float64)
    radius = np.array([o.bounding_radius for o in objs])
    support = np.array([o.support_depth() for o in objs])
    inv_mass = np.array([0.0 if o.static else 1.0 / o.mass for o in objs])
    rest = np.array([o.restitution for o in objs])
    fric = np.array([o.friction for o in objs])
    ids = [o.id for o in objs]
    # Static boxes as world AABBs (furniture is only ever yawed by multiples of 90 deg).
    statics = [(i, _aabb(objs[i])) for i in range(n) if not dyn[i]]

    S = steps + 1
    out_pos = np.empty((S, n, 3))
    out_vel = np.empty((S, n, 3))
    out_yaw = np.empty((S, n))
    out_spin = np.empty((S, n))
    out_pos[0], out_vel[0], out_yaw[0], out_spin[0] = pos, vel, yaw, spin
    events: list[dict] = []

    def event(step: int, kind: str, a: int, b: int, speed: float) -> None:
        if speed >= EVENT_SPEED:
            events.append(
                {"frame": step // scene.substeps, "time": round(step * dt, 6), "kind": kind,
                 "a": ids[a], "b": b, "speed": round(float(speed), 6)}
            )

    for step in range(1, S):
        if stop is not None:  # raises Stopped when whoever asked no longer wants it
            stop()
        vel[dyn, 2] -= GRAVITY * dt
        pos[dyn] += vel[dyn] * dt
        yaw += spin * dt

        _floor(scene, dt, pos, vel, spin, support, radius, rest, fric, dyn, step, event)
        if scene.room is not None:
            _walls(scene, pos, vel, radius, rest, dyn, step, event)
        for j, (lo, hi) in statics:
            _against_box(j, lo, hi, pos, vel, radius, rest, dyn, step, event, ids)
        _pairs(pos, vel, radius, inv_mass, rest, dyn, step, event, ids)
        # Pushing spheres apart can press one into the floor: the floor wins.
        low = dyn & (pos[:, 2] < support)
        pos[low, 2] = support[low]

        out_pos[step], out_vel[step], out_yaw[step], out_spin[step] = pos, vel, yaw, spin

    base = np.stack([o.base_rotation for o in objs]) if n else np.zeros((0, 3, 3))
    times = np.arange(S) * dt
    return Motion(times, out_pos, out_yaw, out_vel, out_spin, events, base)


def _floor(scene, dt, pos, vel, spin, support, radius, rest, fric, dyn, step, event) -> None:
    """Floor contact, in place: the lowest point of each object stays at z >= 0, a falling
    object bounces by the mean restitution, and one touching the floor loses horizontal
    speed and spin to friction."""
    gap = pos[:, 2] - support
    hit = dyn & (gap < 0)
    for i in np.flatnonzero(hit):
        pos[i, 2] = support[i]
        vz = -vel[i, 2]
        if vz > 0:
            event(step, "floor", i, 0, vz)
            e = 0.5 * (rest[i] + scene.floor_restitution)
            vel[i, 2] = e * vz if vz > REST_SPEED else 0.0
    touching = dyn & (pos[:, 2] - support < 1e-6)
    if touching.any():
        mu = 0.5 * (fric + scene.floor_friction)
        vh = vel[:, :2]
        speed = np.linalg.norm(vh, axis=1)
        dv = np.minimum(speed, mu * GRAVITY * dt)
        scale = np.where(speed > 0, (speed - dv) / np.maximum(speed, 1e-12), 0.0)
        vel[touching, :2] = vh[touching] * scale[touching, None]
        dspin = np.minimum(np.abs(spin), mu * GRAVITY * dt / np.maximum(radius, 1e-3))
        spin[touching] -= (np.sign(spin) * dspin)[touching]


def _aabb(obj) -> tuple[np.ndarray, np.ndarray]:
    """World axis-aligned box (lo, hi) of a static box object."""
    R = rot_z(obj.yaw) @ obj.base_rotation
    half = np.abs(R) @ np.asarray(obj.dims)
    c = np.asarray(obj.position)
    return c - half, c + half


def _walls(scene, pos, vel, radius, rest, dyn, step, event) -> None:
    half = np.array([scene.room.width / 2, scene.room.depth / 2])
    for axis in (0, 1):
        for sign in (-1.0, 1.0):
            over = dyn & (sign * pos[:, axis] + radius > half[axis])
            for i in np.flatnonzero(over):
                pos[i, axis] = sign * (half[axis] - radius[i])
                vn = sign * vel[i, axis]
                if vn > 0:
                    event(step, "wall", i, 0, vn)
                    vel[i, axis] = -sign * rest[i] * vn


def _against_box(j, lo, hi, pos, vel, radius, rest, dyn, step, event, ids) -> None:
    """Push dynamic bounding spheres out of static box ``j`` and reflect their velocity."""
    closest = np.clip(pos, lo, hi)
    d = pos - closest
    dist = np.linalg.norm(d, axis=1)
    for i in np.flatnonzero(dyn & (dist < radius)):
        if dist[i] > 1e-9:
            normal = d[i] / dist[i]
        else:  # centre inside the box: leave through the top
            normal = np.array([0.0, 0.0, 1.0])
            dist[i] = pos[i, 2] - hi[2]
        pos[i] += normal * (radius[i] - dist[i])
        vn = float(vel[i] @ normal)
        if vn < 0:
            event(step, "furniture", i, ids[j], -vn)
            e = rest[i] if -vn > REST_SPEED else 0.0
            vel[i] -= (1 + e) * vn * normal


def _pairs(pos, vel, radius, inv_mass, rest, dyn, step, event, ids) -> None:
    """Resolve overlapping bounding spheres of dynamic objects, in a fixed pair order."""
    idx = np.flatnonzero(dyn)
    if len(idx) < 2:
        return
    p = pos[idx]
    diff = p[:, None, :] - p[None, :, :]
    dist = np.linalg.norm(diff, axis=2)
    r = radius[idx]
    overlap = dist < (r[:, None] + r[None, :])
    ii, jj = np.nonzero(np.triu(overlap, k=1))
    for a, b in zip(idx[ii], idx[jj]):
        d = pos[a] - pos[b]
        dist_ab = float(np.linalg.norm(d))
        depth = radius[a] + radius[b] - dist_ab
        if depth <= 0:
            continue  # an earlier pair already separated them
        normal = d / dist_ab if dist_ab > 1e-9 else np.array([0.0, 0.0, 1.0])
        w = inv_mass[a] + inv_mass[b]
        pos[a] += normal * depth * inv_mass[a] / w
        pos[b] -= normal * depth * inv_mass[b] / w
        vn = float((vel[a] - vel[b]) @ normal)
        if vn < 0:
            event(step, "object", a, ids[b], -vn)
            e = 0.5 * (rest[a] + rest[b]) if -vn > REST_SPEED else 0.0
            j = -(1 + e) * vn / w
            vel[a] += j * inv_mass[a] * normal
            vel[b] -= j * inv_mass[b] * normal
