"""``validate_dataset``: plan on the driver (:mod:`.plan`), check every shard through the
``map_shards`` engine it is handed (:mod:`.shard`), then the checks across shards (keys
unique in the dataset, scenario, source and asset licence totals) and the
:class:`ValidationResult`."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from factory.dataset import manifest as mf
from factory.dataset.licensing import ROW, Tally
from factory.dataset.storage import Location, resolve
from factory.errors import ConfigError
from factory.trust.engine import MapShards, map_local
from factory.trust.invariants import is_int, plural
from factory.trust.oracle import DEFAULT_FRACTION
from factory.trust.validate.oracle import dataset_oracle
from factory.trust.validate.plan import ValidationPlan, plan_validation
from factory.trust.validate.result import DEFAULT_MAX_LISTED, ShardResult, ValidationResult, failure
from factory.trust.validate.shard import check_item, work_item

Progress = Callable[[int, int, str], None]  # progress(shards done, shards total, shard name)


def validate_dataset(
    url_or_location: str | os.PathLike | Location,
    *,
    options: Mapping[str, Any] | None = None,
    map_shards: MapShards = map_local,
    workers: int | None = None,
    max_failures_listed: int = DEFAULT_MAX_LISTED,
    progress: Progress | None = None,
    log: Callable[[str], None] = lambda s: None,
    oracle: float = DEFAULT_FRACTION,
) -> ValidationResult:
    """Check the dataset at ``url_or_location`` (the checks: :mod:`factory.trust.validate.checks`).

    Args:
        options: fsspec storage options (as ``--storage-option`` gives them).
        map_shards: the engine the shards go through (:mod:`factory.trust.engine`):
            :func:`~factory.trust.engine.map_local` (this process, or ``workers``
            processes) or :func:`factory.onray.map.map_in_order` (Ray Data, one task per
            shard; joins ``RAY_ADDRESS`` or starts a local Ray). The result's ``engine``
            is its ``name``.
        workers: parallel shard checks (local: processes; ray: task concurrency; None:
            local runs in this process, Ray uses what the cluster has).
        max_failures_listed: failures kept in the result (all are counted).
        progress: called ``(shards done, shards total, shard name)`` as shards finish.
        log: where the engine says what it starts (a local Ray, say).
        oracle: the share of each frame's pixels the independent oracle re-derives
            (:mod:`factory.trust.oracle`; 0: off; at most 1).

    Raises:
        ConfigError: a bad ``map_shards``, ``workers`` or ``max_failures_listed``.
        StorageError: the URL cannot be reached, or holds no manifest and no .tar.
    """
    _check_arguments(map_shards, workers, max_failures_listed)
    if isinstance(oracle, bool) or not isinstance(oracle, (int, float)) or not 0 <= oracle <= 1:
        raise ConfigError(f"oracle: {oracle!r} is not a share of pixels in [0, 1] (0 turns the oracle off)")
    t0 = time.perf_counter()
    location = (
        url_or_location if isinstance(url_or_location, Location) else resolve(os.fspath(url_or_location), options)
    )
    plan = plan_validation(location, max_failures_listed)
    plan = dataclasses.replace(plan, context=dataclasses.replace(plan.context, oracle=float(oracle)))
    results = check_shards(plan, map_shards, workers=workers, progress=progress, log=log)
    return assemble(plan, results, map_shards.name, max_failures_listed, time.perf_counter() - t0)


def _check_arguments(map_shards: Any, workers: Any, max_failures_listed: Any) -> None:
    problems = []
    if not callable(map_shards) or not isinstance(getattr(map_shards, "name", None), str):
        problems.append(
            f"map_shards: must be a map_shards function with a name (factory.trust.engine), got {map_shards!r}"
        )
    if workers is not None and (not is_int(workers) or workers < 1):
        problems.append(f"workers: must be an integer >= 1 or None, got {workers!r}")
    if not is_int(max_failures_listed) or max_failures_listed < 0:
        problems.append(f"max_failures_listed: must be an integer >= 0, got {max_failures_listed!r}")
    if problems:
        raise ConfigError("validate arguments", problems)


def check_shards(
    plan: ValidationPlan,
    map_shards: MapShards,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
) -> list[ShardResult]:
    """:func:`~factory.trust.validate.shard.check_item` for every shard of ``plan``,
    through ``map_shards``; the results in dataset order."""
    items = [work_item(plan.location, name, rec) for name, rec in plan.tasks]
    # A partial of a module-level function pickles (local worker processes need that).
    fn = functools.partial(check_item, location=plan.location, context=plan.context)

    def report(done: int, total: int, n: int) -> None:
        progress(done, total, plan.tasks[n][0])

    results = map_shards(items, fn, workers=workers, progress=report if progress is not None else None, log=log)
    return [ShardResult.from_dict(json.loads(r)) for r in results]


def assemble(
    plan: ValidationPlan, results: list[ShardResult], engine: str, max_listed: int, seconds: float
) -> ValidationResult:
    """The dataset's result: the plan's failures, each shard's, then those across shards."""
    listed: list[dict] = []
    counts: Counter = Counter()

    def add(f: dict) -> None:
        counts[f["check"]] += 1
        if len(listed) < max_listed:
            listed.append(f)

    for f in plan.failures:
        add(f)
    owner: dict[str, str] = {}
    scenarios: Counter = Counter()
    sources: Counter = Counter()
    for res in results:
        counts.update(res.counts)
        listed.extend(res.failures[: max(0, max_listed - len(listed))])
        for key in res.keys:
            first = owner.setdefault(key, res.shard)
            if first != res.shard:
                add(failure("keys.unique", res.shard, key, f"also in {first}; keys must be unique in a dataset"))
        scenarios.update(res.scenarios)
        sources.update(res.sources)
    skipped = list(plan.skipped)
    assets = Tally.of(r.assets for r in results).record()
    for f in _totals(plan, results, scenarios, sources, skipped) + _asset_totals(plan, results, assets, skipped):
        add(f)
    figures, problems = dataset_oracle([r.oracle for r in results])
    for message in problems:
        add(failure("oracle.edges", mf.MANIFEST, None, message))
    readable = [r for r in results if r.bytes is not None]
    return ValidationResult(
        url=plan.location.url_of(),
        kind=plan.kind,
        engine=engine,
        shards_listed=len(plan.tasks) if plan.manifest is not None else 0,
        shards_checked=len(readable),
        samples=sum(len(r.keys) for r in results),
        bytes=sum(r.bytes for r in readable),
        failures=listed,
        counts=dict(counts),
        skipped=skipped,
        scenarios=dict(scenarios),
        sources=dict(sources),
        assets={k: v["objects"] for k, v in assets["licences"].items()},
        seconds=seconds,
        notes=list(plan.notes),
        oracle=figures,
    )


def _totals(
    plan: ValidationPlan, results: list[ShardResult], scenarios: Counter, sources: Counter, skipped: list[str]
) -> list[dict]:
    """The scenario and source totals against the manifest, when every shard was read
    completely (else why not, into ``skipped``)."""
    manifest = plan.manifest or {}
    broken = [r.shard for r in results if not r.complete]
    if broken and (plan.context.scenarios or plan.kind == "mix"):
        skipped.append(
            f"scenario.totals / source.totals: {plural(len(broken), 'shard')} could not be read completely "
            f"({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''})"
        )
    if broken:
        return []
    out = []
    if plan.context.scenarios:
        achieved = (manifest.get("scenarios") or {}).get("achieved")
        if not isinstance(achieved, dict) or {k: v for k, v in achieved.items() if v} != dict(scenarios):
            out.append(
                failure(
                    "scenario.totals",
                    mf.MANIFEST,
                    None,
                    f"samples per scenario in the shards {dict(sorted(scenarios.items()))}, the "
                    f"manifest's achieved {achieved}",
                )
            )
    if plan.kind == "mix":
        used = {s.get("role"): s.get("samples_used") for s in manifest.get("sources") or [] if isinstance(s, dict)}
        for role in ("synthetic", "real"):
            if role in used and used[role] != sources.get(role, 0):
                out.append(
                    failure(
                        "source.totals",
                        mf.MANIFEST,
                        None,
                        f"{sources.get(role, 0)} {role} samples in the shards, the manifest's "
                        f"samples_used is {used[role]}",
                    )
                )
    return out


def _asset_totals(plan: ValidationPlan, results: list[ShardResult], counted: dict, skipped: list[str]) -> list[dict]:
    """``asset.totals``: the shards' asset tally (``counted``, a
    :meth:`~factory.dataset.licensing.Tally.record`) against the manifest's ``assets``
    section, when the manifest has one, counted over every shard, and every shard was
    read completely (else why not, into ``skipped``)."""
    section = (plan.manifest or {}).get("assets")
    if plan.manifest is None:
        return []
    if not isinstance(section, dict):
        skipped.append("asset.totals: the manifest has no assets section (made before factory counted asset licences)")
        return []
    why = []
    if section.get("uncounted_shards"):
        why.append(f"the manifest did not count {plural(len(section['uncounted_shards']), 'shard')}")
    if any(not r.complete for r in results):
        why.append("a shard could not be read completely")
    if why:
        skipped.append(f"asset.totals: {'; '.join(why)}")
        return []
    # A manifest made before backdrops were counted has no "backdrops" count: none then.
    recorded = {
        spdx: {k: row.get(k, 0 if k == "backdrops" else None) for k in ROW} if isinstance(row, dict) else row
        for spdx, row in (section.get("licences") or {}).items()
    }
    out = []
    if (section.get("samples"), recorded) != (counted["samples"], counted["licences"]):
        out.append(
            f"samples with assets {counted['samples']} and per licence {counted['licences']} in the shards, "
            f"the manifest's {section.get('samples')!r} and {recorded}"
        )
    if section.get("attribution") != counted["attribution"]:
        have = {json.dumps(e, sort_keys=True) for e in section.get("attribution") or [] if isinstance(e, dict)}
        want = {json.dumps(e, sort_keys=True) for e in counted["attribution"]}
        out.append(
            f"the attribution list differs from the attributed assets in the shards: "
            f"{len(want - have)} missing, {len(have - want)} not in the shards "
            f"(first missing: {min(want - have, default='none')})"
        )
    if section.get("backdrops", []) != counted["backdrops"]:
        have = {json.dumps(e, sort_keys=True) for e in section.get("backdrops") or [] if isinstance(e, dict)}
        want = {json.dumps(e, sort_keys=True) for e in counted["backdrops"]}
        out.append(
            f"the backdrop list differs from the backdrops in the shards: {len(want - have)} missing, "
            f"{len(have - want)} not in the shards (first missing: {min(want - have, default='none')})"
        )
    return [failure("asset.totals", mf.MANIFEST, None, m) for m in out]
