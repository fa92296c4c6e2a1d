"""Warp, imported once and configured for factory before anything initialises it.

Every renderer module takes ``wp`` from here, so the kernel cache directory and the
quiet start are set before Warp's first use, whichever module comes first.

Compiled kernels are cached on disk, keyed by their source and options, so a machine
compiles them once: in ``$FACTORY_KERNEL_CACHE``, else ``~/.cache/factory/kernels``.
Tests, Ray workers and Serve replicas on one machine share it; the image fills it at
build time with ``factory warmup``.
"""

from __future__ import annotations

import os
from pathlib import Path

import warp as wp


def cache_dir() -> Path:
    """The kernel cache directory (see the module docstring)."""
    env = os.environ.get("FACTORY_KERNEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "factory" / "kernels"


wp.config.kernel_cache_dir = str(cache_dir())
wp.config.log_level = wp.LOG_WARNING  # no banner or per-module load lines in every worker's log

# Warp module options of every module with a kernel that calls factory's Warp
# functions. CPU kernels are built for the generic target of the host's architecture
# (Warp's default adds -march=native) with floating-point contraction off, and CUDA
# ones without fused multiply-adds: a multiply-add fused on one machine and not on
# another changes the last bit. The LLVM inlining thresholds are Warp's own defaults
# (which replacing the flags would drop): without them the scene structs are copied
# into every call that is not inlined, and a frame took twice as long.
# FACTORY_WARP_CPU_FLAGS replaces the CPU flags (the determinism test builds the
# kernels a second way with it; nothing else needs it).
CPU_FLAGS = (
    "-ffp-contract=off -mllvm=-inline-threshold=9000 -mllvm=-inline-cold-callsite-threshold=3000"
    " -mllvm=-slp-recursion-max-depth=4"
)
KERNEL_OPTIONS = {
    "enable_backward": False,
    "fuse_fp": False,
    "cpu_compiler_flags": os.environ.get("FACTORY_WARP_CPU_FLAGS", CPU_FLAGS),
}

__all__ = ["KERNEL_OPTIONS", "cache_dir", "wp"]
