"""The trust layer: what a reviewer runs before a dataset is believed.

``validate`` (every check, one list), ``invariants`` (per-clip ground-truth rules),
``report`` (HTML, plots, dataset card) and ``diversity`` (near-duplicates, features,
drift; ``factory compare``). Work that goes shard by shard takes its engine as an
argument (``map_shards``: :func:`factory.trust.engine.map_local` by default; the commands
pass the Ray one).
"""
