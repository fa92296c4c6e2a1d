"""Draw a scenario's cloth sheets and wind (:mod:`factory.scene.deformable_specs`) into
the pure data of :mod:`factory.scene.deformables`, from the sample's own
``deformables`` stream (:func:`factory.scene.sampling.rng_for`), so a scenario
without them draws every other part of its scene as before.

Where a sheet goes (``cloth.placement``): its centre is uniform in a disc of
``spread`` about the origin (inside the walls); ``drape`` moves it over the objects
nearest that spot; a level sheet (``drape``, ``drop``) starts ``lift`` above the
highest object top under its footprint (the floor when none), each further sheet
another sheet's ``lift`` higher; a hung one stands upright with its top edge at
``top``, its local +y up, turned by ``yaw_deg`` (a screen: facing the camera, its
centre ``screen_at`` of the way from the look-at point to the camera, plus the disc).
"""

from __future__ import annotations

import math

import numpy as np

from factory.scene.deformable_specs import ClothSpec, WindSpec
from factory.scene.deformables import Cloth, Wind, edge_vertices
from factory.scene.types import Camera, Room, SceneObject, camera_centre, rot_z

_ROOM_MARGIN = 0.05  # metres a sheet keeps from the walls at rest


def draw_cloths(
    spec: ClothSpec | None, objects: list[SceneObject], room: Room | None, camera: Camera, rng, draw
) -> tuple[Cloth, ...]:
    """The scenario's sheets (none without a ``cloth`` block), ids after ``objects``'
    (``camera``: where a screen stands).
    ``draw(rng, name, param)`` records each drawn parameter (``cloth.<field>``, the
    last sheet's where there are several; the metadata lists every sheet's own)."""
    if spec is None:
        return ()
    count = int(draw(rng, "cloth.count", spec.count))
    first = max((o.id for o in objects), default=0) + 1
    out, level = [], 0.0
    for k in range(count):
        cloth = _cloth(spec, first + k, objects, room, camera, rng, draw, level)
        level = max(level, cloth.position[2])
        out.append(cloth)
    return tuple(out)


def _cloth(spec: ClothSpec, cid: int, objects, room, camera, rng, draw, level: float) -> Cloth:
    """One sheet (see the module docstring); ``level``: the highest sheet so far (m)."""
    placement = draw(rng, "cloth.placement", spec.placement)
    width, length = float(draw(rng, "cloth.width", spec.width)), float(draw(rng, "cloth.length", spec.length))
    res = int(draw(rng, "cloth.resolution", spec.resolution))
    cols = max(2, round(res * width / max(width, length)))
    rows = max(2, round(res * length / max(width, length)))
    yaw = math.radians(float(draw(rng, "cloth.yaw_deg", spec.yaw_deg)))
    r, theta = float(draw(rng, "cloth.spread", spec.spread)) * math.sqrt(rng.uniform()), rng.uniform(0, 2 * math.pi)
    x, y = r * math.cos(theta), r * math.sin(theta)
    if placement == "screen":  # between the look-at point and the camera, facing it
        eye, target = camera_centre(camera, 0.0), np.asarray(camera.target, np.float64)
        share = float(draw(rng, "cloth.screen_at", spec.screen_at))
        x, y = (target[:2] + share * (eye[:2] - target[:2]) + (x, y)).tolist()
        yaw = math.atan2(eye[1] - target[1], eye[0] - target[0]) + math.pi / 2  # local z towards the camera
    if placement in ("hang", "screen"):
        # local x along the yaw, local y up, local z (its front) = x cross y
        c, s = math.cos(yaw), math.sin(yaw)
        rotation = np.array([[c, 0.0, s], [s, 0.0, -c], [0.0, 1.0, 0.0]])
        half = np.array([width / 2 * abs(c), width / 2 * abs(s)])
        top = float(draw(rng, "cloth.top", spec.top))
        x, y = _inside(x, y, half, room)
        position = (x, y, top - length / 2)
        pinned = edge_vertices(rows, cols, str(draw(rng, "cloth.pinned", spec.pinned)))
    else:
        rotation = rot_z(yaw)
        half = np.abs(rotation[:2, :2]) @ np.array([width / 2, length / 2])
        movable = [o for o in objects if not o.static]
        if placement == "drape" and movable:  # over the objects nearest the drawn spot
            near = min(movable, key=lambda o: math.hypot(o.position[0] - x, o.position[1] - y))
            x, y = near.position[0], near.position[1]
        x, y = _inside(x, y, half, room)
        lift = float(draw(rng, "cloth.lift", spec.lift))
        under = [o.position[2] + o.top_height() for o in objects if _overlaps(o, x, y, half)]
        position = (x, y, max([0.0, *under, level]) + lift)
        pinned = edge_vertices(rows, cols, str(draw(rng, "cloth.pinned", spec.pinned)))
    return Cloth(
        id=cid,
        rows=rows,
        cols=cols,
        size=(width, length),
        position=position,
        rotation=rotation,
        pinned=pinned,
        material=spec.draw_material(rng, draw, "cloth."),
        young=float(draw(rng, "cloth.young", spec.young)),
        poisson=float(draw(rng, "cloth.poisson", spec.poisson)),
        thickness=float(draw(rng, "cloth.thickness", spec.thickness)),
        bend=spec.bend,
        damping=float(draw(rng, "cloth.damping", spec.damping)),
        density=float(draw(rng, "cloth.density", spec.density)),
        friction=float(draw(rng, "cloth.friction", spec.friction)),
    )


def _inside(x: float, y: float, half: np.ndarray, room: Room | None) -> tuple[float, float]:
    """(x, y) moved so a footprint of half-extents ``half`` (2,) keeps inside the walls."""
    if room is None:
        return x, y
    lim = np.maximum(np.array([room.width / 2, room.depth / 2]) - half - _ROOM_MARGIN, 0.0)
    return float(np.clip(x, -lim[0], lim[0])), float(np.clip(y, -lim[1], lim[1]))


def _overlaps(o: SceneObject, x: float, y: float, half: np.ndarray) -> bool:
    """Whether object ``o``'s bounding circle meets the footprint box at (x, y)."""
    r = o.bounding_radius
    return abs(o.position[0] - x) <= half[0] + r and abs(o.position[1] - y) <= half[1] + r


def draw_wind(spec: WindSpec | None, rng, draw) -> Wind | None:
    """The scenario's wind (None without a ``wind`` block: still air)."""
    if spec is None:
        return None
    speed = float(draw(rng, "wind.speed", spec.speed))
    heading = math.radians(float(draw(rng, "wind.direction_deg", spec.direction_deg)))
    return Wind(
        mean=(speed * math.cos(heading), speed * math.sin(heading), 0.0),
        gust=float(draw(rng, "wind.gust", spec.gust)),
        period=float(draw(rng, "wind.period", spec.period)),
        phase=float(rng.uniform(0.0, 2 * math.pi)),
        air_density=float(draw(rng, "wind.air_density", spec.air_density)),
        drag=float(draw(rng, "wind.drag", spec.drag)),
    )
