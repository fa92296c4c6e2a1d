"""The report's pass over a whole dataset through an engine: one piece of work per shard.

The caller hands in a ``map_shards`` engine (:mod:`factory.trust.engine`: this process,
local worker processes, or Ray). The work list holds one :func:`shard_item` per shard:
its name, and for a ``memory://`` dataset, which lives in this process only, its bytes.
:func:`gather_item` is the work for one item, wherever it runs: it reads the shard
(straight from storage, through the picklable :class:`~factory.dataset.storage.Location`,
which travels without its filesystem object), gathers that shard's figures with
:func:`factory.trust.report.stats.collect_shard` and sends them back pickled: counts,
histograms on their grids, one hash and 16 features per picture and at most
``previews`` pictures, never the samples. :func:`collect_through` merges them in
dataset order, as :func:`factory.trust.report.stats.collect` merges shard by shard, so
every engine gives the same report to the bit.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable
from typing import Any

from factory.dataset.storage import Location
from factory.trust.engine import MapShards
from factory.trust.report.stats import Collected, collect_shard


def shard_item(dataset, name: str) -> dict[str, Any]:
    """The work-list item of shard ``name`` of ``dataset``: its name; for a
    ``memory://`` dataset also its bytes (StorageError if they cannot be read)."""
    return {"name": name, **({"data": dataset.read_shard(name)} if dataset.location.process_local else {})}


def gather_item(item: dict[str, Any], *, location: Location, previews: int) -> bytes:
    """The work for one :func:`shard_item`: the pickled :class:`Collected` of its shard.

    Raises:
        factory.errors.ShardFormatError: the shard is not a well-formed tar.
        factory.errors.StorageError: the shard cannot be read.
    """
    data = item["data"] if "data" in item else location.read(item["name"])
    return pickle.dumps(collect_shard(item["name"], data, previews=previews))


def collect_through(
    dataset,
    map_shards: MapShards,
    *,
    previews: int = 16,
    workers: int | None = None,
    log: Callable[[str], None] | None = None,
) -> Collected:
    """:func:`factory.trust.report.stats.collect` of every sample of ``dataset``, one
    shard per piece of work on ``map_shards`` (``workers``: at most that many shards at
    once; None: the engine's default). ``log`` gets one line per shard read.

    Raises:
        factory.errors.ShardFormatError: a shard is not a well-formed tar.
        factory.errors.StorageError: a shard cannot be read.
    """

    def progress(done: int, total: int, n: int) -> None:
        log(f"read {done}/{total} shards (last: {dataset.shards[n]})")

    # A partial of a module-level function pickles (local worker processes need that).
    work = functools.partial(gather_item, location=dataset.location, previews=previews)
    items = [shard_item(dataset, name) for name in dataset.shards]
    parts = map_shards(
        items, work, workers=workers, progress=progress if log is not None else None, log=log or (lambda _: None)
    )
    out = Collected()
    for part in parts:
        out.merge(pickle.loads(part), previews)
    return out
