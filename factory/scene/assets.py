"""The triangle-mesh assets objects can be, built with ``trimesh.creation``.

Each asset is normalised so that its largest half-extent is 1 (its bounding box lies in
[-1, 1]^3, centred on the origin); an object scales it per axis by its ``dims``. Assets
are pure data (vertices, faces, vertex normals) made once per process; the renderer
builds one BVH per asset from them (:mod:`factory.render.meshes`) and the scene layer
takes bounding radii, support depths and volumes from the same vertices.

======== ========= ==============================================================
kind     triangles what
======== ========= ==============================================================
torus    2304      a ring (major radius 1, tube radius 0.35 before normalising)
rock     1280      an icosphere (3 subdivisions) with smooth radial bumps
cone     128       a cone, apex up
tube     512       a thick-walled pipe along z (non-convex: it has a hole)
icosahedron 20     the platonic solid, flat-faced
======== ========= ==============================================================
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

MESH_KINDS = ("torus", "rock", "cone", "tube", "icosahedron")


@dataclass(frozen=True, eq=False)  # identity: arrays have no truth value
class MeshAsset:
    """A unit mesh: ``vertices`` (V, 3) float32 with max |coordinate| = 1, ``faces``
    (F, 3) int32 (counter-clockwise seen from outside), ``normals`` (V, 3) float32
    unit vertex normals, and ``volume`` of the unit mesh (m^3 at dims (1, 1, 1)).
    ``kind`` is its key: a built-in kind of :data:`MESH_KINDS`, or the key the assets
    layer gives a generated or pack mesh (unique per process: the renderer caches
    its BVH under it).

    For the physics: ``centroid`` (3,) the unit mesh's centre of volume and ``moment``
    (3, 3) its second moment of volume about the origin, the integral of x x^T dV
    (m^5 at dims (1, 1, 1)), from which any axis-scaled copy's inertia follows
    (:meth:`inertia`); ``parts`` the vertex sets (P_j, 3) float64 of convex pieces whose
    hulls are what collides: the mesh's own hull, or for a strongly non-convex kind its
    convex decomposition (:mod:`factory.scene.decompose`).

    Surface (pack assets; None / empty for the others): ``uv`` (V, 2) float32 texture
    coordinates (v up, as OBJ); ``face_material`` (F,) int16 each face's material;
    ``material_colour`` (M, 4) float32 linear RGBA; ``material_texture`` (M,) int16 an
    index into ``textures`` or -1; ``textures`` the decoded images, each (H, W, 4)
    uint8 sRGB RGBA. ``tops``: a piece of furniture's horizontal rectangles objects can
    rest on, (z, x0, x1, y0, y1) in the unit frame.
    """

    kind: str
    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    volume: float
    centroid: np.ndarray
    moment: np.ndarray
    parts: tuple
    uv: np.ndarray | None = None
    face_material: np.ndarray | None = None
    material_colour: np.ndarray | None = None
    material_texture: np.ndarray | None = None
    textures: tuple = ()
    tops: tuple = ()

    @property
    def nbytes(self) -> int:
        """Bytes its arrays hold (what a bounded cache counts)."""
        arrays = [self.vertices, self.faces, self.normals, self.uv, self.face_material, *self.textures]
        return sum(a.nbytes for a in arrays if a is not None) + sum(p.nbytes for p in self.parts)

    def scaled(self, dims) -> np.ndarray:
        """Vertices (V, 3) float64 of an object with these axis scales."""
        return self.vertices.astype(np.float64) * np.asarray(dims, np.float64)

    def inertia(self, dims, mass: float) -> tuple[np.ndarray, np.ndarray]:
        """Centre of mass (3,) in the object frame and the inertia tensor (3, 3) about
        it (kg m^2) of the asset scaled by ``dims`` with ``mass`` kg spread evenly.

        Scaling by S = diag(dims) maps the second moment C to det(S) S C S and the
        volume to det(S) V; the inertia about the origin is tr(C) I - C.
        """
        S = np.diag(np.asarray(dims, np.float64))
        det = float(np.prod(np.diag(S)))
        density = mass / (det * self.volume)
        com = S @ self.centroid
        C = density * det * (S @ self.moment @ S) - mass * np.outer(com, com)  # about the centre of mass
        return com, np.trace(C) * np.eye(3) - C


def _split_sharp(v: np.ndarray, faces: np.ndarray, angle: float):
    """Vertices, faces and unit vertex normals with every face corner its own vertex
    and its normal the area-weighted mean of the faces around that corner's position
    whose normals are within ``angle`` (radians) of its face's: smooth normals round
    only what is round (not a cone's rim, a tube's cap edges, an icosahedron's edges).

    Vectorised over (corner, face around its position) pairs; each corner's sum runs
    over its faces in ascending order, one add at a time, as the loop it replaced did
    (the same bits)."""
    cross = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    # A degenerate face (zero area, as imported meshes hold) has no direction: it adds
    # nothing to its neighbours, and its own corners point along +z.
    length = np.linalg.norm(cross, axis=1, keepdims=True)
    unit = np.divide(cross, length, out=np.zeros_like(cross), where=length > 0)
    corner_pos = faces.ravel()  # (3F,) the position of each corner
    corner_face = np.repeat(np.arange(len(faces)), 3)
    order = np.argsort(corner_pos, kind="stable")  # corners grouped by position, faces ascending
    counts = np.bincount(corner_pos, minlength=len(v))
    starts = np.cumsum(counts) - counts
    k = counts[corner_pos]  # faces around each corner's position
    corner = np.repeat(np.arange(len(corner_pos)), k)
    offset = np.arange(len(corner)) - np.repeat(np.cumsum(k) - k, k)
    around = corner_face[order[starts[corner_pos][corner] + offset]]
    near = np.einsum("ij,ij->i", unit[around], unit[corner_face[corner]]) > np.cos(angle)
    normals = np.zeros((len(corner_pos), 3))
    np.add.at(normals, corner[near], cross[around[near]])
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, length, out=np.tile([0.0, 0.0, 1.0], (len(normals), 1)), where=length > 0)
    corners = v[faces].reshape(-1, 3)
    return corners, np.arange(len(corners)).reshape(-1, 3), normals


def mass_moments(vertices: np.ndarray, faces: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(volume, centroid (3,), second moment of volume about the origin (3, 3)) of the
    closed mesh (vertices (V, 3), faces (F, 3), shared vertices), density 1, by
    trimesh's mass properties."""
    import trimesh

    props = trimesh.Trimesh(vertices, faces, process=False).mass_properties
    volume, centroid = float(props["volume"]), np.asarray(props["center_mass"], np.float64)
    inertia = np.asarray(props["inertia"], np.float64)  # about the centroid, density 1
    moment = np.trace(inertia) / 2 * np.eye(3) - inertia + volume * np.outer(centroid, centroid)
    return volume, centroid, moment


def make_asset(
    kind: str,
    vertices: np.ndarray,
    faces: np.ndarray,
    parts: tuple,
    sharp_deg: float = 30.0,
    moments: tuple | None = None,
    **surface,
):
    """The :class:`MeshAsset` ``kind`` of a closed unit mesh (vertices (V, 3), max
    |coordinate| 1, shared vertices; faces (F, 3)): mass moments from the closed mesh,
    then every face corner its own vertex with normals smoothed within ``sharp_deg``
    (:func:`_split_sharp`). ``surface`` holds the per-vertex ``uv`` (V, 2) (split with
    the corners) and the per-face / per-material fields, passed through. ``moments``:
    (volume, centroid, moment) to use instead of the mesh's own, for a mesh that is not
    closed (its hull's, say: an open mesh has no volume of its own)."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    volume, centroid, moment = moments if moments is not None else mass_moments(v, f)
    corners, split_faces, normals = _split_sharp(v, f, np.radians(sharp_deg))
    if surface.get("uv") is not None:
        surface["uv"] = np.asarray(surface["uv"], np.float32)[f].reshape(-1, 2)
    return MeshAsset(
        kind,
        corners.astype(np.float32),
        split_faces.astype(np.int32),
        normals.astype(np.float32),
        volume,
        centroid,
        moment,
        parts,
        **surface,
    )


@functools.cache
def mesh_asset(kind: str) -> MeshAsset:
    """The asset ``kind`` (one of :data:`MESH_KINDS`), built once per process.

    Raises:
        ValueError: an unknown kind.
    """
    if kind not in MESH_KINDS:
        raise ValueError(f"mesh kind {kind!r} is not one of {', '.join(MESH_KINDS)}")
    from factory.scene.decompose import convex_parts
    from factory.scene.unit_meshes import unit_mesh

    m = unit_mesh(kind)
    return make_asset(kind, np.asarray(m.vertices), np.asarray(m.faces), convex_parts(kind, m))
