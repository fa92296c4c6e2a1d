"""Environment maps on the device: one launch's tables (:class:`EnvTables`) and the
Warp functions that look them up, radiance along a direction (cube map, trilinear)
and irradiance at a normal (nine SH coefficients).

Layout: see :mod:`factory.render.envmap` (cube faces +x, -x, +y, -y, +z, -z; texel
``[i, j]`` of face ``f`` at ``u = 2 (j + 0.5) / n - 1`` along axis ``(a + 1) % 3``,
``v`` for ``i`` along ``(a + 2) % 3``, ``a = f // 2``, stored at ``[i + 1, j + 1]`` of
an ``(n + 2)^2`` face whose outer ring is a border). A lookup picks the face by the
largest absolute component and divides the other two by it: no angle, no libm call,
the same bits on every CPU model. Within a face it is bilinear between texel centres,
the border supplying the neighbour beyond an edge (no seam), and linear between the
two levels around ``lod``.
"""

from __future__ import annotations

import numpy as np

from factory.render.envmap import EnvMap
from factory.render.geometry import cell
from factory.render.warp_setup import wp


@wp.struct
class EnvTables:
    """Every environment of a launch (E distinct maps, Lv levels in all) and, per scene
    (S), which one it uses. Radiance as :mod:`factory.render.envmap` gives it, float32,
    linear RGB."""

    texels: wp.array(dtype=wp.vec3)  # every level of every map: 6 (n + 2)^2 texels a level, face-major
    level: wp.array(dtype=wp.vec3i)  # (Lv,) n (texels along a face, border not counted), first texel, 0
    first: wp.array(dtype=wp.int32)  # (S,) the scene's map's first row of ``level``
    count: wp.array(dtype=wp.int32)  # (S,) its levels (0: no environment, black)
    sh: wp.array(dtype=wp.vec3)  # (S * 9,) its SH coefficients (envmap.SH_MONOMIALS)
    rot: wp.array(dtype=wp.mat33)  # (S,) world -> environment frame rotation
    strength: wp.array(dtype=wp.float32)  # (S,) radiance scale


def pack_envs(envs: list[EnvMap | None], rotations: list[np.ndarray], strengths: list[float], device) -> EnvTables:
    """The :class:`EnvTables` of one launch: per scene an environment (``None``: none,
    it looks black), a rotation (3, 3) from world to the environment's frame, and a
    strength (its radiance is multiplied by it). The same :class:`EnvMap` object in
    several scenes is uploaded once. ``device``: a
    :class:`factory.render.device.Device`.

    Raises:
        ValueError: the three lists differ in length.
    """
    if not (len(envs) == len(rotations) == len(strengths)):
        raise ValueError(
            f"{len(envs)} envs, {len(rotations)} rotations and {len(strengths)} strengths: one each per scene"
        )
    rows: dict[int, int] = {}  # id(env) -> its first level row
    level_rows: list[tuple[int, int, int]] = []
    chunks: list[np.ndarray] = []
    texel_count = 0
    first = np.zeros(len(envs), np.int32)
    count = np.zeros(len(envs), np.int32)
    sh = np.zeros((max(len(envs), 1) * 9, 3), np.float32)
    for s, env in enumerate(envs):
        if env is None:
            continue
        if id(env) not in rows:
            rows[id(env)] = len(level_rows)
            for level in env.levels:
                level_rows.append((level.shape[1] - 2, texel_count, 0))
                chunks.append(np.asarray(level, np.float32).reshape(-1, 3))
                texel_count += chunks[-1].shape[0]
        first[s], count[s] = rows[id(env)], len(env.levels)
        sh[9 * s : 9 * s + 9] = env.sh
    texels = np.concatenate(chunks) if chunks else np.zeros((1, 3), np.float32)
    rot = np.asarray(rotations, np.float32).reshape(-1, 3, 3) if envs else np.eye(3, dtype=np.float32)[None]
    t = EnvTables()
    t.texels = device.table(texels, wp.vec3)
    t.level = device.table(np.asarray(level_rows or [(0, 0, 0)], np.int32), wp.vec3i)
    t.first = device.table(first if envs else np.zeros(1, np.int32), wp.int32)
    t.count = device.table(count if envs else np.zeros(1, np.int32), wp.int32)
    t.sh = device.table(sh, wp.vec3)
    t.rot = device.table(rot, wp.mat33)
    t.strength = device.table(np.asarray(strengths if envs else [0.0], np.float32), wp.float32)
    return t


@wp.func
def env_levels(env: EnvTables, s: int):
    """Levels of scene ``s``'s environment (0: it has none)."""
    return env.count[s]


@wp.func
def _face_texel(env: EnvTables, first: int, m: int, face: int, x: int, y: int):
    return env.texels[first + (face * m + y) * m + x]


@wp.func
def _face_bilinear(env: EnvTables, row: int, face: int, u: float, v: float):
    """Level ``row`` of ``env.level``, face ``face``, at face coordinates (u, v) in
    [-1, 1]: bilinear between texel centres, the border beyond the edge texels (a face
    of n texels is stored (n + 2)^2: coordinate x of a centre is its index there)."""
    lv = env.level[row]
    m = lv[0] + 2
    top = float(m - 1)
    x = wp.clamp((u + 1.0) * 0.5 * float(lv[0]) + 0.5, 0.0, top)
    y = wp.clamp((v + 1.0) * 0.5 * float(lv[0]) + 0.5, 0.0, top)
    ix, fx = cell(x)
    iy, fy = cell(y)
    ix1 = wp.min(ix + 1, m - 1)
    iy1 = wp.min(iy + 1, m - 1)
    a = _face_texel(env, lv[1], m, face, ix, iy) * (1.0 - fx) + _face_texel(env, lv[1], m, face, ix1, iy) * fx
    b = _face_texel(env, lv[1], m, face, ix, iy1) * (1.0 - fx) + _face_texel(env, lv[1], m, face, ix1, iy1) * fx
    return a * (1.0 - fy) + b * fy


@wp.func
def env_radiance(env: EnvTables, s: int, d: wp.vec3, lod: float):
    """Radiance (linear RGB) arriving from world unit direction ``d`` in scene ``s``,
    times its strength, at level of detail ``lod`` (clamped to the map's levels; level
    l serves GGX roughness l / (levels - 1)). Black where the scene has no map."""
    count = env.count[s]
    if count == 0:
        return wp.vec3(0.0)
    q = env.rot[s] * d
    ax = wp.abs(q[0])
    ay = wp.abs(q[1])
    az = wp.abs(q[2])
    face = int(0)
    m = q[0]
    u = q[1]
    v = q[2]
    if ax >= ay and ax >= az:
        face = 0
    elif ay >= az:
        face = 2
        m = q[1]
        u = q[2]
        v = q[0]
    else:
        face = 4
        m = q[2]
        u = q[0]
        v = q[1]
    if m < 0.0:
        face = face + 1
    inv = 1.0 / wp.max(wp.abs(m), 1.0e-30)
    level = wp.clamp(lod, 0.0, float(count - 1))
    l0 = wp.floor(level)
    f = level - l0
    row = env.first[s] + int(l0)
    c = _face_bilinear(env, row, face, u * inv, v * inv)
    if f > 0.0:
        c = c * (1.0 - f) + _face_bilinear(env, row + 1, face, u * inv, v * inv) * f
    return c * env.strength[s]


@wp.func
def env_irradiance(env: EnvTables, s: int, n: wp.vec3):
    """Irradiance over pi (linear RGB) at world unit normal ``n`` in scene ``s``: the
    nine SH coefficients on their monomials (1, y, z, x, xy, yz, 3z^2 - 1, xz,
    x^2 - y^2) of the rotated normal, times the strength, clamped at 0 (band-2 ringing
    can dip below zero opposite a bright sun)."""
    q = env.rot[s] * n
    x = q[0]
    y = q[1]
    z = q[2]
    k = 9 * s
    e = env.sh[k] + env.sh[k + 1] * y + env.sh[k + 2] * z + env.sh[k + 3] * x
    e = e + env.sh[k + 4] * (x * y) + env.sh[k + 5] * (y * z) + env.sh[k + 6] * (3.0 * z * z - 1.0)
    e = e + env.sh[k + 7] * (x * z) + env.sh[k + 8] * (x * x - y * y)
    e = e * env.strength[s]
    return wp.vec3(wp.max(e[0], 0.0), wp.max(e[1], 0.0), wp.max(e[2], 0.0))
