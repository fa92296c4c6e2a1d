"""Surface colour as Warp functions: procedural textures, Lambert diffuse and a
Blinn-Phong highlight per light, shadows (hard, or soft from square area lights),
ambient light with optional ambient occlusion.

Per light: ``albedo * I * max(0, n.l) + specular * I * max(0, n.h)^shininess``, scaled
by the fraction of the light that reaches the point; point lights fall off as
``(ref / |p - x|)^2`` so that ``intensity`` is the irradiance at their sampled
distance. Plus ``albedo * ambient * (1 - occluded fraction)``.

Sampling is deterministic: a per-pixel rank-1 lattice (stratified in both axes)
shifted by Warp's counter-based random numbers seeded from the pixel, so the same
pixel gets the same rays in any launch. No libm calls (the exponent is an integer,
the square-to-disk map uses only sqrt), so CPU bits do not depend on the CPU model.
"""

from __future__ import annotations

from factory.render.tables import (
    CHECKER,
    DIRECTIONAL,
    FIRST_OBJECT,
    FLOOR,
    NOISE,
    POINT,
    STRIPES,
    WALL,
    Quality,
    Scenes,
    Views,
)
from factory.render.trace import occluded
from factory.render.warp_setup import wp

GOLDEN = wp.constant(0.6180339887498949)


@wp.func
def pattern(coords: wp.vec3, tex: int):
    """Pattern weight in [0, 1] of texture ``tex`` (a texture code of
    :mod:`factory.render.tables`; PLAIN is 0 everywhere) at scaled coordinates."""
    cx = wp.int64(wp.floor(coords[0]))
    cy = wp.int64(wp.floor(coords[1]))
    cz = wp.int64(wp.floor(coords[2]))
    if tex == CHECKER:
        return float(((cx + cy + cz) % wp.int64(2) + wp.int64(2)) % wp.int64(2))
    if tex == STRIPES:
        return float((cx % wp.int64(2) + wp.int64(2)) % wp.int64(2))
    if tex == NOISE:  # cell noise: an integer hash of the lattice cell
        h = (cx * wp.int64(73856093)) ^ (cy * wp.int64(19349663)) ^ (cz * wp.int64(83492791))
        h = (h ^ (h >> wp.int64(13))) * wp.int64(1274126177)
        return float((h >> wp.int64(16)) & wp.int64(1023)) / 1023.0
    return 0.0


@wp.func
def albedo(scenes: Scenes, surf: int, code: int, local: wp.vec3):
    """Linear RGB albedo of surface row ``surf`` (code ``code``) at ``local``."""
    # Scalars, not a vector written one component at a time: a partly rewritten
    # vector read back whole stalls the CPU's store forwarding (~6% of a frame).
    x = local[0]
    y = local[1]
    z = local[2]
    if code == FLOOR:
        z = 0.0  # 2D coordinates in the plane: no z = 0 flicker
    elif code == WALL:
        x = local[0] + local[1]
        y = 0.0
    c = wp.vec3(x, y, z) * scenes.texture_scale[surf]
    if code >= FIRST_OBJECT:  # a quarter-cell offset keeps cell edges off faces at round sizes
        c = c + wp.vec3(0.25, 0.25, 0.25)
    w = pattern(c, scenes.texture[surf])
    return scenes.color[surf] * (1.0 - w) + scenes.color2[surf] * w


@wp.func
def ipow(x: float, n: int):
    """x ** n for n >= 0 by repeated squaring."""
    result = float(1.0)
    base = x
    e = n
    while e > 0:
        # A multiply by 1.0 for a zero bit: the same bits as skipping it, without a
        # branch that each surface's exponent would mispredict.
        result = result * wp.where(e % 2 == 1, base, 1.0)
        base = base * base
        e = e // 2
    return result


@wp.func
def basis(n: wp.vec3):
    """Two unit vectors completing n (unit) to an orthonormal frame."""
    a = wp.vec3(0.0, 0.0, 1.0)
    if wp.abs(n[2]) > 0.9:
        a = wp.vec3(1.0, 0.0, 0.0)
    e1 = wp.normalize(wp.cross(a, n))
    return e1, wp.cross(n, e1)


@wp.func
def lattice(s: int, count: int, shift: wp.vec2):
    """Point s of a count-point rank-1 lattice in [0, 1)^2, shifted (mod 1)."""
    a = (float(s) + shift[0]) / float(count)
    b = float(s) * GOLDEN + shift[1]
    return wp.vec2(a, b - wp.floor(b))


@wp.func
def light_fraction(
    views: Views,
    scenes: Scenes,
    v: int,
    lt: int,
    p: wp.vec3,
    L: wp.vec3,
    t_max: float,
    skip: int,
    rays: int,
    shift: wp.vec2,
    li: int,
    i: int,
    j: int,
):
    """Fraction of light ``lt`` (its scene's light ``li``) that reaches p (L: unit
    direction to its centre), the shading point of pixel (i, j)."""
    spread = scenes.light_spread[lt]
    if rays <= 1 or spread <= 0.0:
        hard = int(-1)  # a directional light's hard ray may use the pixel's shadow rects
        if scenes.light_kind[lt] == DIRECTIONAL:
            hard = li
        if occluded(views, scenes, v, p, L, t_max, skip, False, hard, i, j):
            return 0.0
        return 1.0
    e1, e2 = basis(L)
    free = int(0)
    for s in range(rays):
        q = lattice(s, rays, shift)
        off = (2.0 * q[0] - 1.0) * e1 + (2.0 * q[1] - 1.0) * e2
        if scenes.light_kind[lt] == DIRECTIONAL:  # directional: a cone of half-width atan(spread)
            d = wp.normalize(L + spread * off)
            tm = t_max
        else:  # point: a square emitter of half-width spread facing p
            to = L * t_max + spread * off
            tm = wp.length(to)
            d = to / tm
        if not occluded(views, scenes, v, p, d, tm, skip, False, -1, i, j):
            free += 1
    return float(free) / float(rays)


@wp.func
def ambient_fraction(views: Views, scenes: Scenes, v: int, p: wp.vec3, n: wp.vec3, q: Quality, shift: wp.vec2):
    """Fraction of the cosine-weighted hemisphere over n left open within ao_distance."""
    if q.ao_rays <= 0:
        return 1.0
    e1, e2 = basis(n)
    free = int(0)
    for s in range(q.ao_rays):
        u = lattice(s, q.ao_rays, shift)
        x = 2.0 * u[0] - 1.0
        y = 2.0 * u[1] - 1.0
        # The square onto the unit disk with square roots only; lifting it onto the
        # hemisphere gives cosine-weighted-like directions.
        dx = x * wp.sqrt(wp.max(1.0 - 0.5 * y * y, 0.0))
        dy = y * wp.sqrt(wp.max(1.0 - 0.5 * x * x, 0.0))
        dz = wp.sqrt(wp.max(1.0 - dx * dx - dy * dy, 0.0))
        d = dx * e1 + dy * e2 + dz * n
        if not occluded(views, scenes, v, p, d, q.ao_distance, -1, True, -1, 0, 0):
            free += 1
    return float(free) / float(q.ao_rays)


@wp.func
def shade(
    views: Views,
    scenes: Scenes,
    q: Quality,
    v: int,
    code: int,
    p: wp.vec3,
    d: wp.vec3,
    n: wp.vec3,
    ng: wp.vec3,
    local: wp.vec3,
    texture: wp.vec3,
    textured: bool,
    seed: int,
    i: int,
    j: int,
):
    """Linear RGB of surface ``code`` seen along d at world point p (shading normal n,
    geometric normal ng facing the viewer; ``local``: the hit in the surface's own
    frame), pixel (i, j)'s hit. ``seed`` picks the pixel's sample shift. The base
    colour is ``texture`` where ``textured`` (a mesh whose faces carry
    materials: :func:`factory.render.surface.mesh_albedo`, which the kernel calls
    itself: inlined here it made this function too big to inline, and every call
    copied the structs), else the surface row's colours and pattern."""
    s = views.scene[v]
    surf = scenes.surf_start[s] + code
    base = texture
    if not textured:
        base = albedo(scenes, surf, code, local)
    shift = wp.vec2(0.0, 0.0)
    if q.ao_rays > 0 or q.shadow_rays > 1:  # only sampled rays use the pixel's shift
        rng = wp.rand_init(seed)
        shift = wp.vec2(wp.randf(rng), wp.randf(rng))
    start = p + ng * 2.0e-3  # lifted off the surface against self-hits
    rgb = base * scenes.ambient[s] * ambient_fraction(views, scenes, v, start, ng, q, shift)
    to_eye = -wp.normalize(d)
    first = scenes.light_start[s]
    for li in range(scenes.light_count[s]):
        lt = first + li
        vec = scenes.light_vec[lt]
        L = vec
        t_max = float(1.0e30)
        falloff = float(1.0)
        if scenes.light_kind[lt] == POINT:
            to = vec - p
            dist = wp.length(to)
            ratio = scenes.light_ref[lt] / wp.max(dist, 1.0e-3)
            falloff = ratio * ratio
            L = to / dist
            t_max = dist
        ndl = wp.dot(n, L)
        if ndl <= 0.0:
            continue
        lit = light_fraction(views, scenes, v, lt, start, L, t_max, code, q.shadow_rays, shift, li, i, j)
        if lit <= 0.0:
            continue
        half = wp.normalize(L + to_eye)
        highlight = scenes.specular[surf] * ipow(wp.max(wp.dot(n, half), 0.0), scenes.shininess[surf])
        rgb = rgb + (scenes.light_intensity[lt] * lit * falloff) * (base * ndl + wp.vec3(highlight))
    return rgb
