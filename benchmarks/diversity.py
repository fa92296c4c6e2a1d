"""Profile throughput and near-duplicate search time of factory.trust.diversity.

Two measurements, each against a baseline taken in the same run:

1. ``profile_dataset`` (read every shard, decode each sample's picture, hash it,
   compute its features) against just reading the same shards and decoding every
   ``rgb.png`` with Pillow, on a dataset of ``--samples`` clips of ``--config``
   (generated first, without Ray, into a temporary folder; or ``--dataset URL``). One
   process; the figures are samples/s per core, best of ``--repeat`` runs per arm.
2. ``near_duplicates`` on ``--hashes`` 64-bit hashes (random, with planted clusters of
   near-copies) against a pure-Python double loop over a subset, extrapolated by the
   number of pairs; plus ``nearest`` (B against A) on the same count.

    python benchmarks/diversity.py [--samples 200] [--config configs/quickstart.yaml] [--hashes 20000]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _shard(job: tuple[str, str, int, int]) -> str:
    from factory.dataset.shards import build_shard
    from factory.sample.generate import generate_members
    from factory.scene.config import load_config

    config_path, path, start, stop = job
    config = load_config(config_path)
    members = [generate_members(config, i) for i in range(start, stop)]
    Path(path).write_bytes(build_shard([(m.pop("__key__"), m) for m in members]))
    return path


def make_dataset(config_path: str, folder: str, samples: int, shard_size: int) -> None:
    """``samples`` clips as a plain folder of shards (no manifest), one process per core."""
    jobs = [
        (config_path, f"{folder}/bench-{s:06d}.tar", start, min(samples, start + shard_size))
        for s, start in enumerate(range(0, samples, shard_size))
    ]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(_shard, jobs))


def read_and_decode(url: str) -> int:
    """The baseline: every shard read, every rgb.png (or first picture) decoded."""
    from factory.dataset.reader import open_dataset

    n = 0
    for _, _, members in open_dataset(url).samples():
        data = members.get("rgb.png") or next(v for k, v in members.items() if k.endswith(("jpg", "png")))
        np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        n += 1
    return n


def best_of(repeat: int, fn) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_profile(url: str, repeat: int) -> None:
    from factory.dataset.reader import open_dataset
    from factory.trust.diversity import image_features, phash, picture, profile_dataset

    base_s, n = best_of(repeat, lambda: read_and_decode(url))
    prof_s, profile = best_of(repeat, lambda: profile_dataset(url))
    assert profile.size == n
    print(f"profile of {n} samples ({url})")
    print(f"  read + decode picture  : {base_s:7.2f} s  {n / base_s:8.1f} samples/s")
    print(
        f"  profile_dataset        : {prof_s:7.2f} s  {n / prof_s:8.1f} samples/s  "
        f"(ratio to read + decode {base_s / prof_s:.2f})"
    )
    # Where the time goes, per sample, on the first 50 samples held in memory.
    held = [m for _, (_, _, m) in zip(range(50), open_dataset(url).samples())]
    pics = [picture(m) for m in held]
    for name, fn, items in (
        ("picture (decode, cut)", picture, held),
        ("phash", phash, pics),
        ("image_features", image_features, pics),
    ):
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        print(f"  {name:<22} : {(time.perf_counter() - t0) / len(items) * 1e3:7.2f} ms/sample")
    print(f"  (picture {pics[0].shape[1]}x{pics[0].shape[0]}, features at the analysis size)")


def planted_hashes(n: int, seed: int = 0) -> np.ndarray:
    """``n`` random hashes; every 50th is a near-copy (3 bits flipped) of an earlier one."""
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)
    for k in range(50, n, 50):
        flip = np.uint64(sum(1 << int(b) for b in rng.choice(64, 3, replace=False)))
        h[k] = h[rng.integers(k)] ^ flip
    return h


def python_pairs(hashes: list[int], max_distance: int) -> int:
    count = 0
    for i in range(len(hashes)):
        hi = hashes[i]
        for j in range(i + 1, len(hashes)):
            if (hi ^ hashes[j]).bit_count() <= max_distance:
                count += 1
    return count


def bench_near_duplicates(n: int, subset: int) -> None:
    from factory.trust.diversity import NEAR_DUPLICATE_BITS, near_duplicates, nearest

    h = planted_hashes(n)
    nd_s, nd = best_of(3, lambda: near_duplicates(h))
    sub = h[:subset].tolist()
    loop_s, loop_count = best_of(1, lambda: python_pairs(sub, NEAR_DUPLICATE_BITS))
    assert loop_count == near_duplicates(h[:subset]).pair_count
    scale = (n * (n - 1) / 2) / (subset * (subset - 1) / 2)
    print(
        f"near_duplicates of {n} hashes ({n * (n - 1) // 2:,} pairs, within {NEAR_DUPLICATE_BITS} bits): "
        f"{nd.pair_count} pairs, rate {nd.rate:.2%}, {nd.groups} groups"
    )
    print(f"  numpy XOR + bitwise_count, blocked : {nd_s:7.2f} s")
    print(
        f"  Python double loop on {subset} hashes : {loop_s:7.2f} s -> {loop_s * scale:8.1f} s extrapolated "
        f"to {n} (x{scale:.0f} pairs)"
    )
    print(f"  ratio loop / numpy                 : {loop_s * scale / nd_s:8.0f}")
    b = planted_hashes(n, seed=1)
    cross_s, _ = best_of(3, lambda: nearest(h, b))
    print(f"  nearest({n} against {n})         : {cross_s:7.2f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(ROOT / "configs/quickstart.yaml"))
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--shard-size", type=int, default=50)
    ap.add_argument("--dataset", default=None, help="profile this dataset URL instead of generating one")
    ap.add_argument("--repeat", type=int, default=2, help="runs per arm; the best counts (default 2)")
    ap.add_argument("--hashes", type=int, default=20_000)
    ap.add_argument("--loop-subset", type=int, default=2_000, help="hashes the Python loop baseline runs on")
    args = ap.parse_args(argv)
    print(f"cores on machine: {os.cpu_count()}; one process measured")
    if args.dataset:
        bench_profile(args.dataset, args.repeat)
    else:
        with tempfile.TemporaryDirectory(prefix="factory-bench-") as tmp:
            t0 = time.perf_counter()
            make_dataset(args.config, tmp, args.samples, args.shard_size)
            print(f"generated {args.samples} samples of {args.config} in {time.perf_counter() - t0:.1f} s")
            bench_profile(tmp, args.repeat)
    bench_near_duplicates(args.hashes, args.loop_subset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
