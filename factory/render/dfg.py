"""The split-sum table of the microfacet BRDF (:mod:`factory.render.brdf`), computed on
the host in float64 and uploaded as float32.

For perceptual roughness r (GGX alpha = max(r^2, MIN_ALPHA)) and mu = n.v, the
single-scattering specular albedo of the GGX / height-correlated Smith / Schlick lobe
is linear in F0 (Karis 2013):

    E(mu, F0) = integral of f(v, l) (n.l) dl = F0 * A(r, mu) + B(r, mu)

with A the integral of D V (1 - (1 - v.h)^5) 4-folded and B that of D V (1 - v.h)^5.
``dfg_table(size)`` is float32 (size, size + 1, 2): row i is r = i / (size - 1),
column j < size is mu = (j + 0.5) / size, holding (A, B); the last column,
``size``, holds their cosine-weighted hemispherical averages 2 * integral of
(A, B)(mu) mu dmu, integrated exactly (Simpson on each piece) over the very
function the kernel reads (bilinear between column centres, clamped at both ends),
so that the reciprocal multiple-scattering and diffuse lobes of
:func:`factory.render.brdf.direct` integrate to what :func:`~factory.render.brdf.ambient`
returns (Kulla-Conty 2017).

Importance sampling of the GGX normal distribution with a Hammersley point set of
``SAMPLES`` points (the same points for every cell). No libm: the azimuths'
cosines, cos(2 pi k / N), come from square-root half-angle formulas and a rotation
recurrence (IEEE +, *, /, sqrt only), so the bytes do not depend on the CPU model or
the C library. Cached per process.
"""

from __future__ import annotations

import functools

import numpy as np

DFG_SIZE = 32  # rows (roughness) and mu columns of the table the renderer uploads
SAMPLES = 4096  # Hammersley points per cell (a power of two)
MIN_ALPHA = 0.002  # GGX alpha floor against the delta: r = 0 is a very sharp, finite lobe


def _unit_roots(n: int) -> np.ndarray:
    """cos(2 pi k / n) for k < n (n a power of two >= 4), float64, with sqrt and the
    four IEEE operations only: the half-angle formulas give the step angle, a
    rotation recurrence the rest (error ~k ulp)."""
    c, s = 0.0, 1.0  # the angle pi / 2
    step = 4
    while step < n:  # halve: cos(t/2) = sqrt((1 + cos t) / 2), sin(t/2) = sqrt((1 - cos t) / 2)
        c, s = float(np.sqrt((1.0 + c) * 0.5)), float(np.sqrt((1.0 - c) * 0.5))
        step *= 2
    out = np.empty(n)
    x, y = 1.0, 0.0
    for k in range(n):
        out[k] = x
        x, y = x * c - y * s, x * s + y * c
    return out


def _radical_inverse(n: int) -> np.ndarray:
    """The base-2 radical inverse of 0..n-1 as integers k with value k / n (n a power of
    two): the Hammersley set's second coordinate."""
    bits = n.bit_length() - 1
    k = np.arange(n)
    out = np.zeros(n, np.int64)
    for b in range(bits):
        out |= ((k >> b) & 1) << (bits - 1 - b)
    return out


def smith_v(ndv, ndl, alpha):
    """Height-correlated Smith visibility G2 / (4 n.v n.l), float64 NumPy (Heitz 2014)."""
    a2 = alpha * alpha
    gv = ndl * np.sqrt(ndv * ndv * (1.0 - a2) + a2)
    gl = ndv * np.sqrt(ndl * ndl * (1.0 - a2) + a2)
    return 0.5 / (gv + gl)


def _cell(alpha: float, mu: float, t1: np.ndarray, t2: np.ndarray) -> tuple[float, float]:
    """(A, B) at GGX ``alpha`` and n.v = ``mu`` from half vectors drawn from the
    distribution of visible normals (Heitz 2018; ``t1``, ``t2``: the points of the
    unit disk), v = (sqrt(1 - mu^2), 0, mu): the estimator f cos / pdf = F G2 / G1(v)
    = 4 mu (n.l) V (1 + Lambda(v)) F, in [0, 1], split by Schlick's weight."""
    sin_v = np.sqrt(1.0 - mu * mu)
    vx, vz = alpha * sin_v, mu  # v stretched to the unit-roughness configuration
    norm = np.sqrt(vx * vx + vz * vz)
    vx, vz = vx / norm, vz / norm
    s = 0.5 * (1.0 + vz)
    t2 = (1.0 - s) * np.sqrt(1.0 - t1 * t1) + s * t2
    t3 = np.sqrt(np.maximum(1.0 - t1 * t1 - t2 * t2, 0.0))
    hx, hy, hz = alpha * (t3 * vx - t2 * vz), alpha * t1, np.maximum(t2 * vx + t3 * vz, 0.0)
    hn = np.sqrt(hx * hx + hy * hy + hz * hz)
    vdh = (sin_v * hx + mu * hz) / hn
    ndl = 2.0 * vdh * hz / hn - mu
    ok = (ndl > 0.0) & (vdh > 0.0)
    ndl, vdh = ndl[ok], vdh[ok]
    a2 = alpha * alpha
    lam_v = 0.5 * (np.sqrt(1.0 + a2 * (1.0 - mu * mu) / (mu * mu)) - 1.0)
    w = 4.0 * mu * ndl * smith_v(mu, ndl, alpha) * (1.0 + lam_v)
    x = 1.0 - vdh
    fc = (x * x) * (x * x) * x
    n = len(t1)
    return float(np.sum((1.0 - fc) * w) / n), float(np.sum(fc * w) / n)


def _averages(values: np.ndarray) -> np.ndarray:
    """2 * integral over mu in [0, 1] of mu * g(mu), g the clamped piecewise-linear
    function through ``values`` (size, 2) at mu = (j + 0.5) / size: Simpson's rule,
    exact on each piece (the integrand is at most quadratic there)."""
    size = len(values)
    c = (np.arange(size) + 0.5) / size
    total = values[0] * c[0] ** 2 + values[-1] * (1.0 - c[-1] ** 2)  # the two flat ends
    for j in range(size - 1):
        a, b = c[j], c[j + 1]
        m = 0.5 * (a + b)
        mid = 0.5 * (values[j] + values[j + 1])
        total = total + (b - a) / 6.0 * (2.0 * a * values[j] + 8.0 * m * mid + 2.0 * b * values[j + 1])
    return total


@functools.cache
def _table(size: int) -> bytes:
    n = SAMPLES
    # Hammersley points (k + 1/2) / n, radical inverse of k, onto the unit disk (polar,
    # the angle's sine being the cosine a quarter turn earlier).
    radius = np.sqrt((np.arange(n) + 0.5) / n)
    k = _radical_inverse(n)
    roots = _unit_roots(n)
    t1, t2 = radius * roots[k], radius * roots[(k - n // 4) % n]
    out = np.zeros((size, size + 1, 2))
    for i in range(size):
        r = i / (size - 1)
        alpha = max(r * r, MIN_ALPHA)
        for j in range(size):
            out[i, j] = _cell(alpha, (j + 0.5) / size, t1, t2)
        out[i, size] = _averages(out[i, :size])
    return out.astype(np.float32).tobytes()


def dfg_table(size: int = DFG_SIZE) -> np.ndarray:
    """The split-sum table, float32 (size, size + 1, 2) (see the module docstring):
    ``[i, j] = (A, B)`` at roughness i / (size - 1) and n.v = (j + 0.5) / size for
    j < size, ``[i, size]`` their cosine-weighted averages. A fresh writable copy of
    the per-process cached bytes. Upload with ``device.table(t, wp.vec2)``.

    Raises:
        ValueError: ``size`` < 2.
    """
    if size < 2:
        raise ValueError(f"dfg_table size must be at least 2, got {size}")
    return np.frombuffer(_table(size), np.float32).reshape(size, size + 1, 2).copy()
