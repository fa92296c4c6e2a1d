"""``factory warmup``: compile the renderer's kernels into this machine's cache.

Warp compiles kernels on first use (seconds per module on one core) and caches them
on disk, keyed by source and options; every later process on the machine only loads
them (milliseconds). Run this once where images are built or nodes start, so that no
Ray worker, Serve replica or test pays the compile. ``--cuda-arch 90`` also builds the
CUDA kernels for that GPU generation ahead of time, without a GPU. The cache is
``$FACTORY_KERNEL_CACHE``, else ``~/.cache/factory/kernels``. Prints one line per
kernel module and device: the seconds it took and whether it was compiled or cached.
"""

from __future__ import annotations

import argparse

HELP = "compile the renderer's kernels into this machine's kernel cache"


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument(
        "--device",
        action="append",
        choices=("cpu", "cuda"),
        default=None,
        help="a device to build for (repeatable; default: cpu, and cuda where present)",
    )
    p.add_argument(
        "--cuda-arch",
        action="append",
        type=int,
        default=[],
        metavar="SM",
        help="also compile the CUDA kernels ahead of time for this compute capability (repeatable; "
        "e.g. 90 for H100/H200, 80 for A100); needs no GPU, so an image build can run it",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from factory.render.device import warmup
    from factory.render.warp_setup import cache_dir

    print(f"kernel cache: {cache_dir()}")
    for row in warmup(tuple(args.device) if args.device else None, tuple(args.cuda_arch)):
        how = "compiled" if row["compiled"] else "cached"
        print(f"{row['device']:>5}  {row['module']:<24} {row['seconds']:7.2f} s  ({how})")
    return 0
