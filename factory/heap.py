"""The garbage-collector policy of a long-running worker (a render actor, a Serve
replica, a benchmark's timed loop).

After a worker's first samples, what it holds (Ray, Warp and factory's modules, the
compiled kernels, the caches: ~180k objects) lives as long as the process. CPython's
full collection scans all of them each time (~70 ms on the 2-core machine), and one
falls inside a sample every few clips: ~9% of a 256x256 clip's render time.
:func:`settle` collects once and then freezes what is left (``gc.freeze``: moved out
of the collector's view for good); objects made afterwards are collected as before.
It changes no byte of any sample.
"""

from __future__ import annotations

import gc

_settled = False


def settle() -> None:
    """Collect, then freeze every object alive now; only the first call in a process
    does anything. Call it once the worker's first work is done (its imports, kernels
    and caches loaded)."""
    global _settled
    if _settled:
        return
    gc.collect()
    gc.freeze()
    _settled = True
