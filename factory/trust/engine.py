"""The engine a trust tool is handed: how its shard-by-shard work runs.

``validate`` and ``report`` go through a dataset one shard at a time. They do not choose
where that runs; the caller hands them a ``map_shards`` function (this module's
:func:`map_local` by default; the commands pass :func:`factory.onray.map.map_in_order`
for ``--engine ray``), so nothing here imports Ray and no layer imports upward.

A ``map_shards`` function::

    map_shards(items, fn, *, workers=None, progress=None, log=print) -> list

* ``items``: list of dicts of plain values (a shard's name, its record as JSON, its bytes
  for a ``memory://`` dataset, which only the caller's process can read);
* ``fn(item) -> str | bytes``: the work for one item; with more than one local worker
  process, or on Ray, it travels to another process, so it must pickle (a module-level
  function or a :func:`functools.partial` of one; Ray also takes closures, and names
  its tasks after the function);
* ``workers``: at most that many items at once (None: the engine's default);
* ``progress(done, total, position)``: called as each result arrives;
* the results come back in the order of ``items``; an exception in ``fn`` is raised
  as itself;
* ``name``: an attribute naming the engine (``"local"``, ``"ray"``), which results record.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
from collections.abc import Callable
from typing import Any, Protocol

Item = dict[str, Any]
Progress = Callable[[int, int, int], None]


class MapShards(Protocol):
    """The signature of an engine (see the module docstring)."""

    name: str

    def __call__(
        self,
        items: list[Item],
        fn: Callable[[Item], Any],
        *,
        workers: int | None = None,
        progress: Progress | None = None,
        log: Callable[[str], None] = print,
    ) -> list: ...


def map_local(
    items: list[Item],
    fn: Callable[[Item], Any],
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
) -> list:
    """``[fn(item) for item in items]`` in this process, or in ``workers`` spawned
    processes when ``workers`` > 1 (``fn`` must then pickle). ``log`` is unused: a local
    run has nothing to start."""
    total = len(items)
    if not workers or workers <= 1 or total <= 1:
        out = []
        for n, item in enumerate(items):
            out.append(fn(item))
            if progress is not None:
                progress(n + 1, total, n)
        return out
    results: list[Any] = [None] * total
    # spawn: the parent may hold threads (s3fs, Ray) that fork would copy mid-flight.
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(fn, item): n for n, item in enumerate(items)}
        for done, fut in enumerate(cf.as_completed(futures)):
            n = futures[fut]
            results[n] = fut.result()
            if progress is not None:
                progress(done + 1, total, n)
    return results


map_local.name = "local"  # type: ignore[attr-defined]
