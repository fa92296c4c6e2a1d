"""The config fields of a surface's look (:class:`Appearance`): a material family,
drawn per object (or per floor, walls, piece of furniture), and the family's
parameters a config may pin instead.

A family (:mod:`factory.scene.materials`) draws every parameter of the microfacet model
from its own ranges; a field given here (hue, saturation, value, roughness, specular,
metallic, texture, texture_scale) replaces that draw with its own, every other draw
staying where it was. Fields left out are None: the family's.
"""

from __future__ import annotations

from factory.scene.distributions import Param, parse_choice
from factory.scene.fields import Fraction, Strict, category, number
from factory.scene.materials import (
    FLOOR_FAMILIES,
    MATERIAL_FAMILIES,
    OBJECT_FAMILIES,
    TEXTURES,
    WALL_FAMILIES,
    draw_material,
)
from factory.scene.types import Material

OVERRIDES = ("hue", "saturation", "value", "roughness", "specular", "metallic", "texture", "texture_scale")
Family = category(MATERIAL_FAMILIES)


def families(names: tuple[str, ...]) -> Param:
    """A uniform choice over ``names`` (a default of a ``material`` field)."""
    return parse_choice({"dist": "choice", "values": list(names)}, MATERIAL_FAMILIES)


class Appearance(Strict):
    """A family and the parameters that override its draws (None: the family's)."""

    material: Family = families(OBJECT_FAMILIES)
    hue: Fraction | None = None
    saturation: Fraction | None = None
    value: Fraction | None = None
    roughness: Fraction | None = None
    specular: Fraction | None = None
    metallic: Fraction | None = None
    texture: category(TEXTURES) | None = None
    texture_scale: number(gt=0.0, le=1000.0) | None = None  # pattern units (cells, tiles, bricks) per metre

    def draw_material(self, rng, draw=None, prefix: str = "") -> Material:
        """A material: the family (recorded through ``draw(rng, name, param)`` as
        ``<prefix>material`` when given), its draws, then the fields given here."""
        family = draw(rng, prefix + "material", self.material) if draw is not None else self.material.sample(rng)
        pinned = {k: getattr(self, k).sample(rng) for k in OVERRIDES if getattr(self, k) is not None}
        return draw_material(family, rng, pinned)


FLOOR_DEFAULT = families(FLOOR_FAMILIES)
WALL_DEFAULT = families(WALL_FAMILIES)
