"""Surface colour as Warp functions: a surface's look (base colour and roughness,
blended by its solid procedural pattern), the microfacet model of
:mod:`factory.render.brdf` under the scene's environment (the backdrop's irradiance
and its prefiltered radiance) and each light, shadows (hard, or soft from square area
lights) and ambient occlusion.

Per light: ``intensity * colour * lit * falloff * direct(...)``, ``direct`` being pi
times the BRDF times the cosine (a white matte surface facing a light of intensity I
reflects I); ``lit`` the fraction of the light that reaches the point; point and area
lights fall off as ``(ref / |p - x|)^2`` so that ``intensity`` holds at their sampled
distance. The environment adds ``ambient(...)``: its irradiance (darkened by ambient
occlusion, with the config's uniform fill) and, for the specular, its radiance
around the mirror direction at the level of detail of the roughness.

Sampling is deterministic: a per-pixel rank-1 lattice (stratified in both axes)
shifted by Warp's counter-based random numbers seeded from the pixel, so the same
pixel gets the same rays in any launch. No libm calls (the square-to-disk map uses
only sqrt), so CPU bits do not depend on the CPU model.
"""

from __future__ import annotations

from factory.render.brdf import ambient_at, direct_at, view_terms
from factory.render.environment import env_irradiance, env_levels, env_radiance
from factory.render.patterns import pattern
from factory.render.tables import DIRECTIONAL, FIRST_OBJECT, FLOOR, WALL, WOOD, Quality, Scenes, Views
from factory.render.trace import occluded
from factory.render.warp_setup import wp

GOLDEN = wp.constant(0.6180339887498949)


@wp.func
def look(scenes: Scenes, surf: int, code: int, local: wp.vec3):
    """Base colour (linear RGB) and perceptual roughness of surface row ``surf`` (code
    ``code``) at ``local``: its two colours and roughnesses blended by its pattern."""
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
    kind = scenes.texture[surf]
    if kind == WOOD and code == FLOOR:  # rings about an axis in the plane: planks, not a bullseye
        z = x
        x = y + 5.3 / scenes.texture_scale[surf]
        y = 0.37 / scenes.texture_scale[surf]
    c = wp.vec3(x, y, z) * scenes.texture_scale[surf]
    if code >= FIRST_OBJECT:  # a quarter-cell offset keeps cell edges off faces at round sizes
        c = c + wp.vec3(0.25, 0.25, 0.25)
    w = pattern(kind, c, scenes.pattern_seed[surf])
    base = scenes.color[surf] * (1.0 - w) + scenes.color2[surf] * w
    rough = scenes.roughness[surf] * (1.0 - w) + scenes.roughness2[surf] * w
    return base, rough


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
        else:  # point or area: a square emitter of half-width spread facing p
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
    base: wp.vec3,
    rough: float,
    seed: int,
    i: int,
    j: int,
):
    """Linear RGB of surface ``code`` seen along d at world point p (shading normal n,
    geometric normal ng facing the viewer), pixel (i, j)'s hit, of base colour
    ``base`` and roughness ``rough`` (:func:`look`, or a mesh's texture); ``seed``
    picks the pixel's sample shift."""
    s = views.scene[v]
    surf = scenes.surf_start[s] + code
    metal = scenes.metallic[surf]
    spec = scenes.specular[surf]
    shift = wp.vec2(0.0, 0.0)
    if q.ao_rays > 0 or q.shadow_rays > 1:  # only sampled rays use the pixel's shift
        rng = wp.rand_init(seed)
        shift = wp.vec2(wp.randf(rng), wp.randf(rng))
    start = p + ng * 2.0e-3  # lifted off the surface against self-hits
    to_eye = -wp.normalize(d)
    ndv = wp.dot(n, to_eye)
    open_sky = ambient_fraction(views, scenes, v, start, ng, q, shift)
    irradiance = (env_irradiance(scenes.env, s, n) + wp.vec3(scenes.ambient[s])) * open_sky
    mirror = 2.0 * ndv * n - to_eye
    lod = wp.floor(rough * float(env_levels(scenes.env, s) - 1) + 0.5)
    terms = view_terms(scenes.dfg, ndv, rough)  # shared by the environment and every light
    rgb = ambient_at(terms, base, metal, spec, irradiance, env_radiance(scenes.env, s, mirror, lod))
    first = scenes.light_start[s]
    for li in range(scenes.light_count[s]):
        lt = first + li
        vec = scenes.light_vec[lt]
        L = vec
        t_max = float(1.0e30)
        falloff = float(1.0)
        if scenes.light_kind[lt] != DIRECTIONAL:
            to = vec - p
            dist = wp.length(to)
            ratio = scenes.light_ref[lt] / wp.max(dist, 1.0e-3)
            falloff = ratio * ratio
            L = to / dist
            t_max = dist
        if wp.dot(n, L) <= 0.0:
            continue
        lit = light_fraction(views, scenes, v, lt, start, L, t_max, code, q.shadow_rays, shift, li, i, j)
        if lit <= 0.0:
            continue
        reflected = direct_at(scenes.dfg, terms, base, metal, rough, spec, n, to_eye, L)
        rgb = rgb + wp.cw_mul(scenes.light_intensity[lt], reflected) * (lit * falloff)
    return rgb
