"""Opt-in wall-clock accounting of where generation time goes (for benchmarks)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager


@contextmanager
def timed(timings: dict | None, name: str, sync: Callable[[], None] | None = None):
    """Add the block's wall time in seconds to ``timings[name]``; free when timings is None.

    ``sync`` waits for work the block queued on a device (a GPU runs asynchronously),
    so the time lands on the block that caused it.
    """
    if timings is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
        if sync is not None:
            sync()
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
