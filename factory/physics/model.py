"""A Scene as a MuJoCo model (built with ``mujoco.MjSpec``).

* Dynamic objects are free bodies whose frame is the object frame (origin at the
  object's centre, see :class:`factory.scene.types.SceneObject`); MuJoCo's body
  position and orientation are the object's pose. Analytic shapes are their parts in
  :mod:`factory.scene.shapes`, each a MuJoCo primitive (an ``ell`` is two boxes),
  whose inertia MuJoCo computes from the density (the object's mass over its
  volume). Meshes collide as convex hulls: the
  mesh's own, or for a torus or a tube the pieces of a convex decomposition
  (:mod:`factory.scene.decompose`), so a rod can pass through a ring; their mass,
  centre of mass and inertia are the mesh's own (:meth:`MeshAsset.inertia`).
* The floor (z = 0), the room's walls and the furniture are static geoms.
* Contacts: friction from the materials (MuJoCo takes the larger of the two);
  restitution through contact softness, ``solref = (TIMECONST, dampratio)`` with the
  damping ratio calibrated on a dropped ball (:func:`damping_ratio`), averaged over
  the two surfaces.
* Integration: at the largest step of at most :data:`MAX_STEP` that divides a
  physics substep (``1 / (fps * substeps)``) evenly; RK4 while nothing touches,
  semi-implicit Euler while anything does (:mod:`factory.physics.dynamics`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from factory.physics.cloth import ClothModel, add_cloths, compiled
from factory.physics.softbody import add_soft_bodies
from factory.scene.types import Scene

# MuJoCo's geom type of each primitive a shape's parts are made of
# (:class:`factory.scene.shapes.Part`) and its size from the part's half-extents:
# MuJoCo sizes a cylinder by radius and half-length, a capsule by radius and the
# half-length of its core segment.
_PRIMITIVE = {
    "sphere": ("mjGEOM_SPHERE", lambda h: [h[0], 0, 0]),
    "box": ("mjGEOM_BOX", lambda h: list(h)),
    "cylinder": ("mjGEOM_CYLINDER", lambda h: [h[0], h[2], 0]),
    "capsule": ("mjGEOM_CAPSULE", lambda h: [h[0], h[2] - h[0], 0]),
}
MAX_STEP = 0.002  # seconds: the integrator's largest step
TIMECONST = 0.02  # seconds: contact stiffness (MuJoCo's solref time constant)
WALL_HALF = 0.05  # metres: half-thickness of a wall slab, outside the room

# Restitution (v_out / v_in at the floor's level, of a 5 cm ball dropped 0.3-0.9 m)
# against MuJoCo's contact damping ratio (TIMECONST 0.02), measured on this version of
# MuJoCo with contacts integrated by semi-implicit Euler, one row per integrator step in
# _STEPS (benchmarks/calibrate_restitution.py). Above 0.8 the ball does not come back
# up; below 0.12 the bounce turns erratic at 2 ms steps.
_RATIO = np.array([0.8, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.12])
_STEPS = np.array([0.001, 0.0015, 0.002])  # seconds
_RESTITUTION = np.array(
    [
        [0.062, 0.190, 0.254, 0.330, 0.426, 0.486, 0.553, 0.638, 0.689],
        [0.061, 0.184, 0.247, 0.323, 0.419, 0.478, 0.548, 0.632, 0.692],
        [0.054, 0.178, 0.241, 0.316, 0.411, 0.470, 0.538, 0.624, 0.677],
    ]
)
# The same for a scene with cloth, stepped by MuJoCo's discrete integrator and CG solver
# (factory.physics.cloth; calibrate_restitution.py --discrete): it damps a bounce more
# and tops out near 0.36-0.43 (ratio 0.12, left out, bounces no higher than 0.15).
_RESTITUTION_DISCRETE = np.array(
    [
        [0.060, 0.179, 0.234, 0.294, 0.358, 0.390, 0.415, 0.426],
        [0.060, 0.180, 0.234, 0.291, 0.348, 0.374, 0.393, 0.399],
        [0.056, 0.174, 0.225, 0.276, 0.326, 0.344, 0.358, 0.361],
    ]
)


def restitution_range(step: float, discrete: bool = False) -> tuple[float, float]:
    """The restitutions the calibration covers at integrator ``step`` seconds
    (``discrete``: in a scene with cloth)."""
    row = _row(step, discrete)
    return float(row[0]), float(row[-1])


@functools.lru_cache(maxsize=64)
def _row(step: float, discrete: bool = False) -> np.ndarray:
    """The calibration's restitutions at ``step`` (interpolated between measured steps;
    read-only, kept per step: every object of every scene asks for its step's row)."""
    s = float(np.clip(step, _STEPS[0], _STEPS[-1]))
    table = _RESTITUTION_DISCRETE if discrete else _RESTITUTION
    row = np.array([np.interp(s, _STEPS, table[:, j]) for j in range(table.shape[1])])
    row.flags.writeable = False
    return row


def damping_ratio(restitution: float, step: float, discrete: bool = False) -> float:
    """MuJoCo's contact damping ratio that bounces with ``restitution`` when contacts
    are integrated at ``step`` seconds (clipped to :func:`restitution_range`;
    ``discrete``: in a scene with cloth)."""
    row = _row(step, discrete)
    e = float(np.clip(restitution, row[0], row[-1]))
    return float(np.interp(e, row, _RATIO[: len(row)]))


def quat_wxyz(R: np.ndarray) -> list[float]:
    """MuJoCo's quaternion (w, x, y, z) of a rotation matrix (3, 3)."""
    q = np.zeros(4)
    import mujoco

    mujoco.mju_mat2Quat(q, np.ascontiguousarray(R, np.float64).ravel())
    return q.tolist()


@dataclass
class Built:
    """The compiled model and what the simulation needs to read it: ids are the compiled
    model's, taken from the ``MjSpec`` elements as they were made (not from compile
    order), and owners are recorded then (not parsed out of geom names)."""

    model: object  # mujoco.MjModel
    body_of: list[int]  # per object of the scene: its body id, -1 for a static object
    geom_owner: np.ndarray  # (ngeom,) int: per geom id, its object's instance id (0: the floor and walls)
    floor_geom: int  # the floor plane's geom id
    steps_per_substep: int  # integrator steps per physics substep
    cloth: list[ClothModel] = field(default_factory=list)  # per scene cloth (factory.physics.cloth)
    soft: list[ClothModel] = field(default_factory=list)  # per scene soft body (factory.physics.softbody)


def _geoms(body, o, density: float, solref, friction, mujoco, spec, name: str) -> None:
    """The geoms of object ``o`` on ``body`` (world body for static objects)."""
    common = {"density": density, "solref": solref, "friction": [friction, 0.005, 0.0001], "name": f"o{o.id}"}
    R = o.rotation
    at = {} if not o.static else {"pos": list(o.position), "quat": quat_wxyz(R)}
    G = mujoco.mjtGeom
    d = o.dims
    if not o.is_mesh:  # its registry parts, each a MuJoCo primitive
        parts = o.kind.parts
        for j, part in enumerate(parts):
            centre, half = part.placed(d)
            geom_type, size = _PRIMITIVE[part.primitive]
            where = (
                {"pos": centre}
                if not o.static
                else {"pos": (np.asarray(o.position) + R @ centre).tolist(), "quat": quat_wxyz(R)}
            )
            named = common if len(parts) == 1 else {**common, "name": f"o{o.id}_{j}"}
            body.add_geom(type=getattr(G, geom_type), size=size(half), **where, **named)
    else:
        # Each convex piece collides as its hull (one piece, the mesh's own hull, for all
        # but the strongly non-convex kinds); the body's inertia is the mesh's own
        # (:func:`_mesh_inertia`), so the pieces' masses do not count.
        for j, part in enumerate(o.mesh_data.parts):
            spec.add_mesh(name=f"{name}_{j}", uservert=(part * np.asarray(d)).ravel().tolist())
            body.add_geom(
                type=G.mjGEOM_MESH, meshname=f"{name}_{j}", **at, **{**common, "name": f"o{o.id}_{j}", "density": 0.0}
            )


def _mesh_inertia(body, o) -> None:
    """The real mass, centre of mass and inertia of a mesh object's body, from the mesh
    itself (a torus's hull would count its hole)."""
    com, inertia = o.mesh_data.inertia(o.dims, o.mass)
    body.explicitinertial = True
    body.mass = float(o.mass)
    body.ipos = com.tolist()
    body.fullinertia = [inertia[0, 0], inertia[1, 1], inertia[2, 2], inertia[0, 1], inertia[0, 2], inertia[1, 2]]


def integrator_step(scene: Scene) -> float:
    """The integrator's step (s): the largest of at most :data:`MAX_STEP` that divides a
    physics substep evenly."""
    substep = 1.0 / (scene.fps * scene.substeps)
    return substep / steps_per_substep(scene)


def steps_per_substep(scene: Scene) -> int:
    """Integrator steps per physics substep (see :func:`integrator_step`)."""
    return max(1, math.ceil(1.0 / (scene.fps * scene.substeps) / MAX_STEP - 1e-9))


def effective_restitution(restitution: float, scene: Scene) -> float:
    """The restitution a surface bounces with in ``scene``: clipped to what the
    calibration covers at its integrator step (:func:`restitution_range`)."""
    return float(np.clip(restitution, *restitution_range(integrator_step(scene), deformable(scene))))


def build(scene: Scene) -> Built:
    """The MuJoCo model of ``scene`` (see the module docstring)."""
    import mujoco

    spec = mujoco.MjSpec()
    steps = steps_per_substep(scene)
    spec.option.timestep = integrator_step(scene)
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_RK4
    # MuJoCo 4's multi-point convex collisions (on by default) once reported a lying
    # cylinder 22 cm deep in an upright one and shot it a metre up; single-point convex
    # contacts conserve energy over the shipped stacks and piles (tests/unit/test_physics.py).
    spec.option.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_MULTICCD)
    world = spec.worldbody
    floor_ref = [TIMECONST, damping_ratio(scene.floor_restitution, spec.option.timestep, deformable(scene))]
    floor = world.add_geom(
        name="floor",
        type=mujoco.mjtGeom.mjGEOM_PLANE,
        size=[0, 0, 1],
        solref=floor_ref,
        friction=[scene.floor_friction, 0.005, 0.0001],
    )
    if scene.room is not None:
        r = scene.room
        for axis, half, other in ((0, r.width / 2, r.depth / 2), (1, r.depth / 2, r.width / 2)):
            for sign in (-1.0, 1.0):
                pos = [0.0, 0.0, r.height / 2]
                pos[axis] = sign * (half + WALL_HALF)
                size = (
                    [WALL_HALF, other + 2 * WALL_HALF, r.height / 2]
                    if axis == 0
                    else [other + 2 * WALL_HALF, WALL_HALF, r.height / 2]
                )
                world.add_geom(
                    name=f"wall{axis}{int(sign > 0)}",
                    type=mujoco.mjtGeom.mjGEOM_BOX,
                    size=size,
                    pos=pos,
                    solref=floor_ref,
                )
    bodies, owned = [], []  # per object its MjsBody (None: static); (MjsGeom, instance id) of every object geom
    for k, o in enumerate(scene.objects):
        density = o.mass / o.volume() if math.isfinite(o.mass) else 1000.0
        solref = [TIMECONST, damping_ratio(o.restitution, spec.option.timestep, deformable(scene))]
        if o.static:
            parent, body = world, None
        else:
            R = o.rotation
            parent = body = world.add_body(name=f"object{o.id}", pos=list(o.position), quat=quat_wxyz(R))
            body.add_freejoint()
        made = len(parent.geoms)
        _geoms(parent, o, density, solref, o.friction, mujoco, spec, f"mesh{k}")
        owned += [(g, o.id) for g in parent.geoms[made:]]  # a body's geoms are listed in the order made
        if body is not None and o.is_mesh:
            _mesh_inertia(body, o)
        bodies.append(body)
    made = add_cloths(spec, scene)  # nothing, and nothing changed, without cloth
    soft = add_soft_bodies(spec, scene)  # nothing, and nothing changed, without soft bodies
    model = spec.compile()
    owners = np.zeros(model.ngeom, np.int64)
    for geom, owner in owned:
        owners[model.bind(geom).id] = owner
    body_of = [-1 if b is None else int(model.bind(b).id) for b in bodies]
    return Built(
        model,
        body_of,
        owners,
        floor_geom=int(model.bind(floor).id),
        steps_per_substep=steps,
        cloth=compiled(model, made),
        soft=compiled(model, soft),
    )


def deformable(scene: Scene) -> bool:
    """Whether ``scene`` has cloth or soft bodies: it then steps with MuJoCo's discrete
    integrator (:mod:`factory.physics.cloth`), calibrated apart (``discrete``)."""
    return bool(scene.cloths) or bool(scene.soft_bodies)
