"""The licences of a dataset's assets: counted per shard, summed into the manifest.

Every generated or pack object of a sample names its asset and licence (``objects[*].asset``
in the ``json`` member, docs/format.md), and so does an HDRI backdrop
(``backdrop.asset``, source ``backdrop``). :class:`Tally` counts them: per SPDX id the
objects under it (``objects``; ``generated``: those made by a factory generator, which
factory licenses CC0-1.0), the samples lit by a backdrop under it (``backdrops``) and
the samples holding at least one asset under it (``samples``); one attribution entry per
distinct asset whose licence asks for attribution
(:attr:`factory.assets.licences.Licence.attribution`; a licence factory does not know
counts as asking); and one credit per distinct backdrop used, whatever its licence
(``backdrops``: the curated HDRIs are CC0, credited anyway, as Kubric credits Poly Haven).
An entry names the asset (``pack`` and ``id``, ``backdrop`` and ``id``, or ``generator``
and ``sha256``), its ``licence``, ``creator``, ``title`` and ``url`` (its source).

Each shard's tally is computed from the shard's own bytes when its record is made
(:func:`tally_tar`, called by :func:`factory.dataset.writer.record_of`), so every writer
(the Ray shard writer, the plan's, a mix) records it, and a resumed dataset sums the
kept shards' recorded tallies with the new ones: the manifest's totals are always those
of the shards it lists. :func:`manifest_section` makes the manifest's ``assets`` section
from the shard tallies and the config. ``factory validate`` recounts from the samples
with the same :class:`Tally` and compares (check ``asset.totals``).

A tally as JSON (:meth:`Tally.record`)::

    {"samples": 3,                      samples with at least one generated, pack or backdrop asset
     "licences": {"CC-BY-4.0": {"objects": 5, "generated": 0, "samples": 3, "backdrops": 0}, ...},
     "attribution": [{"licence": "CC-BY-4.0", "pack": "tiny", "id": "thing0",
                      "creator": "...", "title": "...", "url": "...", "sha256": "..."}, ...],
     "backdrops": [{"licence": "CC0-1.0", "backdrop": "curated", "id": "blender-city", ...}, ...]}

A record made before backdrops were counted has no ``backdrops`` (read as none).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from factory.errors import AssetError

ASSET_KEY = b'"asset"'  # a sample whose json lacks these bytes has no generated, pack or backdrop asset
LICENCE_NOTE = (
    "covers the data as factory made it; each generated or pack object and each HDRI backdrop carries its own "
    "asset licence, listed with its attribution in the manifest's assets section"
)
ROW = ("objects", "generated", "samples", "backdrops")  # a licence's counts


def needs_attribution(spdx: Any) -> bool:
    """Whether an asset under ``spdx`` must be credited; True for anything factory does
    not know (an unknown licence is never assumed to waive it)."""
    from factory.assets.licences import licence

    try:
        return licence(spdx).attribution
    except AssetError:
        return True


def asset_label(asset: Mapping[str, Any]) -> str:
    """How a message names an asset: ``pack tiny, asset thing0``, ``backdrop pack
    curated, backdrop blender-city`` or ``generator bottle (sha256 0a82937e8946...)``."""
    if asset.get("source") == "pack":
        return f"pack {asset.get('name')}, asset {asset.get('id')}"
    if asset.get("source") == "backdrop":
        return f"backdrop pack {asset.get('name')}, backdrop {asset.get('id')}"
    if asset.get("source") == "generator":
        return f"generator {asset.get('name')} (sha256 {str(asset.get('sha256'))[:12]}...)"
    return f"asset {json.dumps(dict(asset), sort_keys=True)[:120]}"


def object_assets(meta: Mapping[str, Any]) -> list[tuple[Any, Mapping[str, Any]]]:
    """``(object id, asset)`` of each object of a sample's metadata that names an asset
    (a dict); malformed objects are left out (validate's ``meta.objects`` names them)."""
    objects = meta.get("objects")
    if not isinstance(objects, list):
        return []
    return [(o.get("id"), o["asset"]) for o in objects if isinstance(o, dict) and isinstance(o.get("asset"), dict)]


def backdrop_asset(meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The HDRI backdrop's asset of a sample's metadata (``backdrop.asset``, a dict), or
    None (a sky, a flat colour, a sample made before issue 25, a malformed entry)."""
    backdrop = meta.get("backdrop")
    asset = backdrop.get("asset") if isinstance(backdrop, dict) else None
    return asset if isinstance(asset, dict) else None


def licence_of(asset: Mapping[str, Any]) -> str:
    """An asset's licence as a string key (``repr`` of a value that is not a string)."""
    spdx = asset.get("licence")
    return spdx if isinstance(spdx, str) else repr(spdx)


def attribution_entry(asset: Mapping[str, Any]) -> dict[str, Any]:
    """An asset as an attribution entry: ``pack`` and ``id`` for a pack asset, ``backdrop``
    (its pack) and ``id`` for a backdrop, ``generator`` for any other, then ``licence``,
    ``creator``, ``title``, ``url``, ``sha256``."""
    if asset.get("source") == "pack":
        head = {"pack": asset.get("name"), "id": asset.get("id")}
    elif asset.get("source") == "backdrop":
        head = {"backdrop": asset.get("name"), "id": asset.get("id")}
    else:
        head = {"generator": asset.get("name")}
    return {"licence": asset.get("licence"), **head, **{k: asset.get(k) for k in ("creator", "title", "url", "sha256")}}


def entry_key(entry: Mapping[str, Any]) -> str:
    """What tells distinct assets apart: the pack and id, the backdrop pack and id, or
    the generator and its mesh's sha256 (a generated mesh is its params' one mesh)."""
    if "pack" in entry:
        return f"pack:{entry.get('pack')}/{entry.get('id')}"
    if "backdrop" in entry:
        return f"backdrop:{entry.get('backdrop')}/{entry.get('id')}"
    return f"generator:{entry.get('generator')}/{entry.get('sha256')}"


@dataclass
class Tally:
    """Asset licences counted over samples (see the module docstring)."""

    samples: int = 0
    licences: dict[str, dict[str, int]] = field(default_factory=dict)
    attributed: dict[str, dict[str, Any]] = field(default_factory=dict)
    backdrops: dict[str, dict[str, Any]] = field(default_factory=dict)  # every backdrop used, by entry_key

    def add(self, meta: Mapping[str, Any]) -> None:
        """Count one sample's metadata (a dict: the ``json`` member)."""
        found = [a for _, a in object_assets(meta)]
        backdrop = backdrop_asset(meta)
        if not found and backdrop is None:
            return
        self.samples += 1
        everything = found + ([backdrop] if backdrop is not None else [])
        for spdx in {licence_of(a) for a in everything}:
            self._row(spdx)["samples"] += 1
        for asset in found:
            row = self._row(licence_of(asset))
            row["objects"] += 1
            row["generated"] += asset.get("source") == "generator"
        if backdrop is not None:
            self._row(licence_of(backdrop))["backdrops"] += 1
            entry = attribution_entry(backdrop)
            self.backdrops.setdefault(entry_key(entry), entry)
        for asset in everything:
            if needs_attribution(asset.get("licence")):
                entry = attribution_entry(asset)
                self.attributed.setdefault(entry_key(entry), entry)

    def _row(self, spdx: str) -> dict[str, int]:
        return self.licences.setdefault(spdx, dict.fromkeys(ROW, 0))

    def merge(self, record: Mapping[str, Any]) -> None:
        """Add another tally's :meth:`record` (another shard's samples)."""
        self.samples += int(record.get("samples", 0))
        for spdx, counts in (record.get("licences") or {}).items():
            row = self._row(spdx)
            for k in row:
                row[k] += int(counts.get(k, 0))
        for entry in record.get("attribution") or []:
            self.attributed.setdefault(entry_key(entry), dict(entry))
        for entry in record.get("backdrops") or []:
            self.backdrops.setdefault(entry_key(entry), dict(entry))

    def record(self) -> dict[str, Any]:
        """The tally as JSON data: licences by SPDX id, attribution and backdrops sorted by
        licence then key."""

        def listed(entries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
            order = sorted(entries, key=lambda k: (str(entries[k].get("licence")), k))
            return [dict(entries[k]) for k in order]

        return {
            "samples": self.samples,
            "licences": {k: dict(self.licences[k]) for k in sorted(self.licences)},
            "attribution": listed(self.attributed),
            "backdrops": listed(self.backdrops),
        }

    @classmethod
    def of(cls, records: Iterable[Mapping[str, Any]]) -> Tally:
        """The sum of tally records."""
        out = cls()
        for r in records:
            out.merge(r)
        return out


def tally_tar(data: bytes) -> dict[str, Any]:
    """The :meth:`Tally.record` of the samples of a shard's tar bytes: each ``<key>.json``
    member that holds an ``"asset"`` is parsed (others are skipped unparsed). A member
    that is not a JSON object counts nothing: the writer writes well-formed shards, and
    validate names a malformed one."""
    tally = Tally()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for info in tar:
            if not info.isfile() or info.name.split(".", 1)[-1] != "json":
                continue
            raw = data[info.offset_data : info.offset_data + info.size]
            if ASSET_KEY not in raw:
                continue
            try:
                meta = json.loads(raw)
            except ValueError:
                continue
            if isinstance(meta, dict):
                tally.add(meta)
    return tally.record()


def draws_assets(config) -> bool:
    """Whether any scenario of ``config`` may draw a ``gen:`` or ``pack:`` object or an
    HDRI backdrop."""
    for sc in config.scenarios.values():
        if "hdri" in sc.backdrop.kind.values():
            return True
        for block in (sc.objects, sc.furniture):
            if block is not None and any(isinstance(v, str) and ":" in v for v in block.shape.values()):
                return True
    return False


def manifest_section(config, records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The manifest's ``assets`` section of a generated dataset: the config's ``split``
    and resolved ``allowed_licences``, the ``packs`` it draws (config name ->
    ``{url, name, version}``), the dataset's class table (``classes``; None, with
    ``catalog_error``, when the catalogue cannot be made any more), and the sum of the shard
    ``records``' tallies (shards recorded without one, by an older factory, are named in
    ``uncounted_shards``), each licence with its SPDX ``name`` and ``attribution``."""
    from factory.assets.catalog import catalog_for
    from factory.assets.licences import DEFAULT_ALLOWLIST
    from factory.errors import FactoryError

    records = list(records)
    chosen = config.assets.allowed_licences
    head = {"split": config.assets.split, "allowed_licences": sorted(DEFAULT_ALLOWLIST if chosen is None else chosen)}
    try:
        catalog = catalog_for(config)  # made in preflight already: this process's cached one
    except FactoryError as e:
        # The shards are written: a pack gone since must not keep the manifest from being committed.
        return {
            **head,
            "packs": {k: {"url": v} for k, v in sorted(config.assets.packs.items())},
            "classes": None,
            "catalog_error": str(e),
            **summary_section(records),
        }
    packs = {
        key: {"url": config.assets.packs[key], "name": pack.name, "version": pack.meta.version}
        for key, pack in sorted(catalog.packs.items())
    }
    return {**head, "packs": packs, "classes": list(catalog.classes), **summary_section(records)}


def summary_section(records: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The counting half of the ``assets`` section (a mix has only this half): the summed
    tallies of ``records`` (shard records), licences annotated with their SPDX name and
    whether they ask for attribution, and the shards that recorded no tally."""
    from factory.assets.licences import LICENCES

    tally = Tally.of(r["assets"] for r in records if isinstance(r.get("assets"), Mapping))
    doc = tally.record()
    for spdx, row in doc["licences"].items():
        known = LICENCES.get(spdx)
        row.update(name=known.name if known else "not a licence factory knows", attribution=needs_attribution(spdx))
    uncounted = sorted(str(r.get("name")) for r in records if not isinstance(r.get("assets"), Mapping))
    return {**doc, **({"uncounted_shards": uncounted} if uncounted else {})}
