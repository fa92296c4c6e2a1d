"""The records that make a folder of shards a dataset: manifest, intent, shard records.

Layout of a dataset folder::

    <prefix>-000000.tar ...        the shards (see factory.dataset.shards)
    manifest.json                  written last: the commit marker
    .factory/intent.json           written first: what this folder is being filled with
    .factory/shards/<shard>.json   one per shard, written right after its shard

The **manifest** lists every shard (name, sample count, first and last key, bytes,
sha256, the samples skipped under ``--max-failures``) and the resolved config, its
hash, the seed, the generator (:func:`factory.dataset.provenance.generator_info`: version, git
commit when known, Python and library versions), the creation time and the licence,
the scenario allocation (:func:`scenarios_block`) and the objects' asset licences with
their attribution list (``assets``: :func:`factory.dataset.licensing.manifest_section`,
summed from the tally each shard record holds). A mixed dataset's
(:mod:`factory.dataset.mix`) has ``kind: "mix"``, the interleave's seed and ratio, and its
sources and their licences instead of the config, its hash and the allocation
(:class:`Mixed`); :func:`build` makes both. A dataset without a manifest is incomplete.

The **intent** is written before any shard: it holds the config hash and the shape of
the dataset (samples, shard size, prefix), so that a second run into the same folder
can tell "the same dataset, resume it" from "a different dataset, refuse".

All three are put by the one writer, :class:`factory.dataset.writer.DatasetWriter`.

A **shard record** is the manifest's entry for one shard, written atomically after the
shard itself. It is what lets an interrupted run be resumed without re-reading work
it cannot trust: a shard is kept when its record exists and its bytes hash to the
recorded sha256.

Nothing here holds storage options or credentials; the location's URL is not recorded.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from factory.dataset.provenance import generator_info
from factory.errors import StorageError

FORMAT = "factory-dataset/1"
MIX = "mix"  # the manifest's ``kind`` of a mixed dataset; generated ones have none
MANIFEST = "manifest.json"
META_DIR = ".factory"
INTENT = f"{META_DIR}/intent.json"
RECORDS_DIR = f"{META_DIR}/shards"


def record_name(shard_name: str) -> str:
    """Where the record of shard file ``shard_name`` lives."""
    return f"{RECORDS_DIR}/{shard_name.removesuffix('.tar')}.json"


def dumps(doc: Mapping[str, Any]) -> bytes:
    """Canonical-ish JSON bytes: indented, keys in insertion order, trailing newline."""
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def loads(data: bytes, what: str) -> dict:
    """Parse a JSON record, with a :class:`StorageError` naming ``what`` if it is bad."""
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise StorageError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise StorageError(f"{what} must hold a JSON object, got {type(doc).__name__}")
    return doc


def created_now() -> str:
    """The current UTC time as the manifest writes it: ISO 8601 to the second, ``Z``."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def intent_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """How an existing intent differs from a new one, one line per field (empty = same)."""
    out = []
    for field in ("config_hash", "samples", "shard_size", "prefix"):
        if old.get(field) != new.get(field):
            out.append(f"{field}: existing {old.get(field)!r}, requested {new.get(field)!r}")
    return out


def shard_record(
    *,
    shard: int,
    name: str,
    indices: Iterable[int],
    written: int,
    failures: Iterable[Mapping[str, Any]],
    nbytes: int,
    sha256: str,
    assets: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of one shard. ``indices`` are the samples the shard is for, ``written``
    how many it holds, ``failures`` the ``{index, scenario, seed, error}`` of each sample
    skipped under the failure budget, ``assets`` the tally of its samples' asset licences
    (:func:`factory.dataset.licensing.tally_tar`; kept in the record, left out of the
    manifest's shard list, summed into its ``assets`` section)."""
    from factory.sample.types import sample_key

    indices = list(indices)
    return {
        "shard": shard,
        "name": name,
        "samples": written,
        "first_key": sample_key(indices[0]),
        "last_key": sample_key(indices[-1]),
        "bytes": nbytes,
        "sha256": sha256,
        "failures": sorted((dict(f) for f in failures), key=lambda f: f["index"]),
        **({} if assets is None else {"assets": dict(assets)}),
    }


def scenarios_block(config, samples: int, failures: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The manifest's ``scenarios``: the allocation's method, weights, minimums and
    ``requested`` counts (:mod:`factory.scene.allocation`), and ``achieved``: the samples of
    each scenario the shards hold (requested minus those skipped as failures)."""
    from factory.scene.allocation import allocate

    block = allocate(config, samples).record()
    achieved = dict(block["requested"])
    for f in failures:
        if f.get("scenario") in achieved:
            achieved[f["scenario"]] -= 1
    block["achieved"] = achieved
    return block


@dataclass(frozen=True)
class Mixed:
    """What the records of a mixed dataset (:mod:`factory.dataset.mix`) hold instead of a
    config: the interleave's seed and ratio, one ``{role, url, name, licence, ...}`` per
    source, and the licence of the whole (every source's, in one line)."""

    seed: int
    ratio: float
    sources: list[dict[str, Any]]
    licence: str


def intent(config=None, *, samples: int, shard_size: int, prefix: str, mixed: Mixed | None = None) -> dict[str, Any]:
    """The intent record of a run (see the module docstring): of a generated dataset
    (``config``), or of a mixed one (``mixed``, no config; ``kind: "mix"``)."""
    if mixed is None:
        head = {"name": config.name, "config_hash": config.config_hash(), "seed": config.seed}
        tail = {"config": config.resolved()}
    else:
        head = {"kind": MIX, "name": prefix, "seed": mixed.seed, "ratio": mixed.ratio}
        tail = {"sources": mixed.sources}
    return {"format": FORMAT, **head, "samples": samples, "shard_size": shard_size, "prefix": prefix, **tail}


def build(
    config=None,
    *,
    samples: int,
    shard_size: int,
    prefix: str,
    shards: Iterable[Mapping[str, Any]],
    max_failures: int,
    created: str | None = None,
    mixed: Mixed | None = None,
) -> dict[str, Any]:
    """The manifest document from the shard records (any order): of a generated dataset
    (``config``), or of a mixed one (``mixed``, no config: ``kind: "mix"``, no scenario
    allocation, its sources and their licences last). The failures of all shards are
    also listed together at the top level; the shards' asset tallies are summed into
    ``assets`` (:mod:`factory.dataset.licensing`) and left out of ``shards``."""
    from factory.dataset import licensing

    shards = sorted(shards, key=lambda r: r["shard"])
    failures = [dict(f) for r in shards for f in r.get("failures", [])]
    created = created or created_now()
    if mixed is None:
        note = {"licence_note": licensing.LICENCE_NOTE} if licensing.draws_assets(config) else {}
        head = {
            "name": config.name,
            "created": created,
            "licence": config.licence,
            **note,
            "generator": generator_info(),
            "seed": config.seed,
            "config_hash": config.config_hash(),
        }
    else:
        head = {
            "kind": MIX,
            "name": prefix,
            "created": created,
            "generator": generator_info(),
            "seed": mixed.seed,
            "ratio": mixed.ratio,
        }
    doc = {
        "format": FORMAT,
        **head,
        "samples": samples,
        "samples_written": sum(r["samples"] for r in shards),
        "shard_size": shard_size,
        "prefix": prefix,
        "bytes": sum(r["bytes"] for r in shards),
        "max_failures": max_failures,
        "failures": failures,
    }
    if mixed is None:
        doc["scenarios"] = scenarios_block(config, samples, failures)
        doc["assets"] = licensing.manifest_section(config, shards)
    else:
        doc["assets"] = licensing.summary_section(shards)
    doc["shards"] = [{k: v for k, v in r.items() if k != "assets"} for r in shards]
    doc.update({"config": config.resolved()} if mixed is None else {"sources": mixed.sources, "licence": mixed.licence})
    return doc


def check(manifest: Mapping[str, Any]) -> list[str]:
    """Internal consistency of a manifest document; one line per problem (empty = ok)."""
    problems = []
    if manifest.get("format") != FORMAT:
        problems.append(f"format is {manifest.get('format')!r}, expected {FORMAT!r}")
        return problems
    shards = manifest.get("shards") or []
    n, s = manifest.get("samples", 0), manifest.get("shard_size", 1)
    expected = -(-n // s) if s else 0
    if [r.get("shard") for r in shards] != list(range(expected)):
        problems.append(f"shards are not exactly 0..{expected - 1}")
    failed = sum(len(r.get("failures", [])) for r in shards)
    if sum(r.get("samples", 0) for r in shards) + failed != n:
        problems.append("shard sample counts plus failures do not add up to samples")
    if failed > manifest.get("max_failures", 0):
        problems.append(f"{failed} failed samples exceed max_failures {manifest.get('max_failures')}")
    if failed != len(manifest.get("failures", [])):
        problems.append("failures list does not match the shards' failed indices")
    return problems


def verify(location, manifest: Mapping[str, Any]) -> list[str]:
    """Check every shard the manifest lists against the stored bytes (size and sha256).

    Returns one line per problem; empty when the dataset is intact.
    """
    from factory.dataset.shards import sha256_hex

    problems = check(manifest)
    for rec in manifest.get("shards", []):
        data = location.read_or_none(rec["name"])
        if data is None:
            problems.append(f"{rec['name']}: missing")
        elif len(data) != rec["bytes"] or sha256_hex(data) != rec["sha256"]:
            problems.append(f"{rec['name']}: bytes or sha256 differ from the manifest")
    return problems
