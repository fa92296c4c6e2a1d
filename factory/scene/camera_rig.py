"""A scene's camera, drawn from its scenario's ``camera`` block (the sampler's camera
stream): intrinsics from the field of view, the trajectory's parameters, and the eye
kept above the floor and inside a room's walls."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from factory.scene.config import Config, Scenario
from factory.scene.types import Camera, Room, Scene


def draw_camera(config: Config, sc: Scenario, room: Room | None, rng, draw) -> Camera:
    """The camera of scenario ``sc`` in ``room`` (None: open floor); ``draw(rng, name,
    param)`` samples a parameter and records it in the scene's params."""
    cs = sc.camera
    r = config.render
    fov = math.radians(draw(rng, "camera.fov_deg", cs.fov_deg))
    fx = (r.width / 2) / math.tan(fov / 2)
    K = np.array([[fx, 0.0, r.width / 2], [0.0, fx, r.height / 2], [0.0, 0.0, 1.0]])
    dist = float(draw(rng, "camera.distance", cs.distance))
    el = math.radians(draw(rng, "camera.elevation_deg", cs.elevation_deg))
    az = math.radians(draw(rng, "camera.azimuth_deg", cs.azimuth_deg))
    target_h = float(draw(rng, "camera.target_height", cs.target_height))
    trajectory = draw(rng, "camera.trajectory", cs.trajectory)
    orbit = math.radians(draw(rng, "camera.orbit_speed_deg_s", cs.orbit_speed_deg_s))
    dolly = float(draw(rng, "camera.dolly_speed", cs.dolly_speed))
    jitter_m = float(draw(rng, "camera.jitter_m", cs.jitter_m))
    jitter_rad = math.radians(draw(rng, "camera.jitter_deg", cs.jitter_deg))
    noise = float(draw(rng, "camera.noise_std", cs.noise_std))
    shutter = float(draw(rng, "camera.shutter", cs.shutter))
    phase = rng.uniform(0.0, 2.0 * math.pi, size=(6, 3))
    # Keep the eye above the floor and, in a room, inside the walls.
    min_h = 0.05
    if dist * math.sin(el) + target_h < min_h:
        el = math.asin(max(-1.0, min(1.0, (min_h - target_h) / dist)))
    if room is not None:
        dist = max(0.3, min([dist, *_wall_limits(room, az, el, target_h)]))
    return Camera(
        width=r.width,
        height=r.height,
        K=K,
        trajectory=trajectory,
        target=(0.0, 0.0, target_h),
        distance=dist,
        elevation=el,
        azimuth=az,
        orbit_speed=orbit,
        dolly_speed=dolly,
        jitter_m=jitter_m,
        jitter_rad=jitter_rad,
        jitter_phase=phase,
        noise_std=noise,
        shutter=shutter,
        **_exposure(cs, rng, draw),  # drawn after the pose: the pose's numbers stay
    )


def _exposure(cs, rng, draw) -> dict:
    """The camera's exposure fields (:class:`~factory.scene.types.Camera`), drawn."""
    return {
        "exposure": draw(rng, "camera.exposure", cs.exposure),
        "ev": float(draw(rng, "camera.ev", cs.ev)),
        "tone": draw(rng, "camera.tone", cs.tone),
        "white_balance_k": float(draw(rng, "camera.white_balance_k", cs.white_balance_k)),
    }


def scene_cameras(scene: Scene) -> tuple[Camera, ...]:
    """The K cameras of ``scene``'s rig, camera 0 (``scene.camera``, the reference) first."""
    return (scene.camera, *scene.rig)


def with_camera(scene: Scene, c: int) -> Scene:
    """``scene`` seen through its camera ``c`` alone (camera ``c`` as ``camera``, no rig)."""
    return replace(scene, camera=scene_cameras(scene)[c], rig=())


def _wall_limits(room: Room, az: float, el: float, target_h: float) -> list[float]:
    """The largest distances (metres) from the target at azimuth ``az`` and elevation
    ``el`` (radians) that keep the eye 15 cm inside the walls and 10 cm below the
    room's top."""
    ce = math.cos(el)
    limits = []
    for half, comp in ((room.width / 2 - 0.15, abs(math.cos(az))), (room.depth / 2 - 0.15, abs(math.sin(az)))):
        if comp * ce > 1e-9:
            limits.append(half / (comp * ce))
    if math.sin(el) > 1e-9:
        limits.append((room.height - 0.1 - target_h) / math.sin(el))
    return limits


def ring_offsets(count: int, spread_deg: float) -> list[float]:
    """Azimuth offsets (radians) from camera 0 of a ring of ``count`` cameras over
    ``spread_deg`` degrees: evenly spaced, the last at the spread's end, or, for a full
    circle (360), one step short of it (so no two cameras coincide)."""
    steps = count if spread_deg >= 360.0 else max(count - 1, 1)
    return [math.radians(spread_deg) * c / steps for c in range(count)]


def draw_rig(config: Config, sc: Scenario, room: Room | None, rng, draw, cam: Camera) -> tuple[Camera, tuple]:
    """Camera 0 and the rig's other cameras (a tuple of ``render.cameras - 1``) for
    ``cam``, the scenario's drawn camera; with one camera, ``cam`` and ``()`` without a
    draw (so a one-camera scene's bytes stay as they were). Draws after the camera's
    own from the same stream: ``camera.rig``, then ``camera.baseline`` (stereo) or
    ``camera.ring_spread_deg`` (ring). Stereo: camera c shifted ``c x baseline``
    metres along camera 0's x axis (right), same orientation, trajectory and jitter.
    Ring: camera c at camera 0's azimuth plus :func:`ring_offsets`' c-th, same
    distance, elevation, target and trajectory; in a room the distance is the
    smallest any of the ring's azimuths allows, camera 0's included."""
    K = config.render.cameras
    if K == 1:
        return cam, ()
    rig = draw(rng, "camera.rig", sc.camera.rig)
    if rig == "stereo":
        b = float(draw(rng, "camera.baseline", sc.camera.baseline))
        return cam, tuple(replace(cam, rig_shift=(c * b, 0.0, 0.0)) for c in range(1, K))
    offsets = ring_offsets(K, float(draw(rng, "camera.ring_spread_deg", sc.camera.ring_spread_deg)))
    if room is not None:
        limits = [x for o in offsets for x in _wall_limits(room, cam.azimuth + o, cam.elevation, cam.target[2])]
        cam = replace(cam, distance=max(0.3, min([cam.distance, *limits])))
    return cam, tuple(replace(cam, azimuth=cam.azimuth + o) for o in offsets[1:])
