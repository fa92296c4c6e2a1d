"""``--engine local|ray``: the name a command takes, the function it hands the trust tools.

The trust layer never imports Ray (see :mod:`factory.trust.engine`); this is the one
place that turns ``--engine ray`` into :func:`factory.onray.map.map_in_order`, and it
imports Ray only when that engine is first asked to map shards: ``factory validate``
and ``factory report`` with the local engine start without it, and with the Ray one
every check before the first shard (arguments, the dataset's URL and manifest, see
:mod:`factory.commands.preflight`) refuses before Ray is even imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from factory.trust.engine import Item, MapShards, Progress, map_local

ENGINES = ("local", "ray")


def map_on_ray(
    items: list[Item],
    fn: Callable[[Item], Any],
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
) -> list:
    """:func:`factory.onray.map.map_in_order`, imported on the first call."""
    from factory.onray.map import map_in_order  # imports Ray: only once there are shards to map

    return map_in_order(items, fn, workers=workers, progress=progress, log=log)


map_on_ray.name = "ray"  # type: ignore[attr-defined]  (see factory.trust.engine)


def map_shards_for(engine: str) -> MapShards:
    """The ``map_shards`` function of engine ``engine`` (one of :data:`ENGINES`)."""
    if engine == "ray":
        return map_on_ray
    if engine == "local":
        return map_local
    raise ValueError(f"engine: {engine!r} is not one of {', '.join(ENGINES)}")
