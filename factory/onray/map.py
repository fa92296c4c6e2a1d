"""One Ray Data task per item, the results back in the items' order: the Ray engine of
``factory validate`` and ``factory report``, which both work shard by shard.

Each item is a row of plain values (a shard's name, its record as JSON, its bytes for
a ``memory://`` dataset that only the driver can read); ``fn`` runs on a worker, one
CPU each, and returns ``str`` or ``bytes``, which comes back to the driver as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ray
from ray.data import DataContext

from factory.onray.session import ensure_ray


def map_in_order(
    items: list[dict[str, Any]],
    fn: Callable[[dict[str, Any]], str | bytes],
    *,
    workers: int | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    log: Callable[[str], None] = print,
) -> list[str | bytes]:
    """``[fn(item) for item in items]``, one Ray Data task per item, at most ``workers``
    at once (None: as many as the cluster's CPUs allow). ``progress(done, total,
    position)`` is called as each result arrives. An exception in ``fn`` is raised here
    as itself.

    Joins ``RAY_ADDRESS`` or starts a local Ray, and shuts Ray down afterwards only if
    it started it here.
    """
    if not items:
        return []
    started = ensure_ray(log)
    ctx = DataContext.get_current()
    saved = (ctx.enable_progress_bars, ctx.raise_original_map_exception)
    ctx.enable_progress_bars = progress is not None
    ctx.raise_original_map_exception = True
    try:
        rows = [{**item, "position": n} for n, item in enumerate(items)]

        def task(row: dict) -> dict:
            return {"position": row["position"], "result": fn(row)}

        # Ray names the operator and its tasks after it: Map(check), ... (a partial: its function's name)
        task.__name__ = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", "work")

        ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map(task, num_cpus=1, concurrency=workers)
        results: list[Any] = [None] * len(items)
        for done, row in enumerate(ds.iter_rows()):
            n = int(row["position"])
            results[n] = row["result"]
            if progress is not None:
                progress(done + 1, len(items), n)
        return results
    finally:
        ctx.enable_progress_bars, ctx.raise_original_map_exception = saved
        if started:
            ray.shutdown()


map_in_order.name = "ray"  # type: ignore[attr-defined]  (see factory.trust.engine)
