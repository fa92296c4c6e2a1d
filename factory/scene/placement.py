"""Where a scene's dynamic objects start, and how they are launched: the
``objects.placement`` modes.

* ``scatter``: dropped over a disc of ``spawn_radius`` about the origin, each raised
  until its bounding sphere clears everything placed before it (the default).
* ``stack``: one column at the first object's spawn point, each object resting on the
  one below (a millimetre apart) and shifted from its centre by up to ``stack_offset``
  times its size (half-width), all the same way: leaning columns fall.
* ``on_furniture``: on top of a random piece of furniture, near the edge that faces
  the room, pushed towards the room at the drawn speed: they slide off and topple.
  A room without furniture falls back to ``scatter``.
* ``roll``: cylinders and capsules lying on their side (other shapes as drawn) on the
  floor, rolling without slipping at the drawn speed, across their axis.

Every function takes the object as :func:`factory.scene.sampling._object` drew it and
returns it placed; extra draws come from ``rng`` only in the modes that need them, so a
scenario that keeps ``scatter`` keeps its random stream.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from factory.scene.types import Room, SceneObject

LIE = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # 90 deg about x: z axis to -y
STACK_GAP = 1e-3  # metres between stacked objects: they settle onto each other at once
ON_TOP_GAP = 1e-3  # metres between an object and the furniture top it starts on


def scatter(
    obj: SceneObject, x: float, y: float, drop: float, placed: list, ground: float = 0.0
) -> tuple[float, float, float]:
    """The start (x, y, z) of a dropped object: its lowest point ``drop`` m above
    ``ground`` (m), raised until its bounding sphere clears each ``(centre, radius)``
    in ``placed``."""
    z = ground + obj.support_depth() + drop
    r = obj.bounding_radius
    for c, rc in placed:
        dxy = math.hypot(x - c[0], y - c[1])
        if dxy < r + rc:
            z = max(z, c[2] + math.sqrt((r + rc) ** 2 - dxy**2) + 1e-3)
    return x, y, z


def stacked(
    obj: SceneObject, below: SceneObject | None, foot_xy, offset: float, lean: float, drop: float
) -> tuple[float, float, float]:
    """The start of an object on top of ``below`` (None: the column's foot, its lowest
    point ``drop`` m up at ``foot_xy``), shifted ``offset`` m from the centre of
    ``below`` towards angle ``lean`` (rad): the column leans one way."""
    if below is None:
        return foot_xy[0], foot_xy[1], obj.support_depth() + drop
    x = below.position[0] + offset * math.cos(lean)
    y = below.position[1] + offset * math.sin(lean)
    z = below.position[2] + below.top_height() + STACK_GAP + obj.support_depth()
    return x, y, z


def on_furniture(
    obj: SceneObject,
    piece: SceneObject,
    room: Room,
    along: float,
    across: float,
    speed: float,
    heading: float,
    drop: float,
    placed: list,
) -> SceneObject:
    """``obj`` on the top of ``piece`` (a static box against a wall): ``along`` in [0, 1]
    along the wall, ``across`` in [0, 1] from the middle of the top to its room-side
    edge; pushed towards the room at ``speed`` m/s, ``heading`` (rad) turning the push
    by up to 30 degrees either way; raised over the objects ``placed`` (see
    :func:`scatter`)."""
    px, py, pz = piece.position
    if piece.is_mesh:
        return _on_mesh_furniture(obj, piece, room, along, across, speed, heading, drop, placed)
    hx, hy, hz = piece.dims
    normal = _room_side(piece, room)
    half_along, half_across = (hy, hx) if normal[0] else (hx, hy)
    tangent = np.array([-normal[1], normal[0]])
    r = min(obj.bounding_radius, 0.9 * half_along)
    xy = np.array([px, py]) + tangent * (2 * along - 1) * (half_along - r) + normal * (0.2 + 0.6 * across) * half_across
    position = scatter(obj, float(xy[0]), float(xy[1]), drop, placed, ground=pz + hz + ON_TOP_GAP)
    return _pushed(obj, position, normal, speed, heading)


def _room_side(piece: SceneObject, room: Room) -> np.ndarray:
    """The horizontal unit normal (2,) from ``piece`` (turned about z only) into the
    room: away from the wall it stands nearer to, measured from its world bounding box."""
    px, py, _ = piece.position
    he = np.abs(piece.rotation) @ np.asarray(piece.half_extents)  # world half-extents
    if room.width / 2 - (abs(px) + he[0]) <= room.depth / 2 - (abs(py) + he[1]):
        return np.array([-math.copysign(1.0, px), 0.0])  # a wall at x = -+width/2
    return np.array([0.0, -math.copysign(1.0, py)])


def _pushed(obj: SceneObject, position, normal: np.ndarray, speed: float, heading: float) -> SceneObject:
    """``obj`` at ``position``, pushed at ``speed`` m/s along the horizontal unit
    ``normal`` (2,) turned by up to 30 degrees either way as ``heading`` (rad) says."""
    turn = (heading / (2 * math.pi) - 0.5) * math.radians(60.0)
    c, s = math.cos(turn), math.sin(turn)
    push = speed * np.array([c * normal[0] - s * normal[1], s * normal[0] + c * normal[1]])
    return replace(obj, position=position, velocity=(float(push[0]), float(push[1]), obj.velocity[2]))


def rest_surfaces(piece: SceneObject) -> list[tuple[float, tuple[float, float, float, float], float]]:
    """The horizontal rectangles objects can rest on of a mesh piece of furniture whose
    asset lists ``tops`` (its unit frame; the piece turned about z by a multiple of 90
    degrees): [(z, (x0, x1, y0, y1), headroom)] in world metres, headroom the height
    (m) up to the lowest surface above that overlaps it (inf: none)."""
    tops = piece.mesh_data.tops
    R, t, d = piece.rotation, np.asarray(piece.position), np.asarray(piece.dims)
    rects = []
    for z, x0, x1, y0, y1 in tops:
        corners = np.array([[x0, y0, z], [x1, y1, z]]) * d @ R.T + t
        lo, hi = corners.min(0), corners.max(0)
        rects.append((float(corners[0, 2]), (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))))
    out = []
    for z, r in rects:
        above = [
            z2 - z
            for z2, r2 in rects
            if z2 > z + 1e-6 and r2[0] < r[1] and r[0] < r2[1] and r2[2] < r[3] and r[2] < r2[3]
        ]
        out.append((z, r, min(above, default=math.inf)))
    return out


def _on_mesh_furniture(
    obj: SceneObject,
    piece: SceneObject,
    room: Room,
    along: float,
    across: float,
    speed: float,
    heading: float,
    drop: float,
    placed: list,
) -> SceneObject:
    """:func:`on_furniture` for a generated piece: on one of its rest surfaces
    (:func:`rest_surfaces`) that the object fits under (its height plus ``drop``, or
    with no drop when only the height fits), the one ``along`` picks among them, at
    ``across`` from its middle to its room-side edge; a piece with none that fits gets
    the object dropped on its highest point."""
    height = obj.support_depth() + obj.top_height()
    surfaces = [s for s in rest_surfaces(piece) if s[2] > height + 2 * ON_TOP_GAP]
    px, py, _ = piece.position
    normal = _room_side(piece, room)
    if not surfaces:
        top = piece.position[2] + piece.top_height() + ON_TOP_GAP
        return _pushed(obj, scatter(obj, px, py, drop, placed, ground=top), normal, speed, heading)
    k = min(int(along * len(surfaces)), len(surfaces) - 1)
    z, (x0, x1, y0, y1), headroom = surfaces[k]
    drop = drop if headroom > height + drop + 2 * ON_TOP_GAP else 0.0
    r = obj.bounding_radius
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = np.array([max(0.0, (x1 - x0) / 2 - r), max(0.0, (y1 - y0) / 2 - r)])
    xy = np.array([cx, cy]) + normal * half * (0.2 + 0.6 * across)
    position = scatter(obj, float(xy[0]), float(xy[1]), drop, placed, ground=z + ON_TOP_GAP)
    return _pushed(obj, position, normal, speed, heading)


def rolling(obj: SceneObject, speed: float, heading: float) -> SceneObject:
    """``obj`` resting on the floor and rolling without slipping at ``speed`` m/s: a
    kind that rolls (``ShapeKind.rolls``: cylinders, capsules) laid on its side and sent
    across its axis (the side of it ``heading`` points to), with angular velocity
    z x v / r (world, rad/s, r the height of the centre)."""
    base = LIE.copy() if obj.kind.rolls else obj.base_rotation
    o = replace(obj, base_rotation=base, spin=0.0)
    axis = o.rotation[:, 2]  # the object's z axis in the world (horizontal when lying)
    across = np.array([-axis[1], axis[0], 0.0])
    if np.linalg.norm(across) < 1e-9:  # upright: any horizontal direction rolls
        across = np.array([1.0, 0.0, 0.0])
    across /= np.linalg.norm(across)
    if across[:2] @ [math.cos(heading), math.sin(heading)] < 0:
        across = -across
    r = o.support_depth()
    v = speed * across
    w = np.cross([0.0, 0.0, 1.0], v) / r
    return replace(
        o,
        position=(o.position[0], o.position[1], r),
        velocity=(float(v[0]), float(v[1]), 0.0),
        angular_velocity=tuple(float(a) for a in w),
    )


def static_box(oid: int, category: str, half: tuple, position: tuple, material, rotation=None) -> SceneObject:
    """A static box (furniture, a vessel's wall): ``half`` its half extents (m),
    ``position`` its centre (m, world), ``rotation`` (3, 3) its turn (None: none); it
    does not move, and bounces and grips as furniture does."""
    return SceneObject(
        id=oid,
        shape="box",
        category=category,
        dims=tuple(float(x) for x in half),
        base_rotation=np.eye(3) if rotation is None else np.asarray(rotation, np.float64),
        position=tuple(float(x) for x in position),
        yaw=0.0,
        velocity=(0.0, 0.0, 0.0),
        spin=0.0,
        mass=math.inf,
        restitution=0.3,
        friction=0.6,
        material=material,
        static=True,
    )
