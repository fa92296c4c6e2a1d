"""The procedural sky (factory/scene/sky.py): Preetham's luminance and chromaticity
against the paper's formulas typed out here, the sun where the sky is brightest, the
sun light reddening and dimming as it sinks, the overcast sky and the ground in closed
form, refusals naming the argument, and the same bytes in two processes."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys

import numpy as np
import pytest

from factory.scene.sky import air_mass, overcast_image, sky_image, sun_light

# Preetham, Shirley & Smits 1999, appendix A.2: [A, B, C, D, E] = M @ [T, 1].
M_Y = np.array([[0.1787, -1.4630], [-0.3554, 0.4275], [-0.0227, 5.3251], [0.1206, -2.5771], [-0.0670, 0.3703]])
M_X = np.array([[-0.0193, -0.2592], [-0.0665, 0.0008], [-0.0004, 0.2125], [-0.0641, -0.8989], [-0.0033, 0.0452]])
M_YC = np.array([[-0.0167, -0.2608], [-0.0950, 0.0092], [-0.0079, 0.2102], [-0.0441, -1.6537], [-0.0109, 0.0529]])
LUM = np.array([0.2126, 0.7152, 0.0722])
# Inverse of the sRGB matrix: linear Rec. 709 RGB -> XYZ (IEC 61966-2-1).
RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)


def perez(m: np.ndarray, t: float, theta, gamma):
    a, b, c, d, e = m @ np.array([t, 1.0])
    return (1 + a * np.exp(b / np.cos(theta))) * (1 + c * np.exp(d * gamma) + e * np.cos(gamma) ** 2)


def preetham_xyY(theta, gamma, theta_s: float, t: float):
    """The paper's model at view zenith angle theta and sun angle gamma (radians)."""
    chi = (4 / 9 - t / 120) * (math.pi - 2 * theta_s)
    yz = (4.0453 * t - 4.9710) * math.tan(chi) - 0.2155 * t + 2.4192
    th = np.array([theta_s**3, theta_s**2, theta_s, 1.0])
    tt = np.array([t * t, t, 1.0])
    xz = (
        tt
        @ np.array(
            [
                [0.00166, -0.00375, 0.00209, 0],
                [-0.02903, 0.06377, -0.03202, 0.00394],
                [0.11693, -0.21196, 0.06052, 0.25886],
            ]
        )
        @ th
    )
    yzc = (
        tt
        @ np.array(
            [
                [0.00275, -0.00610, 0.00317, 0],
                [-0.04214, 0.08970, -0.04153, 0.00516],
                [0.15346, -0.26756, 0.06670, 0.26688],
            ]
        )
        @ th
    )
    return tuple(
        z * perez(m, t, theta, gamma) / perez(m, t, 0.0, theta_s) for z, m in ((xz, M_X), (yzc, M_YC), (yz, M_Y))
    )


def pixel_angles(h: int, elevation: float):
    """Per pixel of an (h, 2h) image: view zenith angle and angle to a sun at azimuth 0."""
    theta = np.pi * (np.arange(h) + 0.5) / h
    phi = np.pi * (1 - 2 * (np.arange(2 * h) + 0.5) / (2 * h))
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    e = math.radians(elevation)
    cos_g = np.sin(th) * np.cos(ph) * math.cos(e) + np.cos(th) * math.sin(e)
    return th, np.arccos(np.clip(cos_g, -1, 1))


def band_omega(h: int) -> np.ndarray:
    theta = np.pi * np.arange(h + 1) / h
    return (np.cos(theta[:-1]) - np.cos(theta[1:])) * np.pi / h


@pytest.mark.parametrize("elevation, turbidity", [(30.0, 2.5), (60.0, 4.0), (15.0, 3.0), (85.0, 2.0)])
def test_sky_matches_preetham_everywhere_above_the_horizon(elevation, turbidity):
    h = 64
    image = sky_image(elevation, turbidity, h).astype(np.float64)
    th, gamma = pixel_angles(h, elevation)
    x, y, lum = preetham_xyY(th[: h // 2], gamma[: h // 2], math.radians(90 - elevation), turbidity)
    sky = image[: h // 2]
    assert (sky > 0).all()  # no channel clipped at these suns: RGB -> XYZ inverts exactly
    xyz = sky @ RGB_TO_XYZ.T
    np.testing.assert_allclose(xyz[..., 1], lum, rtol=1e-4)
    np.testing.assert_allclose(xyz[..., 0] / xyz.sum(-1), x, atol=1e-4)
    np.testing.assert_allclose(xyz[..., 1] / xyz.sum(-1), y, atol=1e-4)


def test_zenith_luminance_and_horizon_ratio_follow_the_paper():
    """Sun at 45 degrees, T = 3: the paper's zenith fit is 7.3204 kcd/m^2
    (chi = (4/9 - 3/120) pi/2 = 0.65886 rad: 7.1649 tan(chi) + 1.7727); at the horizon
    exp(B / cos theta) vanishes, so the horizon over the zenith is
    (1 + C e^(D gamma) + E cos^2 gamma) / F(0, theta_s) times 1."""
    h = 512
    image = sky_image(45.0, 3.0, h).astype(np.float64)
    zenith = image[0] @ LUM  # row 0: 0.18 degrees from the zenith
    assert abs(zenith.mean() / 7.3204 - 1) < 0.01
    a, b, c, d, e = M_Y @ np.array([3.0, 1.0])
    f0 = (1 + a * math.exp(b)) * (1 + c * math.exp(d * math.pi / 4) + e * 0.5)
    gamma = math.pi - math.radians(45)  # the horizon opposite the sun, azimuth pi: column 0's edge
    horizon = (1 + c * math.exp(d * gamma) + e * math.cos(gamma) ** 2) / f0
    last_sky_row = image[h // 2 - 1] @ LUM
    assert abs(last_sky_row[0] / 7.3204 - horizon) < 0.02 * horizon


@pytest.mark.parametrize("elevation", [5.0, 20.0, 45.0, 70.0])
@pytest.mark.parametrize("turbidity", [2.0, 6.0])
def test_the_sky_is_brightest_towards_the_sun(elevation, turbidity):
    h = 64
    image = sky_image(elevation, turbidity, h).astype(np.float64)
    lum = image[: h // 2] @ LUM
    column = int(np.argmax((lum * band_omega(h)[: h // 2, None]).sum(axis=0)))
    assert column in (h - 1, h)  # the two columns either side of u = 0.5, azimuth 0 (+x)
    i, j = np.unravel_index(int(np.argmax(lum)), lum.shape)
    assert j in (h - 1, h)


def test_the_sun_reddens_and_dims_as_it_sinks():
    elevations = [90.0, 60.0, 30.0, 15.0, 8.0, 4.0, 2.0]
    for turbidity in (2.0, 3.0, 6.0):
        lights = [sun_light(e, turbidity) for e in elevations]
        red_blue = [s.colour[0] / max(s.colour[2], 1e-9) for s in lights]
        assert all(a < b for a, b in zip(red_blue, red_blue[1:])), red_blue
        assert all(a.intensity > b.intensity for a, b in zip(lights, lights[1:]))
        for s in lights:
            assert abs(np.dot(s.colour, LUM) - 1) < 1e-9 and s.half_angle_deg == 0.27
    assert sun_light(0.0, 3.0).intensity == 0.0 and sun_light(-5.0, 3.0).intensity == 0.0
    # Clear noon: 90-120 klx at normal incidence (the measured range of clear days).
    assert 90 <= math.pi * sun_light(90.0, 2.0).intensity <= 120


def test_sun_transmittance_against_the_band_centre_and_the_air_mass_tables():
    """Luminous transmittance is close to the 555 nm one, exp(-(Rayleigh + aerosol) m)
    with the appendix's optical depths; Kasten & Young's air mass is 1 at the zenith,
    about 2 at 60 degrees and 38 at the horizon."""
    assert abs(air_mass(0.0) - 1) < 1e-3 and abs(air_mass(60.0) - 1.995) < 0.01 and abs(air_mass(90.0) - 38.0) < 0.2
    for elevation, turbidity in ((90.0, 2.0), (45.0, 3.0), (30.0, 5.0)):
        m = air_mass(90 - elevation)
        lam = 0.555
        tau = 0.008735 * lam**-4.08 + (0.04608 * turbidity - 0.04586) * lam**-1.3
        want = 133.8 * math.exp(-tau * m) / math.pi
        assert abs(sun_light(elevation, turbidity).intensity / want - 1) < 0.03


def test_clear_noon_sun_outshines_the_sky_on_the_ground():
    """Direct horizontal over diffuse horizontal illuminance: measured 3.8 (T = 2) and
    2.6 (T = 3) with the sun 60 degrees up (Preetham's sky is brighter than CIE's
    clear sky); more haze, less sun."""
    h = 64
    cos_t = np.cos(np.pi * (np.arange(h) + 0.5) / h)
    w = np.where(cos_t > 0, band_omega(h) * cos_t, 0.0)
    ratios = []
    for turbidity in (2.0, 3.0, 6.0):
        diffuse = ((sky_image(60.0, turbidity, h).astype(np.float64) @ LUM) * w[:, None]).sum()
        ratios.append(math.pi * sun_light(60.0, turbidity).intensity * math.sin(math.radians(60)) / diffuse)
    assert 3.0 < ratios[0] < 6.0 and ratios[0] > ratios[1] > ratios[2]


def test_ground_and_overcast_in_closed_form():
    h = 64
    image = overcast_image(h).astype(np.float64)
    cos_t = np.cos(np.pi * (np.arange(h) + 0.5) / h)
    np.testing.assert_allclose(image[: h // 2, 0, 0], 6.0 * (1 + 2 * cos_t[: h // 2]) / 3, rtol=1e-6)
    assert (image == image[:, :1, :1]).all()  # grey and the same in every azimuth
    # Ground: albedo 0.3 times the horizontal irradiance over pi, 7 L_z / 9 in closed form.
    np.testing.assert_allclose(image[h // 2 :], 0.3 * 7 * 6.0 / 9, rtol=2e-3)
    # Under a clear sky the ground adds the sun: 0.3 (sky + sun irradiance) / pi.
    sky = sky_image(40.0, 3.0, h).astype(np.float64)
    w = np.where(cos_t > 0, band_omega(h) * cos_t, 0.0)
    sun = sun_light(40.0, 3.0)
    want = 0.3 * (
        (sky * w[:, None, None]).sum(axis=(0, 1)) / math.pi
        + np.array(sun.colour) * sun.intensity * math.sin(math.radians(40))
    )
    np.testing.assert_allclose(sky[h // 2 :].reshape(-1, 3), np.broadcast_to(want, (h * h, 3)), rtol=1e-5)


def test_twilight_is_dim_finite_and_continuous():
    at_zero = sky_image(0.0, 3.0).astype(np.float64)
    below = sky_image(-0.01, 3.0).astype(np.float64)
    dark = sky_image(-5.0, 3.0).astype(np.float64)
    assert np.isfinite(dark).all() and (dark >= 0).all() and dark.max() > 0
    up = slice(0, 32)
    assert abs(dark[up].mean() / at_zero[up].mean() - 0.01) < 1e-3
    assert abs(below[up].mean() / at_zero[up].mean() - 1) < 0.02


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: sky_image(95.0, 3.0), ["sun_elevation_deg", "95.0", "[-5.0, 90.0]"]),
        (lambda: sky_image(-6.0, 3.0), ["sun_elevation_deg", "-6.0"]),
        (lambda: sky_image(30.0, 1.5), ["turbidity", "1.5", "[1.7, 10.0]"]),
        (lambda: sun_light(30.0, 11.0), ["turbidity", "11.0"]),
        (lambda: sun_light(float("nan"), 3.0), ["sun_elevation_deg", "nan"]),
        (lambda: sky_image(30.0, 3.0, 1), ["height", "1"]),
        (lambda: overcast_image(2.5), ["height", "2.5"]),
    ],
)
def test_out_of_range_arguments_are_refused_by_name(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_the_same_sky_bytes_in_two_processes():
    code = (
        "import hashlib; from factory.scene.sky import sky_image, overcast_image, sun_light;"
        "print(hashlib.sha256(sky_image(23.5, 4.2).tobytes() + overcast_image().tobytes()"
        " + repr(sun_light(23.5, 4.2)).encode()).hexdigest())"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    here = hashlib.sha256(
        sky_image(23.5, 4.2).tobytes() + overcast_image().tobytes() + repr(sun_light(23.5, 4.2)).encode()
    ).hexdigest()
    assert runs[0] == runs[1] == here + "\n"
