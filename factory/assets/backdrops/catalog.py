"""The HDRI backdrops a config may draw: every scenario's ``backdrop`` block that can
draw ``hdri`` names a pack of ``assets.backdrops``; the pack is loaded (every file
verified) and its drawable backdrops fixed (the dataset's split, the allowed licences,
the block's ids and categories) before any sample, with a problem naming the field
for each one that fails. :meth:`BackdropCatalog.draw` then gives a scene its map, the
map less its sun region and that region as a light.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from factory.assets.backdrops.image import SUN_CONE_DEG, split_sun
from factory.assets.backdrops.loaded import backdrop_cache, backdrop_image, open_backdrops
from factory.assets.backdrops.pack import BackdropPack, BackdropRecord, split_backdrops
from factory.errors import AssetError
from factory.scene.config import Config
from factory.scene.types import AssetRef, DrawnBackdrop


class BackdropCatalog:
    """The drawable HDRIs of ``config`` (see the module docstring); ``problems`` gets
    a dict per field that fails (``field``, ``message``, ``value``)."""

    def __init__(self, config: Config, allowed: frozenset, problems: list[dict]):
        self.packs: dict[str, BackdropPack] = {}
        self.selected: dict[tuple, tuple[BackdropRecord, ...]] = {}
        names = config.assets.backdrops
        for scenario, sc in config.scenarios.items():
            spec = sc.backdrop
            if "hdri" not in spec.kind.values():
                continue
            field = f"scenarios.{scenario}.backdrop"
            if spec.pack not in names:
                known = ", ".join(sorted(names)) or "none"
                message = f"backdrop pack {spec.pack!r} is not in assets.backdrops (those are: {known})"
                problems.append({"field": f"{field}.pack", "message": message, "value": spec.pack})
                continue
            if spec.pack not in self.packs:
                try:
                    self.packs[spec.pack] = open_backdrops(names[spec.pack])
                except AssetError as e:
                    problems.append(
                        {"field": f"assets.backdrops.{spec.pack}", "message": str(e), "value": names[spec.pack]}
                    )
                    continue
            pack = self.packs[spec.pack]
            drawable = [b for b in split_backdrops(pack, config.assets.split) if b.licence in allowed]
            unknown = sorted(set(spec.ids) - {b.id for b in pack.backdrops})
            if unknown:
                problems.append(
                    {"field": f"{field}.ids", "message": f"no backdrop {unknown[0]!r} in pack {spec.pack!r}"}
                )
                continue
            chosen = tuple(
                b
                for b in drawable
                if (not spec.ids or b.id in spec.ids) and (not spec.categories or b.category in spec.categories)
            )
            if not chosen:
                problems.append(
                    {
                        "field": field,
                        "message": f"pack {spec.pack!r} has no backdrop of split {config.assets.split!r} with an "
                        "allowed licence among the block's ids and categories",
                    }
                )
                continue
            self.selected[_key(spec)] = chosen

    def draw(self, spec, rng: np.random.Generator) -> DrawnBackdrop:
        """One backdrop of ``spec`` (a BackdropSpec checked at construction), from ``rng``."""
        records = self.selected[_key(spec)]
        record = records[int(rng.integers(len(records)))]
        pack = self.packs[spec.pack]
        image = backdrop_image(pack, record)
        key = (pack.url, record.id, record.sha256[record.image])
        lighting, sun_rgb = backdrop_cache().fetch((*key, "lighting"), lambda: _lighting(image, record))
        ref = AssetRef(
            "backdrop",
            pack.name,
            record.id,
            "",
            record.sha256[record.image],
            record.licence,
            record.creator,
            record.title,
            record.source,
        )
        return DrawnBackdrop(
            image,
            lighting,
            ref,
            tuple(record.sun.direction),
            math.radians(SUN_CONE_DEG),
            tuple(float(c) for c in sun_rgb),
            ":".join(key),
        )


def _key(spec) -> tuple:
    return (spec.pack, tuple(spec.ids), tuple(spec.categories))


class _Lit(NamedTuple):
    """A backdrop's map less its sun region (float32, read-only) and the sun's light
    (intensity per channel), as the image cache holds them (it counts ``nbytes``)."""

    lighting: np.ndarray
    sun_rgb: tuple[float, float, float]

    @property
    def nbytes(self) -> int:
        return self.lighting.nbytes


def _lighting(image: np.ndarray, record: BackdropRecord) -> _Lit:
    lighting, sun_rgb = split_sun(image, np.asarray(record.sun.direction), SUN_CONE_DEG)
    lighting = lighting.astype(np.float32)
    lighting.setflags(write=False)
    return _Lit(lighting, tuple(float(c) for c in sun_rgb))
