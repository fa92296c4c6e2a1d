"""A procedural daylight sky, no download needed: Preetham's clear sky, the CIE
overcast sky and the sun as a light, in the equirectangular layout of
:mod:`factory.assets.backdrops.image` (row 0 at the zenith, azimuth
``phi = pi (1 - 2 u)``, ``u = 0.5`` facing ``+x``, ``z`` up). Pure NumPy, float64 inside,
float32 out.

Units: radiance in kcd/m^2 (Preetham's zenith luminance is fitted in them), linear RGB
with Rec. 709 primaries whose Rec. 709 luminance is that radiance. A light's
``intensity`` is its illuminance at normal incidence (klx) over pi, so a white
Lambertian surface facing it reflects that radiance (the renderer's convention), and
sun and sky keep their physical ratio (see :func:`sun_light`).

Clear sky (Preetham, Shirley & Smits 1999, "A practical analytic model for daylight",
SIGGRAPH): the Perez distribution ``F(theta, gamma) = (1 + A e^(B / cos theta))
(1 + C e^(D gamma) + E cos^2 gamma)`` of luminance Y and chromaticity x, y, each
scaled to the paper's zenith fits, ``Y = Y_z F(theta, gamma) / F(0, theta_s)``; xyY ->
XYZ -> linear sRGB (IEC 61966-2-1 matrix), negatives clipped to 0. ``theta`` is the
view's zenith angle, ``gamma`` its angle to the sun, ``theta_s`` the sun's zenith
angle. Turbidity T within [1.7, 10] (below 1.7 the fits go negative), sun elevation
within [-5, 90] degrees. Below the horizon the sun is gone but the sky is not: the
model is evaluated with the sun on the horizon and dimmed by ``10^(elevation / 2.5)``
(1/100 at -5 degrees), an ad-hoc twilight that stays finite and continuous. There is
no sun disc in the image: the sun is a light.

Ground: every direction below the horizon sees a grey Lambertian ground of albedo
:data:`GROUND_ALBEDO` = 0.3, uniformly lit by the sun and by the sky image above it
(its irradiance summed over the image's own pixels), radiance ``0.3 E / pi``. The
renderer's floor hides it from the camera; it lights downward faces.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

GROUND_ALBEDO = 0.3
SUN_HALF_ANGLE_DEG = 0.27  # the sun's angular radius
# Exoatmospheric illuminance at normal incidence, klx: the luminous solar constant of
# Darula, Kittler & Gueymard 2005 (Solar Energy 79, 559-565).
SOLAR_ILLUMINANCE_KLX = 133.8
SUN_TEMPERATURE_K = 5778.0  # the sun's effective temperature: its spectrum as a black body
OVERCAST_ZENITH = 6.0  # CIE overcast sky zenith luminance, kcd/m^2: 14.7 klx on the ground
TWILIGHT_DECADE_DEG = 2.5  # below the horizon the sky dims tenfold per this many degrees
ELEVATION_RANGE = (-5.0, 90.0)
TURBIDITY_RANGE = (1.7, 10.0)

# Linear sRGB (Rec. 709 primaries, D65 white) from CIE XYZ.
XYZ_TO_RGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]]
)
REC709_Y = np.array([0.2126, 0.7152, 0.0722])  # luminance of linear RGB

# Perez coefficients A..E of (Y, x, y) as (slope on T, intercept): Preetham 1999, appendix A.2.
_PEREZ = {
    "Y": ((0.1787, -1.4630), (-0.3554, 0.4275), (-0.0227, 5.3251), (0.1206, -2.5771), (-0.0670, 0.3703)),
    "x": ((-0.0193, -0.2592), (-0.0665, 0.0008), (-0.0004, 0.2125), (-0.0641, -0.8989), (-0.0033, 0.0452)),
    "y": ((-0.0167, -0.2608), (-0.0950, 0.0092), (-0.0079, 0.2102), (-0.0441, -1.6537), (-0.0109, 0.0529)),
}
# Zenith chromaticity: rows T^2, T, 1; columns theta_s^3, theta_s^2, theta_s, 1 (radians).
_ZENITH_X = np.array(
    [[0.00166, -0.00375, 0.00209, 0.0], [-0.02903, 0.06377, -0.03202, 0.00394], [0.11693, -0.21196, 0.06052, 0.25886]]
)
_ZENITH_Y = np.array(
    [[0.00275, -0.00610, 0.00317, 0.0], [-0.04214, 0.08970, -0.04153, 0.00516], [0.15346, -0.26756, 0.06670, 0.26688]]
)


class SunLight(NamedTuple):
    """The sun as a directional light: ``colour`` (3,) linear RGB of Rec. 709 luminance
    1; ``intensity`` its illuminance at normal incidence over pi (klx / pi: the units
    of :func:`sky_image`'s radiance); ``half_angle_deg`` its angular radius. It shines
    from azimuth 0 (``+x``) at the elevation asked, direction
    ``(cos e, 0, sin e)``."""

    colour: tuple[float, float, float]
    intensity: float
    half_angle_deg: float


def _check(name: str, value: float, bounds: tuple[float, float]) -> float:
    value = float(value)
    if not (bounds[0] <= value <= bounds[1]):  # NaN fails too
        raise ValueError(f"{name} = {value!r} is outside the allowed range [{bounds[0]}, {bounds[1]}]")
    return value


def _check_height(height: int) -> int:
    if isinstance(height, bool) or not isinstance(height, (int, np.integer)) or height < 2:
        raise ValueError(f"height = {height!r} must be an int >= 2 (the image is height x 2 height)")
    return int(height)


def _directions(height: int) -> np.ndarray:
    """Unit direction of each pixel centre, float64 (height, 2 height, 3)."""
    theta = np.pi * (np.arange(height) + 0.5) / height
    phi = np.pi * (1 - 2 * (np.arange(2 * height) + 0.5) / (2 * height))
    st = np.sin(theta)[:, None]
    z = np.broadcast_to(np.cos(theta)[:, None], (height, 2 * height))
    return np.stack([st * np.cos(phi)[None, :], st * np.sin(phi)[None, :], z], axis=-1)


def _band_solid_angles(height: int) -> np.ndarray:
    """Solid angle (sr) of one pixel of each row, float64 (height,)."""
    edges = np.cos(np.pi * np.arange(height + 1) / height)
    return (edges[:-1] - edges[1:]) * (np.pi / height)


def _perez(coeffs, turbidity: float, theta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    a, b, c, d, e = (s * turbidity + i for s, i in coeffs)
    cos_t = np.maximum(np.cos(theta), 1e-3)  # at the horizon B / cos -> -inf: e^ -> 0
    return (1 + a * np.exp(b / cos_t)) * (1 + c * np.exp(d * gamma) + e * np.cos(gamma) ** 2)


def zenith_xyY(sun_zenith: float, turbidity: float) -> tuple[float, float, float]:
    """Preetham's zenith chromaticity x, y and luminance Y (kcd/m^2) for the sun at
    zenith angle ``sun_zenith`` (radians, within [0, pi/2]) and turbidity T."""
    t = turbidity
    chi = (4.0 / 9.0 - t / 120.0) * (np.pi - 2 * sun_zenith)
    lum = (4.0453 * t - 4.9710) * np.tan(chi) - 0.2155 * t + 2.4192
    powers = np.array([sun_zenith**3, sun_zenith**2, sun_zenith, 1.0])
    tt = np.array([t * t, t, 1.0])
    return float(tt @ _ZENITH_X @ powers), float(tt @ _ZENITH_Y @ powers), float(lum)


def _xyY_to_rgb(x: np.ndarray, y: np.ndarray, lum: np.ndarray) -> np.ndarray:
    xyz = np.stack([x * lum / y, lum, (1 - x - y) * lum / y], axis=-1)
    return np.maximum(xyz @ XYZ_TO_RGB.T, 0.0)


def _clear_sky(dirs: np.ndarray, sun_zenith: float, turbidity: float) -> np.ndarray:
    """Preetham's sky radiance (kcd/m^2, linear RGB) along unit ``dirs`` (..., 3), z
    up, the sun at azimuth 0; directions below the horizon are evaluated at it."""
    sun = np.array([np.sin(sun_zenith), 0.0, np.cos(sun_zenith)])
    theta = np.arccos(np.clip(dirs[..., 2], 0.0, 1.0))
    gamma = np.arccos(np.clip(dirs @ sun, -1.0, 1.0))
    zx, zy, zY = zenith_xyY(sun_zenith, turbidity)
    out = []
    for name, zenith in (("x", zx), ("y", zy), ("Y", zY)):
        ratio = _perez(_PEREZ[name], turbidity, theta, gamma) / _perez(_PEREZ[name], turbidity, 0.0, sun_zenith)
        out.append(zenith * ratio)
    return _xyY_to_rgb(out[0], out[1], np.maximum(out[2], 0.0))


def _with_ground(image: np.ndarray, sun_irradiance: np.ndarray) -> np.ndarray:
    """``image`` (H, 2H, 3) with every row whose centre lies below the horizon set to
    the ground: albedo 0.3 under ``sun_irradiance`` (3,) (horizontal, over pi) plus the
    sky's own (the rows above, cosine-weighted, over pi)."""
    h = image.shape[0]
    sky_rows = (np.arange(h) + 0.5) < h / 2
    cos_t = np.cos(np.pi * (np.arange(h) + 0.5) / h)
    weights = np.where(sky_rows, _band_solid_angles(h) * cos_t, 0.0)
    sky_irr = np.einsum("hwc,h->c", image, weights) / np.pi
    image[~sky_rows] = GROUND_ALBEDO * (sky_irr + sun_irradiance)
    return image


def sky_image(sun_elevation_deg: float, turbidity: float, height: int = 64) -> np.ndarray:
    """Preetham's clear sky with the sun at azimuth 0 (``+x``), float32
    ``(height, 2 height, 3)`` linear RGB radiance, kcd/m^2, ground below the horizon
    (see the module docstring).

    Raises:
        ValueError: naming the argument, its value and the allowed range.
    """
    elevation = _check("sun_elevation_deg", sun_elevation_deg, ELEVATION_RANGE)
    turbidity = _check("turbidity", turbidity, TURBIDITY_RANGE)
    height = _check_height(height)
    sun_zenith = np.radians(90.0 - max(elevation, 0.0))
    image = _clear_sky(_directions(height), sun_zenith, turbidity)
    if elevation < 0:
        image *= 10.0 ** (elevation / TWILIGHT_DECADE_DEG)
    sun = sun_light(elevation, turbidity)
    sun_irr = np.array(sun.colour) * sun.intensity * max(np.sin(np.radians(elevation)), 0.0)
    return _with_ground(image, sun_irr).astype(np.float32)


def overcast_image(height: int = 64) -> np.ndarray:
    """The CIE standard overcast sky ``L(theta) = L_z (1 + 2 cos theta) / 3``, grey,
    ``L_z`` = :data:`OVERCAST_ZENITH` kcd/m^2 (its horizontal illuminance is
    ``7 pi L_z / 9``, 14.7 klx), ground of albedo 0.3 below; float32
    ``(height, 2 height, 3)``.

    Raises:
        ValueError: ``height`` is not an int >= 2.
    """
    height = _check_height(height)
    cos_t = np.cos(np.pi * (np.arange(height) + 0.5) / height)
    lum = OVERCAST_ZENITH * (1 + 2 * np.maximum(cos_t, 0.0)) / 3
    image = np.broadcast_to(lum[:, None, None], (height, 2 * height, 3)).copy()
    return _with_ground(image, np.zeros(3)).astype(np.float32)


def air_mass(sun_zenith_deg: float) -> float:
    """Relative optical air mass at solar zenith angle ``sun_zenith_deg`` (degrees,
    within [0, 90]): Kasten & Young 1989, ``1 / (cos z + 0.50572 (96.07995 - z)^-1.6364)``
    (38 at the horizon)."""
    z = float(sun_zenith_deg)
    return 1.0 / (np.cos(np.radians(z)) + 0.50572 * (96.07995 - z) ** -1.6364)


def _cie_xyz_bar(lam: np.ndarray) -> np.ndarray:
    """CIE 1931 colour-matching functions at wavelengths ``lam`` (nm), (n, 3): the
    multi-lobe Gaussian fit of Wyman, Sloan & Shirley 2013 (JCGT 2(2))."""

    def g(mu: float, s1: float, s2: float) -> np.ndarray:
        s = np.where(lam < mu, s1, s2)
        return np.exp(-0.5 * ((lam - mu) / s) ** 2)

    x = 1.056 * g(599.8, 37.9, 31.0) + 0.362 * g(442.0, 16.0, 26.7) - 0.065 * g(501.1, 20.4, 26.2)
    y = 0.821 * g(568.8, 46.9, 40.5) + 0.286 * g(530.9, 16.3, 31.1)
    z = 1.217 * g(437.0, 11.8, 36.0) + 0.681 * g(459.0, 26.0, 13.8)
    return np.stack([x, y, z], axis=-1)


def transmittance(lam_nm: np.ndarray, mass: float, turbidity: float) -> np.ndarray:
    """Direct-beam transmittance of the atmosphere at wavelengths ``lam_nm`` (nm) along
    air mass ``mass``: Rayleigh scattering ``exp(-0.008735 lam^-4.08 m)`` and Angstrom's
    aerosol ``exp(-beta lam^-1.3 m)`` with ``beta = 0.04608 T - 0.04586`` (lam in um;
    Preetham 1999, appendix A.1, after Iqbal 1983). Ozone, water vapour and mixed gases
    are left out (a few per cent in the visible)."""
    lam = np.asarray(lam_nm, dtype=np.float64) / 1000.0
    beta = 0.04608 * turbidity - 0.04586
    return np.exp(-(0.008735 * lam**-4.08 + beta * lam**-1.3) * mass)


def sun_light(sun_elevation_deg: float, turbidity: float) -> SunLight:
    """The sun through the atmosphere (see :class:`SunLight`): a 5778 K black body
    scaled to the luminous solar constant (133.8 klx), attenuated per wavelength
    (380-780 nm, 5 nm steps) by :func:`transmittance` along the Kasten-Young air mass,
    integrated with the CIE 1931 functions and turned into linear sRGB. Low sun: long
    air mass, the blue scattered out, orange and dim. At or below the horizon the
    intensity is 0 (the colour stays that of the horizon).

    Raises:
        ValueError: naming the argument, its value and the allowed range.
    """
    elevation = _check("sun_elevation_deg", sun_elevation_deg, ELEVATION_RANGE)
    turbidity = _check("turbidity", turbidity, TURBIDITY_RANGE)
    lam = np.arange(380.0, 781.0, 5.0)
    # Planck's law up to a constant factor (the scale comes from the solar constant).
    planck = (lam * 1e-9) ** -5 / np.expm1(1.438776877e-2 / (lam * 1e-9 * SUN_TEMPERATURE_K))
    cmf = _cie_xyz_bar(lam)
    top = planck @ cmf
    seen = (planck * transmittance(lam, air_mass(90.0 - max(elevation, 0.0)), turbidity)) @ cmf
    rgb = np.maximum(XYZ_TO_RGB @ seen, 0.0)
    colour = rgb / float(rgb @ REC709_Y)
    luminous = seen[1] / top[1] if elevation > 0 else 0.0
    intensity = SOLAR_ILLUMINANCE_KLX * luminous / np.pi
    return SunLight(tuple(float(c) for c in colour), float(intensity), SUN_HALF_ANGLE_DEG)
