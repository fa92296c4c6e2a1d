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
# another changes the last bit. Inlining decides the speed, not the bits: a function
# that takes the scene structs (Views, Scenes) and is not inlined gets a copy of them,
# kilobytes, at every call (a frame took up to 4x as long); inlining everything made
# one 71 kB kernel loop that ran 1.7x slower than letting LLVM keep the big leaf
# functions (the analytic intersections, the noise patterns: small arguments) as calls.
# An inline threshold of 2000 does that (quickstart 3.0 ms a frame against 5.1 at
# Warp's 9000, 11.2 at 3000 where the shadow test stops being inlined; 1500 to 2500
# alike). tests/unit/test_kernel_inlining.py checks that no function taking the scene
# structs is left as a call. FACTORY_WARP_CPU_FLAGS replaces the CPU flags (the
# determinism test builds the kernels a second way with it; nothing else needs it).
CPU_FLAGS = (
    "-ffp-contract=off -mllvm=-inline-threshold=2000 -mllvm=-inline-cold-callsite-threshold=3000"
    " -mllvm=-slp-recursion-max-depth=4"
)
KERNEL_OPTIONS = {
    "enable_backward": False,
    "fuse_fp": False,
    "cpu_compiler_flags": os.environ.get("FACTORY_WARP_CPU_FLAGS", CPU_FLAGS),
}

__all__ = ["KERNEL_OPTIONS", "cache_dir", "wp"]
