"""Draw a concrete :class:`~factory.scene.types.Scene` from a scenario.

Determinism: every draw comes from generators seeded by ``(seed, index, stream)``,
one stream per part of the scene (objects, lights, camera, ...), so adding a draw to
one part never shifts the numbers of another, and nothing depends on global state,
the process or the order in which samples are made.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import replace

import numpy as np

from factory.scene import placement
from factory.scene.config import Config, Scenario
from factory.scene.shapes import shape_kind
from factory.scene.types import Camera, Light, Material, Room, Scene, SceneObject, quat_to_matrix

# Stream ids of the per-sample generators; never renumber (it changes every dataset).
# 0 is retired: scenarios are allocated, not drawn (factory.scene.allocation).
STREAMS = {"scenario": 0, "objects": 1, "lights": 2, "camera": 3, "room": 4, "floor": 5, "render": 6}


def rng_for(seed: int, index: int, stream: str, attempt: int = 0) -> np.random.Generator:
    """The generator for one part of sample ``index`` of a dataset with ``seed``; a
    redrawn scene's ``attempt`` (> 0) gets streams of its own."""
    return np.random.default_rng([seed, index, STREAMS[stream]] + ([attempt] if attempt else []))


def _rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h, s, v))


def _material(color, texture, scale, roughness, specular) -> Material:
    # The pattern's second colour: the same hue, darker, so textures read in every light.
    second = tuple(0.45 * c for c in color)
    return Material(color, second, texture, float(scale), float(roughness), float(specular))


def draw_scene(config: Config, scenario_name: str, index: int, attempt: int = 0) -> Scene:
    """One draw of the scene of sample ``index`` from scenario ``scenario_name``.

    Each part draws from its own stream (:func:`rng_for`); the drawn parameters are
    recorded in ``Scene.params`` in the order they are drawn. ``attempt`` > 0 (a scene
    drawn again, see :func:`factory.sample.scenes.sample_scene`) uses streams of its
    own, so the first draw is the same as it always was."""
    sc: Scenario = config.scenarios[scenario_name]
    seed = config.seed
    params: dict = {}

    def draw(rng, name: str, param):
        value = param.sample(rng)
        params[name] = value
        return value

    room, furniture = _room(sc, rng_for(seed, index, "room", attempt), draw)
    floor, floor_restitution, floor_friction = _floor(sc, rng_for(seed, index, "floor", attempt), draw)
    objects = _objects(sc, room, furniture, rng_for(seed, index, "objects", attempt), draw)
    ambient, sky, lights = _lights(sc, room, rng_for(seed, index, "lights", attempt), draw)
    camera = _camera(config, sc, room, rng_for(seed, index, "camera", attempt), draw)
    r = config.render
    return Scene(
        objects=tuple(objects),
        camera=camera,
        lights=tuple(lights),
        ambient=float(ambient),
        sky_color=(0.55 * sky, 0.7 * sky, 1.0 * sky),
        floor=floor,
        floor_restitution=floor_restitution,
        floor_friction=floor_friction,
        room=room,
        frames=r.frames,
        fps=r.fps,
        substeps=r.substeps,
        params=params,
    )


def _room(sc: Scenario, rng, draw) -> tuple[Room | None, list[SceneObject]]:
    """The room (None: an open floor) and its furniture."""
    if sc.room is None:
        return None, []
    rs = sc.room
    room = Room(
        width=draw(rng, "room.width", rs.width),
        depth=draw(rng, "room.depth", rs.depth),
        height=draw(rng, "room.height", rs.height),
        wall_color=_rgb(
            draw(rng, "room.wall_hue", rs.wall_hue),
            draw(rng, "room.wall_saturation", rs.wall_saturation),
            draw(rng, "room.wall_value", rs.wall_value),
        ),
    )
    return room, (_furniture(sc, room, rng, draw) if sc.furniture is not None else [])


def _floor(sc: Scenario, rng, draw) -> tuple[Material, float, float]:
    """The floor's material, restitution and friction."""
    fs = sc.floor
    color = _rgb(
        draw(rng, "floor.hue", fs.hue), draw(rng, "floor.saturation", fs.saturation), draw(rng, "floor.value", fs.value)
    )
    material = _material(
        color, draw(rng, "floor.texture", fs.texture), draw(rng, "floor.texture_scale", fs.texture_scale), 0.9, 0.05
    )
    return material, float(fs.restitution.sample(rng)), float(fs.friction.sample(rng))


def _objects(sc: Scenario, room: Room | None, furniture: list[SceneObject], rng, draw) -> list[SceneObject]:
    """The furniture followed by the dynamic objects, placed by ``objects.placement``
    (:mod:`factory.scene.placement`; ids in that order, from 1)."""
    objects = list(furniture)
    count = draw(rng, "objects.count", sc.objects.count)
    mode = draw(rng, "objects.placement", sc.objects.placement)
    if mode == "on_furniture" and not furniture:
        mode = "scatter"  # no furniture in this room (none drawn, or none fitted)
    placed = [(np.asarray(o.position), o.bounding_radius) for o in objects if mode != "on_furniture"]
    column: list[SceneObject] = []
    lean = 0.0
    for _ in range(count):
        obj, density, radius_xy, theta, drop = _object(sc, len(objects) + 1, rng)
        x, y = radius_xy * math.cos(theta), radius_xy * math.sin(theta)
        if room is not None:  # keep spawns inside the walls
            x = float(np.clip(x, -room.width / 2 + obj.bounding_radius, room.width / 2 - obj.bounding_radius))
            y = float(np.clip(y, -room.depth / 2 + obj.bounding_radius, room.depth / 2 - obj.bounding_radius))
        speed, heading = math.hypot(*obj.velocity[:2]), math.atan2(obj.velocity[1], obj.velocity[0]) % (2 * math.pi)
        if mode == "stack":
            offset = float(sc.objects.stack_offset.sample(rng)) * obj.dims[0] * float(rng.uniform())
            lean = lean if column else theta  # the foot's spawn angle: the way the column leans
            obj = replace(
                obj, position=placement.stacked(obj, column[-1] if column else None, (x, y), offset, lean, drop)
            )
            column.append(obj)
        elif mode == "on_furniture":
            piece = furniture[int(rng.integers(len(furniture)))]
            obj = placement.on_furniture(
                obj, piece, room, float(rng.uniform()), float(rng.uniform()), speed, heading, drop, placed
            )
        elif mode == "roll":
            x, y, _ = placement.scatter(obj, x, y, 0.0, placed)
            obj = placement.rolling(replace(obj, position=(x, y, 0.0)), speed, heading)
        else:
            obj = replace(obj, position=placement.scatter(obj, x, y, drop, placed))
        placed.append((np.array(obj.position), obj.bounding_radius))
        objects.append(replace(obj, mass=density * obj.volume()))
    return objects


def _object(sc: Scenario, oid: int, rng) -> tuple[SceneObject, float, float, float, float]:
    """One dynamic object at the origin (mass not yet set), its density (kg/m^3), its
    spawn polar coordinates (radius m, angle rad) and its drop height (m)."""
    os_ = sc.objects
    shape = os_.shape.sample(rng)
    size = float(os_.size.sample(rng))
    aspect = float(os_.aspect.sample(rng))
    kind = shape_kind(shape)
    dims = kind.dims_of(size, aspect)
    lying = kind.lies and rng.uniform() < 0.5
    base = placement.LIE.copy() if lying else np.eye(3)
    yaw = float(rng.uniform(0.0, 2.0 * math.pi))
    radius_xy = float(os_.spawn_radius.sample(rng)) * math.sqrt(rng.uniform())
    theta = float(rng.uniform(0.0, 2.0 * math.pi))
    drop = float(os_.drop_height.sample(rng))
    speed = float(os_.speed.sample(rng))
    heading = float(rng.uniform(0.0, 2.0 * math.pi))
    vz = float(os_.vertical_speed.sample(rng))
    spin = float(os_.spin.sample(rng))
    density = float(os_.density.sample(rng))
    color = _rgb(os_.hue.sample(rng), os_.saturation.sample(rng), os_.value.sample(rng))
    material = _material(
        color,
        os_.texture.sample(rng),
        os_.texture_scale.sample(rng),
        os_.roughness.sample(rng),
        os_.specular.sample(rng),
    )
    restitution, friction = float(os_.restitution.sample(rng)), float(os_.friction.sample(rng))
    tumble = float(os_.tumble.sample(rng))
    if tumble > 0 and rng.uniform() < tumble:  # drawn last: scenarios without tumbling keep their stream
        base = _random_rotation(rng)
    angular = (0.0, 0.0, 0.0)
    speed_w = float(os_.angular_speed.sample(rng))
    if speed_w > 0:  # about a uniformly random axis; drawn only when asked for
        axis = rng.normal(size=3)
        angular = tuple(float(x) for x in speed_w * axis / np.linalg.norm(axis))
    obj = SceneObject(
        id=oid,
        shape=shape,
        category=shape,
        dims=dims,
        base_rotation=base,
        position=(0.0, 0.0, 0.0),
        yaw=yaw,
        velocity=(speed * math.cos(heading), speed * math.sin(heading), vz),
        spin=spin,
        mass=1.0,
        restitution=restitution,
        friction=friction,
        material=material,
        angular_velocity=angular,
    )
    return obj, density, radius_xy, theta, drop


def _random_rotation(rng) -> np.ndarray:
    """A uniformly random rotation (3, 3): a normalised Gaussian quaternion."""
    q = rng.normal(size=4)
    return quat_to_matrix(q / np.linalg.norm(q))


def _lights(sc: Scenario, room: Room | None, rng, draw) -> tuple[float, float, list[Light]]:
    """The ambient level, the sky's value and the lights."""
    ls = sc.lighting
    ambient = draw(rng, "lighting.ambient", ls.ambient)
    sky = draw(rng, "lighting.sky_value", ls.sky_value)
    lights = []
    for _ in range(draw(rng, "lighting.count", ls.count)):
        kind = ls.kind.sample(rng)
        intensity = float(ls.intensity.sample(rng))
        el = math.radians(ls.elevation_deg.sample(rng))
        az = math.radians(ls.azimuth_deg.sample(rng))
        dist = float(ls.distance.sample(rng))
        size = float(ls.size.sample(rng))
        direction = (math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el))
        if kind == "point":
            pos = np.array(direction) * dist
            if room is not None:  # inside the room, under the (open) ceiling line
                pos = np.clip(
                    pos,
                    [-room.width / 2 + 0.1, -room.depth / 2 + 0.1, 0.2],
                    [room.width / 2 - 0.1, room.depth / 2 - 0.1, room.height - 0.1],
                )
            lights.append(Light("point", tuple(float(v) for v in pos), intensity, size))
        else:
            lights.append(Light("directional", direction, intensity, size))
    return ambient, sky, lights


def _furniture(sc: Scenario, room: Room, rng, draw) -> list[SceneObject]:
    """Static boxes standing against the walls, not overlapping each other."""
    fs = sc.furniture
    out: list[SceneObject] = []
    count = draw(rng, "furniture.count", fs.count)
    footprints: list[tuple[float, float, float, float]] = []
    for _ in range(count):
        w = min(float(fs.width.sample(rng)), 0.45 * min(room.width, room.depth))
        d = min(float(fs.depth.sample(rng)), 0.3 * min(room.width, room.depth))
        h = min(float(fs.height.sample(rng)), room.height)
        color = _rgb(fs.hue.sample(rng), fs.saturation.sample(rng), fs.value.sample(rng))
        texture = fs.texture.sample(rng)
        wall = int(rng.integers(0, 4))
        along = float(rng.uniform(-0.5, 0.5))
        # Wall 0/1: x = -+width/2 (box depth along x); wall 2/3: y = -+depth/2.
        if wall < 2:
            sign = -1.0 if wall == 0 else 1.0
            hx, hy = d / 2, w / 2
            x = sign * (room.width / 2 - hx - 0.01)
            y = along * (room.depth - w)
        else:
            sign = -1.0 if wall == 2 else 1.0
            hx, hy = w / 2, d / 2
            x = along * (room.width - w)
            y = sign * (room.depth / 2 - hy - 0.01)
        box = (x - hx, x + hx, y - hy, y + hy)
        if any(box[0] < f[1] and f[0] < box[1] and box[2] < f[3] and f[2] < box[3] for f in footprints):
            continue  # would overlap another piece: leave it out (deterministically)
        footprints.append(box)
        out.append(
            SceneObject(
                id=len(out) + 1,
                shape="box",
                category="furniture",
                dims=(hx, hy, h / 2),
                base_rotation=np.eye(3),
                position=(x, y, h / 2),
                yaw=0.0,
                velocity=(0.0, 0.0, 0.0),
                spin=0.0,
                mass=math.inf,
                restitution=0.3,
                friction=0.6,
                material=_material(color, texture, 4.0, 0.7, 0.1),
                static=True,
            )
        )
    return out


def _camera(config: Config, sc: Scenario, room: Room | None, rng, draw) -> Camera:
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
        ce = math.cos(el)
        limits = []
        for half, comp in ((room.width / 2 - 0.15, abs(math.cos(az))), (room.depth / 2 - 0.15, abs(math.sin(az)))):
            if comp * ce > 1e-9:
                limits.append(half / (comp * ce))
        if math.sin(el) > 1e-9:
            limits.append((room.height - 0.1 - target_h) / math.sin(el))
        dist = max(0.3, min([dist, *limits]))
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
    )
