"""A Scene as a MuJoCo model (built with ``mujoco.MjSpec``).

* Dynamic objects are free bodies whose frame is the object frame (origin at the
  object's centre, see :class:`factory.scene.types.SceneObject`); MuJoCo's body
  position and orientation are the object's pose. Analytic shapes are MuJoCo
  primitives (an ``ell`` is its two boxes); meshes collide as their convex hull, which
  MuJoCo computes (a torus or a tube fills its hole for contacts; the renderer still
  draws the hole). Mass comes from the scene (density x the shape's volume): each
  geom's density is the object's mass over its volume, so the inertia is the shape's.
* The floor (z = 0), the room's walls and the furniture are static geoms.
* Contacts: friction from the materials (MuJoCo takes the larger of the two);
  restitution through contact softness, ``solref = (TIMECONST, dampratio)`` with the
  damping ratio calibrated on a dropped ball (:func:`damping_ratio`), averaged over
  the two surfaces.
* Integration: RK4 at the largest step of at most :data:`MAX_STEP` that divides a
  physics substep (``1 / (fps * substeps)``) evenly: exact in free fall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from factory.scene.types import Scene

MAX_STEP = 0.002  # seconds: the integrator's largest step
TIMECONST = 0.02  # seconds: contact stiffness (MuJoCo's solref time constant)
WALL_HALF = 0.05  # metres: half-thickness of a wall slab, outside the room

# Restitution (v_out / v_in of a 10 cm ball dropped 0.3-0.9 m, RK4 at 2 ms, TIMECONST
# 0.02) against MuJoCo's contact damping ratio, measured on this version of MuJoCo:
# monotone from 0.134 to 0.731 (below a damping ratio of 0.1 contacts gain energy).
_RATIO = np.array([1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1])
_RESTITUTION = np.array([0.137, 0.183, 0.253, 0.304, 0.370, 0.459, 0.514, 0.581, 0.654, 0.742])
RESTITUTION_RANGE = (float(_RESTITUTION[0]), float(_RESTITUTION[-1]))


def damping_ratio(restitution: float) -> float:
    """MuJoCo's contact damping ratio that bounces with ``restitution`` (clipped to
    :data:`RESTITUTION_RANGE`, the range the calibration covers)."""
    e = float(np.clip(restitution, *RESTITUTION_RANGE))
    return float(np.interp(e, _RESTITUTION, _RATIO))


def quat_wxyz(R: np.ndarray) -> list[float]:
    """MuJoCo's quaternion (w, x, y, z) of a rotation matrix (3, 3)."""
    q = np.zeros(4)
    import mujoco

    mujoco.mju_mat2Quat(q, np.ascontiguousarray(R, np.float64).ravel())
    return q.tolist()


@dataclass
class Built:
    """The compiled model, each object's body id (-1 for static objects), the object
    id of each geom (0 for the floor and walls; geoms are named ``o<id>``, ``floor``,
    ``wall<axis><side>``) and integrator steps per physics substep."""

    model: object
    body_of: list
    geom_owner: np.ndarray
    steps_per_substep: int


def _geoms(body, o, density: float, solref, friction, mujoco, spec, name: str) -> None:
    """The geoms of object ``o`` on ``body`` (world body for static objects)."""
    common = {"density": density, "solref": solref, "friction": [friction, 0.005, 0.0001], "name": f"o{o.id}"}
    R = o.rotation
    at = {} if not o.static else {"pos": list(o.position), "quat": quat_wxyz(R)}
    G = mujoco.mjtGeom
    d = o.dims
    if o.shape == "sphere":
        body.add_geom(type=G.mjGEOM_SPHERE, size=[d[0], 0, 0], **at, **common)
    elif o.shape == "box":
        body.add_geom(type=G.mjGEOM_BOX, size=list(d), **at, **common)
    elif o.shape == "cylinder":
        body.add_geom(type=G.mjGEOM_CYLINDER, size=[d[0], d[2], 0], **at, **common)
    elif o.shape == "capsule":
        body.add_geom(type=G.mjGEOM_CAPSULE, size=[d[0], d[2] - d[0], 0], **at, **common)
    elif o.shape == "ell":
        hx, hy, hz = d
        for j, (size, centre) in enumerate((([hx, hy, hz / 2], [0, 0, -hz / 2]),
                                            ([hx / 2, hy, hz / 2], [-hx / 2, 0, hz / 2]))):
            body.add_geom(type=G.mjGEOM_BOX, size=size, pos=centre, **{**common, "name": f"o{o.id}_{j}"})
    else:
        from factory.scene.assets import mesh_asset

        a = mesh_asset(o.shape)
        spec.add_mesh(name=name, uservert=a.scaled(d).ravel().tolist(), userface=a.faces.ravel().tolist())
        # The convex hull collides, but the mass is the mesh's own (the hull's volume
        # would add the hole of a torus or a tube).
        body.add_geom(type=G.mjGEOM_MESH, meshname=name, mass=o.mass if np.isfinite(o.mass) else 1.0, **at,
                      **{k: v for k, v in common.items() if k != "density"})


def build(scene: Scene) -> Built:
    """The MuJoCo model of ``scene`` (see the module docstring)."""
    import mujoco

    spec = mujoco.MjSpec()
    substep = 1.0 / (scene.fps * scene.substeps)
    steps = max(1, math.ceil(substep / MAX_STEP - 1e-9))
    spec.option.timestep = substep / steps
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_RK4
    world = spec.worldbody
    floor_ref = [TIMECONST, damping_ratio(scene.floor_restitution)]
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 1], solref=floor_ref,
                   friction=[scene.floor_friction, 0.005, 0.0001])
    if scene.room is not None:
        r = scene.room
        for axis, half, other in ((0, r.width / 2, r.depth / 2), (1, r.depth / 2, r.width / 2)):
            for sign in (-1.0, 1.0):
                pos = [0.0, 0.0, r.height / 2]
                pos[axis] = sign * (half + WALL_HALF)
                size = [WALL_HALF, other + 2 * WALL_HALF, r.height / 2] if axis == 0 else \
                    [other + 2 * WALL_HALF, WALL_HALF, r.height / 2]
                world.add_geom(name=f"wall{axis}{int(sign > 0)}", type=mujoco.mjtGeom.mjGEOM_BOX, size=size, pos=pos,
                               solref=floor_ref)
    body_of = []
    for k, o in enumerate(scene.objects):
        density = o.mass / o.volume() if math.isfinite(o.mass) else 1000.0
        solref = [TIMECONST, damping_ratio(o.restitution)]
        if o.static:
            _geoms(world, o, density, solref, o.friction, mujoco, spec, f"mesh{k}")
            body_of.append(-1)
        else:
            R = o.rotation
            body = world.add_body(name=f"object{o.id}", pos=list(o.position), quat=quat_wxyz(R))
            body.add_freejoint()
            _geoms(body, o, density, solref, o.friction, mujoco, spec, f"mesh{k}")
            body_of.append(None)  # its id once compiled
    model = spec.compile()
    ids = iter(range(1, model.nbody))
    body_of = [b if b == -1 else next(ids) for b in body_of]
    names = [model.geom(g).name for g in range(model.ngeom)]
    owners = np.array([int(n[1:].split("_")[0]) if n.startswith("o") else 0 for n in names])
    return Built(model, body_of, owners, steps)
