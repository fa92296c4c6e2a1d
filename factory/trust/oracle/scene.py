"""A sample's scene as the oracle sees it: rebuilt from the documented format alone
(the metadata and the ``geometry.glb`` member, docs/format.md), never from factory's
scene or renderer.

:func:`oracle_scene` gives an :class:`OracleScene`: the camera (K, world-to-camera per
frame), the room, and per object a :class:`Body` (its kind, dims, per-frame poses, its
box and, for a mesh, the :class:`Mesh` it instances), then per deformable (the
metadata's ``deformables``, whose vertices per frame the ``deform_*.npy`` members
hold) a :class:`Body` whose mesh is that frame's own. A mesh object whose mesh the
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
    # A deformable: per frame its mesh about that frame's position (the box centre of
    # its vertices; rotation the identity, scale 1), and its world vertices (T, V, 3).
    frames: list | None = None
    world: np.ndarray | None = None
    # A liquid: per frame its surface's vertex velocities (V_t, 3) m/s, at ``fps``.
    velocities: list | None = None
    fps: float = 0.0

    @property
    def analytic(self) -> bool:
        return self.shape in ANALYTIC

    def mesh_at(self, frame: int) -> Mesh | None:
        """The mesh to cast against at ``frame``: a deformable's own, else ``mesh``."""
        return self.frames[frame] if self.frames is not None else self.mesh

    def carry(self, points: np.ndarray, frame: int, targets, onto_surface: bool = False) -> np.ndarray:
        """World points (m, 3) on this body at ``frame`` carried to each frame of
        ``targets`` (n,): (n, m, 3). A rigid body's ride with its pose; a deformable's
        with the barycentrics of their nearest triangle at ``frame`` (a point on the
        surface is its own), on that triangle's vertices then; a liquid's by its
        velocity field (:meth:`_ride`; ``onto_surface``: landing on each frame's surface,
        as a point track does, else by the steps alone, as flow does)."""
        targets = np.asarray(targets, np.int64).reshape(-1)
        if self.velocities is not None:
            return self._ride(points, frame, targets, onto_surface)
        if self.world is None:
            local = (points - self.positions[frame]) @ self.rotations[frame]
            return np.einsum("tij,mj->tmi", self.rotations[targets], local) + self.positions[targets][:, None]
        mesh = self.frames[frame]
        _, face, w = nearest(mesh, points - self.positions[frame])
        return np.einsum("mk,tmkc->tmc", w, self.world[targets][:, mesh.faces[face]])

    def _ride(self, points: np.ndarray, frame: int, targets: np.ndarray, onto_surface: bool) -> np.ndarray:
        """A liquid's points from ``frame`` to each target frame, one frame at a time:
        moved by the step (velocity / fps) their nearest triangle's barycentrics give
        in the frame they leave (forwards; backwards the same, negated), then, with
        ``onto_surface``, to the nearest point of the surface of the frame they reach."""
        path = {frame: points}
        for direction in (1, -1):
            p, t = points, frame
            while min(targets) <= t + direction <= max(targets):
                mesh, c = self.frames[t], self.positions[t]
                _, face, w = nearest(mesh, p - c)
                p = p + direction * np.einsum("mk,mkc->mc", w, self.velocities[t][mesh.faces[face]]) / self.fps
                t += direction
                if onto_surface:
                    p = nearest(self.frames[t], p - self.positions[t])[0] + self.positions[t]
                path[t] = p
        return np.stack([path[int(t)] for t in targets])


def nearest(mesh: Mesh, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point (m, 3) the nearest point of ``mesh`` (m, 3), its triangle (m,) and the
    barycentrics there (m, 3), by trimesh's closest point on each triangle that can
    hold it (every point of a triangle is within its farthest corner's distance of its
    centroid, and the nearest point no farther than the nearest centroid)."""
    import trimesh

    tris = mesh.vertices[mesh.faces]  # (F, 3, 3)
    centroid = tris.mean(1)
    reach = np.linalg.norm(tris - centroid[:, None], axis=2).max(1)
    near, face = np.zeros_like(points), np.zeros(len(points), np.int64)
    for i, p in enumerate(points):
        gap = np.linalg.norm(centroid - p, axis=1)
        cand = np.flatnonzero(gap - reach <= gap.min())
        q = trimesh.triangles.closest_point(tris[cand], np.broadcast_to(p, (len(cand), 3)))
        k = int(np.argmin(np.einsum("fc,fc->f", q - p, q - p)))
        face[i], near[i] = cand[k], q[k]
    w = barycentric(tris[face], near)
    return near, face, w


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


def oracle_scene(
    meta: dict,
    geometry: bytes | None,
    meshes: dict[str, Mesh] | None = None,
    deform: dict | None = None,
    liquid: dict | None = None,
) -> OracleScene:
    """The scene of a sample from its metadata and its ``geometry.glb`` bytes (None:
    the sample has none); ``meshes`` (by id), when given, instead of the member's (a
    check of meshes rebuilt another way, from the objects' ``asset`` records, say);
    ``deform``: the deformables' members decoded (``vertices`` (T, V, 3), ``faces``
    (F, 3); None: the sample has none, and any deformable is skipped); ``liquid``:
    the liquids' (``decode_liquids``; None: any liquid is skipped)."""
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
    for e in meta.get("deformables") or []:
        if deform is None:
            skipped.append(f"deformable {e['id']}: the sample has no deform_*.npy members")
            unknown.add(int(e["id"]))
            continue
        bodies.append(_deformable(e, deform))
    for e in meta.get("liquids") or []:
        if liquid is None:
            skipped.append(f"liquid {e['id']}: the sample has no liquid_*.npy members")
            unknown.add(int(e["id"]))
            continue
        bodies.append(_liquid(e, liquid, float(meta["fps"])))
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


def _deformable(entry: dict, deform: dict) -> Body:
    """A deformable's :class:`Body`: per frame its own mesh, from its rows of the
    ``deform_*.npy`` members (its ``vertices`` and ``faces`` ranges)."""
    v0, nv = (int(x) for x in entry["vertices"])
    f0, nf = (int(x) for x in entry["faces"])
    world = np.asarray(deform["vertices"][:, v0 : v0 + nv], np.float64)  # (T, V, 3)
    faces = np.asarray(deform["faces"][f0 : f0 + nf], np.int64) - v0
    return _frame_body(entry, "deformable", [(w, faces) for w in world], world=world)


def _liquid(entry: dict, liquid: dict, fps: float) -> Body:
    """A liquid's :class:`Body`: per frame its surface's own mesh and vertex velocities,
    from its rows of the ``liquid_surface_*.npy`` members."""
    meshes, velocities = [], []
    for (v0, nv), (f0, nf) in zip(entry["surface_vertices"], entry["surface_faces"]):
        world = np.asarray(liquid["surface_vertices"][v0 : v0 + nv], np.float64)
        meshes.append((world, np.asarray(liquid["surface_faces"][f0 : f0 + nf], np.int64) - v0))
        velocities.append(np.asarray(liquid["surface_velocities"][v0 : v0 + nv], np.float64))
    return _frame_body(entry, "liquid", meshes, velocities=velocities, fps=fps)


def _frame_body(entry: dict, shape: str, meshes: list, **extra) -> Body:
    """A :class:`Body` whose mesh is its own at every frame: ``meshes`` per frame (world
    vertices (V, 3), faces (F, 3)); each frame's mesh about the centre of its box (its
    pose: that centre and the identity), a radius holding every frame's; ``extra``:
    the Body's other fields."""
    frames, centres, radius = [], [], 0.0
    for t, (world, faces) in enumerate(meshes):
        c = (world.min(0) + world.max(0)) / 2.0 if len(world) else np.zeros(3)
        frames.append(Mesh(f"{shape}-{entry['id']}-{t}", world - c, faces, _area_normals(world, faces)))
        centres.append(c)
        radius = max(radius, float(np.linalg.norm(world - c, axis=1).max()) if len(world) else 0.0)
    T = len(frames)
    return Body(
        int(entry["id"]), shape, np.ones(3), np.array(centres).reshape(T, 3), np.tile(np.eye(3), (T, 1, 1)),
        None, scale=np.ones(3), radius=radius * (1 + 1e-6) + 1e-6, frames=frames, **extra,
    )  # fmt: skip


def _area_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit smooth normals by the format's rule for a deformable: each vertex's
    sum of its faces' normals weighted by their areas, normalised (+z where it vanishes)."""
    cross = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    n = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(n, faces[:, k], cross)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(length > 1e-300, n / np.maximum(length, 1e-300), [0.0, 0.0, 1.0])


def barycentric(corners: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Barycentric weights (K, 3) of points (K, 3) in triangles (K, 3, 3); a triangle of
    no area (a liquid frame's placeholder) gives its first corner's weight 1."""
    a, b = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    q = points - corners[:, 0]
    d00, d01, d11 = (a * a).sum(1), (a * b).sum(1), (b * b).sum(1)
    d20, d21 = (q * a).sum(1), (q * b).sum(1)
    den = d00 * d11 - d01 * d01
    den = np.where(den != 0, den, 1.0)
    w1 = (d11 * d20 - d01 * d21) / den
    w2 = (d00 * d21 - d01 * d20) / den
    return np.stack([1.0 - w1 - w2, w1, w2], 1)
