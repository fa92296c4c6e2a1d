"""Frames per second per core of the asset configs against quickstart, and where the
time of their assets goes, cold and warm.

For each config (``--configs``; quickstart first, the baseline), in one process with
BLAS pinned to one thread (pin the process too: ``taskset -c 0``):

* **cold**: a fresh catalogue (packs loaded, every file's hash checked) and empty
  caches (generated meshes, pack meshes, the renderer's per-device BVHs), then
  ``--samples`` samples generated and encoded (``generate_members``);
* **warm**: the same samples again, every cache full.

It prints frames per CPU-second (process time: the figure per core), the ratio to
quickstart's in the same run, the same per pixel (megapixel-frames per CPU-second: the
configs' image sizes differ), and the shares of the CPU time spent making the
catalogue, drawing assets (generator builds and pack reads, MeshAsset conversion) and
building BVHs. The asset steps are timed by wrapping the functions that do them; the
rest of the sample (physics, rendering, encoding) is what is left.

    taskset -c 0 .venv/bin/python benchmarks/assets.py --samples 12
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPENT: dict[str, float] = {}


def _timed(name: str, fn):
    """``fn`` adding its process time to SPENT[name]."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name] = SPENT.get(name, 0.0) + time.process_time() - start

    return wrapper


def instrument() -> None:
    """Wrap the asset steps: catalogue, asset draws, BVH builds."""
    from factory.assets import catalog
    from factory.render import meshes

    catalog.Catalog.__init__ = _timed("catalogue", catalog.Catalog.__init__)
    catalog.Catalog.draw = _timed("asset draws", catalog.Catalog.draw)
    meshes._build = _timed("BVH builds", meshes._build)  # BVH, normals, UVs, texture mips on the device


def clear_caches() -> None:
    """Empty every per-process asset cache (what a new worker starts with)."""
    from factory.assets import catalog, loaded
    from factory.assets.generators.cache import process_cache
    from factory.render.device import get_device
    from factory.render.meshes import mesh_cache

    catalog._CATALOGS.clear()
    catalog._GENERATED.clear()
    loaded.pack_mesh_cache().clear()
    loaded._PACKS.clear()
    process_cache().clear()
    mesh_cache(get_device("cpu")).clear()


def run(config_path: str, samples: int) -> dict:
    """Cold and warm passes over ``samples`` samples of the config: frames per CPU second
    and the asset steps' shares."""
    from factory.sample.generate import generate_members
    from factory.scene.config import load_config

    config = load_config(config_path)
    out = {}
    for phase in ("cold", "warm"):
        if phase == "cold":
            clear_caches()
        SPENT.clear()
        start = time.process_time()
        for i in range(samples):
            generate_members(config, i)
        cpu = time.process_time() - start
        frames = samples * config.render.frames
        pixels = frames * config.render.width * config.render.height
        out[phase] = {"fps": frames / cpu, "mpx": pixels / cpu / 1e6, **{k: v / cpu for k, v in SPENT.items()}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=12)
    ap.add_argument(
        "--configs", default="configs/quickstart.yaml,configs/movi.yaml,configs/household.yaml", help="first: baseline"
    )
    args = ap.parse_args()
    instrument()
    from factory.heap import settle
    from factory.sample.generate import generate_members
    from factory.scene.config import load_config

    paths = args.configs.split(",")
    for path in paths:  # compile the kernels and touch every code path once
        generate_members(load_config(path), 0)
    settle()
    results = {path: run(path, args.samples) for path in paths}
    base = results[paths[0]]
    print(f"{args.samples} samples per config, frames per CPU-second (one core), ratio to {paths[0]}")
    print("| config | phase | frames/s | ratio | Mpixel-frames/s | ratio | catalogue | asset draws | BVH builds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path, phases in results.items():
        for phase, r in phases.items():
            shares = [f"{100 * r.get(k, 0.0):.1f}%" for k in ("catalogue", "asset draws", "BVH builds")]
            ratio, px_ratio = r["fps"] / base[phase]["fps"], r["mpx"] / base[phase]["mpx"]
            print(
                f"| {Path(path).stem} | {phase} | {r['fps']:.1f} | {ratio:.2f}x | {r['mpx']:.2f} | {px_ratio:.2f}x | "
                + " | ".join(shares)
                + " |"
            )


if __name__ == "__main__":
    main()
