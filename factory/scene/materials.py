"""Material families: named ranges of the microfacet material's parameters (base
colour, roughness, metallic, specular, a procedural texture and its second colour
and roughness), drawn per surface by :func:`draw_material`.

Colours: a dielectric's base colour is drawn in HSV (hue in turns, a range with
lo > hi wraps through 1) and turned into RGB by ``colorsys.hsv_to_rgb``, taken as
linear RGB in [0, 1] (as the scene sampler always has). The ranges are of linear
light, where real albedos sit low and saturations high (a red plastic of sRGB (0.8,
0.1, 0.1) is linear (0.6, 0.01, 0.01): value 0.6, saturation 0.98), so surfaces do not
come out pale. A metal's base colour is its
reflectance at normal incidence (F0), linear RGB, drawn from :data:`METALS`. Colour 2
(the texture's second colour: grout, mortar, veins, late wood, a print's ink) is
colour 1 in HSV with its hue shifted and its saturation and value scaled by drawn
factors (clipped to [0, 1]).

Textures: a family lists (texture, lo, hi) entries and draws one uniformly, with its
``texture_scale`` log-uniform in [lo, hi] pattern units per metre (checker squares,
brick courses, tiles, wood rings, noise features: see :mod:`factory.render.patterns`).
Object ranges suit objects of ~0.2 m (a few to a few dozen units across one);
floor and wall ranges suit surfaces seen over metres (tiles of 10 to 50 cm, brick
courses of 75 mm).

``specular`` sets a dielectric's F0 = 0.08 * specular (0.5 -> 0.04, most dielectrics);
``roughness`` is perceptual (GGX alpha = roughness^2); ``roughness2`` (the pattern's
second roughness) is roughness times a drawn factor, clipped to [0, 1].

Ids: a family's id is its index in :data:`MATERIAL_FAMILIES` plus one (0: none, the
sky). Datasets store ids, so the tuple only ever grows at its end.
"""

from __future__ import annotations

import colorsys
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from factory.scene.types import Material

# Surface patterns (solid procedural textures, factory.render.patterns); never reorder:
# a name's index is its kernel code.
TEXTURES = ("plain", "checker", "stripes", "noise", "fbm", "marble", "wood", "worley", "bricks", "tiles")

Range = tuple[float, float]

# Reflectance at normal incidence (F0), linear RGB. Sources: N. Hoffman, "Physics and
# Math of Shading", SIGGRAPH 2015 Physically Based Shading course (the values Unity's
# Shader Graph "Metal Reflectance" node ships); brass (C260) from Real-Time Rendering,
# 4th ed., Table 9.2.
METALS: dict[str, tuple[float, float, float]] = {
    "gold": (1.000, 0.766, 0.336),
    "silver": (0.972, 0.960, 0.915),
    "aluminium": (0.913, 0.921, 0.925),
    "copper": (0.955, 0.637, 0.538),
    "iron": (0.560, 0.570, 0.580),
    "chromium": (0.550, 0.556, 0.554),
    "nickel": (0.660, 0.609, 0.526),
    "titanium": (0.542, 0.497, 0.449),
    "cobalt": (0.662, 0.655, 0.634),
    "platinum": (0.672, 0.637, 0.585),
    "brass": (0.910, 0.778, 0.423),
}


@dataclass(frozen=True)
class Family:
    """The ranges one family draws from (each (lo, hi), drawn uniformly unless said).

    ``hue`` (turns; lo > hi wraps through 1), ``saturation``, ``value``: the base
    colour in HSV (dielectrics). ``metals``: for a metal (``metallic`` 1), the names
    of :data:`METALS` its base colour is drawn from, uniformly, instead.
    ``roughness``, ``specular``: as :class:`~factory.scene.types.Material`.
    ``textures``: (name of :data:`TEXTURES`, lo, hi) entries,
    one drawn uniformly, its scale log-uniform in [lo, hi] pattern units per metre.
    ``hue2`` (added, turns), ``saturation2``, ``value2`` (factors): colour 2 from
    colour 1. ``roughness2``: the factor from roughness to roughness2."""

    hue: Range = (0.0, 1.0)
    saturation: Range = (0.0, 1.0)
    value: Range = (0.0, 1.0)
    roughness: Range = (0.5, 0.5)
    metallic: float = 0.0
    specular: Range = (0.5, 0.5)
    textures: tuple[tuple[str, float, float], ...] = (("plain", 1.0, 1.0),)
    metals: tuple[str, ...] = ()
    hue2: Range = (0.0, 0.0)
    saturation2: Range = (1.0, 1.0)
    value2: Range = (0.45, 0.45)
    roughness2: Range = (1.0, 1.0)

    def __post_init__(self):
        bad = [t for t, _, _ in self.textures if t not in TEXTURES] + [m for m in self.metals if m not in METALS]
        if bad or not self.textures or (self.metallic == 1.0) != bool(self.metals):
            raise ValueError(f"a family needs known textures, and metals exactly when metallic (got {bad or self})")

    def scale_range(self, texture: str) -> Range | None:
        """The (lo, hi) scale of ``texture`` in this family, None if it has none."""
        return next(((lo, hi) for t, lo, hi in self.textures if t == texture), None)


ANY_HUE = (0.0, 1.0)
WOOD_HUE = (0.05, 0.11)  # orange to yellow-brown
PLAIN = ("plain", 1.0, 1.0)
_ALL_METALS = tuple(METALS)
_WHITE_METALS = ("silver", "aluminium", "iron", "chromium", "nickel", "titanium", "platinum")

FAMILIES: dict[str, Family] = {
    # Objects (~0.2 m).
    "plastic": Family(
        ANY_HUE, (0.4, 1.0), (0.05, 0.85), (0.25, 0.6), 0.0, (0.4, 0.6),
        (PLAIN, ("stripes", 15.0, 40.0), ("checker", 10.0, 30.0)),
        hue2=(-0.5, 0.5), value2=(0.5, 1.0),
    ),
    "rubber": Family(
        ANY_HUE, (0.2, 0.9), (0.02, 0.3), (0.7, 0.95), 0.0, (0.3, 0.5),
        (PLAIN, ("fbm", 20.0, 60.0)), value2=(0.6, 0.85), roughness2=(1.0, 1.1),
    ),
    "glossy_paint": Family(
        ANY_HUE, (0.6, 1.0), (0.1, 0.85), (0.04, 0.2), 0.0, (0.5, 0.6),
        (PLAIN, ("stripes", 10.0, 30.0), ("checker", 8.0, 25.0)),
        hue2=(-0.5, 0.5), value2=(0.4, 1.0),
    ),
    "ceramic": Family(
        ANY_HUE, (0.0, 0.6), (0.4, 0.9), (0.04, 0.2), 0.0, (0.5, 0.6),
        (PLAIN, ("fbm", 8.0, 25.0), ("stripes", 10.0, 30.0), ("worley", 15.0, 40.0)),
        hue2=(-0.1, 0.1), value2=(0.5, 0.9),
    ),
    "metal": Family(
        roughness=(0.05, 0.35), metallic=1.0, metals=_ALL_METALS,
        textures=(PLAIN, ("fbm", 10.0, 40.0)), value2=(0.8, 1.0), roughness2=(1.5, 3.0),
    ),
    "brushed_metal": Family(
        roughness=(0.3, 0.6), metallic=1.0, metals=_WHITE_METALS,
        textures=(("stripes", 60.0, 150.0), ("fbm", 30.0, 80.0)), value2=(0.9, 1.0), roughness2=(1.1, 1.4),
    ),
    "wood": Family(
        WOOD_HUE, (0.55, 0.85), (0.1, 0.55), (0.35, 0.7), 0.0, (0.4, 0.55),
        (("wood", 20.0, 80.0),), hue2=(-0.02, 0.0), saturation2=(1.0, 1.2), value2=(0.5, 0.75),
        roughness2=(0.9, 1.1),
    ),
    "fabric": Family(
        ANY_HUE, (0.3, 0.9), (0.03, 0.7), (0.8, 1.0), 0.0, (0.2, 0.4),
        (PLAIN, ("checker", 20.0, 60.0), ("stripes", 20.0, 60.0), ("fbm", 20.0, 50.0)),
        hue2=(-0.5, 0.5), value2=(0.4, 1.2),
    ),
    "stone": Family(
        (0.05, 0.15), (0.0, 0.3), (0.15, 0.6), (0.5, 0.9), 0.0, (0.4, 0.5),
        (("fbm", 5.0, 20.0), ("worley", 8.0, 25.0), ("noise", 30.0, 80.0)), value2=(0.5, 0.8),
    ),
    "marble": Family(
        ANY_HUE, (0.0, 0.2), (0.5, 0.85), (0.05, 0.25), 0.0, (0.5, 0.5),
        (("marble", 5.0, 20.0),), value2=(0.2, 0.6), roughness2=(1.0, 1.3),
    ),
    "cardboard": Family(
        (0.07, 0.11), (0.5, 0.7), (0.3, 0.55), (0.8, 0.95), 0.0, (0.4, 0.5),
        (PLAIN, ("fbm", 30.0, 80.0)), value2=(0.85, 0.95),
    ),
    # Floors (seen over metres).
    "concrete": Family(
        (0.05, 0.15), (0.0, 0.1), (0.2, 0.5), (0.7, 0.95), 0.0, (0.4, 0.5),
        (("fbm", 1.0, 6.0), ("worley", 2.0, 8.0)), value2=(0.75, 0.95),
    ),
    "floor_tiles": Family(
        ANY_HUE, (0.0, 0.6), (0.2, 0.85), (0.1, 0.4), 0.0, (0.5, 0.6),
        (("tiles", 2.0, 6.0), ("checker", 2.0, 5.0)), saturation2=(0.0, 0.3), value2=(0.3, 0.7),
        roughness2=(2.0, 3.0),
    ),
    "carpet": Family(
        ANY_HUE, (0.2, 0.8), (0.05, 0.5), (0.9, 1.0), 0.0, (0.2, 0.35),
        (PLAIN, ("fbm", 4.0, 15.0)), value2=(0.6, 0.85),
    ),
    "parquet": Family(
        WOOD_HUE, (0.55, 0.85), (0.1, 0.55), (0.3, 0.6), 0.0, (0.45, 0.55),
        (("wood", 10.0, 40.0), ("stripes", 6.0, 15.0), ("bricks", 6.0, 12.0)),
        hue2=(-0.02, 0.0), value2=(0.55, 0.8), roughness2=(1.0, 1.3),
    ),
    "linoleum": Family(
        ANY_HUE, (0.2, 0.8), (0.15, 0.7), (0.2, 0.5), 0.0, (0.45, 0.55),
        (PLAIN, ("checker", 2.0, 5.0), ("fbm", 3.0, 10.0)), hue2=(-0.1, 0.1), value2=(0.3, 0.8),
    ),
    "flagstones": Family(
        (0.05, 0.15), (0.05, 0.35), (0.2, 0.5), (0.6, 0.9), 0.0, (0.4, 0.5),
        (("tiles", 1.0, 3.0), ("worley", 1.5, 4.0)), value2=(0.4, 0.7), roughness2=(1.1, 1.4),
    ),
    # Walls.
    "wall_paint": Family(
        ANY_HUE, (0.0, 0.5), (0.3, 0.8), (0.7, 0.95), 0.0, (0.45, 0.55),
        (PLAIN, ("fbm", 1.0, 4.0)), value2=(0.9, 0.97),
    ),
    "wallpaper": Family(
        ANY_HUE, (0.2, 0.8), (0.2, 0.8), (0.6, 0.9), 0.0, (0.4, 0.5),
        (("stripes", 4.0, 15.0), ("checker", 4.0, 15.0), ("fbm", 3.0, 10.0)),
        hue2=(-0.15, 0.15), value2=(0.6, 0.9),
    ),
    "bricks": Family(
        (0.0, 0.06), (0.6, 0.85), (0.15, 0.4), (0.75, 0.95), 0.0, (0.4, 0.5),
        (("bricks", 12.0, 14.5),), saturation2=(0.0, 0.3), value2=(1.3, 2.0), roughness2=(1.0, 1.1),
    ),
    "wall_tiles": Family(
        ANY_HUE, (0.0, 0.7), (0.3, 0.9), (0.05, 0.3), 0.0, (0.5, 0.6),
        (("tiles", 4.0, 10.0),), saturation2=(0.0, 0.3), value2=(0.4, 0.8), roughness2=(2.0, 4.0),
    ),
    "plaster": Family(
        (0.06, 0.14), (0.0, 0.2), (0.5, 0.8), (0.8, 1.0), 0.0, (0.4, 0.5),
        (("fbm", 2.0, 8.0), ("worley", 3.0, 10.0)), value2=(0.85, 0.95),
    ),
    # Liquids (issue 27): water's F0 is 0.02 (specular 0.25); opaque here, so the body's
    # colour is the tint light takes on through it: dark, blue-green to blue.
    "water": Family(
        (0.48, 0.6), (0.3, 0.8), (0.04, 0.3), (0.02, 0.1), 0.0, (0.25, 0.25), (PLAIN,),
    ),
}  # fmt: skip

# Append only: a family's id (index + 1) is stored in datasets.
MATERIAL_FAMILIES: tuple[str, ...] = tuple(FAMILIES)
OBJECT_FAMILIES = (
    "plastic", "rubber", "glossy_paint", "ceramic", "metal", "brushed_metal",
    "wood", "fabric", "stone", "marble", "cardboard",
)  # fmt: skip
FLOOR_FAMILIES = ("concrete", "floor_tiles", "carpet", "parquet", "linoleum", "flagstones")
WALL_FAMILIES = ("wall_paint", "wallpaper", "bricks", "wall_tiles", "plaster", "concrete")
FURNITURE_FAMILIES = ("wood", "glossy_paint", "metal", "plastic", "fabric")
OVERRIDES = ("hue", "saturation", "value", "roughness", "specular", "metallic", "texture", "texture_scale")

# The uniforms every draw takes, in this order, whatever the family and overrides.
_DRAWS = (
    "hue", "saturation", "value", "metal", "roughness", "specular",
    "texture", "scale", "hue2", "sat2", "val2", "rough2",
)  # fmt: skip


def family_id(name: str) -> int:
    """The id of family ``name``: its index in :data:`MATERIAL_FAMILIES` plus one."""
    if name not in FAMILIES:
        raise ValueError(f"unknown material family {name!r}: one of {', '.join(MATERIAL_FAMILIES)}")
    return MATERIAL_FAMILIES.index(name) + 1


def _between(r: Range, u: float) -> float:
    return r[0] + u * (r[1] - r[0])


def _hue(r: Range, u: float) -> float:
    """A hue in [0, 1) from range r, wrapping through 1 when r[0] > r[1]."""
    hi = r[1] + 1.0 if r[0] > r[1] else r[1]
    return (r[0] + u * (hi - r[0])) % 1.0


def _checked(overrides: Mapping[str, object] | None) -> dict[str, object]:
    out = dict(overrides or {})
    unknown = sorted(set(out) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"unknown material override {', '.join(unknown)}: allowed {', '.join(OVERRIDES)}")
    if "texture" in out and out["texture"] not in TEXTURES:
        raise ValueError(f"unknown texture {out['texture']!r}: one of {', '.join(TEXTURES)}")
    for key in set(out) - {"texture"}:
        v = out[key]
        bad = not isinstance(v, numbers.Real) or not math.isfinite(v)
        if bad or (key == "texture_scale" and v <= 0) or (key != "texture_scale" and not 0.0 <= v <= 1.0):
            raise ValueError(f"material override {key} = {v!r}: a number in [0, 1] (texture_scale: > 0)")
    return out


def draw_material(family: str, rng: np.random.Generator, overrides: Mapping[str, object] | None = None) -> Material:
    """One material of ``family``, drawn from ``rng``.

    Every call takes the same draws from ``rng`` in the same order (12 uniforms, then
    the pattern seed), whatever the family and ``overrides``, so an override never
    shifts another draw. ``overrides`` (keys of :data:`OVERRIDES`: values already
    drawn) replace the family's hue, saturation, value (for a metal: of its F0 in
    HSV), roughness, specular, metallic, texture or texture_scale; colour 2 and
    roughness2 follow from the final colour 1 and roughness. An overridden texture
    the family does not list keeps the drawn scale unless texture_scale is given.

    Raises:
        ValueError: an unknown family, override key or texture, or a value out of range.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown material family {family!r}: one of {', '.join(MATERIAL_FAMILIES)}")
    over = _checked(overrides)
    f = FAMILIES[family]
    u = dict(zip(_DRAWS, (float(x) for x in rng.random(len(_DRAWS))), strict=True))
    seed = int(rng.integers(0, 2**20))

    if f.metals:
        f0 = METALS[f.metals[min(int(u["metal"] * len(f.metals)), len(f.metals) - 1)]]
        hsv = colorsys.rgb_to_hsv(*f0)
    else:
        hsv = (_hue(f.hue, u["hue"]), _between(f.saturation, u["saturation"]), _between(f.value, u["value"]))
    h, s, v = (float(over.get(k, x)) for k, x in zip(("hue", "saturation", "value"), hsv, strict=True))
    color = f0 if f.metals and not over.keys() & {"hue", "saturation", "value"} else colorsys.hsv_to_rgb(h, s, v)
    second = colorsys.hsv_to_rgb(
        (h + _between(f.hue2, u["hue2"])) % 1.0,
        min(1.0, s * _between(f.saturation2, u["sat2"])),
        min(1.0, v * _between(f.value2, u["val2"])),
    )

    k = min(int(u["texture"] * len(f.textures)), len(f.textures) - 1)
    texture, lo, hi = f.textures[k]
    texture = str(over.get("texture", texture))
    lo, hi = f.scale_range(texture) or (lo, hi)
    scale = float(over.get("texture_scale", lo * (hi / lo) ** u["scale"]))

    roughness = float(over.get("roughness", _between(f.roughness, u["roughness"])))
    return Material(
        color=tuple(float(c) for c in color),
        color2=tuple(float(c) for c in second),
        texture=texture,
        texture_scale=scale,
        roughness=roughness,
        specular=float(over.get("specular", _between(f.specular, u["specular"]))),
        metallic=float(over.get("metallic", f.metallic)),
        family=family,
        roughness2=min(1.0, roughness * _between(f.roughness2, u["rough2"])),
        pattern_seed=seed,
    )
