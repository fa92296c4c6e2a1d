"""The microfacet BRDF as Warp functions: GGX (Trowbridge-Reitz) normals,
height-correlated Smith masking, Schlick's Fresnel, with multiple-scattering energy
compensation and a diffuse lobe weighted by what the specular leaves.

Parameters (metallic-roughness, as glTF / UE4 / Filament): base colour b (linear
RGB), perceptual roughness r in [0, 1] (GGX alpha = max(r^2, MIN_ALPHA)), metallic
m in [0, 1], ``specular`` s in [0, 1] (a dielectric's F0 = 0.08 s: 0.5 -> 0.04).
The BRDF is the glTF blend of a metal (F0 = b, no diffuse) and a dielectric
(F0 = 0.08 s, diffuse colour b): f = m f_metal + (1 - m) f_dielectric, each

    f = D V F(v.h)                                   single scattering
      + Fms(F0) (1 - E(mu_v)) (1 - E(mu_l)) / (pi (1 - E_avg))   multiple scattering
      + c (1 - S(mu_v)) (1 - S(mu_l)) / (pi (1 - S_avg))         diffuse (dielectric)

E(mu) = A + B the single-scattering albedo at F0 = 1, E_avg its cosine-weighted mean,
Fms = F_avg^2 E_avg / (1 - F_avg (1 - E_avg)) with F_avg = F0 + (1 - F0) / 21
(Kulla-Conty 2017), S(mu) = F0 A + B + Fms (1 - E(mu)) the dielectric's whole
specular albedo: the diffuse lobe carries exactly the energy the specular leaves
(Kelemen / Ashikhmin-Shirley form). Every term is symmetric in v and l, and a white
(b = 1) surface of any metallic and roughness reflects all it receives: the
multiple-scattering and diffuse lobes integrate over l to Fms (1 - E(mu_v)) and
c (1 - S(mu_v)), which :func:`ambient` applies to an environment: the split sum
(F0 A + B) to the radiance prefiltered about the mirror direction, the broad
multiple-scattering and diffuse lobes to the irradiance (as Fdez-Aguera 2019).

A, B, their averages: the split-sum table of :mod:`factory.render.dfg` (float32
(N, N + 1) of vec2), read bilinearly. No libm calls (sqrt and integer powers only).
"""

from __future__ import annotations

from factory.render.dfg import MIN_ALPHA as _MIN_ALPHA
from factory.render.warp_setup import wp

PI = wp.constant(3.14159265358979)
INV_PI = wp.constant(0.318309886183791)
MIN_ALPHA = wp.constant(_MIN_ALPHA)  # GGX alpha floor: r = 0 is a sharp but finite lobe
MIN_NDV = wp.constant(1.0e-4)  # n.v floor: a shading normal tilted past the eye is not black
TINY = wp.constant(1.0e-6)


@wp.func
def ggx_d(ndh: float, alpha: float):
    """Trowbridge-Reitz / GGX normal distribution D(h) (1/sr) at n.h = ``ndh`` for
    roughness ``alpha``: its integral of D(h) (n.h) over the hemisphere is 1."""
    a2 = alpha * alpha
    # 1 + n.h^2 (a^2 - 1) written so that near the peak (n.h -> 1, a small) nothing
    # cancels: 1 - n.h is exact there in float32, 1 + a^2 - 1 is not.
    d = (1.0 - ndh) * (1.0 + ndh) + ndh * ndh * a2
    return a2 * INV_PI / (d * d)


@wp.func
def smith_v(ndv: float, ndl: float, alpha: float):
    """Height-correlated Smith visibility G2 / (4 n.v n.l) (Heitz 2014), n.v, n.l > 0."""
    a2 = alpha * alpha
    gv = ndl * wp.sqrt(ndv * ndv * (1.0 - a2) + a2)
    gl = ndv * wp.sqrt(ndl * ndl * (1.0 - a2) + a2)
    return 0.5 / (gv + gl)


@wp.func
def schlick_f(f0: wp.vec3, vdh: float):
    """Schlick's Fresnel reflectance F0 + (1 - F0) (1 - v.h)^5 per channel."""
    x = wp.clamp(1.0 - vdh, 0.0, 1.0)
    x2 = x * x
    w = x2 * x2 * x
    return f0 * (1.0 - w) + wp.vec3(w, w, w)


@wp.func
def reflect(d: wp.vec3, n: wp.vec3):
    """``d`` mirrored about the plane of unit normal n: d - 2 (d.n) n (for the view
    direction v towards the eye, ``reflect(-v, n)`` is the mirror direction)."""
    return d - 2.0 * wp.dot(d, n) * n


@wp.func
def alpha_of(roughness: float):
    """GGX alpha of perceptual roughness r: max(r^2, MIN_ALPHA)."""
    return wp.max(roughness * roughness, MIN_ALPHA)


@wp.func
def _dfg_at(dfg: wp.array2d(dtype=wp.vec2), x: float, roughness: float):
    """The table bilinear at column coordinate x (clamped to the mu columns, whose
    centres are 0 .. N - 1) or, for x = N, along the averages column; row
    coordinate r (N - 1)."""
    rows = dfg.shape[0]
    y = wp.clamp(roughness * float(rows - 1), 0.0, float(rows - 1))
    i0 = int(wp.floor(y))
    i1 = wp.min(i0 + 1, rows - 1)
    fy = y - float(i0)
    j0 = int(wp.floor(x))
    j1 = wp.min(j0 + 1, dfg.shape[1] - 2)
    fx = x - float(j0)
    if j0 >= dfg.shape[1] - 1:  # the averages column
        j1 = j0
        fx = 0.0
    top = dfg[i0, j0] * (1.0 - fx) + dfg[i0, j1] * fx
    low = dfg[i1, j0] * (1.0 - fx) + dfg[i1, j1] * fx
    return top * (1.0 - fy) + low * fy


@wp.func
def env_dfg(dfg: wp.array2d(dtype=wp.vec2), ndv: float, roughness: float):
    """The split-sum pair (A, B) at n.v and perceptual roughness, bilinear in the
    table of :func:`factory.render.dfg.dfg_table` (N rows, N + 1 columns): the
    single-scattering specular albedo is F0 A + B."""
    cols = dfg.shape[1] - 1
    x = wp.clamp(ndv * float(cols) - 0.5, 0.0, float(cols - 1))
    return _dfg_at(dfg, x, roughness)


@wp.func
def dfg_average(dfg: wp.array2d(dtype=wp.vec2), roughness: float):
    """(A, B) averaged over the hemisphere with weight 2 mu (the table's last column)."""
    return _dfg_at(dfg, float(dfg.shape[1] - 1), roughness)


@wp.func
def ms_scale(f0: float, e_avg: float):
    """Kulla-Conty's colour of the multiple-scattering lobe for one channel of F0:
    F_avg^2 E_avg / (1 - F_avg (1 - E_avg)), F_avg = F0 + (1 - F0) / 21 (1 for F0 = 1)."""
    f_avg = f0 + (1.0 - f0) * (1.0 / 21.0)
    return f_avg * f_avg * e_avg / wp.max(1.0 - f_avg * (1.0 - e_avg), TINY)


@wp.func
def _ms_colour(base: wp.vec3, metallic: float, f0d: float, e_avg: float):
    """The blend m Fms(b) + (1 - m) Fms(F0_d) per channel."""
    md = (1.0 - metallic) * ms_scale(f0d, e_avg)
    return wp.vec3(
        metallic * ms_scale(base[0], e_avg) + md,
        metallic * ms_scale(base[1], e_avg) + md,
        metallic * ms_scale(base[2], e_avg) + md,
    )


@wp.func
def view_terms(dfg: wp.array2d(dtype=wp.vec2), ndv: float, roughness: float):
    """What every light and the environment share at one shading point: (A, B) at
    n.v (floored at MIN_NDV) and the hemispherical averages (A, B), as (A_v, B_v,
    A_avg, B_avg): looked up once a pixel, not once a light."""
    ab = env_dfg(dfg, wp.max(ndv, MIN_NDV), roughness)
    avg = dfg_average(dfg, roughness)
    return wp.vec4(ab[0], ab[1], avg[0], avg[1])


@wp.func
def direct(
    dfg: wp.array2d(dtype=wp.vec2),
    base: wp.vec3,
    metallic: float,
    roughness: float,
    specular: float,
    n: wp.vec3,
    v: wp.vec3,
    l: wp.vec3,  # noqa: E741
):
    """What a light of intensity I from unit direction l adds at a surface of unit
    normal n seen from unit direction v (towards the eye), divided by I: pi f(v, l)
    max(n.l, 0), f the BRDF of the module docstring (so a white Lambertian facing the
    light gives 1). Linear RGB, >= 0; 0 where n.l <= 0; n.v is floored at MIN_NDV.
    :func:`direct_at` with the point's :func:`view_terms`."""
    terms = view_terms(dfg, wp.dot(n, v), roughness)
    return direct_at(dfg, terms, base, metallic, roughness, specular, n, v, l)


@wp.func
def direct_at(
    dfg: wp.array2d(dtype=wp.vec2),
    terms: wp.vec4,
    base: wp.vec3,
    metallic: float,
    roughness: float,
    specular: float,
    n: wp.vec3,
    v: wp.vec3,
    l: wp.vec3,  # noqa: E741
):
    """:func:`direct` given the shading point's :func:`view_terms` ``terms``."""
    ndl = wp.dot(n, l)
    if ndl <= 0.0:
        return wp.vec3(0.0, 0.0, 0.0)
    ndv = wp.max(wp.dot(n, v), MIN_NDV)
    alpha = alpha_of(roughness)
    h = wp.normalize(v + l)
    f0d = 0.08 * specular
    f0 = base * metallic + wp.vec3(f0d, f0d, f0d) * (1.0 - metallic)
    single = ggx_d(wp.max(wp.dot(n, h), 0.0), alpha) * smith_v(ndv, ndl, alpha) * schlick_f(f0, wp.dot(v, h))
    ab_v = wp.vec2(terms[0], terms[1])
    ab_l = env_dfg(dfg, ndl, roughness)
    avg = wp.vec2(terms[2], terms[3])
    e_v = ab_v[0] + ab_v[1]
    e_l = ab_l[0] + ab_l[1]
    e_avg = avg[0] + avg[1]
    multi = _ms_colour(base, metallic, f0d, e_avg) * (
        wp.max(1.0 - e_v, 0.0) * wp.max(1.0 - e_l, 0.0) * INV_PI / wp.max(1.0 - e_avg, TINY)
    )
    # The dielectric's whole specular albedo S at v, at l and on average.
    fms_d = ms_scale(f0d, e_avg)
    s_v = f0d * ab_v[0] + ab_v[1] + fms_d * (1.0 - e_v)
    s_l = f0d * ab_l[0] + ab_l[1] + fms_d * (1.0 - e_l)
    s_avg = f0d * avg[0] + avg[1] + fms_d * (1.0 - e_avg)
    diffuse = base * (
        (1.0 - metallic) * wp.max(1.0 - s_v, 0.0) * wp.max(1.0 - s_l, 0.0) * INV_PI / wp.max(1.0 - s_avg, TINY)
    )
    return (single + multi + diffuse) * (PI * ndl)


@wp.func
def ambient(
    dfg: wp.array2d(dtype=wp.vec2),
    base: wp.vec3,
    metallic: float,
    roughness: float,
    specular: float,
    ndv: float,
    irradiance: wp.vec3,
    prefiltered: wp.vec3,
):
    """Radiance an environment reflects towards the eye (linear RGB, the units of its
    inputs) at a surface with n.v = ``ndv`` (floored at MIN_NDV): the split sum
    (F0 A + B) * ``prefiltered`` (the environment's radiance about the mirror
    direction, filtered for the roughness) plus the multiple-scattering and diffuse
    lobes, m Fms(b) (1 - E) + (1 - m) (Fms(F0_d) (1 - E) + b (1 - S)), times
    ``irradiance`` (irradiance over pi at n: a uniform environment of radiance L gives
    L). A white surface under a uniform environment returns it unchanged; for every
    surface this is the integral of :func:`direct` / pi over l under that environment."""
    return ambient_at(view_terms(dfg, ndv, roughness), base, metallic, specular, irradiance, prefiltered)


@wp.func
def ambient_at(
    terms: wp.vec4, base: wp.vec3, metallic: float, specular: float, irradiance: wp.vec3, prefiltered: wp.vec3
):
    """:func:`ambient` given the shading point's :func:`view_terms` ``terms``."""
    ab = wp.vec2(terms[0], terms[1])
    avg = wp.vec2(terms[2], terms[3])
    e = ab[0] + ab[1]
    e_avg = avg[0] + avg[1]
    f0d = 0.08 * specular
    f0 = base * metallic + wp.vec3(f0d, f0d, f0d) * (1.0 - metallic)
    single = f0 * ab[0] + wp.vec3(ab[1], ab[1], ab[1])
    multi = _ms_colour(base, metallic, f0d, e_avg) * wp.max(1.0 - e, 0.0)
    s = f0d * ab[0] + ab[1] + ms_scale(f0d, e_avg) * (1.0 - e)
    diffuse = base * ((1.0 - metallic) * wp.max(1.0 - s, 0.0))
    return wp.cw_mul(single, prefiltered) + wp.cw_mul(multi + diffuse, irradiance)
