"""Material families: every draw within its family's ranges (read back from the drawn
colours through HSV), spread over them, overrides that replace a value and shift no
other draw, determinism, ids and errors."""

from __future__ import annotations

import colorsys
import math

import numpy as np
import pytest

from factory.scene.config import TEXTURES
from factory.scene.materials import (
    FAMILIES,
    FLOOR_FAMILIES,
    MATERIAL_FAMILIES,
    METALS,
    OBJECT_FAMILIES,
    OVERRIDES,
    WALL_FAMILIES,
    draw_material,
    family_id,
)
from factory.scene.types import Material

DRAWS = 1500
EPS = 1e-9


def _draws(family: str, seed: int = 0, n: int = DRAWS) -> list[Material]:
    rng = np.random.default_rng(seed)
    return [draw_material(family, rng) for _ in range(n)]


def _hue_offset(h: float, lo: float) -> float:
    """How far hue h lies past lo going up through 1 (turns, in [0, 1))."""
    return (h - lo) % 1.0


def test_ids_are_stable_indices_from_one_and_lists_name_known_families():
    assert [family_id(f) for f in MATERIAL_FAMILIES] == list(range(1, len(MATERIAL_FAMILIES) + 1))
    assert len(set(MATERIAL_FAMILIES)) == len(MATERIAL_FAMILIES)
    assert MATERIAL_FAMILIES[:3] == ("plastic", "rubber", "glossy_paint")  # ids stored in datasets
    for group in (OBJECT_FAMILIES, FLOOR_FAMILIES, WALL_FAMILIES):
        assert group and set(group) <= set(FAMILIES)
    assert Material.__dataclass_fields__["family"].default in FAMILIES
    used = {t for f in FAMILIES.values() for t, _, _ in f.textures}
    assert used == set(TEXTURES)  # every pattern is drawn by some family


def test_errors_name_the_bad_value_and_list_the_allowed():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"'velvet'.*plastic, rubber"):
        draw_material("velvet", rng)
    with pytest.raises(ValueError, match=r"'velvet'.*plastic"):
        family_id("velvet")
    with pytest.raises(ValueError, match=r"shininess: allowed hue, saturation, value, roughness"):
        draw_material("plastic", rng, {"shininess": 3.0})
    with pytest.raises(ValueError, match=r"'paisley'.*checker"):
        draw_material("plastic", rng, {"texture": "paisley"})
    with pytest.raises(ValueError, match="roughness"):
        draw_material("plastic", rng, {"roughness": 1.5})
    with pytest.raises(ValueError, match="texture_scale"):
        draw_material("plastic", rng, {"texture_scale": 0.0})


@pytest.mark.parametrize("name", MATERIAL_FAMILIES)
def test_draws_lie_within_the_familys_ranges_and_spread_over_them(name):
    f = FAMILIES[name]
    mats = _draws(name, seed=family_id(name))
    hsv = np.array([colorsys.rgb_to_hsv(*m.color) for m in mats])
    rough = np.array([m.roughness for m in mats])
    spec = np.array([m.specular for m in mats])
    assert all(m.family == name and m.metallic == f.metallic for m in mats)
    assert all(0 <= m.pattern_seed < 2**20 for m in mats) and len({m.pattern_seed for m in mats}) > DRAWS * 0.99
    assert all(0.0 <= c <= 1.0 for m in mats for c in m.color + m.color2)
    for values, (lo, hi) in ((rough, f.roughness), (spec, f.specular)):
        assert values.min() >= lo - EPS and values.max() <= hi + EPS
        assert values.max() - values.min() >= 0.95 * (hi - lo)
    if f.metals:
        assert {m.color for m in mats} == {METALS[k] for k in f.metals}
    else:
        for col, (lo, hi) in ((1, f.saturation), (2, f.value)):
            assert hsv[:, col].min() >= lo - EPS and hsv[:, col].max() <= hi + EPS
            assert hsv[:, col].max() - hsv[:, col].min() >= 0.95 * (hi - lo)
        lo, hi = f.hue
        width = (hi - lo) % 1.0 or 1.0
        grey = hsv[:, 1] < 1e-6  # a grey's hue is undefined
        offsets = _hue_offset(hsv[~grey, 0], lo)
        assert offsets.max() <= width + 1e-6


@pytest.mark.parametrize("name", MATERIAL_FAMILIES)
def test_textures_are_drawn_uniformly_with_log_uniform_scales(name):
    f = FAMILIES[name]
    mats = _draws(name, seed=100 + family_id(name))
    counts = {t: sum(m.texture == t for m in mats) for t, _, _ in f.textures}
    expected = DRAWS / len(f.textures)
    assert all(abs(c - expected) < 5 * math.sqrt(expected) for c in counts.values()), counts
    for t, lo, hi in f.textures:
        scales = np.array([m.texture_scale for m in mats if m.texture == t])
        assert scales.min() >= lo * (1 - EPS) and scales.max() <= hi * (1 + EPS)
        if hi > lo:  # log-uniform: the mean log at the middle of the log range
            u = np.log(scales / lo) / np.log(hi / lo)
            assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / len(u))


@pytest.mark.parametrize("name", MATERIAL_FAMILIES)
def test_second_colour_and_roughness_follow_the_first_by_drawn_factors(name):
    f = FAMILIES[name]
    for m in _draws(name, seed=200 + family_id(name), n=400):
        h1, s1, v1 = colorsys.rgb_to_hsv(*m.color)
        h2, s2, v2 = colorsys.rgb_to_hsv(*m.color2)
        if v1 > 1e-6 and v2 < 1.0 - 1e-9:  # not clipped at 1
            assert f.value2[0] - 1e-6 <= v2 / v1 <= f.value2[1] + 1e-6
        if s1 > 1e-6 and v2 > 1e-6 and s2 < 1.0 - 1e-9:
            assert f.saturation2[0] - 1e-6 <= s2 / s1 <= f.saturation2[1] + 1e-6
        if s1 > 1e-3 and s2 > 1e-3 and v2 > 1e-3:
            shift = (h2 - h1 - f.hue2[0]) % 1.0
            assert shift <= (f.hue2[1] - f.hue2[0]) + 1e-4 or shift >= 1 - 1e-4
        if m.roughness2 < 1.0:
            assert f.roughness2[0] - 1e-9 <= m.roughness2 / m.roughness <= f.roughness2[1] + 1e-9


def test_the_same_generator_state_gives_the_same_materials_and_a_new_one_others():
    assert _draws("wood", seed=3, n=20) == _draws("wood", seed=3, n=20)
    assert _draws("wood", seed=3, n=20) != _draws("wood", seed=4, n=20)


OVERRIDE_VALUES = {
    "hue": 0.3,
    "saturation": 0.2,
    "value": 0.1,
    "roughness": 0.05,
    "specular": 0.9,
    "metallic": 1.0,
    "texture": "tiles",
    "texture_scale": 7.5,
}
# What each override may change, besides itself; everything else must stay as drawn.
FOLLOWS = {
    "hue": {"color", "color2"},
    "saturation": {"color", "color2"},
    "value": {"color", "color2"},
    "roughness": {"roughness2"},
    "texture": {"texture_scale"},
}
FIELD = {"hue": "color", "saturation": "color", "value": "color"}


@pytest.mark.parametrize("family", ["plastic", "metal", "bricks", "wood"])
@pytest.mark.parametrize("key", OVERRIDES)
def test_an_override_replaces_its_value_and_shifts_no_other_draw(family, key):
    for seed in range(20):
        a_rng, b_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        a = draw_material(family, a_rng)
        b = draw_material(family, b_rng, {key: OVERRIDE_VALUES[key]})
        assert a_rng.random() == b_rng.random()  # the same draws taken
        changed = {k for k in Material.__dataclass_fields__ if getattr(a, k) != getattr(b, k)}
        assert changed <= {FIELD.get(key, key)} | FOLLOWS.get(key, set())
        if key in ("hue", "saturation", "value"):
            got = colorsys.rgb_to_hsv(*b.color)[("hue", "saturation", "value").index(key)]
            assert got == pytest.approx(OVERRIDE_VALUES[key], abs=1e-9)
        else:
            assert getattr(b, key) == OVERRIDE_VALUES[key]
        if key == "roughness" and a.roughness2 < 1.0:  # the same drawn factor
            assert b.roughness2 / b.roughness == pytest.approx(a.roughness2 / a.roughness)


def test_overrides_of_everything_leave_the_seed_and_colour_factors():
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    a = draw_material("wallpaper", rng_a)
    b = draw_material("wallpaper", rng_b, OVERRIDE_VALUES)
    assert b.pattern_seed == a.pattern_seed
    assert (b.texture, b.texture_scale, b.metallic) == ("tiles", 7.5, 1.0)
    ratio = lambda m: colorsys.rgb_to_hsv(*m.color2)[2] / colorsys.rgb_to_hsv(*m.color)[2]  # noqa: E731
    assert ratio(b) == pytest.approx(ratio(a))
