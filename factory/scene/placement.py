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
    hx, hy, hz = piece.dims
    gap_x = room.width / 2 - (abs(px) + hx)  # the piece stands against the nearer wall
    gap_y = room.depth / 2 - (abs(py) + hy)
    if gap_x <= gap_y:  # against a wall at x = -+width/2: the room is towards -sign(x)
        normal, half_along, half_across = np.array([-math.copysign(1.0, px), 0.0]), hy, hx
    else:
        normal, half_along, half_across = np.array([0.0, -math.copysign(1.0, py)]), hx, hy
    tangent = np.array([-normal[1], normal[0]])
    r = min(obj.bounding_radius, 0.9 * half_along)
    xy = np.array([px, py]) + tangent * (2 * along - 1) * (half_along - r) + normal * (0.2 + 0.6 * across) * half_across
    position = scatter(obj, float(xy[0]), float(xy[1]), drop, placed, ground=pz + hz + ON_TOP_GAP)
    turn = (heading / (2 * math.pi) - 0.5) * math.radians(60.0)
    c, s = math.cos(turn), math.sin(turn)
    push = speed * np.array([c * normal[0] - s * normal[1], s * normal[0] + c * normal[1]])
    return replace(obj, position=position, velocity=(float(push[0]), float(push[1]), obj.velocity[2]))


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
