"""The Ray Data job against a bare loop, on the same workload, in one run.

    python benchmarks/pipeline.py [--config configs/quickstart.yaml] [--samples 600]
                                  [--shard-size 50] [--workers N]

Arm 1 (bare): one process per core (multiprocessing, started and warmed up before the
clock starts), each looping ``generate_sample`` + ``encode_sample`` over its share of
the indices and keeping the bytes. No shards, no storage: the ceiling.

Arm 2 (pipeline): ``factory.onray.pipeline.generate_dataset`` on an embedded Ray with as many
CPUs as cores, writing shards and the manifest to a temporary local folder. The clock
includes everything the job does once the cluster is up (Ray started, Ray Data's own
service actors running): pre-flight, starting the job's actor pools, rendering,
encoding, sharding, writing, the manifest.

It prints both throughputs (samples/s and MB/s of encoded bytes) and the ratio
pipeline / bare, end to end and in steady state (between the times 10% and 90% of the
samples were generated), with the job's start-up (until the first sample is generated)
and tail (from the last sample to the manifest), which explain the difference.
Figures depend on the machine; nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bare_worker(args):
    config_path, indices = args
    from factory.sample.generate import generate_members
    from factory.scene.config import load_config

    config = load_config(config_path)
    total = 0
    for i in indices:
        total += sum(len(v) for k, v in generate_members(config, i).items() if k != "__key__")
    return total


def _warm(config_path):
    from factory.sample.generate import generate_members
    from factory.scene.config import load_config

    generate_members(load_config(config_path), 10**6)  # imports, caches; an index not measured
    return os.getpid()


def bare(config_path: str, samples: int, procs: int) -> tuple[float, int]:
    ctx = mp.get_context("spawn")
    with ctx.Pool(procs) as pool:
        pool.map(_warm, [config_path] * procs, chunksize=1)
        shares = [(config_path, list(range(p, samples, procs))) for p in range(procs)]
        t0 = time.perf_counter()
        nbytes = sum(pool.map(_bare_worker, shares, chunksize=1))
        return time.perf_counter() - t0, nbytes


class _Timed:
    """generate_sample, appending each sample's finish time to a per-process file."""

    def __init__(self, folder: str):
        self.folder = folder

    def __call__(self, config, index, samples):
        from factory.sample.generate import generate_sample

        sample = generate_sample(config, index, samples=samples)
        with open(os.path.join(self.folder, str(os.getpid())), "a") as f:
            f.write(f"{time.time()}\n")
        return sample


def pipeline(config_path: str, samples: int, shard_size: int, workers: int) -> dict:
    import ray
    import ray.data

    from factory.onray.pipeline import generate_dataset
    from factory.scene.config import load_config

    config = load_config(config_path)
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    # Once per cluster, not per job: Ray Data starts its stats and autoscaling actors on
    # first use. Like the bare arm's process start-up, that stays off the clock.
    ray.data.range(1).materialize()
    try:
        with tempfile.TemporaryDirectory(prefix="factory-bench-") as tmp:
            os.mkdir(f"{tmp}/times")
            t0 = time.time()
            summary = generate_dataset(
                config,
                f"{tmp}/ds",
                samples=samples,
                shard_size=shard_size,
                min_workers=workers,
                max_workers=workers,
                progress=False,
                generate_fn=_Timed(f"{tmp}/times"),
                log=lambda s: None,
            )
            wall = time.time() - t0
            done = sorted(float(t) for p in Path(f"{tmp}/times").iterdir() for t in p.read_text().split())
    finally:
        ray.shutdown()
    lo, hi = done[len(done) // 10], done[(len(done) * 9) // 10]
    return {
        "wall": wall,
        "bytes": summary.dataset_bytes,
        "first": done[0] - t0,
        "tail": wall - (done[-1] - t0),
        "steady": ((len(done) * 9) // 10 - len(done) // 10) / (hi - lo),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(ROOT / "configs/quickstart.yaml"))
    ap.add_argument("--samples", type=int, default=600)
    ap.add_argument("--shard-size", type=int, default=50)
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="render actors (default: cores)")
    args = ap.parse_args(argv)
    cores = os.cpu_count()
    print(f"workload: {args.samples} samples of {args.config}, {cores} cores, shards of {args.shard_size}")

    b_wall, b_bytes = bare(args.config, args.samples, cores)
    b_rate = args.samples / b_wall
    print(f"bare      {cores} processes: {b_wall:6.1f} s  {b_rate:6.2f} samples/s  {b_bytes / 1e6 / b_wall:6.2f} MB/s")

    p = pipeline(args.config, args.samples, args.shard_size, args.workers)
    p_rate = args.samples / p["wall"]
    print(
        f"pipeline  {args.workers} render actors: {p['wall']:6.1f} s  {p_rate:6.2f} samples/s  "
        f"{p['bytes'] / 1e6 / p['wall']:6.2f} MB/s (tar bytes, shards written and committed)"
    )
    print(
        f"          first sample generated after {p['first']:.1f} s (actor processes starting), "
        f"steady {p['steady']:.2f} samples/s (10% to 90% of the samples), "
        f"{p['tail']:.1f} s from the last sample generated to the manifest"
    )
    print(
        f"ratio     pipeline / bare throughput = {p_rate / b_rate:.3f} end to end, "
        f"{p['steady'] / b_rate:.3f} in steady state"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
