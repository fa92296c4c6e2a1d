"""The Ray engine of :mod:`factory.validate`: one Ray Data task per shard.

The driver builds the work list (shard names and manifest records), Ray Data maps
:func:`factory.validate.read_and_check` over it, so each worker reads its shard straight
from storage through the picklable :class:`~factory.storage.Location` (which travels
without its filesystem object) and sends back only the findings, as JSON. The driver
puts the results back in dataset order, so the outcome is the same as the local
engine's. ``memory://`` datasets live in the driver's process: their bytes are read
there and shipped with the work list.

This and :mod:`factory.pipeline` are the only modules of the validator that import Ray.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import ray
from ray.data import DataContext

from factory.ray_session import ensure_ray
from factory.storage import Location
from factory.validate import Context, Progress, ShardResult, check_shard, read_and_check


def check_shards_ray(location: Location, tasks: list[tuple[str, dict | None]], context: Context, *,
                     workers: int | None = None, progress: Progress | None = None,
                     log: Callable[[str], None] = print) -> list[ShardResult]:
    """:func:`~factory.validate.read_and_check` for every ``(shard name, record)`` of
    ``tasks`` on Ray Data (``workers``: at most that many tasks at once; None: as many
    as the cluster's CPUs allow). Results in the order of ``tasks``.

    Joins ``RAY_ADDRESS`` or starts a local Ray, and shuts Ray down afterwards only if
    it started it here.
    """
    if not tasks:
        return []
    started = ensure_ray(log)
    ctx = DataContext.get_current()
    saved = (ctx.enable_progress_bars, ctx.raise_original_map_exception)
    ctx.enable_progress_bars = progress is not None
    ctx.raise_original_map_exception = True
    try:
        ship = location.process_local
        items = [{"position": n, "name": name, "record": json.dumps(rec),
                  **({"data": location.read_or_none(name)} if ship else {})}
                 for n, (name, rec) in enumerate(tasks)]

        def check(row: dict) -> dict:
            rec = json.loads(row["record"])
            if ship:  # None: a missing shard, which check_shard reports
                res = check_shard(row["name"], row["data"], rec, context)
            else:
                res = read_and_check(location, row["name"], rec, context)
            return {"position": row["position"], "result": json.dumps(res.to_dict())}

        ds = ray.data.from_items(items, override_num_blocks=len(items))
        ds = ds.map(check, num_cpus=1, concurrency=workers)
        results: list[ShardResult | None] = [None] * len(tasks)
        for done, row in enumerate(ds.iter_rows()):
            n = int(row["position"])
            results[n] = ShardResult.from_dict(json.loads(row["result"]))
            if progress is not None:
                progress(done + 1, len(tasks), tasks[n][0])
        return results  # type: ignore[return-value]
    finally:
        ctx.enable_progress_bars, ctx.raise_original_map_exception = saved
        if started:
            ray.shutdown()
