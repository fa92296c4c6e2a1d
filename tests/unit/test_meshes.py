"""Rendered meshes against trimesh's own ray caster over the same posed meshes.

The scene is rebuilt from the sample's metadata alone (camera, per-frame object poses,
dims) and the unit assets of :mod:`factory.scene.assets`; trimesh casts the rays of
sampled pixels against every posed mesh in float64, and the floor is the plane z = 0.
Depth, instance ids and smooth normals at those pixels must agree with the renderer's.
"""

from __future__ import annotations

import numpy as np
import pytest
from trimesh.triangles import points_to_barycentric

from factory.sample.generate import generate_sample
from factory.scene.assets import MESH_KINDS, mesh_asset
from factory.scene.config import parse_config
from tests.helpers.raycast import expected_ids_and_depth, grid_pixels


def _config(count: int = 6) -> object:
    return parse_config(
        {
            "seed": 5,
            "render": {"width": 96, "height": 72, "frames": 3, "fps": 12, "substeps": 4},
            "output": {"mp4": False},
            "scenarios": {
                "m": {
                    "objects": {
                        "count": count,
                        "shape": {"dist": "choice", "values": list(MESH_KINDS)},
                        "size": {"dist": "uniform", "low": 0.25, "high": 0.45},
                        "aspect": {"dist": "uniform", "low": 0.6, "high": 1.5},
                        "tumble": 1.0,
                        "spawn_radius": 1.0,
                        "speed": 0.8,
                        "spin": 2.0,
                    },
                    "camera": {"distance": 3.2, "trajectory": "orbit"},
                }
            },
        }
    )


def _unit(o: dict):
    a = mesh_asset(o["shape"])
    return a.vertices.astype(np.float64), a.faces, a.normals.astype(np.float64)


@pytest.fixture(scope="module")
def mesh_sample():
    return generate_sample(_config(), 1)


@pytest.mark.parametrize("t", [0, 2])
def test_depth_ids_and_normals_agree_with_trimesh(mesh_sample, t):
    meta, f = mesh_sample.meta, mesh_sample.frames
    assert {o["shape"] for o in meta["objects"]} <= set(MESH_KINDS)
    H, W = f.depth.shape[1:]
    pixels = grid_pixels(H, W)
    expect_id, expect_depth, (mesh, locs, ray_idx, tri, vnormals, dirs) = expected_ids_and_depth(meta, t, pixels, _unit)

    got_id = f.instance[t][pixels[:, 0], pixels[:, 1]].astype(np.int64)
    got_depth = f.depth[t][pixels[:, 0], pixels[:, 1]].astype(np.float64)
    on_mesh = expect_id > 0
    assert on_mesh.sum() > 200  # the meshes fill a fair part of the view
    assert (got_id == expect_id).mean() >= 0.995  # a few silhouette pixels may differ in float32
    same = on_mesh & (got_id == expect_id)
    rel = np.abs(got_depth[same] - expect_depth[same]) / expect_depth[same]
    assert np.quantile(rel, 0.99) < 1e-4 and rel.max() < 1e-2

    # Smooth normals: the vertex normals interpolated at trimesh's hit, camera frame.
    hit_of = {int(r): k for k, r in enumerate(ray_idx)}
    rows = [hit_of[r] for r in np.flatnonzero(same)]
    bary = points_to_barycentric(mesh.triangles[tri[rows]], locs[rows])
    n_world = np.einsum("ij,ijk->ik", bary, vnormals[mesh.faces[tri[rows]]])
    n_world /= np.linalg.norm(n_world, axis=1, keepdims=True)
    R = np.array(meta["camera"]["world_to_camera"][t])[:3, :3]
    d_norm = dirs[same] / np.linalg.norm(dirs[same], axis=1, keepdims=True)
    facing = np.einsum("ij,ij->i", n_world, d_norm) < -0.05  # away from silhouettes (where facing flips)
    expect_n = (n_world @ R.T)[facing]
    got_n = f.normals[t][pixels[same, 0], pixels[same, 1]][facing]
    err = np.linalg.norm(got_n - expect_n, axis=1)
    assert facing.sum() > 100 and np.quantile(err, 0.99) < 2e-3


def test_mesh_boxes_hold_their_pixels(mesh_sample):
    """Amodal boxes contain the visible ones, and the 3D box corners' projection
    contains the amodal box (the corners bound the posed mesh)."""
    meta = mesh_sample.meta
    for o in meta["objects"]:
        for t, (am, vis) in enumerate(zip(o["bbox_amodal"], o["bbox_visible"])):
            if vis is not None:
                assert am[0] <= vis[0] and am[1] <= vis[1] and vis[2] <= am[2] and vis[3] <= am[3]
            if am is not None and min(o["corners_depth"][t]) > 0:
                uv = np.array(o["corners_2d"][t])
                assert uv[:, 0].min() <= am[0] + 1 and am[2] - 1 <= uv[:, 0].max()
                assert uv[:, 1].min() <= am[1] + 1 and am[3] - 1 <= uv[:, 1].max()
