"""What the driver does before any shard is read: read the manifest and the folder
listing, run the checks that need the whole dataset's description (the manifest itself,
extra shards, the config and its hash, the scenario allocation), and list the shards to
check with their records and the workers' :class:`~factory.trust.validate.context.Context`.

Three kinds of dataset are recognised: ``factory`` (a ``manifest.json`` with a
``config``), ``mix`` (``"kind": "mix"``: samples tagged with ``source.json``, see
:mod:`factory.dataset.mix`) and ``plain`` (no manifest: a real WebDataset, or a factory
dataset whose manifest is missing or unreadable; only tar integrity and key uniqueness
apply).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from factory.dataset import manifest as mf
from factory.dataset.shards import shard_pattern
from factory.dataset.storage import Location
from factory.errors import ConfigError, StorageError
from factory.trust.invariants import is_int, plural
from factory.trust.validate.assets import allowlist
from factory.trust.validate.context import Context
from factory.trust.validate.result import DEFAULT_MAX_LISTED, failure

Task = tuple[str, "dict | None"]  # (shard name, its manifest record; None for a plain dataset)


@dataclass
class ValidationPlan:
    """What the driver found before any shard is read: the dataset's kind, manifest,
    the shards to check with their records, the worker context, the dataset-level
    failures and the checks skipped."""

    location: Location
    kind: str
    manifest: dict | None
    tasks: list[Task]  # in dataset order
    context: Context
    failures: list[dict]
    skipped: list[str]
    notes: list[str] = field(default_factory=list)


def plan_validation(location: Location, max_listed: int = DEFAULT_MAX_LISTED) -> ValidationPlan:
    """Read the manifest and the listing; the dataset-level failures and the shard list.

    Raises:
        StorageError: the URL cannot be read, or holds neither a manifest nor a .tar.
    """
    manifest, listing, fails = read_manifest(location)
    tars = sorted(n for n in listing if n.endswith(".tar"))
    if manifest is None:
        ctx = Context("plain", max_listed=max_listed)
        return ValidationPlan(location, "plain", None, [(n, None) for n in tars], ctx, fails, [])

    def bad(message: str) -> None:
        fails.append(failure("manifest.consistency", mf.MANIFEST, None, message))

    for problem in mf.check(manifest):
        bad(problem)
    tasks = list_shards(manifest, bad)
    samples, shard_size = _sizes(manifest, tasks, bad)
    fails.extend(extra_shards(manifest, tars, listing, tasks))
    common = {
        "samples": samples,
        "shard_size": shard_size,
        "failed": _failed_indices(manifest),
        "max_listed": max_listed,
    }
    skipped: list[str] = []
    if manifest.get("kind") == "mix":
        sources = mix_sources(manifest)
        if not sources:
            bad("a mix manifest must list its sources (name, role, licence)")
        skipped.append(
            "scenario.*: a mix has no config of its own; synthetic samples are checked without their allocation"
        )
        skipped.append("asset.licence: a mix records no allowed licences of its own")
        return ValidationPlan(
            location, "mix", manifest, tasks, Context("mix", sources=sources, **common), fails, skipped
        )
    notes: list[str] = []
    config, fields = check_config(manifest, fails, notes)
    scenarios = check_scenarios(manifest, config, samples, fails, skipped)
    if config is None:
        skipped.append("asset.licence: the manifest's config does not parse, so its allowed licences are unknown")
    allowed = None if config is None else allowlist(config)
    ctx = Context("factory", scenarios=scenarios, allowed_licences=allowed, **common, **fields)
    return ValidationPlan(location, "factory", manifest, tasks, ctx, fails, skipped, notes)


def read_manifest(location: Location) -> tuple[dict | None, dict[str, int], list[dict]]:
    """The manifest (None when it is missing or does not parse), the folder's listing
    (name: bytes) and the failures saying why there is no manifest.

    Raises:
        StorageError: the URL is one shard or no folder, or holds neither a manifest nor a .tar.
    """
    if location.path.endswith(".tar"):
        raise StorageError(
            f"{location.url_of()}: is one shard; give the dataset's folder or prefix "
            f"(validate checks shards against the dataset's {mf.MANIFEST})"
        )
    if location.is_local and not os.path.isdir(location.path):
        raise StorageError(f"{location.url_of()}: no such folder")
    raw = location.read_or_none(mf.MANIFEST)
    listing = location.list()
    if raw is None:
        tars = [n for n in listing if n.endswith(".tar")]
        if not tars:
            raise StorageError(
                f"{location.url_of()}: no {mf.MANIFEST} and no .tar shards; "
                "is this a dataset folder? (check the URL and --storage-option)"
            )
        why = (
            "an interrupted factory generate (its .factory/intent.json is here; rerun the same command to finish it)"
            if location.read_or_none(mf.INTENT) is not None
            else "the dataset is incomplete or not a factory dataset"
        )
        return (
            None,
            listing,
            [
                failure(
                    "manifest.missing",
                    mf.MANIFEST,
                    None,
                    f"no {mf.MANIFEST}: {why}; checked the {plural(len(tars), '.tar file')} "
                    "for tar integrity and unique keys only",
                )
            ],
        )
    try:
        return mf.loads(raw, mf.MANIFEST), listing, []
    except StorageError as e:
        return (
            None,
            listing,
            [
                failure(
                    "manifest.parse",
                    mf.MANIFEST,
                    None,
                    f"{e}; checked the .tar files for tar integrity and unique keys only",
                )
            ],
        )


def list_shards(manifest: Mapping[str, Any], bad: Callable[[str], None]) -> list[Task]:
    """The manifest's shards as ``(name, record)``, in its order; a record without a name
    or listed twice is ``bad``."""
    records = manifest.get("shards") if isinstance(manifest.get("shards"), list) else []
    tasks, names = [], set()
    for n, rec in enumerate(records):
        if not isinstance(rec, dict) or not isinstance(rec.get("name"), str) or not rec["name"]:
            bad(f"shards[{n}] has no name")
        elif rec["name"] in names:
            bad(f"shards[{n}]: {rec['name']} is listed twice")
        else:
            names.add(rec["name"])
            tasks.append((rec["name"], rec))
    return tasks


def _sizes(manifest: Mapping[str, Any], tasks: list[Task], bad: Callable[[str], None]) -> tuple[int | None, ...]:
    """Check the manifest's totals against its shards; its ``(samples, shard_size)``,
    both None when they cannot fix which keys each shard holds."""
    recs = [r for _, r in tasks]
    for total, fld in (("bytes", "bytes"), ("samples_written", "samples")):
        got = sum(r.get(fld) for r in recs if is_int(r.get(fld)))
        if manifest.get(total) != got:
            bad(f"{total} is {manifest.get(total)!r}, the shards' {fld} add up to {got}")
    samples, shard_size = manifest.get("samples"), manifest.get("shard_size")
    if not (is_int(samples) and samples >= 0 and is_int(shard_size) and shard_size >= 1):
        bad(
            f"samples {samples!r} / shard_size {shard_size!r} are not integers >= 0 / >= 1; "
            "shard contents not checked against their indices"
        )
        return None, None
    return samples, shard_size


def _failed_indices(manifest: Mapping[str, Any]) -> frozenset:
    return frozenset(
        f["index"] for f in manifest.get("failures") or [] if isinstance(f, dict) and is_int(f.get("index"))
    )


def extra_shards(
    manifest: Mapping[str, Any], tars: list[str], listing: Mapping[str, int], tasks: list[Task]
) -> list[dict]:
    """A ``shard.extra`` failure for each ``.tar`` here that the manifest does not list."""
    names = {name for name, _ in tasks}
    prefix = manifest.get("prefix")
    pattern = shard_pattern(prefix) if isinstance(prefix, str) else None
    out = []
    for n in tars:
        if n in names:
            continue
        m = pattern.fullmatch(n) if pattern else None
        why = (
            (
                f"named like shard {int(m.group(1))} of this dataset ({prefix}-NNNNNN.tar) but not in the manifest "
                f"(it lists {len(tasks)} shards)"
            )
            if m
            else "a .tar the manifest does not list"
        )
        out.append(failure("shard.extra", n, None, f"{why}; {listing[n]} bytes"))
    return out


def mix_sources(manifest: Mapping[str, Any]) -> dict[tuple, tuple]:
    """A mix's sources: ``(role, dataset name)`` -> ``(licence, config_hash)``."""
    sources = {}
    for s in manifest.get("sources") or []:
        if isinstance(s, dict) and isinstance(s.get("name"), str):
            sources[(s.get("role"), s["name"])] = (s.get("licence"), s.get("config_hash"))
    return sources


def check_config(manifest: Mapping[str, Any], fails: list[dict], notes: list[str]) -> tuple[Any, dict[str, Any]]:
    """Parse the manifest's config and check it against ``config_hash`` (failures into
    ``fails``, an older factory's intact config into ``notes``). The config (None when it
    does not parse) and the :class:`Context` fields that come from the manifest."""
    from factory.scene.config import EXECUTION_ONLY, hash_resolved, parse_config

    fields: dict[str, Any] = {
        "name": manifest.get("name"),
        "seed": manifest.get("seed"),
        "config_hash": manifest.get("config_hash"),
    }
    try:
        config = parse_config(manifest.get("config"), "manifest config")
    except (ConfigError, TypeError, ValueError) as e:
        fails.append(failure("manifest.config", mf.MANIFEST, None, f"the manifest's config does not parse: {e}"))
        return None, fields
    # The recorded block is what the hash covers: a dataset made before a config field
    # existed is intact even though this version resolves it with one more default (and
    # so to another hash).
    recorded = hash_resolved(manifest["config"])
    if recorded != manifest.get("config_hash"):
        fails.append(
            failure(
                "manifest.config",
                mf.MANIFEST,
                None,
                f"config_hash {manifest.get('config_hash')!r}, the config hashes to {recorded!r}",
            )
        )
    elif (current := config.config_hash()) != recorded:
        had = _leaves(manifest["config"])
        added = {
            k: v
            for k, v in _leaves(config.resolved()).items()
            if k not in had and k.removeprefix("render.") not in EXECUTION_ONLY
        }
        notes.append(
            f"manifest.config: recorded by factory {(manifest.get('generator') or {}).get('version')} "
            f"and intact; this version adds defaults to it "
            f"({', '.join(f'{k}={v!r}' for k, v in sorted(added.items())) or 'none it can name'}) "
            f"and so hashes it to {current[:12]}..."
        )
    r = config.render
    fields.update(
        config=manifest["config"], frames=r.frames, height=r.height, width=r.width, mp4=bool(config.output.mp4)
    )
    return config, fields


def check_scenarios(
    manifest: Mapping[str, Any], config: Any, samples: int | None, fails: list[dict], skipped: list[str]
) -> bool:
    """Check the manifest's requested scenario counts against the allocation; whether
    each sample's scenario can be checked (else why not, into ``skipped``)."""
    block = manifest.get("scenarios")
    if block is None:
        skipped.append("scenario.*: the manifest has no scenarios block (made before scenario allocation)")
        return False
    if config is None or samples is None:
        skipped.append("scenario.*: the manifest's config or samples are unusable")
        return False
    from factory.scene.allocation import allocation_of

    requested = allocation_of(config, samples).counts
    if not isinstance(block, dict) or block.get("requested") != requested:
        got = block.get("requested") if isinstance(block, dict) else block
        fails.append(
            failure(
                "scenario.requested",
                mf.MANIFEST,
                None,
                f"the manifest's requested counts {got}, the allocation gives {requested}",
            )
        )
    return True


def _leaves(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A config document's leaves by dotted path (``{"render.device": "cpu", ...}``)."""
    out: dict[str, Any] = {}
    for k, v in doc.items():
        if isinstance(v, Mapping) and v:
            out.update(_leaves(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
