"""Draw a concrete :class:`~factory.scene.types.Scene` from a scenario.

Determinism: every draw comes from generators seeded by ``(seed, index, stream)``,
one stream per part of the scene (objects, lights, camera, ...), so adding a draw to
one part never shifts the numbers of another, and nothing depends on global state,
the process or the order in which samples are made.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from factory.scene import placement
from factory.scene.backdrop import draw_backdrop
from factory.scene.camera_rig import draw_camera, draw_rig
from factory.scene.colour import kelvin_rgb
from factory.scene.config import Config, Scenario
from factory.scene.deformable_draw import draw_cloths, draw_soft_bodies, draw_wind
from factory.scene.deformable_specs import deformable_classes
from factory.scene.liquid_draw import draw_liquid
from factory.scene.look_specs import AREA_MIN_SIZE
from factory.scene.shapes import ASSET_PREFIXES, CLASSES, shape_kind
from factory.scene.types import (
    AssetSource,
    DrawnAsset,
    DrawnBackdrop,
    Light,
    Material,
    Room,
    Scene,
    SceneObject,
    quat_to_matrix,
)

# Stream ids of the per-sample generators; never renumber (it changes every dataset).
# 0 is retired: scenarios are allocated, not drawn (factory.scene.allocation).
STREAMS = {"scenario": 0, "objects": 1, "lights": 2, "camera": 3, "room": 4, "floor": 5, "render": 6, "backdrop": 7}
STREAMS["tracks"] = 8  # point-track queries (factory.render.tracks); a line of its own keeps the merge small
STREAMS["rig_render"] = 9  # rig camera c >= 1's sensor noise: rng_for(seed, index, "rig_render", c)
STREAMS["deformables"] = 10  # cloth, wind, soft bodies, liquids (factory.scene.deformable_draw, liquid_draw)


def rng_for(seed: int, index: int, stream: str, attempt: int = 0) -> np.random.Generator:
    """The generator for one part of sample ``index`` of a dataset with ``seed``; a
    redrawn scene's ``attempt`` (> 0) gets streams of its own."""
    return np.random.default_rng([seed, index, STREAMS[stream]] + ([attempt] if attempt else []))


def draw_scene(
    config: Config, scenario_name: str, index: int, attempt: int = 0, assets: AssetSource | None = None
) -> Scene:
    """One draw of the scene of sample ``index`` from scenario ``scenario_name``.

    Each part draws from its own stream (:func:`rng_for`); the drawn parameters are
    recorded in ``Scene.params`` in the order they are drawn. ``attempt`` > 0 (a scene
    drawn again, see :func:`factory.sample.scenes.sample_scene`) uses streams of its
    own, so the first draw is the same as it always was. ``gen:`` and ``pack:`` objects
    and furniture come from ``assets`` (the sample layer's catalogue of the config).

    Raises:
        ValueError: the scenario draws a ``gen:`` / ``pack:`` shape and ``assets`` is None.
    """
    sc: Scenario = config.scenarios[scenario_name]
    seed = config.seed
    params: dict = {}
    assets = assets if assets is not None else _NoAssets(config)

    def draw(rng, name: str, param):
        value = param.sample(rng)
        params[name] = value
        return value

    room, furniture = _room(sc, rng_for(seed, index, "room", attempt), draw, assets)
    floor, floor_restitution, floor_friction = _floor(sc, rng_for(seed, index, "floor", attempt), draw)
    objects = _objects(sc, room, furniture, rng_for(seed, index, "objects", attempt), draw, assets)
    ambient, sky, lights = _lights(sc, room, rng_for(seed, index, "lights", attempt), draw)
    backdrop, sun = draw_backdrop(sc.backdrop, rng_for(seed, index, "backdrop", attempt), draw, assets)
    camera_rng = rng_for(seed, index, "camera", attempt)
    camera = draw_camera(config, sc, room, camera_rng, draw)
    camera, rig = draw_rig(config, sc, room, camera_rng, draw, camera)  # render.cameras > 1 only
    deform_rng = rng_for(seed, index, "deformables", attempt)
    cloths = draw_cloths(sc.cloth, objects, room, camera, deform_rng, draw)
    wind = draw_wind(sc.wind, deform_rng, draw)
    soft = draw_soft_bodies(sc.soft, objects, cloths, room, deform_rng, draw)
    first = max([o.id for o in objects] + [d.id for d in cloths + soft], default=0) + 1
    liquids, vessel = draw_liquid(sc.liquid, first, deform_rng, draw)  # the vessel: static boxes
    r = config.render
    return Scene(
        objects=tuple(objects) + tuple(vessel),
        camera=camera,
        lights=tuple(lights) + sun,
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
        classes=assets.classes,
        backdrop=backdrop,
        rig=rig,
        cloths=cloths,
        wind=wind,
        soft_bodies=soft,
        liquids=liquids,
    )


class _NoAssets:
    """The source of a draw handed none: the built-in class table (and the config's
    deformables' classes, as the catalogue adds them), and an error for a ``gen:`` /
    ``pack:`` shape."""

    def __init__(self, config: Config):
        self.classes = CLASSES + tuple(sorted(set(deformable_classes(config)) - set(CLASSES)))

    def draw(self, shape: str, block, rng) -> DrawnAsset:
        raise ValueError(
            f"shape {shape!r} needs the assets catalogue: draw scenes through "
            "factory.sample.scenes.sample_scene (or pass draw_scene(..., assets=Catalog(config)))"
        )

    def backdrop(self, block, rng) -> DrawnBackdrop:
        raise ValueError(
            "an hdri backdrop needs the assets catalogue: draw scenes through "
            "factory.sample.scenes.sample_scene (or pass draw_scene(..., assets=Catalog(config)))"
        )


def _room(sc: Scenario, rng, draw, assets: AssetSource) -> tuple[Room | None, list[SceneObject]]:
    """The room (None: an open floor) and its furniture."""
    if sc.room is None:
        return None, []
    rs = sc.room
    room = Room(
        width=draw(rng, "room.width", rs.width),
        depth=draw(rng, "room.depth", rs.depth),
        height=draw(rng, "room.height", rs.height),
        wall_color=(0.0, 0.0, 0.0),
    )
    walls = rs.walls().draw_material(rng, draw, "room.wall_")
    room = replace(room, wall_color=walls.color, material=walls)
    return room, (_furniture(sc, room, rng, draw, assets) if sc.furniture is not None else [])


def _floor(sc: Scenario, rng, draw) -> tuple[Material, float, float]:
    """The floor's material, restitution and friction."""
    fs = sc.floor
    material = fs.draw_material(rng, draw, "floor.")
    return material, float(fs.restitution.sample(rng)), float(fs.friction.sample(rng))


def _objects(
    sc: Scenario, room: Room | None, furniture: list[SceneObject], rng, draw, assets: AssetSource
) -> list[SceneObject]:
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
        obj, density, radius_xy, theta, drop = _object(sc, len(objects) + 1, rng, assets)
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


def _object(sc: Scenario, oid: int, rng, assets: AssetSource) -> tuple[SceneObject, float, float, float, float]:
    """One dynamic object at the origin (mass not yet set), its density (kg/m^3), its
    spawn polar coordinates (radius m, angle rad) and its drop height (m)."""
    os_ = sc.objects
    shape = os_.shape.sample(rng)
    size = float(os_.size.sample(rng))
    aspect = float(os_.aspect.sample(rng))
    kind = shape_kind(shape)
    dims = kind.dims_of(size, aspect)
    drawn = None
    if shape.startswith(ASSET_PREFIXES):  # its own mesh, at its own size times objects.scale
        drawn = assets.draw(shape, os_, rng)
        s = (size if os_.fit_size else drawn.size) * float(os_.scale.sample(rng))
        dims = (s, s, s)
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
    material = os_.draw_material(rng)
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
        category=shape if drawn is None else drawn.category,
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
        asset=None if drawn is None else drawn.ref,
        mesh=None if drawn is None else drawn.mesh,
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
        kelvin = float(ls.temperature_k.sample(rng))
        colour = kelvin_rgb(kelvin)
        direction = (math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el))
        if kind == "directional":
            lights.append(Light("directional", direction, intensity, size, colour, kelvin))
            continue
        pos = np.array(direction) * dist
        if room is not None:  # inside the room, under the (open) ceiling line
            pos = np.clip(
                pos,
                [-room.width / 2 + 0.1, -room.depth / 2 + 0.1, 0.2],
                [room.width / 2 - 0.1, room.depth / 2 - 0.1, room.height - 0.1],
            )
        size = max(size, AREA_MIN_SIZE) if kind == "area" else size
        lights.append(Light(kind, tuple(float(v) for v in pos), intensity, size, colour, kelvin))
    return ambient, sky, lights


# Which way a generated piece of furniture faces in its own frame (its open or seat side):
# -y, as factory.assets.generators.furniture builds them; turned to face the room.
_FACING_YAW = (math.pi / 2, -math.pi / 2, math.pi, 0.0)  # walls x = -w/2, x = +w/2, y = -d/2, y = +d/2


def _furniture(sc: Scenario, room: Room, rng, draw, assets: AssetSource) -> list[SceneObject]:
    """Static pieces standing against the walls, not overlapping each other: boxes of
    the drawn width, depth and height, or generated pieces of their own size (scaled
    down to fit the room), facing into the room."""
    fs = sc.furniture
    out: list[SceneObject] = []
    count = draw(rng, "furniture.count", fs.count)
    footprints: list[tuple[float, float, float, float]] = []
    for _ in range(count):
        shape = fs.shape.sample(rng)  # a constant (box, by default) draws nothing
        drawn = None
        if shape == "box":
            w = min(float(fs.width.sample(rng)), 0.45 * min(room.width, room.depth))
            d = min(float(fs.depth.sample(rng)), 0.3 * min(room.width, room.depth))
            h = min(float(fs.height.sample(rng)), room.height)
        else:
            drawn = assets.draw(shape, fs, rng)
            w, d, h = 2.0 * np.abs(drawn.mesh.vertices).max(0).astype(np.float64) * drawn.size
            fit = min(1.0, 0.45 * min(room.width, room.depth) / w, 0.3 * min(room.width, room.depth) / d)
            w, d, h = w * fit, d * fit, min(h * fit, room.height)
        material = fs.draw_material(rng)
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
        piece = placement.static_box(len(out) + 1, "furniture", (hx, hy, h / 2), (x, y, h / 2), material)
        if drawn is not None:
            unit = h / 2 / float(np.abs(drawn.mesh.vertices[:, 2]).max())  # metres per unit, after the fit
            piece = replace(
                piece,
                shape=shape,
                category=drawn.category,
                dims=(unit, unit, unit),
                yaw=_FACING_YAW[wall],
                asset=drawn.ref,
                mesh=drawn.mesh,
            )
        out.append(piece)
    return out
