"""A sample's scene as the oracle sees it: rebuilt from the documented format alone
(the metadata and the ``geometry.glb`` member, docs/format.md), never from factory's
scene or renderer.

:func:`oracle_scene` gives an :class:`OracleScene`: the camera (K, world-to-camera per
frame), the room, and per object a :class:`Body` (its kind, dims, per-frame poses, its
box and, for a mesh, the :class:`Mesh` it instances). A mesh object whose mesh the
sample does not carry (a dataset made before the member existed) has no mesh; the
scene says so in ``skipped`` and the oracle leaves its pixels alone.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from factory.trust.oracle.analytic import ANALYTIC

GEOMETRY_MEMBER = "geometry.glb"  # docs/format.md: the sample's meshes, by id


@dataclass
class Mesh:
    """One mesh of ``geometry.glb`` in its unit frame: ``vertices`` (V, 3), ``faces``
    (F, 3) int64, ``normals`` (V, 3) unit vertex normals, float64; ``intersector``
    trimesh's ray caster over it, made on first use."""

    id: str
    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    _intersector: object = None

    @property
    def intersector(self):
        if self._intersector is None:
            self._intersector = _intersector(self.vertices, self.faces)
        return self._intersector


# Built intersectors by the sha256 of the vertices and faces they were built from: the
# same mesh recurs in sample after sample (a built-in kind, a pack asset), and building
# trimesh's tree is most of the oracle's cost at small fractions. Keyed by content, not
# by the member's id, so a mesh changed under the same id is built anew.
_INTERSECTORS: OrderedDict = OrderedDict()
_INTERSECTORS_KEPT = 64
_LOCK = threading.Lock()


def _intersector(vertices: np.ndarray, faces: np.ndarray):
    """trimesh's ray caster over (vertices, faces), from the cache or built."""
    from trimesh import Trimesh
    from trimesh.ray.ray_triangle import RayMeshIntersector

    key = hashlib.sha256(np.ascontiguousarray(vertices).tobytes() + np.ascontiguousarray(faces).tobytes()).digest()
    with _LOCK:
        hit = _INTERSECTORS.get(key)
        if hit is not None:
            _INTERSECTORS.move_to_end(key)
            return hit
    built = RayMeshIntersector(Trimesh(vertices, faces, process=False, validate=False))
    with _LOCK:
        _INTERSECTORS[key] = built
        while len(_INTERSECTORS) > _INTERSECTORS_KEPT:
            _INTERSECTORS.popitem(last=False)
    return built


@dataclass
class Body:
    """One object: ``id`` (its instance id), ``shape``, ``dims`` (3,) m, ``positions``
    (T, 3) m and ``rotations`` (T, 3, 3) object-to-world, ``half_extents`` (3,) m (the
    box of its corners), ``mesh`` and ``scale`` (3,) for a mesh (object frame = scale
    x unit frame), ``radius`` (m) a sphere about its origin that holds it."""

    id: int
    shape: str
    dims: np.ndarray
    positions: np.ndarray
    rotations: np.ndarray
    half_extents: np.ndarray | None
    mesh: Mesh | None = None
    scale: np.ndarray | None = None
    radius: float = np.inf

    @property
    def analytic(self) -> bool:
        return self.shape in ANALYTIC


@dataclass
class OracleScene:
    """``K`` (3, 3), ``world_to_camera`` (T, 4, 4), ``height``/``width``/``frames``,
    ``room`` (half width, half depth, height) m or None, ``bodies`` (the objects the
    oracle can trace) and ``skipped`` (why others are left out: their pixels are not
    checked)."""

    K: np.ndarray
    world_to_camera: np.ndarray
    height: int
    width: int
    frames: int
    room: tuple[float, float, float] | None
    bodies: list[Body]
    skipped: list[str] = field(default_factory=list)
    unknown_ids: frozenset = frozenset()  # ids of objects left out: pixels showing them are not checked


def read_geometry(data: bytes) -> dict[str, Mesh]:
    """The meshes of a ``geometry.glb`` member, by id (trimesh's glTF reader, without
    its processing, so vertices, faces and normals are as stored)."""
    import trimesh

    glb = trimesh.load(io.BytesIO(data), file_type="glb", process=False, force="scene")
    out = {}
    for name, m in glb.geometry.items():
        normals = np.asarray(m.vertex_normals, np.float64)
        out[name] = Mesh(name, np.asarray(m.vertices, np.float64), np.asarray(m.faces, np.int64), normals)
    return out


def oracle_scene(meta: dict, geometry: bytes | None, meshes: dict[str, Mesh] | None = None) -> OracleScene:
    """The scene of a sample from its metadata and its ``geometry.glb`` bytes (None:
    the sample has none); ``meshes`` (by id), when given, instead of the member's (a
    check of meshes rebuilt another way, from the objects' ``asset`` records, say)."""
    if meshes is None:
        meshes = read_geometry(geometry) if geometry is not None else {}
    cam = meta["camera"]
    T = int(meta["frames"])
    room = meta.get("room")
    bodies, skipped, unknown = [], [], set()
    for o in meta["objects"]:
        dims = np.asarray(o["dims"], np.float64)
        ref = o.get("mesh")
        half = o.get("half_extents")
        body = Body(
            int(o["id"]),
            o["shape"],
            dims,
            np.asarray(o["position"], np.float64).reshape(T, 3),
            np.asarray(o["rotation"], np.float64).reshape(T, 3, 3),
            None if half is None else np.asarray(half, np.float64),
        )
        if not body.analytic:
            mesh = meshes.get(ref["id"]) if ref else None
            if mesh is None:
                why = "no mesh reference in its metadata" if not ref else f"geometry.glb lacks mesh {ref['id']!r}"
                skipped.append(f"object {body.id} ({body.shape}): {why}")
                unknown.add(body.id)
                continue
            body.mesh, body.scale = mesh, np.asarray(ref["scale"], np.float64)
            if body.half_extents is None:
                body.half_extents = np.abs(mesh.vertices * body.scale).max(0)
            body.radius = float(np.linalg.norm(mesh.vertices * body.scale, axis=1).max()) * (1 + 1e-6) + 1e-6
        else:
            if body.half_extents is None:
                body.half_extents = dims  # an analytic kind's box is +-dims
            body.radius = float(np.linalg.norm(body.half_extents)) * (1 + 1e-6) + 1e-6
        bodies.append(body)
    return OracleScene(
        np.asarray(cam["K"], np.float64),
        np.asarray(cam["world_to_camera"], np.float64).reshape(T, 4, 4),
        int(meta["height"]),
        int(meta["width"]),
        T,
        None if not room else (room["width"] / 2, room["depth"] / 2, room["height"]),
        bodies,
        skipped,
        frozenset(unknown),
    )
