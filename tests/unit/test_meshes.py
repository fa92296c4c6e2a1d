"""Rendered meshes against the independent oracle's ray caster (trimesh's, in float64).

The scene is rebuilt from the sample's documented format alone (metadata: camera,
per-frame object poses, mesh ids and scales; the geometry.glb member: the unit meshes
with their vertex normals), and the oracle (:mod:`factory.trust.oracle`) casts the rays
of a grid of pixels; the floor is the plane z = 0. Depth, instance ids and smooth
normals at those pixels must agree with the renderer's, and the member's meshes must be
the unit assets of :mod:`factory.scene.assets`.
"""

from __future__ import annotations

import numpy as np
import pytest

from factory.sample.generate import generate_sample
from factory.scene.assets import MESH_KINDS, mesh_asset
from factory.scene.config import parse_config
from factory.trust.oracle import read_geometry
from tests.helpers.oracle import oracle_pixels


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


@pytest.fixture(scope="module")
def mesh_sample():
    return generate_sample(_config(), 1)


@pytest.mark.parametrize("t", [0, 2])
def test_depth_ids_and_normals_agree_with_trimesh(mesh_sample, t):
    meta, f = mesh_sample.meta, mesh_sample.frames
    assert {o["shape"] for o in meta["objects"]} <= set(MESH_KINDS)
    # The member holds each kind's unit asset, triangle by triangle.
    meshes = read_geometry(mesh_sample.geometry)
    for o in meta["objects"]:
        a, m = mesh_asset(o["shape"]), meshes[o["mesh"]["id"]]
        assert np.array_equal(m.vertices[m.faces], a.vertices[a.faces].astype(np.float64))
    px = oracle_pixels(mesh_sample, t)
    expect_id, expect_depth = px.oracle_id, px.hits.t

    got_id = px.stored_at(f.instance).astype(np.int64)
    got_depth = px.stored_at(f.depth).astype(np.float64)
    on_mesh = expect_id > 0
    assert on_mesh.sum() > 200  # the meshes fill a fair part of the view
    assert (got_id == expect_id).mean() >= 0.995  # a few silhouette pixels may differ in float32
    same = on_mesh & (got_id == expect_id)
    rel = np.abs(got_depth[same] - expect_depth[same]) / expect_depth[same]
    assert np.quantile(rel, 0.99) < 1e-4 and rel.max() < 1e-2

    # Smooth normals: the vertex normals interpolated at the oracle's hit, camera frame.
    _, dirs = px.rays
    n_world = px.hits.n[same]
    d_norm = dirs[same] / np.linalg.norm(dirs[same], axis=1, keepdims=True)
    facing = np.einsum("ij,ij->i", n_world, d_norm) < -0.05  # away from silhouettes (where facing flips)
    expect_n = px.normals()[same][facing]
    got_n = px.stored_at(f.normals)[same][facing]
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
