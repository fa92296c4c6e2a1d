"""The Ray engine of the report's pass over a dataset: one Ray Data task per shard.

Each worker reads its shard straight from storage (the picklable
:class:`~factory.dataset.storage.Location` travels without its filesystem object), gathers
that shard's figures with :func:`factory.trust.report.stats.collect_shard` and sends them back
pickled: counts, histograms on their grids, one hash and 16 features per picture and at
most ``previews`` pictures, never the samples. The driver merges them in dataset order,
exactly as the local engine does, so both give the same report to the bit.
``memory://`` datasets live in the driver's process: their bytes are shipped with the
work list.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

from factory.onray.map import map_in_order
from factory.trust.report.stats import Collected, collect_shard


def collect_ray(dataset, *, previews: int = 16, workers: int | None = None,
                log: Callable[[str], None] | None = None) -> Collected:
    """:func:`factory.trust.report.stats.collect` of every sample of ``dataset`` on Ray Data
    (``workers``: at most that many shards at once; None: as many as the cluster's CPUs
    allow).

    Raises:
        factory.errors.ShardFormatError: a shard is not a well-formed tar.
        factory.errors.StorageError: a shard cannot be read.
    """
    location = dataset.location
    ship = location.process_local
    items = [{"name": name, **({"data": dataset.read_shard(name)} if ship else {})} for name in dataset.shards]

    def gather(row: dict) -> bytes:
        data = row["data"] if ship else location.read(row["name"])
        return pickle.dumps(collect_shard(row["name"], data, previews=previews))

    def progress(done: int, total: int, n: int) -> None:
        log(f"read {done}/{total} shards (last: {dataset.shards[n]})")

    out = Collected()
    parts = map_in_order(items, gather, workers=workers, progress=progress if log is not None else None,
                         log=log or (lambda _: None))
    for part in parts:
        out.merge(pickle.loads(part), previews)
    return out
