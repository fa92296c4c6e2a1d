"""``--engine local|ray``: the name a command takes, the function it hands the trust tools.

The trust layer never imports Ray (see :mod:`factory.trust.engine`); this is the one
place that turns ``--engine ray`` into :func:`factory.onray.map.map_in_order`, and it
imports Ray only when that engine is asked for, so ``factory validate`` and ``factory
report`` with the local engine start without it.
"""

from __future__ import annotations

from factory.trust.engine import MapShards, map_local

ENGINES = ("local", "ray")


def map_shards_for(engine: str) -> MapShards:
    """The ``map_shards`` function of engine ``engine`` (one of :data:`ENGINES`)."""
    if engine == "ray":
        from factory.onray.map import map_in_order  # imports Ray: only for --engine ray

        return map_in_order
    if engine == "local":
        return map_local
    raise ValueError(f"engine: {engine!r} is not one of {', '.join(ENGINES)}")
