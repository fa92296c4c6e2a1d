"""The Ray engine of :mod:`factory.trust.validate`: one Ray Data task per shard.

The driver builds the work list (shard names and manifest records),
:func:`factory.onray.map.map_in_order` runs :func:`factory.trust.validate.read_and_check` over
it, so each worker reads its shard straight from storage through the picklable
:class:`~factory.dataset.storage.Location` (which travels without its filesystem object) and
sends back only the findings, as JSON. The results come back in dataset order, so the
outcome is the same as the local engine's. ``memory://`` datasets live in the driver's
process: their bytes are read there and shipped with the work list.

This, :mod:`factory.onray.map` and :mod:`factory.onray.pipeline` are the only modules of the
validator that import Ray.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from factory.onray.map import map_in_order
from factory.dataset.storage import Location
from factory.trust.validate import Context, Progress, ShardResult, check_shard, read_and_check


def check_shards_ray(location: Location, tasks: list[tuple[str, dict | None]], context: Context, *,
                     workers: int | None = None, progress: Progress | None = None,
                     log: Callable[[str], None] = print) -> list[ShardResult]:
    """:func:`~factory.trust.validate.read_and_check` for every ``(shard name, record)`` of
    ``tasks`` on Ray Data (``workers``: at most that many tasks at once; None: as many
    as the cluster's CPUs allow). Results in the order of ``tasks``."""
    ship = location.process_local
    items = [{"name": name, "record": json.dumps(rec), **({"data": location.read_or_none(name)} if ship else {})}
             for name, rec in tasks]

    def check(row: dict) -> str:
        rec = json.loads(row["record"])
        if ship:  # None: a missing shard, which check_shard reports
            res = check_shard(row["name"], row["data"], rec, context)
        else:
            res = read_and_check(location, row["name"], rec, context)
        return json.dumps(res.to_dict())

    def report(done: int, total: int, n: int) -> None:
        progress(done, total, tasks[n][0])

    results = map_in_order(items, check, workers=workers, progress=report if progress is not None else None,
                           log=log)
    return [ShardResult.from_dict(json.loads(r)) for r in results]
