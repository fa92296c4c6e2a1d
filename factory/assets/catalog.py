"""A config's catalogue of assets: what its ``gen:`` and ``pack:`` objects are drawn from.

:class:`Catalog` is made once per process and config (:func:`catalog_for`) and handed
to the scene sampler as its :class:`~factory.scene.types.AssetSource`. Making it checks
the config's asset fields before any sample, naming the field: every ``gen:<name>`` is
a generator and its ``generators`` overrides are params of it within their limits;
every ``pack:<name>`` is in ``assets.packs``, the pack loads with every file verified,
and its ``assets.split`` holds at least one asset whose licence ``assets.allowed_licences``
allows (assets with other licences are never drawn) within the block's ``pack_size`` and
``pack_categories``; every allowed licence is an SPDX id factory knows.

Drawing: ``gen:<name>`` draws its params from the object's stream
(:func:`factory.assets.generators.registry.draw`) and builds the mesh through the
per-process cache; ``pack:<name>`` draws one asset of the split uniformly. Both come
back as a :class:`~factory.scene.types.DrawnAsset` in the unit box, with the
:class:`~factory.scene.types.AssetRef` that names the source, its licence and its
attribution.

The class table (:attr:`Catalog.classes`): :data:`factory.scene.shapes.CLASSES` (the
ids of every dataset before), then the new categories in sorted order: each generator
a scenario draws (its name) and each category of the packs' drawable assets.
"""

from __future__ import annotations

import hashlib
import json
import threading

import numpy as np

from factory.assets.backdrops.catalog import BackdropCatalog
from factory.assets.byte_cache import ByteCache
from factory.assets.generators.cache import cached_build
from factory.assets.generators.registry import GENERATORS, draw
from factory.assets.licences import DEFAULT_ALLOWLIST, LICENCES, licence
from factory.assets.loaded import open_pack, pack_mesh
from factory.assets.pack import AssetRecord, Pack, split
from factory.errors import AssetError, ConfigError, ParamError
from factory.scene.assets import MeshAsset, make_asset
from factory.scene.config import Config
from factory.scene.deformable_specs import deformable_classes
from factory.scene.shapes import CLASSES
from factory.scene.types import AssetRef, DrawnAsset, DrawnBackdrop

GENERATED_LICENCE = "CC0-1.0"  # a generated mesh is made by factory's own code from its params
MAX_CLASSES = 256  # semantic.png is 8-bit
# Generated objects' assets kept per process, by (generator, params): params are drawn
# anew per object, so hits come from a config's constant params and redrawn scenes.
_GENERATED = ByteCache(256 * 2**20, lambda drawn: drawn.mesh.nbytes)


def _shapes(config: Config) -> list[tuple[str, str, str, object]]:
    """Every asset shape a scenario may draw: (field path of its block, kind gen|pack,
    name, the block: its ObjectSpec or FurnitureSpec)."""
    out = []
    for sc_name, sc in config.scenarios.items():
        blocks = [("objects", sc.objects)] + ([("furniture", sc.furniture)] if sc.furniture is not None else [])
        for field, block in blocks:
            for v in block.shape.values():
                if isinstance(v, str) and ":" in v:
                    kind, name = v.split(":", 1)
                    out.append((f"scenarios.{sc_name}.{field}", kind, name, block))
    return out


def _selection(block) -> tuple[float, float, tuple[str, ...]]:
    """What a block's pack_size and pack_categories select, as a key."""
    return (float(block.pack_size[0]), float(block.pack_size[1]), tuple(sorted(block.pack_categories)))


def _selected(assets: tuple[AssetRecord, ...], selection) -> tuple[AssetRecord, ...]:
    lo, hi, categories = selection
    return tuple(a for a in assets if lo <= max(a.size_m) <= hi and (not categories or a.category in categories))


class Catalog:
    """The assets ``config`` may draw (see the module docstring).

    Raises:
        ConfigError: a field names an unknown generator, param, pack or licence, an
            override is outside its limits, a pack cannot be loaded, or a pack has no
            drawable asset; each line names the field.
    """

    def __init__(self, config: Config, source: str = "<config>"):
        spec = config.assets
        self.allowed = frozenset(spec.allowed_licences if spec.allowed_licences is not None else DEFAULT_ALLOWLIST)
        self.split = spec.split
        problems: list[dict] = []
        for spdx in sorted(self.allowed):
            if spdx not in LICENCES:
                try:
                    licence(spdx, "assets.allowed_licences")
                except AssetError as e:
                    problems.append({"field": "assets.allowed_licences", "message": str(e), "value": spdx})
        self.packs: dict[str, Pack] = {}
        self.drawable: dict[str, tuple[AssetRecord, ...]] = {}  # a pack's split, allowlisted
        self.selected: dict[tuple, tuple[AssetRecord, ...]] = {}  # (pack, selection) -> its assets
        generators: set[str] = set()
        for field, kind, name, block in _shapes(config):
            if kind == "gen":
                problems += _check_generator(f"{field}.shape", name, block.generators.get(name, {}))
                generators.add(name)
                continue
            if name not in self.packs:
                problems += self._load_pack(f"{field}.shape", name, spec.packs)
            if name in self.packs:
                problems += self._select(field, name, _selection(block))
        self.backdrops = BackdropCatalog(config, self.allowed, problems)
        if problems:
            raise ConfigError.of(source, problems)
        categories = generators | {a.category for assets in self.selected.values() for a in assets}
        categories |= set(deformable_classes(config))  # cloth, when a scenario draws it
        self.classes: tuple[str, ...] = CLASSES + tuple(sorted(categories - set(CLASSES)))
        if len(self.classes) > MAX_CLASSES:
            raise ConfigError.of(
                source,
                [
                    {
                        "field": "scenarios",
                        "message": f"the class table would hold {len(self.classes)} classes, over the "
                        f"{MAX_CLASSES} that semantic.png's 8 bits hold; select fewer pack categories "
                        "(pack_categories) or generators",
                    }
                ],
            )

    def _load_pack(self, field: str, name: str, packs: dict[str, str]) -> list[dict]:
        """Load pack ``name`` and its drawable assets; the problems, as dicts."""
        if name not in packs:
            known = ", ".join(sorted(packs)) or "none"
            message = f"pack {name!r} is not in assets.packs (those are: {known})"
            return [{"field": field, "message": message, "value": f"pack:{name}"}]
        try:
            pack = open_pack(packs[name])  # once per process, every file verified
        except AssetError as e:
            return [{"field": f"assets.packs.{name}", "message": str(e), "value": packs[name]}]
        assets = tuple(a for a in split(pack, self.split) if a.licence in self.allowed)
        if not assets:
            return [
                {
                    "field": f"assets.packs.{name}",
                    "message": f"no asset of split {self.split!r} has a licence in the allowed licences "
                    f"({', '.join(sorted(self.allowed))})",
                }
            ]
        self.packs[name], self.drawable[name] = pack, assets
        return []

    def _select(self, field: str, name: str, selection) -> list[dict]:
        """Keep the assets of pack ``name`` a block selects; a problem when none is left."""
        assets = _selected(self.drawable[name], selection)
        if not assets:
            lo, hi, categories = selection
            return [
                {
                    "field": f"{field}.pack_size",
                    "message": f"pack {name!r} has no drawable asset of largest extent {lo:g}-{hi:g} m"
                    + (f" in categories {', '.join(categories)}" if categories else ""),
                }
            ]
        self.selected[(name, selection)] = assets
        return []

    def draw(self, shape: str, block, rng: np.random.Generator) -> DrawnAsset:
        """One asset of ``shape`` for ``block`` (its ObjectSpec or FurnitureSpec; see the
        module docstring), drawn from ``rng``."""
        kind, name = shape.split(":", 1)
        if kind == "gen":
            return _generated_drawn(name, draw(name, block.generators.get(name, {}), rng))
        assets = self.selected[(name, _selection(block))]
        record = assets[int(rng.integers(len(assets)))]
        mesh, size = pack_mesh(self.packs[name], record)
        ref = AssetRef(
            "pack",
            self.packs[name].name,
            record.id,
            "",
            record.sha256[record.mesh],
            record.licence,
            record.creator,
            record.title,
            record.source,
        )
        return DrawnAsset(mesh, ref, record.category, size)

    def backdrop(self, block, rng: np.random.Generator) -> DrawnBackdrop:
        """One HDRI for the scenario's BackdropSpec ``block``, drawn from ``rng``."""
        return self.backdrops.draw(block, rng)


def _generated_drawn(name: str, params: dict) -> DrawnAsset:
    """The DrawnAsset of generator ``name`` at ``params``, through this process's cache
    (every catalogue shares it): a hit costs no build, no unit copy and no hash."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return _GENERATED.fetch((name, text), lambda: _make_generated(name, params, text))


def _make_generated(name: str, params: dict, text: str) -> DrawnAsset:
    """What :func:`_generated_drawn` caches: the unit-box asset, its reference (the
    sha256 of the generated float64 vertices then int32 faces) and metres per unit."""
    mesh = cached_build(name, params)
    half = float(np.abs(mesh.vertices).max())  # the bounding box is centred: metres per unit
    digest = hashlib.sha256(np.ascontiguousarray(mesh.vertices, np.float64).tobytes())
    digest.update(np.ascontiguousarray(mesh.faces, np.int32).tobytes())
    ref = AssetRef(
        "generator",
        name,
        "",
        text,
        digest.hexdigest(),
        GENERATED_LICENCE,
        "factory",
        f"{name} (procedural)",
        f"factory.assets.generators.registry.build({name!r}, params)",
    )
    return DrawnAsset(generated_asset(f"gen:{name}:{text}", mesh, half), ref, name, half)


def generated_asset(key: str, mesh, half: float) -> MeshAsset:
    """The MeshAsset ``key`` of a GeneratedMesh scaled by 1 / ``half`` into the unit box:
    its collision pieces the generator's own (``parts``) or, where it gives none, its hull;
    furniture's rest surfaces (``tops``) scaled the same way."""
    unit = mesh.vertices / half
    parts = tuple(np.asarray(p, np.float64) / half for p in getattr(mesh, "parts", ())) or (unit,)
    tops = tuple(tuple(float(c) / half for c in top) for top in getattr(mesh, "tops", ()))
    return make_asset(key, unit, mesh.faces, parts, uv=mesh.uv, tops=tops)


def _check_generator(field: str, name: str, overrides: dict) -> list[dict]:
    """Problems with ``gen:<name>`` and its overrides: an unknown generator or param, or
    a value outside the limits (a trial draw finds them all: it checks every override)."""
    if name not in GENERATORS:
        message = f"unknown generator; the generators are {', '.join(GENERATORS)}"
        return [{"field": field, "message": message, "value": f"gen:{name}"}]
    try:
        draw(name, overrides, np.random.default_rng(0))
    except ParamError as e:
        return [{"field": field.replace(".shape", f".generators.{name}"), "message": str(e)}]
    return []


_CATALOGS: dict[str, Catalog] = {}
_CATALOGS_LOCK = threading.Lock()


def catalog_for(config: Config, source: str = "<config>") -> Catalog:
    """The process's catalogue of ``config`` (made at first use, errors naming
    ``source``; keyed by the config's hash)."""
    key = config.config_hash()
    with _CATALOGS_LOCK:
        found = _CATALOGS.get(key)
    if found is None:
        found = Catalog(config, source)
        with _CATALOGS_LOCK:
            if len(_CATALOGS) >= 16:
                _CATALOGS.pop(next(iter(_CATALOGS)))
            _CATALOGS[key] = found
    return found
