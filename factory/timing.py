"""Opt-in wall-clock accounting of where generation time goes (for benchmarks)."""

from __future__ import annotations

import time
from contextlib import contextmanager


@contextmanager
def timed(timings: dict | None, name: str):
    """Add the block's wall time in seconds to ``timings[name]``; free when timings is None."""
    if timings is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
