"""The BVHs of mesh assets on one device (``wp.Mesh``), built the first time a launch
needs them (interim: an unbounded per-device dict; issue 24 bounds it).

Every asset gets one ``wp.Mesh`` in its unit frame, keyed by ``MeshAsset.kind``; objects
instance it through their pose and axis scales. A launch's vertex normals are one array
(:func:`launch_normals`), each asset's starting at its row.
"""

from __future__ import annotations

import threading

import numpy as np

from factory.render.device import Device, warp
from factory.scene.assets import MeshAsset

_MESHES: dict[tuple[str, str], object] = {}  # (device, asset key) -> wp.Mesh
_LOCK = threading.Lock()


def mesh_id(device: Device, asset: MeshAsset) -> int:
    """The ``wp.Mesh`` id (uint64) of ``asset`` on ``device``, built at first use."""
    key = (device.warp_name, asset.kind)
    with _LOCK:
        m = _MESHES.get(key)
    if m is None:
        wp = warp()
        m = wp.Mesh(
            points=wp.array(asset.vertices, dtype=wp.vec3, device=device.warp_name),
            indices=wp.array(asset.faces.ravel(), dtype=wp.int32, device=device.warp_name),
        )
        with _LOCK:
            m = _MESHES.setdefault(key, m)
    return int(m.id)


def launch_normals(assets: list[MeshAsset | None]) -> tuple[np.ndarray, np.ndarray]:
    """The vertex normals (R, 3) float32 of the distinct assets in ``assets`` (one row of
    zeros when there are none) and, per entry, its first row (0 for None)."""
    rows, starts, first = [], {}, []
    count = 0
    for a in assets:
        if a is not None and a.kind not in starts:
            starts[a.kind] = count
            rows.append(a.normals)
            count += len(a.normals)
        first.append(0 if a is None else starts[a.kind])
    table = np.concatenate(rows) if rows else np.zeros((1, 3), np.float32)
    return table, np.asarray(first, np.int32)
