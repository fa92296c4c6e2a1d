"""The ``geometry.glb`` member: every distinct mesh of a sample, so that a third party
can rebuild each posed object (docs/format.md, "Geometry").

A glTF 2.0 binary written by trimesh: one node and one mesh per distinct asset, both
named by the asset's stable id (:func:`mesh_id`, a content hash), in the asset's unit
frame (the renderer's: the object frame is the unit frame scaled per axis by the
object's ``dims``). Each mesh holds float32 positions, uint32 triangle indices and
float32 vertex normals: the normals the renderer interpolates for shading normals.
Vertices that share a position and a normal are merged (the assets store one per
face corner), which leaves every triangle's corners and normals as they were.
Analytic objects need no mesh: their ``shape`` and ``dims`` define them; a sample
without a mesh object holds an empty scene.

Per mesh object the metadata's ``objects[].mesh`` names the id and the scale (its
``dims``) (:func:`mesh_entry`); every object carries ``half_extents``, the box its
``corners_2d``/``corners_depth`` are the corners of.

Bytes are deterministic: the meshes are in id order, merged vertices are sorted
(``np.unique``), and trimesh's exporter writes no time or path (a test checks it).
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from functools import lru_cache

import numpy as np
import trimesh

from factory.scene.assets import MeshAsset
from factory.scene.types import Scene, SceneObject

GEOMETRY_MEMBER = "geometry.glb"


@lru_cache(maxsize=512)
def merged(asset: MeshAsset) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """Asset ``asset`` as (id, positions (V, 3) float32, faces (F, 3) uint32, normals
    (V, 3) float32), vertices with the same position and normal merged. The id is
    ``mesh-`` and the first 16 hex digits of the sha256 of the three arrays' bytes.
    Cached per asset object (assets are made once per process)."""
    corners = np.concatenate([np.asarray(asset.vertices, np.float32), np.asarray(asset.normals, np.float32)], 1)
    rows, inverse = np.unique(corners, axis=0, return_inverse=True)
    faces = inverse.reshape(-1)[np.asarray(asset.faces, np.int64)].astype(np.uint32)
    positions, normals = np.ascontiguousarray(rows[:, :3]), np.ascontiguousarray(rows[:, 3:])
    digest = hashlib.sha256(positions.tobytes() + faces.tobytes() + normals.tobytes()).hexdigest()
    return f"mesh-{digest[:16]}", positions, faces, normals


def mesh_id(obj: SceneObject) -> str | None:
    """The stable id of a mesh object's mesh in ``geometry.glb``; None for an analytic one."""
    return merged(obj.mesh_data)[0] if obj.is_mesh else None


def mesh_entry(obj: SceneObject) -> dict:
    """The metadata keys a rebuild needs from object ``obj``: ``half_extents`` (its
    bounding box in the object frame, m: the box of ``corners_2d``) and, for a mesh,
    ``mesh`` = ``{"id": ..., "scale": dims}`` (object frame = scale * unit frame)."""
    entry = {"half_extents": [float(x) for x in obj.half_extents]}
    if obj.is_mesh:
        entry["mesh"] = {"id": mesh_id(obj), "scale": [float(x) for x in obj.dims]}
    return entry


def _empty_glb() -> bytes:
    """A glTF binary with one empty scene (trimesh refuses to export one): its JSON
    chunk only, padded with spaces to 4 bytes as the format asks."""
    doc = json.dumps({"asset": {"version": "2.0", "generator": "factory"}, "scene": 0, "scenes": [{"nodes": []}]})
    body = doc.replace(" ", "").encode()
    body += b" " * (-len(body) % 4)
    return struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(body)) + struct.pack("<I4s", len(body), b"JSON") + body


def geometry_member(scene: Scene) -> bytes:
    """The ``geometry.glb`` bytes of ``scene``: its distinct meshes, by id; a sample
    without a mesh object gets an empty scene, so every sample of a dataset has the
    same members (Ray's reader makes one table of them)."""
    meshes = {}
    for o in scene.objects:
        if o.is_mesh:
            mid, positions, faces, normals = merged(o.mesh_data)
            meshes[mid] = (positions, faces, normals)
    if not meshes:
        return _empty_glb()
    glb = trimesh.Scene()
    for mid in sorted(meshes):
        positions, faces, normals = meshes[mid]
        mesh = trimesh.Trimesh(positions, faces, vertex_normals=normals, process=False, validate=False)
        glb.add_geometry(mesh, node_name=mid, geom_name=mid)
    buf = io.BytesIO()
    buf.write(glb.export(file_type="glb", include_normals=True))
    return buf.getvalue()
