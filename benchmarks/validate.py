"""``factory validate`` against reading and hashing the same shards, in one run.

    python benchmarks/validate.py [--config configs/quickstart.yaml] [--samples 64]
                                  [--shard-size 8] [--cpus 2] [--repeats 2] [--out DIR]

The dataset: ``--samples`` samples of ``--config`` made with
``factory.onray.pipeline.generate_dataset`` into ``--out`` (default: a temporary folder);
rerunning with the same ``--out`` reuses it (the pipeline finds every shard intact).
Ray is started once with ``--cpus`` CPUs before any clock runs.

Arms, each over every shard of the dataset:

* **read + sha256** (the baseline): ``Location.read`` and ``sha256_hex`` of each shard,
  one process: what checking the manifest alone costs;
* **read + decode**: the baseline plus ``factory.dataset.reader.iter_tar`` and
  ``factory.sample.decode.decode_sample`` of every sample, one process: the floor of any
  check that looks at the pixels;
* **validate, local**: ``validate_dataset(location)`` (``map_local``), one process;
* **validate, local x N**: ``validate_dataset(location, workers=--cpus)``
  (spawned processes; their start-up is on the clock);
* **validate, ray**: ``validate_dataset(location, map_shards=map_in_order)``
  (``factory.onray.map``) on the Ray started above (one Ray Data task per shard; Ray
  Data's start-up for the run is on the clock).

The page cache is warmed first; the arms take turns ``--repeats`` times and each arm's
best run counts. It prints samples/s, MB/s of shard bytes and the ratio of each arm's
throughput to the baseline's. Figures depend on the machine; nothing here passes or
fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def read_and_hash(location, names) -> int:
    from factory.dataset.shards import sha256_hex

    n = 0
    for name in names:
        sha256_hex(location.read(name))
        n += 1
    return n


def read_and_decode(location, names) -> int:
    from factory.dataset.reader import iter_tar
    from factory.dataset.shards import sha256_hex
    from factory.sample.decode import decode_sample

    for name in names:
        data = location.read(name)
        sha256_hex(data)
        for _, members in iter_tar(data, name):
            decode_sample(members)
    return len(names)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(ROOT / "configs/quickstart.yaml"))
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--shard-size", type=int, default=8)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the embedded Ray and local worker processes")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=None, help="dataset folder (default: a temporary one; reused if complete)")
    args = ap.parse_args(argv)

    import ray

    from factory.dataset.storage import resolve
    from factory.onray.map import map_in_order
    from factory.onray.pipeline import generate_dataset
    from factory.scene.config import load_config
    from factory.trust.validate import validate_dataset

    tmp = tempfile.TemporaryDirectory(prefix="factory-bench-validate-") if args.out is None else None
    out = args.out or os.path.join(tmp.name, "dataset")
    os.environ.pop("RAY_ADDRESS", None)
    ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    try:
        t0 = time.perf_counter()
        summary = generate_dataset(
            load_config(args.config),
            out,
            samples=args.samples,
            shard_size=args.shard_size,
            progress=False,
            log=lambda s: None,
        )
        manifest = summary.manifest
        print(
            f"dataset: {args.samples} samples of {args.config} in {len(manifest['shards'])} shards of "
            f"{args.shard_size}, {manifest['bytes'] / 1e6:.1f} MB ({out}; ready in "
            f"{time.perf_counter() - t0:.0f} s)"
        )
        location = resolve(out)
        names = [r["name"] for r in manifest["shards"]]
        samples, nbytes = manifest["samples_written"], manifest["bytes"]

        def check(result):
            assert result.ok, "\n".join(result.lines()[:20])
            assert result.samples == samples

        arms = {
            "read + sha256 (baseline)": lambda: read_and_hash(location, names),
            "read + decode": lambda: read_and_decode(location, names),
            "validate, local": lambda: check(validate_dataset(location)),
            f"validate, local x {args.cpus}": lambda: check(validate_dataset(location, workers=args.cpus)),
            f"validate, ray ({args.cpus} CPUs)": lambda: check(validate_dataset(location, map_shards=map_in_order)),
        }
        read_and_hash(location, names)  # page cache
        best = {name: float("inf") for name in arms}
        for _ in range(args.repeats):
            for name, arm in arms.items():
                t = time.perf_counter()
                arm()
                best[name] = min(best[name], time.perf_counter() - t)
    finally:
        ray.shutdown()
        if tmp is not None:
            tmp.cleanup()

    base = samples / best["read + sha256 (baseline)"]
    print(f"{'arm':28s} {'seconds':>8s} {'samples/s':>10s} {'MB/s':>8s} {'ratio':>7s}")
    for name, secs in best.items():
        rate = samples / secs
        print(f"{name:28s} {secs:8.2f} {rate:10.1f} {nbytes / 1e6 / secs:8.1f} {rate / base:7.3f}")
    print(f"best of {args.repeats}; ratio = samples/s over the baseline's; {os.cpu_count()} cores on this machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
