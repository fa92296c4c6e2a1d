"""Surface colour: procedural textures, diffuse + specular lighting, hard shadows,
ambient, and the linear-to-sRGB conversion.

Lighting model per light: Lambert diffuse ``albedo * I * max(0, n.l)`` and a
Blinn-Phong highlight ``specular * I * max(0, n.h)^shininess`` (white), both zero in
the light's shadow; plus ``albedo * ambient``. Point lights fall off as
``(distance / |p - x|)^2`` so that ``intensity`` is the irradiance at their sampled
distance.
"""

from __future__ import annotations

import numpy as np

from factory.render.raycast import FIRST_OBJECT, FLOOR, SKY, WALL, View, shadowed
from factory.render.vec import dot, norm
from factory.scene import Scene

TEXTURES = {"plain": 0, "checker": 1, "stripes": 2, "noise": 3}

# linear [0, 1] -> sRGB uint8 through a table: no per-pixel pow, and identical on
# every machine (transcendental functions may differ in the last bit across CPUs).
_LUT_SIZE = 4096
_x = np.arange(_LUT_SIZE) / (_LUT_SIZE - 1)
SRGB_LUT = np.round(255 * np.where(_x <= 0.0031308, 12.92 * _x, 1.055 * _x ** (1 / 2.4) - 0.055)).astype(np.uint8)


def materials(scene: Scene):
    """Per surface code: colour (S, 3), second colour (S, 3), texture id, scale,
    roughness, specular (S,), as float32/int32 NumPy arrays."""
    wall_color = scene.room.wall_color if scene.room else (0.8, 0.8, 0.8)
    rows = [
        (scene.sky_color, scene.sky_color, "plain", 1.0, 1.0, 0.0),
        (scene.floor.color, scene.floor.color2, scene.floor.texture, scene.floor.texture_scale,
         scene.floor.roughness, scene.floor.specular),
        (wall_color, tuple(0.85 * c for c in wall_color), "plain", 1.0, 0.9, 0.05),
    ]
    for o in scene.objects:
        m = o.material
        rows.append((m.color, m.color2, m.texture, m.texture_scale, m.roughness, m.specular))
    color = np.array([r[0] for r in rows], dtype=np.float32)
    color2 = np.array([r[1] for r in rows], dtype=np.float32)
    tex = np.array([TEXTURES[r[2]] for r in rows], dtype=np.int32)
    scale = np.array([r[3] for r in rows], dtype=np.float32)
    rough = np.array([r[4] for r in rows], dtype=np.float32)
    spec = np.array([r[5] for r in rows], dtype=np.float32)
    return color, color2, tex, scale, rough, spec


def _pattern(coords, tex, xp):
    """Pattern weight in [0, 1] for texture ids ``tex`` (M,) at scaled coords (M, 3)."""
    cell = xp.floor(coords).astype(xp.int64)
    parity = (cell[:, 0] + cell[:, 1] + cell[:, 2]) % 2
    stripes = cell[:, 0] % 2
    # Cell noise: an integer hash of the lattice cell (exact on every machine).
    h = (cell[:, 0] * 73856093) ^ (cell[:, 1] * 19349663) ^ (cell[:, 2] * 83492791)
    h = (h ^ (h >> 13)) * 1274126177
    noise = ((h >> 16) & 1023).astype(xp.float32) / 1023.0
    w = xp.where(tex == 1, parity.astype(xp.float32), 0.0)
    w = xp.where(tex == 2, stripes.astype(xp.float32), w)
    return xp.where(tex == 3, noise, w)


def shade(scene: Scene, view: View, positions, rotations, mats=None, xp=np):
    """Linear RGB (H, W, 3) float32 of one view (sky included)."""
    color, color2, tex, scale, rough, spec = mats if mats is not None else materials(scene)
    H, W = view.depth.shape
    surf = view.surface.reshape(-1)
    out = xp.broadcast_to(xp.asarray(scene.sky_color, dtype=xp.float32), (H * W, 3)).copy()
    idx = xp.nonzero(surf != SKY)[0]
    if idx.shape[0] == 0:
        return out.reshape(H, W, 3)
    s = surf[idx]
    local = view.local.reshape(-1, 3)[idx]
    # Floor and walls: 2D texture coordinates in their plane (avoids z = 0 flicker).
    coords = local.copy()
    on_floor = s == FLOOR
    coords[:, 2] = xp.where(on_floor, 0.0, coords[:, 2])
    on_wall = s == WALL
    coords[:, 0] = xp.where(on_wall, local[:, 0] + local[:, 1], coords[:, 0])
    coords[:, 1] = xp.where(on_wall, 0.0, coords[:, 1])
    # Objects: a quarter-cell offset keeps cell edges off faces that sit at round sizes.
    coords = coords * scale[s][:, None] + xp.where((s >= FIRST_OBJECT)[:, None], 0.25, 0.0)
    w = _pattern(coords, tex[s], xp)[:, None]
    albedo = color[s] * (1.0 - w) + color2[s] * w

    n = view.normal.reshape(-1, 3)[idx]
    d = view.dirs.reshape(-1, 3)[idx]
    t = view.depth.reshape(-1)[idx]
    points = view.origin[None, :] + t[:, None] * d
    to_eye = -d / norm(d, xp)[:, None]
    shininess = 1.0 + 256.0 * (1.0 - rough[s]) ** 2
    rgb = albedo * scene.ambient
    for light in scene.lights:
        if light.kind == "directional":
            L = xp.broadcast_to(xp.asarray(light.vector, dtype=xp.float32), points.shape)
            t_max = xp.full(points.shape[0], xp.inf, dtype=xp.float32)
            falloff = 1.0
        else:
            to = xp.asarray(light.vector, dtype=xp.float32) - points
            dist = norm(to, xp)
            L = to / dist[:, None]
            t_max = dist
            ref = float(np.linalg.norm(light.vector))
            falloff = ((ref / xp.maximum(dist, 1e-3)) ** 2)[:, None]
        ndl = dot(n, L, xp)
        lit = ndl > 0
        vis = lit.copy()
        lit_idx = xp.nonzero(lit)[0]
        if lit_idx.shape[0]:
            direction = np.asarray(light.vector, dtype=np.float64) if light.kind == "directional" else None
            vis[lit_idx] = ~shadowed(scene, points[lit_idx], n[lit_idx], L[lit_idx], t_max[lit_idx],
                                     positions, rotations, xp, direction, s[lit_idx])
        half = L + to_eye
        half = half / xp.maximum(norm(half, xp), 1e-6)[:, None]
        ndh = xp.maximum(dot(n, half, xp), 0.0)
        highlight = spec[s] * ndh**shininess
        weight = (light.intensity * vis.astype(xp.float32))[:, None] * falloff
        rgb = rgb + weight * (albedo * xp.maximum(ndl, 0.0)[:, None] + highlight[:, None])
    out[idx] = rgb
    return out.reshape(H, W, 3)


def to_srgb8(linear, xp=np):
    """Linear RGB in [0, 1] (any shape, float) -> sRGB uint8 via :data:`SRGB_LUT`."""
    lut = xp.asarray(SRGB_LUT)
    code = xp.clip(xp.round(linear * (_LUT_SIZE - 1)), 0, _LUT_SIZE - 1).astype(xp.int64)
    return lut[code]
