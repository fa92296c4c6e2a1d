"""What a worker needs to check the shards of one dataset (:class:`Context`): plain,
picklable values that :mod:`.plan` reads from the manifest on the driver."""

from __future__ import annotations

from dataclasses import dataclass

from factory.trust.validate.result import DEFAULT_MAX_LISTED


@dataclass(frozen=True)
class Context:
    """What a worker needs to check shards of one dataset: plain values, picklable.

    ``kind`` is ``"factory"``, ``"mix"`` or ``"plain"``. For factory datasets
    ``config`` is the manifest's resolved config and ``frames``/``height``/``width``/
    ``mp4`` come from it; ``samples`` and ``shard_size`` fix which keys each shard
    holds. ``sources`` (mix) maps ``(role, dataset name)`` of each source to its
    ``(licence, config_hash)``. ``scenarios``: check each sample's scenario against the allocation.
    ``allowed_licences``: the licences an object's asset may carry (None: not checked).
    ``oracle``: the share of pixels :mod:`factory.trust.oracle` re-derives per frame.
    """

    kind: str
    samples: int | None = None
    shard_size: int | None = None
    failed: frozenset = frozenset()  # indices the manifest lists as failed
    name: str | None = None
    seed: int | None = None
    config_hash: str | None = None
    config: dict | None = None
    frames: int | None = None
    height: int | None = None
    width: int | None = None
    mp4: bool | None = None
    sources: dict | None = None
    scenarios: bool = False
    allowed_licences: frozenset | None = None
    max_listed: int = DEFAULT_MAX_LISTED
    oracle: float = 0.0  # share of each frame's pixels the independent oracle checks (0: off)
