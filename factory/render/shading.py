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

from factory.render.batch import ViewBatch
from factory.render.raycast import FIRST_OBJECT, FLOOR, SKY, WALL, View, shadowed
from factory.render.vec import dot, norm

# linear [0, 1] -> sRGB uint8 through a table: no per-pixel pow, and identical on
# every machine (transcendental functions may differ in the last bit across CPUs).
_LUT_SIZE = 4096
_x = np.arange(_LUT_SIZE) / (_LUT_SIZE - 1)
SRGB_LUT = np.round(255 * np.where(_x <= 0.0031308, 12.92 * _x, 1.055 * _x ** (1 / 2.4) - 0.055)).astype(np.uint8)


def _pattern(coords, tex, xp):
    """Pattern weight in [0, 1] for texture ids ``tex`` (M,) at scaled coords (M, 3)."""
    cell = xp.astype(xp.floor(coords), xp.int64)
    parity = (cell[:, 0] + cell[:, 1] + cell[:, 2]) % 2
    stripes = cell[:, 0] % 2
    # Cell noise: an integer hash of the lattice cell (exact on every machine).
    h = (cell[:, 0] * 73856093) ^ (cell[:, 1] * 19349663) ^ (cell[:, 2] * 83492791)
    h = (h ^ (h >> 13)) * 1274126177
    noise = xp.astype((h >> 16) & 1023, xp.float32) / 1023.0
    w = xp.where(tex == 1, xp.astype(parity, xp.float32), 0.0)
    w = xp.where(tex == 2, xp.astype(stripes, xp.float32), w)
    return xp.where(tex == 3, noise, w)


def shade(batch: ViewBatch, view: View):
    """Linear RGB (B, H, W, 3) float32 of every view (sky included)."""
    xp = batch.xp
    B, H, W = view.depth.shape
    surf = xp.reshape(view.surface, (-1,))
    view_all = xp.repeat(xp.arange(B, dtype=xp.int64), H * W)
    out = xp.take(batch.sky, view_all, axis=0)
    idx = xp.nonzero(surf != SKY)[0]
    if idx.shape[0] == 0:
        return xp.reshape(out, (B, H, W, 3))
    s = xp.take(surf, idx, axis=0)
    vi = xp.take(view_all, idx, axis=0)
    S = batch.texture.shape[1]
    vs = vi * S + s  # flat index into the per-view, per-surface tables

    def table(a):
        return xp.take(xp.reshape(a, (B * S,) + tuple(a.shape[2:])), vs, axis=0)

    local = xp.take(xp.reshape(view.local, (-1, 3)), idx, axis=0)
    # Floor and walls: 2D texture coordinates in their plane (avoids z = 0 flicker).
    on_floor, on_wall = s == FLOOR, s == WALL
    coords = xp.stack([xp.where(on_wall, local[:, 0] + local[:, 1], local[:, 0]),
                       xp.where(on_wall, 0.0, local[:, 1]),
                       xp.where(on_floor, 0.0, local[:, 2])], axis=-1)
    # Objects: a quarter-cell offset keeps cell edges off faces that sit at round sizes.
    coords = coords * table(batch.texture_scale)[:, None] + xp.where((s >= FIRST_OBJECT)[:, None], 0.25, 0.0)
    w = _pattern(coords, table(batch.texture), xp)[:, None]
    albedo = table(batch.color) * (1.0 - w) + table(batch.color2) * w

    n = xp.take(xp.reshape(view.normal, (-1, 3)), idx, axis=0)
    d = xp.take(xp.reshape(view.dirs, (-1, 3)), idx, axis=0)
    t = xp.take(xp.reshape(view.depth, (-1,)), idx, axis=0)
    points = xp.take(view.origin, vi, axis=0) + t[:, None] * d
    to_eye = -d / norm(d, xp)[:, None]
    shininess = 1.0 + 256.0 * (1.0 - table(batch.roughness)) ** 2
    spec = table(batch.specular)
    rgb = albedo * xp.take(batch.ambient, vi, axis=0)[:, None]
    for slot in range(batch.light_kind.shape[1]):
        kinds = np.unique(batch.light_kind_host[:, slot])
        if (kinds == 0).all():
            continue
        kind = xp.take(batch.light_kind[:, slot], vi, axis=0)
        vector = xp.take(batch.light_vector[:, slot], vi, axis=0)
        if (kinds == 1).all():  # directional only: no distances to compute
            L, t_max, falloff = vector, xp.full(vi.shape[0], xp.inf, dtype=xp.float32), 1.0
        else:
            to = vector - points
            dist = norm(to, xp)
            falloff = (xp.take(batch.light_ref[:, slot], vi, axis=0) / xp.maximum(dist, 1e-3)) ** 2
            L, t_max = to / dist[:, None], dist
            if (kinds == 1).any():
                directional = kind == 1
                L = xp.where(directional[:, None], vector, L)
                t_max = xp.where(directional, xp.inf, t_max)
                falloff = xp.where(directional, 1.0, falloff)
        ndl = dot(n, L, xp)
        lit = ndl > 0
        if (kinds == 0).any():
            lit = lit & (kind > 0)
        vis = lit
        lit_idx = xp.nonzero(lit)[0]
        if lit_idx.shape[0]:
            vis = xp.zeros_like(lit)
            def at_lit(a):
                return xp.take(a, lit_idx, axis=0)

            vis[lit_idx] = ~shadowed(batch, at_lit(vi), at_lit(points), at_lit(n), at_lit(L), at_lit(t_max),
                                     at_lit(s))
        half = L + to_eye
        half = half / xp.maximum(norm(half, xp), 1e-6)[:, None]
        ndh = xp.maximum(dot(n, half, xp), 0.0)
        highlight = spec * ndh**shininess
        weight = (xp.take(batch.light_intensity[:, slot], vi, axis=0) * xp.astype(vis, xp.float32) * falloff)[:, None]
        rgb = rgb + weight * (albedo * xp.maximum(ndl, 0.0)[:, None] + highlight[:, None])
    out[idx] = rgb
    return xp.reshape(out, (B, H, W, 3))


def to_srgb8(linear, xp=np):
    """Linear RGB in [0, 1] (any shape, float) -> sRGB uint8 via :data:`SRGB_LUT`."""
    lut = xp.asarray(SRGB_LUT)
    code = xp.astype(xp.clip(xp.round(linear * (_LUT_SIZE - 1)), 0, _LUT_SIZE - 1), xp.int64)
    return lut[code]
