"""Joining or starting Ray for a command: one rule for every entry point.

``RAY_ADDRESS`` set (as ``ray job submit`` and KubeRay set it): join that cluster.
Otherwise: start an embedded local Ray that lives as long as the process.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import ray


def ensure_ray(log: Callable[[str], None], **init_kwargs) -> bool:
    """Join ``RAY_ADDRESS`` if set, else start an embedded local Ray (``init_kwargs`` go
    to that ``ray.init``). True if Ray was started or joined here."""
    if ray.is_initialized():
        return False
    address = os.environ.get("RAY_ADDRESS")
    if address:
        log(f"joining the Ray cluster at {address}")
        ray.init(address=address)
    else:
        log("starting an embedded local Ray (set RAY_ADDRESS to use a cluster)")
        ray.init(address="local", include_dashboard=False, **init_kwargs)
    return True
