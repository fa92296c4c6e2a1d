"""``factory plan CONFIG --samples N``: how many samples each scenario gets, before
anything is rendered.

Prints, per scenario, its weight, its exact share of N, the minimum asked for
(min_count), the samples it gets (the allocation factory generate uses and records in
the manifest, see factory.scene.allocation) and its first indices, then how evenly the
scenarios spread over the shards (fewest and most samples of each in any shard).
--json prints the same as one JSON object.
"""

from __future__ import annotations

import argparse
import json

from factory.commands.argtypes import int_at_least

HELP = "print the scenario allocation of a dataset, before rendering"


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from factory.dataset.shards import DEFAULT_SHARD_SIZE

    p.add_argument("config", metavar="CONFIG", help="scenario YAML file, e.g. configs/edge_cases.yaml")
    p.add_argument("--samples", required=True, type=int_at_least(1), metavar="N", help="number of samples")
    p.add_argument(
        "--shard-size",
        type=int_at_least(1),
        default=DEFAULT_SHARD_SIZE,
        metavar="S",
        help=f"samples per shard, for the spread over shards (default {DEFAULT_SHARD_SIZE})",
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    return p


# The per-shard spread lists every index's scenario; past this many samples it is left out.
MAX_SPREAD_SAMPLES = 2_000_000
FIRST_INDICES = 5


def plan(config, samples: int, shard_size: int) -> dict:
    """The plan as a JSON-able dict: the manifest's ``scenarios`` block plus, per
    scenario, its exact quota, first indices and the fewest/most samples in a shard."""
    from factory.dataset.shards import shard_count
    from factory.scene.allocation import allocate

    alloc = allocate(config, samples)
    block = alloc.record()
    quotas = alloc.quotas()
    doc = {
        "name": config.name,
        "config_hash": config.config_hash(),
        "seed": config.seed,
        "samples": samples,
        "shard_size": shard_size,
        "shards": shard_count(samples, shard_size),
        **block,
        "scenario_table": [],
    }
    spread = samples <= MAX_SPREAD_SAMPLES
    per_shard: dict[str, list[int]] = {n: [] for n in alloc.names}
    first: dict[str, list[int]] = {n: [] for n in alloc.names}
    if spread:
        for start in range(0, samples, shard_size):
            names = alloc.scenarios(start, min(start + shard_size, samples))
            for n in alloc.names:
                per_shard[n].append(names.count(n))
            for offset, n in enumerate(names):
                if len(first[n]) < FIRST_INDICES:
                    first[n].append(start + offset)
    for n, w, m in zip(alloc.names, alloc.weights, alloc.minimums):
        row = {
            "scenario": n,
            "weight": w,
            "share": w / sum(alloc.weights),
            "quota": quotas[n],
            "min_count": m,
            "samples": alloc.counts[n],
        }
        if spread:
            row.update(first_indices=first[n], per_shard_min=min(per_shard[n]), per_shard_max=max(per_shard[n]))
        doc["scenario_table"].append(row)
    return doc


def lines(doc: dict) -> list[str]:
    """The plan as text."""
    bound = [
        r["scenario"]
        for r in doc["scenario_table"]
        if r["min_count"] and r["samples"] == r["min_count"] and r["quota"] < r["min_count"]
    ]
    out = [
        f"{doc['name']}: {doc['samples']} samples in {doc['shards']} shards of {doc['shard_size']}, "
        f"seed {doc['seed']}, config {doc['config_hash'][:12]}",
        f"allocation: {doc['method']}, each scenario's samples spread evenly over the indices"
        + (f"; held at min_count: {', '.join(bound)}" if bound else ""),
        "",
    ]
    head = f"{'scenario':<20} {'weight':>8} {'share':>7} {'quota':>11} {'min':>6} {'samples':>9}"
    spread = "per_shard_min" in doc["scenario_table"][0]
    if spread:
        head += f" {'per shard':>11}  first indices"
    out.append(head)
    for r in doc["scenario_table"]:
        line = (
            f"{r['scenario']:<20} {r['weight']:>8g} {100 * r['share']:>6.2f}% {r['quota']:>11.2f} "
            f"{r['min_count']:>6} {r['samples']:>9}"
        )
        if spread:
            line += f" {r['per_shard_min']:>5} - {r['per_shard_max']:<3}  {', '.join(map(str, r['first_indices']))}"
        out.append(line)
    out.append(f"{'total':<20} {'':>8} {'':>7} {doc['samples']:>11.2f} {'':>6} {sum(doc['requested'].values()):>9}")
    if not spread:
        out.append(f"(per-shard spread not listed above {MAX_SPREAD_SAMPLES} samples)")
    return out


def run(args: argparse.Namespace) -> int:
    from factory.commands.preflight import plan_config

    doc = plan(plan_config(args.config, args.samples), args.samples, args.shard_size)
    print(json.dumps(doc, indent=2) if args.json else "\n".join(lines(doc)))
    return 0
