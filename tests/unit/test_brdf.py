"""The microfacet BRDF (factory.render.brdf) and its split-sum table (factory.render.dfg)
against independent references: analytic limits and NumPy float64 quadrature over a
dense grid of directions (never the importance sampling the table uses).

The Warp functions run on the CPU through small kernels here, over arrays."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from factory.render import dfg as dfg_module
from factory.render.brdf import ambient, direct, env_dfg, ggx_d, reflect, schlick_f, smith_v
from factory.render.device import get_device, warp
from factory.render.dfg import DFG_SIZE, MIN_ALPHA, dfg_table
from factory.render.warp_setup import KERNEL_OPTIONS, wp

wp.set_module_options(KERNEL_OPTIONS)


@wp.kernel
def _scalars(
    x: wp.array(dtype=wp.vec3), f0: wp.array(dtype=wp.vec3), d: wp.array(dtype=float), f: wp.array(dtype=wp.vec3)
):
    """x = (n.h or v.h, alpha, unused): D(n.h, alpha) and Schlick's F(f0, v.h)."""
    i = wp.tid()
    d[i] = ggx_d(x[i][0], x[i][1])
    f[i] = schlick_f(f0[i], x[i][0])


@wp.kernel
def _visibility(x: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = smith_v(x[i][0], x[i][1], x[i][2])


@wp.kernel
def _mirror(d: wp.array(dtype=wp.vec3), n: wp.array(dtype=wp.vec3), out: wp.array(dtype=wp.vec3)):
    i = wp.tid()
    out[i] = reflect(d[i], n[i])


@wp.kernel
def _lookup(dfg: wp.array2d(dtype=wp.vec2), x: wp.array(dtype=wp.vec2), out: wp.array(dtype=wp.vec2)):
    """x = (n.v, roughness)."""
    i = wp.tid()
    out[i] = env_dfg(dfg, x[i][0], x[i][1])


@wp.kernel
def _direct(
    dfg: wp.array2d(dtype=wp.vec2),
    base: wp.array(dtype=wp.vec3),
    par: wp.array(dtype=wp.vec3),
    v: wp.array(dtype=wp.vec3),
    l: wp.array(dtype=wp.vec3),  # noqa: E741
    out: wp.array2d(dtype=wp.vec3),
):
    """Case c (base, (metallic, roughness, specular), v) at light direction k; n = z."""
    c, k = wp.tid()
    p = par[c]
    out[c, k] = direct(dfg, base[c], p[0], p[1], p[2], wp.vec3(0.0, 0.0, 1.0), v[c], l[k])


@wp.kernel
def _ambient(
    dfg: wp.array2d(dtype=wp.vec2),
    base: wp.array(dtype=wp.vec3),
    par: wp.array(dtype=wp.vec3),
    ndv: wp.array(dtype=float),
    light: wp.array(dtype=wp.vec3),
    out: wp.array(dtype=wp.vec3),
):
    """light[i] = (irradiance, prefiltered, unused), grey."""
    i = wp.tid()
    p = par[i]
    g = light[i]
    out[i] = ambient(dfg, base[i], p[0], p[1], p[2], ndv[i], wp.vec3(g[0], g[0], g[0]), wp.vec3(g[1], g[1], g[1]))


DEV = "cpu"


def _arr(a, dtype):
    return get_device(DEV).table(np.asarray(a, np.float32), dtype)


def _table():
    return _arr(dfg_table(), wp.vec2)


def _launch(kernel, dim, inputs, outputs):
    warp().launch(kernel, dim=dim, inputs=inputs, outputs=outputs, device=DEV)
    return [o.numpy().astype(np.float64) for o in outputs]


def _empty(shape, dtype):
    return warp().zeros(shape, dtype=dtype, device=DEV)


# --- independent NumPy references (float64) ---


def _ggx_ref(ndh, alpha):
    """D from its slope-space form: 1 / (pi alpha^2 cos^4 (1 + tan^2 / alpha^2)^2)."""
    c2 = ndh * ndh
    tan2 = (1.0 - c2) / c2
    return 1.0 / (np.pi * alpha**2 * c2 * c2 * (1.0 + tan2 / alpha**2) ** 2)


def _vis_ref(ndv, ndl, alpha):
    """G2 / (4 n.v n.l) with G2 = 1 / (1 + Lambda(v) + Lambda(l)) (Heitz 2014, eq. 99)."""

    def lam(mu):
        return 0.5 * (np.sqrt(1.0 + alpha**2 * (1.0 - mu * mu) / (mu * mu)) - 1.0)

    return 1.0 / (1.0 + lam(ndv) + lam(ndl)) / (4.0 * ndv * ndl)


@functools.cache
def _hemisphere(nt: int, nphi: int):
    """Midpoint grid over the upper hemisphere, azimuth in (0, pi) (the integrands here
    are even in y): unit directions (nt * nphi, 3) and solid-angle weights doubled."""
    t = (np.arange(nt) + 0.5) / nt * (np.pi / 2)
    p = (np.arange(nphi) + 0.5) / nphi * np.pi
    tt, pp = np.meshgrid(t, p, indexing="ij")
    d = np.stack([np.sin(tt) * np.cos(pp), np.sin(tt) * np.sin(pp), np.cos(tt)], -1).reshape(-1, 3)
    w = (2.0 * np.sin(tt) * (np.pi / 2 / nt) * (np.pi / nphi)).reshape(-1)
    return d, w


@functools.cache
def _albedo_ref(r: float, mu: float, nt: int = 1024, nphi: int = 1024) -> tuple[float, float]:
    """(A, B): the GGX / Smith single-scattering albedo's F0 and constant parts at
    roughness r and n.v = mu, by the dense grid over l."""
    a = max(r * r, MIN_ALPHA)
    ld, w = _hemisphere(nt, nphi)
    v = np.array([np.sqrt(1.0 - mu * mu), 0.0, mu])
    h = ld + v
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    ndl = ld[:, 2]
    f = _ggx_ref(h[:, 2], a) * _vis_ref(mu, ndl, a) * ndl * w
    fc = (1.0 - h @ v) ** 5
    return float(np.sum(f * (1.0 - fc))), float(np.sum(f * fc))


def _view(mu):
    return [np.sqrt(1.0 - mu * mu), 0.0, mu]


# --- the lobe's parts ---


@pytest.mark.parametrize("alpha", [MIN_ALPHA, 0.01, 0.05, 0.2, 0.5, 1.0])
def test_ggx_is_normalised(alpha):
    # 2 pi * integral of D(mu) mu dmu over mu = n.h in [0, 1]; the peak at mu = 1 has
    # width ~alpha^2 in 1 - mu, so the grid is geometric in 1 - mu (trapezoid).
    s = np.concatenate([[0.0], np.geomspace(1e-10, 1.0, 40000)])
    mu = (1.0 - s).astype(np.float32)
    x = np.stack([mu, np.full_like(mu, alpha), np.zeros_like(mu)], -1)
    d, _ = _launch(
        _scalars,
        len(mu),
        [_arr(x, wp.vec3), _arr(np.zeros_like(x), wp.vec3)],
        [_empty(len(mu), float), _empty(len(mu), wp.vec3)],
    )
    m = mu.astype(np.float64)
    y = d * m
    integral = 2.0 * np.pi * np.sum(0.5 * (y[1:] + y[:-1]) * (m[:-1] - m[1:]))
    assert integral == pytest.approx(1.0, abs=2e-3)
    ok = m > 0.01
    np.testing.assert_allclose(d[ok], _ggx_ref(m[ok], alpha), rtol=1e-4)


def test_schlick_is_f0_at_normal_incidence_and_one_at_grazing():
    f0 = np.array([[0.04, 0.04, 0.04], [0.95, 0.64, 0.54], [0.0, 0.5, 1.0]])
    for cos, want in ((1.0, f0), (0.0, np.ones_like(f0))):
        x = np.tile([cos, 0.5, 0.0], (3, 1))
        _, f = _launch(_scalars, 3, [_arr(x, wp.vec3), _arr(f0, wp.vec3)], [_empty(3, float), _empty(3, wp.vec3)])
        np.testing.assert_allclose(f, want, atol=1e-7)
    x = np.tile([0.5, 0.5, 0.0], (3, 1))  # midway: F0 + (1 - F0) / 32
    _, f = _launch(_scalars, 3, [_arr(x, wp.vec3), _arr(f0, wp.vec3)], [_empty(3, float), _empty(3, wp.vec3)])
    np.testing.assert_allclose(f, f0 + (1.0 - f0) / 32.0, rtol=1e-6)


def test_smith_visibility_matches_the_lambda_form():
    rng = np.random.default_rng(1)
    x = np.stack([rng.uniform(0.02, 1, 500), rng.uniform(0.02, 1, 500), rng.uniform(MIN_ALPHA, 1, 500)], -1)
    (out,) = _launch(_visibility, 500, [_arr(x, wp.vec3)], [_empty(500, float)])
    x = x.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(out, _vis_ref(x[:, 0], x[:, 1], x[:, 2]), rtol=2e-5)


def test_reflect_mirrors_about_the_normal():
    rng = np.random.default_rng(4)
    d = rng.normal(size=(50, 3))
    n = rng.normal(size=(50, 3))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    (out,) = _launch(_mirror, 50, [_arr(d, wp.vec3), _arr(n, wp.vec3)], [_empty(50, wp.vec3)])
    # Same tangential part, opposite normal part, same length.
    dn, on = np.sum(d * n, 1), np.sum(out * n, 1)
    np.testing.assert_allclose(on, -dn, atol=1e-5)
    np.testing.assert_allclose(out - on[:, None] * n, d - dn[:, None] * n, atol=1e-5)


# --- the split-sum table ---


def test_dfg_table_matches_a_dense_grid_integration():
    table = dfg_table()
    assert table.shape == (DFG_SIZE, DFG_SIZE + 1, 2) and table.dtype == np.float32
    worst = 0.0
    # Roughness >= 0.25: below it, a grazing view's lobe is narrower across the plane
    # of incidence than a 1024 x 1024 grid resolves (the mirror test covers r = 0).
    for i in (8, 12, 16, 24, 31):
        for j in (1, 4, 10, 20, 31):
            want = _albedo_ref(i / (DFG_SIZE - 1), (j + 0.5) / DFG_SIZE)
            worst = max(worst, float(np.max(np.abs(table[i, j] - want))))
    assert worst < 3e-4  # measured 9e-5: the grid's and the sampling's error together


def test_dfg_table_at_zero_roughness_is_a_mirror():
    # alpha -> 0: no masking, all energy in the mirror direction, v.h = n.v.
    mu = (np.arange(DFG_SIZE) + 0.5) / DFG_SIZE
    fc = (1.0 - mu) ** 5
    row = dfg_table()[0, :DFG_SIZE]
    ok = mu > 0.1
    np.testing.assert_allclose(row[ok, 0], 1.0 - fc[ok], atol=2e-3)
    np.testing.assert_allclose(row[ok, 1], fc[ok], atol=2e-3)


def test_dfg_averages_column_integrates_the_interpolated_table():
    table = dfg_table()
    centres = (np.arange(DFG_SIZE) + 0.5) / DFG_SIZE
    mu = (np.arange(200000) + 0.5) / 200000
    for i in (0, 9, 31):
        for c in (0, 1):
            g = np.interp(mu, centres, table[i, :DFG_SIZE, c])  # clamped at both ends, as the kernel
            assert table[i, DFG_SIZE, c] == pytest.approx(2.0 * np.mean(g * mu), abs=1e-6)


def test_dfg_table_bytes_are_deterministic():
    first = dfg_table().tobytes()
    dfg_module._table.cache_clear()
    assert dfg_table().tobytes() == first


def test_env_dfg_is_bilinear_in_the_table_and_clamps():
    table = dfg_table().astype(np.float64)
    n = DFG_SIZE
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(0, 1, (300, 2)), [[0.0, 0.0], [1.0, 1.0], [0.001, 0.5], [0.999, 0.7]]])
    (out,) = _launch(_lookup, len(x), [_table(), _arr(x, wp.vec2)], [_empty(len(x), wp.vec2)])
    x = x.astype(np.float32).astype(np.float64)
    # Reference: interpolate along n.v per row (np.interp clamps), then along roughness.
    centres = (np.arange(n) + 0.5) / n
    for k, (mu, r) in enumerate(x):
        rows = np.array([[np.interp(mu, centres, table[i, :n, c]) for c in (0, 1)] for i in range(n)])
        want = [np.interp(r, np.arange(n) / (n - 1), rows[:, c]) for c in (0, 1)]
        np.testing.assert_allclose(out[k], want, atol=2e-6)


# --- direct light and the environment ---

ROUGH = (0.3, 0.5, 0.75, 1.0)
VIEWS = (0.1, 0.4, 0.7, 0.95)


def _cases(bases, metallics, specular=0.5):
    """Every (base, metallic, roughness, n.v) combination: (base (C, 3), params (C, 3)
    = (metallic, roughness, specular), n.v (C,))."""
    rows = [(b, m, r, mu) for b in bases for m in metallics for r in ROUGH for mu in VIEWS]
    base = np.array([b for b, *_ in rows], np.float64)
    par = np.array([[m, r, specular] for _, m, r, _ in rows], np.float64)
    return base, par, np.array([mu for *_, mu in rows])


def _reflected(base, par, mu, nt=256, nphi=512):
    """Integral over l of direct / pi for each case (C, 3): what the surface reflects
    under a uniform environment of radiance 1, by the midpoint grid."""
    ld, w = _hemisphere(nt, nphi)
    v = np.array([_view(m) for m in mu])
    out = _empty((len(mu), len(ld)), wp.vec3)
    inputs = [_table(), _arr(base, wp.vec3), _arr(par, wp.vec3), _arr(v, wp.vec3), _arr(ld, wp.vec3)]
    (f,) = _launch(_direct, (len(mu), len(ld)), inputs, [out])
    return np.einsum("ckj,k->cj", f, w) / np.pi


def _ambient_of(base, par, mu, irradiance=1.0, prefiltered=1.0):
    light = np.tile([irradiance, prefiltered, 0.0], (len(mu), 1))
    inputs = [_table(), _arr(base, wp.vec3), _arr(par, wp.vec3), _arr(mu, wp.float32), _arr(light, wp.vec3)]
    (out,) = _launch(_ambient, len(mu), inputs, [_empty(len(mu), wp.vec3)])
    return out


WHITE = [(1.0, 1.0, 1.0)]
COLOURS = [(0.9, 0.5, 0.1), (0.2, 0.6, 0.95), (0.05, 0.05, 0.05)]


@pytest.fixture(scope="module")
def reflected():
    """Coloured and white surfaces, dielectric, mixed and metal, under a uniform
    environment of radiance 1 as light from every direction: (base, params, n.v,
    reflected (C, 3))."""
    base, par, mu = _cases(COLOURS + WHITE, (0.0, 0.3, 1.0))
    return base, par, mu, _reflected(base, par, mu)


def test_a_white_surface_reflects_all_a_uniform_light_gives_and_no_more(reflected):
    # Metal, dielectric (diffuse + specular) and their blend alike: the specular's
    # single scattering, integrated here by the grid, against the table's F0 A + B
    # the other lobes are sized by. Their gap is the table's interpolation error.
    base, _, _, got = reflected
    white = got[np.all(base == 1.0, axis=1)]
    assert len(white) == 3 * len(ROUGH) * len(VIEWS)
    assert np.max(white) <= 1.0 + 1e-3  # measured 5e-4
    np.testing.assert_allclose(white, 1.0, atol=3e-3)  # measured 1.8e-3, at n.v = 0.1


def test_coloured_surfaces_never_reflect_more_than_they_receive(reflected):
    base, par, _, got = reflected
    assert np.all(got >= 0.0) and np.max(got) <= 1.0 + 1e-3
    coloured = ~np.all(base == 1.0, axis=1)
    assert np.max(got[coloured]) < 0.98  # measured 0.967: a 0.95 channel, grazing
    # A metal reflects its colour: its channels rank as its base colour's do.
    metal = coloured & (par[:, 0] == 1.0) & (base[:, 0] != base[:, 1])
    np.testing.assert_array_equal(np.argsort(got[metal], axis=1), np.argsort(base[metal], axis=1))


def test_direct_light_is_reciprocal():
    rng = np.random.default_rng(3)
    k = 400
    mu_v, mu_l = rng.uniform(0.05, 1, k), rng.uniform(0.05, 1, k)
    phi = rng.uniform(0, 2 * np.pi, k)
    v = np.stack([np.sqrt(1 - mu_v**2), np.zeros(k), mu_v], -1)
    ld = np.stack([np.sqrt(1 - mu_l**2) * np.cos(phi), np.sqrt(1 - mu_l**2) * np.sin(phi), mu_l], -1)
    base = rng.uniform(0, 1, (k, 3))
    par = np.stack([rng.uniform(0, 1, k), rng.uniform(0.1, 1, k), rng.uniform(0, 1, k)], -1)
    # Case c sees v[c] lit from l[c]: the kernel's diagonal.
    out = _empty((k, k), wp.vec3)
    common = [_table(), _arr(base, wp.vec3), _arr(par, wp.vec3)]
    (fwd,) = _launch(_direct, (k, k), [*common, _arr(v, wp.vec3), _arr(ld, wp.vec3)], [out])
    (back,) = _launch(_direct, (k, k), [*common, _arr(ld, wp.vec3), _arr(v, wp.vec3)], [_empty((k, k), wp.vec3)])
    idx = np.arange(k)
    f_vl = fwd[idx, idx] / ld[:, 2:3].astype(np.float32)
    f_lv = back[idx, idx] / v[:, 2:3].astype(np.float32)
    np.testing.assert_allclose(f_vl, f_lv, rtol=1e-4, atol=1e-7)


def test_direct_light_is_zero_from_below_and_finite_for_a_tilted_normal():
    base, par = np.array([[0.8, 0.8, 0.8]]), np.array([[0.0, 0.5, 0.5]])
    v = np.array([_view(0.5), [0.3, 0.0, -0.01]])  # the second slightly behind the surface
    ld = np.array([[0.6, 0.0, -0.8], [0.6, 0.0, 0.8]])
    out = _empty((2, 2), wp.vec3)
    inputs = [_table(), _arr(np.repeat(base, 2, 0), wp.vec3), _arr(np.repeat(par, 2, 0), wp.vec3)]
    (f,) = _launch(_direct, (2, 2), [*inputs, _arr(v, wp.vec3), _arr(ld, wp.vec3)], [out])
    assert np.all(f[:, 0] == 0.0)
    assert np.all(np.isfinite(f[:, 1])) and np.all(f[:, 1] > 0.0)


def test_white_furnace_the_environment_comes_back_unchanged():
    base, par, mu = _cases(WHITE, (0.0, 0.25, 0.5, 0.75, 1.0))
    base, par, mu = np.tile(base, (3, 1)), np.tile(par, (3, 1)), np.tile(mu, 3)
    par[: len(mu) // 3, 2] = 0.0  # specular 0, 0.5 and 1: F0 of 0, 0.04, 0.08
    par[2 * len(mu) // 3 :, 2] = 1.0
    for level in (1.0, 0.25, 7.5):
        got = _ambient_of(base, par, mu, level, level)
        np.testing.assert_allclose(got, level, rtol=1e-5)  # exact but for float32 rounding


def test_coloured_surfaces_reflect_less_of_the_environment():
    base, par, mu = _cases(COLOURS, (0.0, 0.3, 1.0))
    for irr, pre in ((1.0, 1.0), (1.0, 0.0), (0.0, 1.0)):
        got = _ambient_of(base, par, mu, irr, pre)
        assert np.all(got >= 0.0) and np.all(got <= max(irr, pre))


@pytest.mark.parametrize("metallic", [0.0, 1.0])
def test_the_prefiltered_light_is_weighted_by_the_specular_albedo(metallic):
    # Black dielectric (F0 = 0.04) or coloured metal (F0 = base): what comes back of
    # the prefiltered radiance alone is F0 A + B, against the dense grid's A, B.
    b = (0.0, 0.0, 0.0) if metallic == 0.0 else (0.95, 0.64, 0.54)
    rows = [(i, j) for i in (8, 16, 31) for j in (2, 12, 25)]
    r = np.array([i / (DFG_SIZE - 1) for i, _ in rows])
    mu = np.array([(j + 0.5) / DFG_SIZE for _, j in rows])
    base = np.tile(b, (len(rows), 1))
    par = np.stack([np.full(len(rows), metallic), r, np.full(len(rows), 0.5)], -1)
    got = _ambient_of(base, par, mu, irradiance=0.0, prefiltered=1.0)
    f0 = np.full(3, 0.04) if metallic == 0.0 else np.array(b)
    want = np.array([f0 * a + bb for a, bb in (_albedo_ref(x, m) for x, m in zip(r, mu))])
    np.testing.assert_allclose(got, want, atol=3e-4)
    # The rest, the irradiance's share, is only the multiple scattering for a black
    # dielectric: F_avg^2-small.
    rest = _ambient_of(base, par, mu, irradiance=1.0, prefiltered=0.0)
    if metallic == 0.0:
        assert np.all(rest < 0.01)


def test_direct_light_integrates_to_the_ambient_term(reflected):
    # For any surface, a uniform environment through `ambient` and the same
    # environment as light from every direction through `direct` (grid) agree: the
    # split sum's single scattering is the specular lobe's integral, and the other
    # lobes integrate to what `ambient` gives them.
    base, par, mu, got = reflected
    np.testing.assert_allclose(got, _ambient_of(base, par, mu), atol=3e-3)  # measured 1.8e-3
