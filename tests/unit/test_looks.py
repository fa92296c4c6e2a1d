"""The new look (issue 25) at the level of rendered samples, against independent
references (image-based lighting: ``tests/unit/test_ibl.py``).

* Intrinsic layers: ``albedo`` is the sRGB of the pinned base colours (a checker's two
  colours), 0 on the sky; ``material`` the families' ids; both byte-identical when only
  the lighting, backdrop or exposure changes.
* Exposure and tone: an own incident meter and ACES fit predict the auto-exposed floor;
  fixed exposure with the linear tone shows the sky as ``srgb(clip(L 2^ev))``; white
  balance at the light's temperature renders grey; kelvin colours follow Planck's law.
* No shipped config blows out or goes black.

References: :mod:`tests.helpers.looks` (sRGB, ACES fit, camera rays, brute-force
irradiance, the CIE overcast sky, Planck's law), written from the published formulas.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import pytest

from factory.sample.generate import generate_sample
from factory.scene.colour import kelvin_rgb
from factory.scene.config import load_config
from factory.scene.materials import family_id
from tests.helpers import looks as L

# --- 3. the albedo and material layers ------------------------------------------------

OBJECT_HSV = (0.6, 0.7, 0.5)
FLOOR_HSV = (0.1, 0.4, 0.7)


def _albedo_scenario(lighting: dict, backdrop: dict, camera: dict, floor: dict | None = None) -> dict:
    h, s, v = OBJECT_HSV
    fh, fs, fv = FLOOR_HSV
    return {
        "objects": {
            "count": 3,
            "size": 0.3,
            "material": "rubber",
            "hue": h,
            "saturation": s,
            "value": v,
            "texture": "plain",
        },
        "floor": floor or {"material": "stone", "hue": fh, "saturation": fs, "value": fv, "texture": "plain"},
        "lighting": lighting,
        "backdrop": backdrop,
        # Low and far: the sky shows above the horizon.
        "camera": {"distance": 4.0, "elevation_deg": 12.0, "target_height": 0.3, **camera},
    }


# The same scene under other lights, backdrops and cameras' exposure settings.
RELIGHTS = [
    ({"count": 0}, {"kind": "sky", "sun_elevation_deg": 40.0}, {}),
    (
        {"count": 2, "temperature_k": 3000.0, "intensity": 2.0},
        {"kind": "overcast", "strength": 0.3, "rotation_deg": 10.0},
        {"exposure": "fixed", "ev": -2.0, "tone": "linear"},
    ),
    ({"count": 1, "kind": "point"}, {"kind": "flat", "strength": 0.5}, {"white_balance_k": 4000.0, "ev": 1.0}),
]


def test_albedo_and_material_layers_are_the_pinned_colours_and_families():
    samples = [generate_sample(L.config(_albedo_scenario(*r)), 0) for r in RELIGHTS]
    first = samples[0]
    meta, f = first.meta, first.frames
    semantic = f.semantic[0]
    floor = L.interior(semantic == meta["classes"].index("floor"))
    sky = semantic == meta["classes"].index("background")
    objects = L.interior(f.instance[0] > 0)
    assert floor.sum() > 500 and sky.sum() > 200 and objects.sum() > 50, "floor, sky and objects in view"

    for where, hsv in ((objects, OBJECT_HSV), (floor, FLOOR_HSV)):
        want = L.srgb_encode(colorsys.hsv_to_rgb(*hsv))
        err = np.abs(f.albedo[0][where].astype(np.int16) - want).max()
        assert err <= 1, f"albedo {err} levels off the sRGB of {hsv}"
    assert (f.albedo[0][sky] == 0).all(), "the sky has no albedo"

    assert (f.material[0][sky] == 0).all()
    assert (f.material[0][floor] == family_id("stone")).all()
    for o in meta["objects"]:
        assert o["material"]["family"] == "rubber"
        assert (f.material[0][L.interior(f.instance[0] == o["id"])] == family_id("rubber")).all()

    for other in samples[1:]:
        assert np.array_equal(other.frames.albedo, f.albedo), "albedo changed with the lighting alone"
        assert np.array_equal(other.frames.material, f.material), "material changed with the lighting alone"
        assert np.mean(other.frames.rgb != f.rgb) > 0.5, "the lighting should change the rgb"


def test_checker_floor_albedo_takes_its_two_colours():
    floor = {
        "material": "floor_tiles",
        "texture": "checker",
        "texture_scale": 3.0,
        **dict(zip(("hue", "saturation", "value"), FLOOR_HSV)),
    }
    sample = generate_sample(L.config(_albedo_scenario(*RELIGHTS[0], floor=floor)), 0)
    meta, f = sample.meta, sample.frames
    where = L.interior(f.semantic[0] == meta["classes"].index("floor"))
    mat = meta["floor"]["material"]
    assert mat["texture"] == "checker"
    got = f.albedo[0][where].astype(np.int16)
    levels = [L.srgb_encode(mat["color"]), L.srgb_encode(mat["color2"])]
    assert np.abs(levels[0] - levels[1]).max() > 10, "two distinct colours"
    near = [np.abs(got - c).max(-1) <= 1 for c in levels]
    assert np.mean(near[0] | near[1]) > 0.97, "albedo takes the two colours only (bar rare edge texels)"
    assert min(np.mean(near[0]), np.mean(near[1])) > 0.2, "both colours show"


# --- 4. exposure, tone and white balance --------------------------------------------

OVERCAST_LZ = 6.0  # CIE overcast zenith luminance of the backdrop, kcd/m^2 (factory.scene.sky)
GREY = {**L.MATTE, "value": 0.5}  # a matte grey card: F0 = 0, roughness 1, linear 0.5


def _card_scenario(backdrop: dict, camera: dict, lighting: dict | None = None) -> dict:
    """No objects: a plain grey floor (the card) under ``backdrop``, looked at from 3 m
    at 40 degrees of elevation, its look-at point on the floor at the image centre."""
    return {
        "objects": {"count": 0},
        "floor": GREY,
        "lighting": lighting or {"count": 0},
        "backdrop": backdrop,
        "camera": {"distance": 3.0, "elevation_deg": 40.0, "azimuth_deg": 0.0, "target_height": 0.0, **camera},
    }


def test_auto_exposure_meters_the_light_at_the_target_and_tones_filmic():
    sample = generate_sample(L.config(_card_scenario({"kind": "overcast"}, {"exposure": "auto", "tone": "filmic"})), 0)
    meta = sample.meta
    eye, d, _ = L.camera_rays(meta)
    target = np.zeros(3)
    towards = (eye - target) / np.linalg.norm(eye - target)
    image = L.cie_overcast(128, OVERCAST_LZ, 0.3)
    up = 7 * OVERCAST_LZ / 9  # the CIE overcast sky's horizontal irradiance over pi, closed form
    facing = L.irradiance_over_pi(image, towards[None])[0] @ L.LUMA
    assert L.irradiance_over_pi(image, np.array([[0.0, 0, 1]]))[0, 0] == pytest.approx(up, rel=2e-3)
    exposure = 1.0 / (0.5 * (up + facing))  # an incident meter: grey card up and facing the camera, averaged
    gain = np.array(meta["camera"]["gain"])
    # Measured: the renderer's SH9 meter is 0.16% off this brute-force one.
    assert gain == pytest.approx(np.full(3, exposure), rel=0.01)

    # The floor round the look-at point (the image centre): radiance E_up (v (1 - S) + S).
    h, w = meta["height"], meta["width"]
    rows, cols = slice(h // 2 - 3, h // 2 + 3), slice(w // 2 - 3, w // 2 + 3)
    mu = (-d[rows, cols, 2]).reshape(-1)  # n.v for the floor's normal +z
    s = L.specular_share(mu)
    radiance = up * (GREY["value"] * (1 - s) + s)
    want = L.srgb_encode(L.aces(exposure * radiance))
    got = sample.frames.rgb[0][rows, cols].reshape(-1, 3).astype(np.float64)
    # Measured: 0 levels off (byte 183); 1 allowed for the float32 kernel.
    assert np.abs(got - want[:, None]).max() <= 1, f"filmic: got {got.mean():.1f}, want {want.mean():.1f}"


@pytest.mark.parametrize("ev", [-3.0, -0.5])
def test_fixed_exposure_linear_tone_shows_the_sky_times_two_to_the_ev(ev):
    camera = {"exposure": "fixed", "tone": "linear", "ev": ev, "elevation_deg": 5.0}
    sample = generate_sample(L.config(_card_scenario({"kind": "overcast"}, camera)), 0)
    meta = sample.meta
    _, d, _ = L.camera_rays(meta)
    sky = L.interior(sample.frames.semantic[0] == meta["classes"].index("background"))
    # Within 5 degrees of the horizon the map (64 rows: 2.8 degrees a row) blends the
    # sky into the ground (measured: 5 levels off at 1 degree up); left out.
    sky &= d[..., 2] > np.sin(np.radians(5.0))
    assert sky.sum() > 300
    z = d[sky][:, 2]
    radiance = OVERCAST_LZ * (1 + 2 * z) / 3  # the CIE overcast sky along each pixel's ray
    want = L.srgb_encode(radiance * 2.0**ev)
    got = sample.frames.rgb[0][sky].astype(np.float64)
    # Measured: 1 level at most (the map's bilinear lookup between 64-row samples).
    assert np.abs(got - want[:, None]).max() <= 2
    if ev > -1:
        assert (got == 255).mean() > 0.9, "radiance over 2^-ev clips at 255"


def test_white_balance_at_the_lights_temperature_renders_grey():
    lighting = {"count": 1, "kind": "directional", "temperature_k": 3000.0, "elevation_deg": 90.0}
    frames = {}
    for wb in (3000.0, 6500.0):
        camera = {"white_balance_k": wb}
        s = generate_sample(L.config(_card_scenario({"kind": "flat", "strength": 0.0}, camera, lighting)), 0)
        floor = L.interior(s.frames.semantic[0] == s.meta["classes"].index("floor"))
        frames[wb] = s.frames.rgb[0][floor].astype(np.int16)
    balanced = frames[3000.0]
    assert (balanced.max(-1) - balanced.min(-1)).max() <= 2, "a 3000 K light balanced at 3000 K: grey"
    warm = frames[6500.0].mean(0)
    assert warm[0] - warm[2] > 40, f"a 3000 K light at a 6500 K balance: warm, got {warm}"


@pytest.mark.parametrize("kelvin", [1900.0, 2700.0, 4000.0, 5000.0, 6500.0, 9000.0, 15000.0])
def test_kelvin_colours_follow_plancks_law(kelvin):
    got = np.array(kelvin_rgb(kelvin))
    if kelvin == 6500.0:
        assert got.tolist() == [1.0, 1.0, 1.0]
    # Planck's law against the CIE 1931 functions, relative to 6500 K, luminance 1.
    # Measured: 2.4% (red, 1900 K) down to 0.1% (9000 K); Kang's fit of the locus is
    # within 0.0004 in xy, the Gaussian fit of the functions within a few per cent.
    want = L.blackbody_rgb(kelvin)
    assert got == pytest.approx(want, abs=0.02, rel=0.03)


# --- 5. no shipped config blows out or goes black -----------------------------------

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
# Per frame: pixels with a channel at 255 and pixels at (0, 0, 0). Measured over 6
# samples of each config at 96 x 72 (and 4 of each edge-case preset): clipped at most
# 2.3% (edge_cases nominal under a clear sky), black 0% everywhere, mean bytes
# 65..187, night_lamp 41..96 (a dark HDRI and one lamp; its sensor noise lifts any 0).
# Before issue 25 the 95th-percentile quickstart/rooms frame had 53% clipped.
MAX_CLIPPED = 0.08
MAX_BLACK = 0.02
MEAN_RANGE = (50.0, 210.0)
NIGHT_MEAN_MIN = 25.0  # the night preset is meant to be dark


def _small(config, scenario: str | None = None):
    update = {"render": config.render.model_copy(update={"width": 96, "height": 72, "frames": 1})}
    if scenario is not None:  # that scenario alone
        update["scenarios"] = {scenario: config.scenarios[scenario]}
    return config.model_copy(update=update)


CASES = [(p.stem, None) for p in sorted(CONFIGS.glob("*.yaml"))] + [
    ("edge_cases", s) for s in ("low_sun", "overcast", "night_lamp")
]


@pytest.mark.parametrize(("name", "scenario"), CASES)
def test_shipped_configs_neither_blow_out_nor_go_black(name, scenario):
    config = _small(load_config(CONFIGS / f"{name}.yaml"), scenario)
    for index in range(3):
        sample = generate_sample(config, index)
        rgb = sample.frames.rgb
        clipped, black = (rgb == 255).any(-1).mean(), (rgb == 0).all(-1).mean()
        where = f"{name} sample {index} ({sample.meta['scenario']})"
        assert clipped < MAX_CLIPPED, f"{where}: {clipped:.1%} of pixels clipped"
        assert black < MAX_BLACK, f"{where}: {black:.1%} of pixels black"
        low = NIGHT_MEAN_MIN if sample.meta["scenario"] == "night_lamp" else MEAN_RANGE[0]
        assert low < rgb.mean() < MEAN_RANGE[1], f"{where}: mean byte {rgb.mean():.1f}"
