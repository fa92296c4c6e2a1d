"""Soft shadows from area lights and ambient occlusion, against independent geometry.

One sphere rests on a plain floor under a directional light. The light's emitter and
the sphere are rebuilt from the sample's metadata; NumPy casts a dense grid of rays
from each floor point towards the emitter (and over the hemisphere for ambient
occlusion) against the analytic sphere, and the renderer's pixels must follow.
"""

from __future__ import annotations

import numpy as np
import pytest

from factory.render import tables
from factory.sample.generate import generate_sample
from factory.scene.config import TEXTURES, parse_config
from factory.scene.look_specs import LIGHT_KINDS


def _config(light_size: float = 0.0, **render) -> object:
    r = {"width": 96, "height": 72, "frames": 1, "fps": 12, "substeps": 2, **render}
    return parse_config(
        {
            "seed": 2,
            "render": r,
            "output": {"mp4": False},
            "scenarios": {
                "s": {
                    "objects": {
                        "count": 1,
                        "shape": "sphere",
                        "size": 0.35,
                        "spawn_radius": 0.0,
                        "drop_height": 0.0,
                        "speed": 0.0,
                    },
                    "floor": {"texture": "plain"},
                    # One configured light over a flat backdrop, shown linearly: pixel
                    # values follow the light that reaches each point.
                    "lighting": {
                        "count": 1,
                        "size": light_size,
                        "elevation_deg": 45.0,
                        "azimuth_deg": 200.0,
                        "ambient": 0.25,
                    },
                    "backdrop": {"kind": "flat", "strength": 0.0},
                    "camera": {
                        "distance": 3.0,
                        "elevation_deg": 35.0,
                        "azimuth_deg": 0.0,
                        "target_height": 0.0,
                        "exposure": "fixed",
                        "tone": "linear",
                    },
                }
            },
        }
    )


def _scene_of(sample) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """The sphere's centre (3,) and radius, and the floor's world points (M, 3) with
    their (row, col) pixels, from the sample's metadata and depth."""
    sphere = sample.meta["objects"][0]
    floor = sample.frames.instance[0] == 0
    points, pix = _floor_points(sample.meta, np.where(floor, sample.frames.depth[0], 0.0))
    return np.array(sphere["position"][0]), sphere["dims"][0], points, pix


def _floor_points(meta: dict, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points (M, 3) of the floor pixels and their (row, col) indices."""
    K = np.array(meta["camera"]["K"])
    M = np.array(meta["camera"]["world_to_camera"][0])
    ii, jj = np.nonzero(depth > 0)
    d_cam = np.stack([jj + 0.5, ii + 0.5, np.ones(len(ii))], 1) @ np.linalg.inv(K).T
    world = (d_cam * depth[ii, jj, None] - M[:3, 3]) @ M[:3, :3]
    return world, np.stack([ii, jj], 1)


def _blocked(points: np.ndarray, dirs: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Whether rays from points (M, 3) along unit dirs (M, S, 3) meet the sphere."""
    oc = points[:, None, :] - centre
    b = np.einsum("msk,msk->ms", oc, dirs)
    c = np.einsum("msk,msk->ms", oc, oc) - radius**2
    disc = b * b - c
    return (disc > 0) & (-b + np.sqrt(np.maximum(disc, 0)) > 0)


def _emitter_dirs(L: np.ndarray, spread: float, n: int = 24) -> np.ndarray:
    """Unit directions (n*n, 3) over a directional light's square emitter: L plus
    ``spread`` (the tangent of the half-angle) times [-1, 1]^2 in the frame that
    ``factory.render.shade.basis`` builds (e1 = unit(z x L), or x x L when L is near
    vertical; e2 = L x e1)."""
    a = np.array([1.0, 0, 0]) if abs(L[2]) > 0.9 else np.array([0, 0, 1.0])
    e1 = np.cross(a, L)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(L, e1)
    g = (np.arange(n) + 0.5) / n * 2 - 1
    u, v = np.meshgrid(g, g)
    d = L + spread * (u.reshape(-1, 1) * e1 + v.reshape(-1, 1) * e2)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def renders():
    return {
        name: generate_sample(_config(**r), 0)
        for name, r in {
            "hard": {},
            "soft": {"light_size": 0.8, "shadow_rays": 16},
            "point_many_rays": {"shadow_rays": 16},
            "ao": {"ao_rays": 16, "ao_distance": 0.5},
        }.items()
    }


def test_more_shadow_rays_from_a_point_light_change_nothing(renders):
    assert np.array_equal(renders["hard"].frames.rgb, renders["point_many_rays"].frames.rgb)


def test_the_penumbra_follows_the_visible_share_of_the_emitter(renders):
    hard, soft = renders["hard"], renders["soft"]
    centre, radius, points, pix = _scene_of(soft)
    light = soft.meta["lights"][0]
    assert light["size"] == 0.8
    dirs = _emitter_dirs(np.array(light["vector"]), light["size"] / 4.0)
    visible = 1.0 - _blocked(points, np.broadcast_to(dirs, (len(points), *dirs.shape)), centre, radius).mean(1)
    lum_soft = soft.frames.rgb[0][pix[:, 0], pix[:, 1]].astype(float).mean(1)
    lum_hard = hard.frames.rgb[0][pix[:, 0], pix[:, 1]].astype(float).mean(1)
    lit, dark, half = visible == 1.0, visible == 0.0, (visible > 0.2) & (visible < 0.8)
    assert lit.sum() > 500 and dark.sum() > 20 and half.sum() > 20  # all three regions are in view
    # Where the emitter is wholly seen or wholly hidden, soft shadows are hard ones.
    assert (np.abs(lum_soft[lit] - lum_hard[lit]) <= 0.5).mean() > 0.99
    assert (np.abs(lum_soft[dark] - lum_hard[dark]) <= 0.5).mean() > 0.95
    # In the penumbra, brightness rises with the share of the emitter in view.
    shadow_level, lit_level = np.median(lum_hard[dark]), np.median(lum_hard[lit])
    share = (lum_soft[half] - shadow_level) / (lit_level - shadow_level)
    assert np.abs(share - visible[half]).mean() < 0.12
    assert np.corrcoef(share, visible[half])[0, 1] > 0.8


def test_ambient_occlusion_darkens_only_what_has_an_occluder_near(renders):
    hard, ao = renders["hard"], renders["ao"]
    centre, radius, points, pix = _scene_of(ao)
    # Distance from each floor point to the sphere: beyond ao_distance nothing occludes.
    gap = np.linalg.norm(points - centre, axis=1) - radius
    far, near = gap > 0.5 + 1e-3, gap < 0.1
    assert far.sum() > 500 and near.sum() > 20
    a, h = ao.frames.rgb[0][pix[:, 0], pix[:, 1]], hard.frames.rgb[0][pix[:, 0], pix[:, 1]]
    assert np.array_equal(a[far], h[far])  # every ambient ray free: the very same bytes
    darker = a[near].astype(int).sum(1) < h[near].astype(int).sum(1)
    assert darker.mean() > 0.9


def test_every_light_and_texture_kind_the_config_allows_has_a_named_kernel_code():
    """The kernels compare with named constants; each kind a config may name has its own."""
    assert set(tables.TEXTURE_CODE) == set(TEXTURES) and set(tables.LIGHT_CODE) == set(LIGHT_KINDS)
    named = [getattr(tables, name.upper()) for name in TEXTURES]
    assert sorted(named) == sorted(tables.TEXTURE_CODE.values())
    assert sorted([tables.DIRECTIONAL, tables.POINT, tables.AREA]) == sorted(tables.LIGHT_CODE.values())
    surfaces = [tables.SKY, tables.FLOOR, tables.WALL]
    assert len(set(surfaces)) == 3 and tables.FIRST_OBJECT > max(surfaces)
