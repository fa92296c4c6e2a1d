"""Deforming surfaces: triangle meshes of fixed topology whose vertices move over a
clip (cloth, soft bodies), traced by the renderer's own kernels as extra objects.

A clip's :attr:`~factory.render.renderer.Clip.surfaces` lists them
(:class:`DeformingSurface`: faces, instance id, category, material); its motion gives
their world vertex positions at any time (``ClipMotion.deformed_at(time)``, a list
of (V, 3) float64, metres, one per surface). Surface s of a clip with N rigid objects
is object k = N + s of its scene's tables: surface code ``FIRST_OBJECT + N + s``, its
material's surface row, a bounding radius that holds every view of the clip
(:func:`with_surfaces`). Per view, its pose is the centre of its vertices' box and
the identity rotation, and :func:`deform_views` builds a BVH (``wp.Mesh``) of its
vertices about that centre, the smooth vertex normals and the world vertices as the
per-view tables of :class:`~factory.render.tables.Views` (``deform*``; the design is
in docs/renderer.md, "Deforming meshes").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from factory.render.device import Device, warp
from factory.render.geometry import MESH
from factory.render.scene_tables import SceneTables, _surface
from factory.scene.types import Material


@dataclass(frozen=True)
class DeformingSurface:
    """One deforming surface of a clip: ``faces`` (F, 3) int32 vertex indices (fixed
    over the clip; counter-clockwise seen from the front, though both sides are drawn),
    ``instance`` its instance id (after the rigid objects' ids), ``category`` a name of
    the scene's class table (``Scene.classes``), ``material`` how it shades. ``faces``
    None: a surface remeshed at every frame (a liquid's): the motion gives its
    (vertices, faces, vertex velocities) at each time, and a point of it is carried to
    another frame by its triangle's interpolated velocity (:func:`posed`). ``rest``
    (V, 3) float64 its vertices at rest in its own frame, metres: where its pattern is
    looked up, so the pattern rides with the surface (None: each view's vertices about
    their box centre, a pattern that slides as the surface moves)."""

    faces: np.ndarray
    instance: int
    category: str
    material: Material
    rest: np.ndarray | None = None


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) float64 unit smooth normals of the triangle mesh (``vertices`` (V, 3)
    float64, ``faces`` (F, 3) int): each vertex's sum of its faces' normals weighted by
    their areas (the faces' edge cross products, whose length is twice the area),
    normalised; +z where the sum vanishes (an unused vertex)."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.zeros_like(v)
    for axis in range(3):  # bincount sums in index order, as add.at would, ~10x faster
        w = np.tile(cross[:, axis], 3)
        n[:, axis] = np.bincount(f.T.ravel(), weights=w, minlength=len(v))
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(length > 1e-300, n / np.maximum(length, 1e-300), [0.0, 0.0, 1.0])


def centre(vertices: np.ndarray) -> np.ndarray:
    """(3,) float64: the centre of the box of ``vertices`` (V, 3), a surface's pose."""
    return (np.min(vertices, axis=0) + np.max(vertices, axis=0)) / 2.0


def posed(view: tuple, clip, time: float) -> tuple:
    """A renderer view ``(w2c, positions (N, 3), rotations (N, 3, 3))`` of ``clip`` at
    ``time``, and where the clip has deforming surfaces their poses appended (the box
    centre of their vertices, the identity) and a fourth item: per surface (vertices
    (V, 3) float64 world, faces (F, 3), rest (V, 3) or None, step (V, 3) or None) from
    ``clip.motion.deformed_at(time)``; ``step``, a remeshed surface's: each vertex's
    velocity over the clip's frame rate (m), where it is one frame on."""
    if not clip.surfaces:
        return view
    w2c, pos, rot = view
    raw = clip.motion.deformed_at(time)
    if len(raw) != len(clip.surfaces):
        raise ValueError(f"deformed_at({time}) gave {len(raw)} surfaces, expected {len(clip.surfaces)}")
    verts, faces, steps = [], [], []
    for r, s in zip(raw, clip.surfaces):
        if s.faces is None:  # remeshed: (vertices, faces, velocities)
            v, f, vel = r
            steps.append(np.asarray(vel, np.float64) / clip.scene.fps)
        else:
            v, f = r, s.faces
            steps.append(None)
        verts.append(np.asarray(v, np.float64))
        faces.append(np.asarray(f))
    if any(v.ndim != 2 or v.shape[1] != 3 for v in verts):
        shapes = [v.shape for v in verts]
        raise ValueError(f"deformed_at({time}) gave vertex arrays {shapes}, expected {len(clip.surfaces)} of (V, 3)")
    for k, (v, s, f) in enumerate(zip(verts, clip.surfaces, faces)):
        if f.ndim != 2 or f.shape[1] != 3 or not len(f) or f.min() < 0 or f.max() >= len(v):
            raise ValueError(
                f"deforming surface {k} (instance {s.instance}): faces must be (F, 3) indices in [0, {len(v)}) "
                f"(its {len(v)} vertices at time {time}), got shape {f.shape}"
                + (f" and {f.min()}..{f.max()}" if f.size else "")
            )
    pos = np.concatenate([np.asarray(pos, np.float64).reshape(-1, 3), [centre(v) for v in verts]])
    rot = np.concatenate([np.asarray(rot, np.float64).reshape(-1, 3, 3), np.tile(np.eye(3), (len(verts), 1, 1))])
    return w2c, pos, rot, tuple((v, f, s.rest, st) for v, f, s, st in zip(verts, faces, clip.surfaces, steps))


def with_surfaces(t: SceneTables, clip, units: list) -> SceneTables:
    """Scene tables ``t`` with ``clip``'s deforming surfaces appended as mesh objects: shape
    MESH, no asset (its BVH is per view), unit axis scales, not convex, and a bounding
    radius about each view's centre that holds every view of the clip's ``units``
    (the renderer's: own, blur and next views, from :func:`posed`), so the views'
    culling rects hold whatever the batching.

    Raises:
        ValueError: a surface whose category is not in ``classes``.
    """
    views = [v for u in units for v in (u.own, *u.blur, *([u.next] if u.next is not None else []))]
    return append_surfaces(t, clip.surfaces, clip.scene.classes, [v[3] for v in views if len(v) > 3])


def append_surfaces(t: SceneTables, surfaces: tuple, classes: tuple, deformed: list) -> SceneTables:
    """:func:`with_surfaces` given ``deformed``: per view, per surface (vertices (V, 3)
    world, faces) (the radius holds every view listed)."""
    if not surfaces:
        return t
    class_id = {name: i for i, name in enumerate(classes)}
    rows = []
    for s in surfaces:
        if s.category not in class_id:
            raise ValueError(f"deforming surface category {s.category!r} is not in the scene's classes {list(classes)}")
        rows.append(_surface(s.material, int(s.instance), class_id[s.category]))
    radius = np.zeros(len(surfaces))
    for view in deformed:
        for k, (v, *_) in enumerate(view):
            radius[k] = max(radius[k], float(np.max(np.linalg.norm(v - centre(v), axis=1))))
    n = len(surfaces)
    return replace(
        t,
        shape=np.concatenate([t.shape, np.full(n, MESH, np.int32)]),
        meshes=list(t.meshes) + [None] * n,
        dims=np.concatenate([t.dims, np.ones((n, 3))]),
        radius=np.concatenate([t.radius, radius * 1.0001 + 1e-5]),  # float32 slack
        convex=np.concatenate([t.convex, np.zeros(n, np.int32)]),
        surfaces=list(t.surfaces) + rows,
    )


def deform_views(views: list, device: Device):
    """The ``deform*`` columns of :class:`~factory.render.tables.Views` for ``views``
    (:class:`~factory.render.batch.ViewSpec`, whose ``deformed`` lists its surfaces'
    (vertices (V, 3) float64 world, faces (F, 3)) and whose last poses are theirs):
    ``deform`` (P + 1,) int32 a pose's row of the others (-1: rigid), ``deform_mesh``
    (D,) uint64 BVH ids, ``deform_first`` (D,) int32 first row of its vertices in
    ``deform_points`` (world, float32), ``deform_normals`` (unit, float32),
    ``deform_rest`` (its own frame's rest positions, float32), ``deform_step`` (a
    remeshed surface's vertex steps to the next frame, m; zeros for the others) and
    per row ``deform_advect`` (1: remeshed, a point rides by its steps). The ids'
    array holds the ``wp.Mesh`` objects, so they live as long as the struct that holds
    it (a freed mesh's CUDA memory goes in stream order or after a sync)."""
    wp = warp()
    arr = device.table
    keep = []
    counts = [len(v.positions) for v in views]
    deform = np.full(sum(counts) + 1, -1, np.int32)
    row, vert, start = 0, 0, 0
    ids, first, points, normals, rests, steps, advect = [], [], [], [], [], [], []
    for v, n in zip(views, counts):
        deformed = getattr(v, "deformed", ())
        for s, (verts, faces, *extra) in enumerate(deformed):
            rest, step = (list(extra) + [None, None])[:2]
            verts = np.asarray(verts, np.float64)
            c = np.asarray(v.positions, np.float64)[n - len(deformed) + s]
            mesh = wp.Mesh(
                points=wp.array((verts - c).astype(np.float32), dtype=wp.vec3, device=device.warp_name),
                indices=wp.array(np.asarray(faces, np.int32).ravel(), dtype=wp.int32, device=device.warp_name),
            )
            keep.append(mesh)
            deform[start + n - len(deformed) + s] = row
            ids.append(mesh.id)
            first.append(vert)
            points.append(verts)
            normals.append(vertex_normals(verts, faces))
            rests.append(verts - c if rest is None else np.asarray(rest, np.float64))
            steps.append(np.zeros_like(verts) if step is None else np.asarray(step, np.float64))
            advect.append(0 if step is None else 1)
            row += 1
            vert += len(verts)
        start += n
    if not ids:  # Warp wants arrays
        ids, first, advect = [0], [0], [0]
        points = normals = rests = steps = [np.zeros((1, 3))]
    mesh_ids = arr(np.array(ids, np.uint64), wp.uint64)
    mesh_ids.meshes = keep  # the BVHs the ids name live as long as the array
    return (
        arr(deform, wp.int32),
        mesh_ids,
        arr(np.array(first, np.int32), wp.int32),
        arr(np.concatenate(points), wp.vec3),
        arr(np.concatenate(normals), wp.vec3),
        arr(np.concatenate(rests), wp.vec3),
        arr(np.concatenate(steps), wp.vec3),
        arr(np.array(advect, np.int32), wp.int32),
    )


def ray_faces(o: np.ndarray, d: np.ndarray, verts: np.ndarray, faces: np.ndarray, depth: float):
    """The face of a triangle mesh (``verts`` (V, 3), ``faces`` (F, 3)) that the ray
    o + t d (float64, d camera-z-scaled) meets at the t nearest ``depth``, and the
    barycentrics (3,) of that point on it (point = b0 p0 + b1 p1 + b2 p2), by
    Moeller-Trumbore over every face in NumPy; (-1, zeros) where it meets none."""
    p0, p1, p2 = (verts[faces[:, c]] for c in range(3))
    e1, e2 = p1 - p0, p2 - p0
    h = np.cross(d, e2)
    a = np.einsum("fc,fc->f", e1, h)
    ok = np.abs(a) > 1e-15
    inv = np.where(ok, 1.0 / np.where(ok, a, 1.0), 0.0)
    s = o - p0
    u = inv * np.einsum("fc,fc->f", s, h)
    q = np.cross(s, e1)
    v = inv * (q @ d)
    t = inv * np.einsum("fc,fc->f", e2, q)
    eps = 1e-9
    hit = ok & (u >= -eps) & (v >= -eps) & (u + v <= 1 + eps)
    if not hit.any():
        return -1, np.zeros(3)
    f = int(np.flatnonzero(hit)[np.argmin(np.abs(t[hit] - depth))])
    return f, np.array([1.0 - u[f] - v[f], u[f], v[f]])


def track_points(surfaces: tuple, deformed: list, first_id: dict, ids, tq, origin, dirs, world) -> None:
    """Carry the point tracks on deforming surfaces: per query n whose instance id
    ``ids[n]`` is a surface's, the face and barycentrics of its pixel ray (``origin``
    (N, 3), ``dirs`` (N, 3) world, camera-z-scaled) at its frame ``tq[n]`` near its
    point ``world[tq[n], n]``, then ``world[t, n]`` (T, N, 3) set to the same
    barycentrics of that face's vertices in every frame t; on a remeshed surface,
    :func:`ride_steps` (``deformed[t]``: per surface its (vertices (V, 3) world,
    faces, rest, step) as :func:`posed` gives them). ``first_id``: instance id ->
    surface index."""
    remeshed: dict = {}  # surface -> per frame its _Triangles, made once for all its points
    for n in np.flatnonzero([int(i) in first_id for i in ids]):
        s = first_id[int(ids[n])]
        verts, faces = deformed[tq[n]][s][0], np.asarray(deformed[tq[n]][s][1], np.int64)
        depth = float((world[tq[n], n] - origin[n]) @ dirs[n] / (dirs[n] @ dirs[n]))
        f, b = ray_faces(origin[n], dirs[n], verts, faces, depth)
        if f < 0:
            continue
        if surfaces[s].faces is None:
            if s not in remeshed:
                remeshed[s] = [_Triangles(d[s]) for d in deformed]
            world[:, n] = ride_steps(remeshed[s], int(tq[n]), b @ verts[faces[f]])
        else:
            world[:, n] = np.einsum("k,tkc->tc", b, np.stack([d[s][0][faces[f]] for d in deformed]))


def ride_steps(meshes: list, t0: int, point: np.ndarray) -> np.ndarray:
    """(T, 3) world positions of a point of a remeshed surface (a liquid's) at frame t0:
    from each frame to the next it moves by the step (velocity / fps) its nearest
    triangle's barycentrics give, and lands on the next frame's surface at its nearest
    point (the surface is made anew every frame: the point rides the velocity field and
    stays on the surface); backwards the same with the frame's own steps negated.
    ``meshes``: per frame its :class:`_Triangles`."""
    out = np.zeros((len(meshes), 3))
    out[t0] = point
    for t in range(t0 + 1, len(meshes)):
        out[t] = meshes[t].nearest(out[t - 1] + meshes[t - 1].step_at(out[t - 1]))[0]
    for t in range(t0 - 1, -1, -1):
        out[t] = meshes[t].nearest(out[t + 1] - meshes[t + 1].step_at(out[t + 1]))[0]
    return out


class _Triangles:
    """One frame of a remeshed surface, for nearest-point queries: its triangles, their
    centroids and reaches (farthest corner from the centroid), made once."""

    def __init__(self, frame: tuple):
        self.faces = np.asarray(frame[1], np.int64)
        self.tris = np.asarray(frame[0])[self.faces]
        self.steps = frame[3]
        self.centroid = self.tris.mean(1)
        self.reach = np.linalg.norm(self.tris - self.centroid[:, None], axis=2).max(1)

    def nearest(self, p: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
        """The point of the mesh nearest p (3,), its face and its barycentrics. Only
        the triangles that can hold it are measured: a triangle's points lie within its
        reach of its centroid, and the nearest point is no farther than the nearest
        centroid, so one whose centroid is farther than that plus its reach cannot."""
        import trimesh

        gap = np.linalg.norm(self.centroid - p, axis=1)
        near = np.flatnonzero(gap - self.reach <= gap.min())
        q = trimesh.triangles.closest_point(self.tris[near], np.broadcast_to(p, (len(near), 3)))
        k = int(np.argmin(np.einsum("fc,fc->f", q - p, q - p)))
        f = int(near[k])
        b = trimesh.triangles.points_to_barycentric(self.tris[f : f + 1], q[k : k + 1])[0]
        return q[k], f, b

    def step_at(self, p: np.ndarray) -> np.ndarray:
        """The step (3,) at p: its nearest triangle's barycentrics of the vertex steps."""
        _, f, b = self.nearest(p)
        return b @ np.asarray(self.steps)[self.faces[f]]
