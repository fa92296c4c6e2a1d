"""trimesh's ray caster over a sample's posed meshes, rebuilt from its metadata alone.

The independent check of the renderer's meshes (``tests/unit/test_meshes.py`` for the
built-in kinds, ``tests/unit/test_asset_objects.py`` for generated and pack objects):
the caller says how to rebuild each object's mesh in its unit frame from its metadata;
the camera and the per-frame poses come from the metadata; the floor is z = 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from trimesh import Trimesh
from trimesh.ray.ray_triangle import RayMeshIntersector

# (object metadata) -> (unit-frame vertices (V, 3) float64, faces (F, 3), vertex normals (V, 3) or None)
UnitMesh = Callable[[dict], tuple[np.ndarray, np.ndarray, np.ndarray | None]]


def posed(meta: dict, t: int, unit_mesh: UnitMesh):
    """Every object's mesh posed in frame t (world, float64) as one Trimesh, the object
    id of every face and the world vertex normals (None where ``unit_mesh`` gave none)."""
    verts, faces, owner, normals = [], [], [], []
    offset = 0
    for o in meta["objects"]:
        v_unit, f, n_unit = unit_mesh(o)
        R, p, dims = np.array(o["rotation"][t]), np.array(o["position"][t]), np.array(o["dims"])
        v = (v_unit * dims) @ R.T + p
        if n_unit is not None:
            n = (n_unit / dims) @ R.T  # normals take the inverse transpose
            normals.append(n / np.linalg.norm(n, axis=1, keepdims=True))
        verts.append(v)
        faces.append(np.asarray(f) + offset)
        owner.append(np.full(len(f), o["id"]))
        offset += len(v)
    mesh = Trimesh(np.concatenate(verts), np.concatenate(faces), process=False)
    return mesh, np.concatenate(owner), (np.concatenate(normals) if len(normals) == len(verts) else None)


def rays(meta: dict, t: int, pixels: np.ndarray):
    """World origin (3,) and camera-z-scaled directions (M, 3) through pixel centres."""
    K = np.array(meta["camera"]["K"])
    M = np.array(meta["camera"]["world_to_camera"][t])
    uv1 = np.stack([pixels[:, 1] + 0.5, pixels[:, 0] + 0.5, np.ones(len(pixels))], 1)
    d_cam = uv1 @ np.linalg.inv(K).T
    return -M[:3, :3].T @ M[:3, 3], d_cam @ M[:3, :3]


def expected_ids_and_depth(meta: dict, t: int, pixels: np.ndarray, unit_mesh: UnitMesh):
    """What trimesh sees through ``pixels`` (M, 2) rows/cols at frame t: instance ids
    (M,) (0: floor or nothing), depths (M,) (camera z, metres), and the hits
    (mesh, locations, ray indices, triangles, world vertex normals) for finer checks."""
    origin, dirs = rays(meta, t, pixels)
    mesh, owner, vnormals = posed(meta, t, unit_mesh)
    locs, ray_idx, tri = RayMeshIntersector(mesh).intersects_location(
        np.repeat(origin[None], len(dirs), 0), dirs, multiple_hits=False
    )
    expect_id = np.zeros(len(pixels), np.int64)
    expect_depth = np.zeros(len(pixels))
    # Directions have camera z = 1, so the ray parameter of a hit is its depth.
    expect_depth[ray_idx] = np.einsum("ij,ij->i", locs - origin, dirs[ray_idx]) / np.einsum(
        "ij,ij->i", dirs[ray_idx], dirs[ray_idx]
    )
    expect_id[ray_idx] = owner[tri]
    # The floor (z = 0) where it is nearer than any mesh or nothing was hit.
    t_floor = np.where(dirs[:, 2] < 0, -origin[2] / np.where(dirs[:, 2] < 0, dirs[:, 2], -1), np.inf)
    floor = (t_floor < 60.0) & ((expect_id == 0) | (t_floor < expect_depth))
    expect_id[floor] = 0
    expect_depth[floor] = t_floor[floor]
    return expect_id, expect_depth, (mesh, locs, ray_idx, tri, vnormals, dirs)


def grid_pixels(H: int, W: int, step: int = 2) -> np.ndarray:
    """Every ``step``-th pixel (M, 2) as (row, col)."""
    ii, jj = np.meshgrid(np.arange(0, H, step), np.arange(0, W, step), indexing="ij")
    return np.stack([ii.ravel(), jj.ravel()], 1)
