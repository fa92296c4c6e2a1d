"""The BVHs of the mesh assets on one device (``wp.Mesh``, built once per process).

Every asset of :data:`factory.scene.assets.MESH_KINDS` gets one ``wp.Mesh`` in its unit
frame; objects instance it through their pose and axis scales. The vertex normals of
all assets are one array, each asset's starting at ``normal_start[kind]``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from factory.render.device import Device, warp
from factory.scene.assets import MESH_KINDS, mesh_asset


@dataclass(frozen=True)
class MeshLibrary:
    """``ids[kind]``: the ``wp.Mesh`` id (uint64); ``normal_start[kind]``: first row of
    its normals in ``normals`` (a Warp vec3 array on the device); ``meshes`` keeps the
    ``wp.Mesh`` objects (and so their BVHs) alive."""

    ids: dict
    normal_start: dict
    normals: object
    meshes: tuple


@functools.cache
def mesh_library(device: Device) -> MeshLibrary:
    """Every asset's BVH and normals on ``device``."""
    wp = warp()
    meshes, ids, starts, normals = [], {}, {}, []
    row = 0
    for kind in MESH_KINDS:
        a = mesh_asset(kind)
        m = wp.Mesh(
            points=wp.array(a.vertices, dtype=wp.vec3, device=device.warp_name),
            indices=wp.array(a.faces.ravel(), dtype=wp.int32, device=device.warp_name),
        )
        meshes.append(m)
        ids[kind], starts[kind] = int(m.id), row
        normals.append(a.normals)
        row += len(a.normals)
    table = wp.array(np.concatenate(normals), dtype=wp.vec3, device=device.warp_name)
    return MeshLibrary(ids, starts, table, tuple(meshes))
