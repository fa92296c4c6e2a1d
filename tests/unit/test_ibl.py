"""Image-based lighting of the new look (issue 25) at the level of rendered samples,
against independent references.

* A matte sphere under the CIE overcast sky (in closed form) and under Preetham's
  twilight sky matches the irradiance integrated by brute force over the backdrop's
  image, at normals from an analytic ray cast of the sphere rebuilt from the metadata.
* A sky's sun casts its shadow where a NumPy ray cast towards the sun (its direction
  from the config alone) says, and not where a sun turned 90 degrees would.

References: :mod:`tests.helpers.looks`.
"""

from __future__ import annotations

import numpy as np
import pytest

from factory.sample.generate import generate_sample
from factory.scene.sky import sky_image
from tests.helpers import looks as L

# --- 1. a diffuse sphere under a known environment ------------------------------------

# (backdrop block, ev, the backdrop's radiance image by an independent route)
ENVIRONMENTS = {
    # CIE overcast: azimuthally uniform, so the wrong reference turns it upside down.
    "overcast": (
        {"kind": "overcast", "rotation_deg": 30.0},
        -3.0,
        lambda: L.cie_overcast(128, zenith=6.0, ground_albedo=0.3),
    ),
    # Preetham with the sun on the horizon: no sun light (elevation 0 adds none), a sky
    # bright towards the sun's azimuth, so a rotated reference is wrong.
    "twilight": (
        {"kind": "sky", "rotation_deg": 60.0, "sun_elevation_deg": 0.0, "turbidity": 3.0},
        -2.5,
        lambda: sky_image(0.0, 3.0, 64),
    ),
}
# Measured (96 x 72, 968 sphere pixels): max relative error 1.05% (overcast), 2.7%
# (twilight); p95 0.8% / 1.3%. The bound covers SH9 truncation (1-3% on smooth skies),
# the specular lobe's prefiltered radiance taken as the irradiance (its share S is
# under 0.7% here) and 8-bit quantisation (< 0.5% above linear 0.1).
IBL_MAX_REL = 0.04
IBL_MEAN_REL = 0.01
WRONG_MIN_REL = 0.2  # a wrong environment is off by 98% (rotated 90 degrees) or 220% (flipped)


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_diffuse_sphere_matches_brute_force_irradiance(name):
    backdrop, ev, image = ENVIRONMENTS[name]
    camera = {"distance": 2.5, "elevation_deg": 20.0, "target_height": 0.5, "exposure": "fixed", "tone": "linear"}
    sample = generate_sample(L.config(L.sphere_scenario(backdrop, {**camera, "ev": ev})), 0)
    meta = sample.meta
    obj = meta["objects"][0]
    centre, radius = np.array(obj["position"][0]), obj["dims"][0]
    eye, d, _ = L.camera_rays(meta)
    t = L.sphere_hits(eye, d, centre, radius)
    normal = (eye + t[..., None] * d - centre) / radius
    mu = np.sum(-d * normal, -1)
    mask = L.interior(sample.frames.instance[0] == obj["id"]) & np.isfinite(t) & (mu > 0.2)
    assert mask.sum() > 500, "the sphere should fill a good part of the frame"
    n, mu = normal[mask], mu[mask]
    assert n[:, 2].min() < -0.3 and n[:, 2].max() > 0.5, "normals should span up and down"

    assert meta["lights"] == [], "the backdrop alone lights the sphere (a sun on the horizon adds no light)"
    gain = np.array(meta["camera"]["gain"])
    assert np.allclose(gain, 2.0**ev), "fixed exposure, 6500 K white balance: gain 2^ev"
    s = L.specular_share(mu)[:, None]
    base = L.MATTE["value"]

    def reference(img, rotation):
        return gain * L.irradiance_over_pi(img, n, rotation) * (base * (1 - s) + s)

    got = L.srgb_decode(sample.frames.rgb[0][mask])
    ref = reference(image(), backdrop["rotation_deg"])
    assert ref.max() < 0.95, "values stay under 1: nothing clipped"
    rel = np.abs(got / ref - 1)
    assert rel.max() < IBL_MAX_REL, f"max relative error {rel.max():.4f}"
    assert rel.mean() < IBL_MEAN_REL, f"mean relative error {rel.mean():.4f}"

    wrong = (
        reference(image()[::-1].copy(), backdrop["rotation_deg"])
        if name == "overcast"
        else reference(image(), backdrop["rotation_deg"] + 90.0)
    )
    assert np.abs(got / wrong - 1).max() > WRONG_MIN_REL, "a wrong environment must not match"


# --- 2. a planted sun casts its shadow where a ray cast says ---------------------------

SUN = {"kind": "sky", "rotation_deg": 70.0, "sun_elevation_deg": 35.0, "turbidity": 3.0}
SHADOW_EDGE = 0.04  # metres: floor points whose sun ray passes this near the sphere's surface are left out


def _shadow_classes(meta: dict, points: np.ndarray, rotation_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Per floor point (N, 3): in the sphere's shadow for a sun at ``rotation_deg``
    (azimuth) and the config's elevation, and clear of the shadow's edge."""
    obj = meta["objects"][0]
    centre, radius = np.array(obj["position"][0]), obj["dims"][0]
    el = np.radians(SUN["sun_elevation_deg"])
    to_sun = L.rz(rotation_deg) @ np.array([np.cos(el), 0.0, np.sin(el)])
    dirs = np.broadcast_to(to_sun, points.shape)
    dist = L.ray_sphere_distance(points, dirs, centre)
    shadowed = np.isfinite(L.sphere_hits(points, dirs, centre, radius))
    return shadowed, np.abs(dist - radius) > SHADOW_EDGE


def test_sun_shadow_falls_where_a_ray_cast_says():
    camera = {"distance": 3.0, "elevation_deg": 50.0, "target_height": 0.0}
    scenario = L.sphere_scenario(SUN, camera, radius=0.35)
    scenario["floor"] = {"material": "plastic", "texture": "plain", "saturation": 0.0, "value": 0.5}
    sample = generate_sample(L.config(scenario, width=128, height=96), 0)
    meta = sample.meta
    backdrop_lights = [li for li in meta["lights"] if li["source"] == "backdrop"]
    assert len(backdrop_lights) == 1, "the sky's sun is one light"
    el = np.radians(SUN["sun_elevation_deg"])
    expected = L.rz(SUN["rotation_deg"]) @ np.array([np.cos(el), 0.0, np.sin(el)])
    assert np.allclose(backdrop_lights[0]["vector"], expected, atol=1e-5), "the sun where the config puts it"
    floor = L.interior(sample.frames.semantic[0] == meta["classes"].index("floor"))
    points = L.world_points(meta, sample.frames.depth[0])[floor]
    luma = L.srgb_decode(sample.frames.rgb[0][floor]) @ L.LUMA

    shadowed, clear = _shadow_classes(meta, points, SUN["rotation_deg"])
    assert shadowed[clear].sum() > 100, "the shadow should cover a good patch of floor"
    lit_level, dark_level = np.median(luma[clear & ~shadowed]), np.median(luma[clear & shadowed])
    assert dark_level < 0.6 * lit_level, f"shadow {dark_level:.3f} vs lit {lit_level:.3f}"
    dark = luma < 0.5 * (lit_level + dark_level)

    def agreement(rotation_deg):
        s, c = _shadow_classes(meta, points, rotation_deg)
        both = c & clear
        return np.mean(dark[both] == s[both]), np.sum(dark[both] & s[both]) / np.sum((dark | s)[both])

    # Measured (128 x 96, 372 shadowed floor pixels clear of the edge, linear luminance
    # 0.42 lit vs 0.14 shadowed): agreement 1.000, IoU 1.00; the sun turned +90
    # degrees: 0.890, IoU 0.01 (-90: 0.961, IoU 0; 180: 0.905, IoU 0).
    right, right_iou = agreement(SUN["rotation_deg"])
    wrong, wrong_iou = agreement(SUN["rotation_deg"] + 90.0)
    assert right >= 0.95 and right_iou > 0.8, f"agreement {right:.3f}, shadow IoU {right_iou:.3f}"
    assert wrong_iou < 0.3 and wrong < right - 0.03, f"wrong azimuth: {wrong:.3f}, IoU {wrong_iou:.3f}"
