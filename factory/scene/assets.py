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


@dataclass(frozen=True)
class MeshAsset:
    """A unit mesh: ``vertices`` (V, 3) float32 with max |coordinate| = 1, ``faces``
    (F, 3) int32 (counter-clockwise seen from outside), ``normals`` (V, 3) float32
    unit vertex normals, and ``volume`` of the unit mesh (m^3 at dims (1, 1, 1)).

    For the physics: ``centroid`` (3,) the unit mesh's centre of volume and ``moment``
    (3, 3) its second moment of volume about the origin, the integral of x x^T dV
    (m^5 at dims (1, 1, 1)), from which any axis-scaled copy's inertia follows
    (:meth:`inertia`); ``parts`` the vertex sets (P_j, 3) float64 of convex pieces whose
    hulls are what collides: the mesh's own hull, or for a strongly non-convex kind its
    convex decomposition (:mod:`factory.scene.decompose`)."""

    kind: str
    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    volume: float
    centroid: np.ndarray
    moment: np.ndarray
    parts: tuple

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
    only what is round (not a cone's rim, a tube's cap edges, an icosahedron's edges)."""
    cross = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    unit = cross / np.linalg.norm(cross, axis=1, keepdims=True)
    around: list[list[int]] = [[] for _ in range(len(v))]
    for f, tri in enumerate(faces):
        for p in tri:
            around[p].append(f)
    cos_limit = np.cos(angle)
    normals = np.empty((len(faces), 3, 3))
    for f, tri in enumerate(faces):
        for c, p in enumerate(tri):
            near = np.array(around[p])
            near = near[unit[near] @ unit[f] > cos_limit]
            n = cross[near].sum(0)
            normals[f, c] = n / np.linalg.norm(n)
    corners = v[faces].reshape(-1, 3)
    return corners, np.arange(len(corners)).reshape(-1, 3), normals.reshape(-1, 3)


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
    props = m.mass_properties  # density 1: mass = volume, inertia about the centre of mass
    volume, centroid = float(props["volume"]), np.asarray(props["center_mass"], np.float64)
    inertia = np.asarray(props["inertia"], np.float64)  # about the centroid, density 1
    moment = np.trace(inertia) / 2 * np.eye(3) - inertia + volume * np.outer(centroid, centroid)
    v, faces, normals = _split_sharp(np.asarray(m.vertices), np.asarray(m.faces), np.radians(30.0))
    return MeshAsset(
        kind,
        v.astype(np.float32),
        faces.astype(np.int32),
        normals.astype(np.float32),
        volume,
        centroid,
        moment,
        convex_parts(kind, m),
    )
