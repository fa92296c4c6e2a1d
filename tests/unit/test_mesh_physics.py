"""What the physics makes of the mesh assets, against trimesh: the stored convex pieces
of the non-convex kinds cover the mesh and are convex, and a mesh body's mass, centre of
mass and inertia in the compiled MuJoCo model are the posed mesh's own."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import trimesh

from factory.physics.model import build
from factory.sample.scenes import sample_scene
from factory.scene.assets import MESH_KINDS, mesh_asset
from factory.scene.config import parse_config
from factory.scene.decompose import DECOMPOSED, stored_hulls
from factory.scene.types import quat_to_matrix
from factory.scene.unit_meshes import unit_mesh


@pytest.mark.parametrize("kind", DECOMPOSED)
def test_the_convex_pieces_are_convex_and_cover_the_mesh(kind):
    mesh = unit_mesh(kind)
    hulls = [trimesh.Trimesh(v, f, process=True) for v, f in stored_hulls(kind)]
    assert len(hulls) >= 4  # not the single hull, which would fill the hole
    for h in hulls:
        assert h.is_watertight and h.volume > 0  # closed, faces outward
        # Convex: every vertex lies on or behind the plane of every face.
        ahead = np.einsum("fj,fvj->fv", h.face_normals, h.vertices[None] - h.triangles[:, :1])
        assert ahead.max() < 1e-7  # metres at unit size: rounding of the hull
    total = sum(h.volume for h in hulls)
    assert mesh.volume <= total <= 1.1 * mesh.volume  # little overlap or bloat
    # Every point of the mesh's surface is in some piece, or within 2% of its size of one.
    pts = np.concatenate([mesh.vertices, trimesh.sample.sample_surface(mesh, 2000, seed=1)[0]])
    outside = np.ones(len(pts), bool)
    for h in hulls:
        outside &= ~h.contains(pts)
    for p in pts[outside]:
        # Distance to the nearest piece: to its nearest triangle.
        d = min(
            np.linalg.norm(
                trimesh.triangles.closest_point(h.triangles, np.repeat(p[None], len(h.faces), 0)) - p, axis=1
            ).min()
            for h in hulls
        )
        assert d < 0.02
    # And the hole stays open: the ring's centre is in no piece.
    assert not any(h.contains([[0.0, 0.0, 0.0]])[0] for h in hulls)


@pytest.mark.parametrize("kind", MESH_KINDS)
def test_a_mesh_body_has_the_posed_meshs_mass_centre_and_inertia(kind):
    config = parse_config(
        {
            "seed": 2,
            "render": {"width": 16, "height": 16, "frames": 2},
            "scenarios": {
                "s": {
                    "objects": {"count": 1, "shape": kind, "tumble": 1.0, "density": 700.0},
                    "camera": {"distance": 8.0},
                }
            },
        }
    )
    scene = sample_scene(config, "s", 0)
    o = replace(scene.objects[0], dims=(0.3, 0.2, 0.12))
    o = replace(o, mass=700.0 * o.volume())
    built = build(replace(scene, objects=(o,)))
    m, b = built.model, built.body_of[0]
    ref = trimesh.Trimesh(np.asarray(unit_mesh(kind).vertices) * o.dims, unit_mesh(kind).faces, process=False)
    ref.density = 700.0
    assert m.body_mass[b] == pytest.approx(ref.mass, rel=1e-9)
    assert np.allclose(m.body_ipos[b], ref.center_mass, atol=1e-9)
    # MuJoCo keeps the principal moments and the rotation to their axes.
    axes = quat_to_matrix(np.asarray(m.body_iquat[b]))
    assert np.allclose(
        axes @ np.diag(m.body_inertia[b]) @ axes.T,
        ref.moment_inertia,
        rtol=1e-6,
        atol=1e-9 * np.abs(ref.moment_inertia).max(),
    )
    assert mesh_asset(kind).volume == pytest.approx(unit_mesh(kind).volume, rel=1e-12)
