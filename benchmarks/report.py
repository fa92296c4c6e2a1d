"""``factory report`` against just reading and decoding the same samples, in one run.

    python benchmarks/report.py [--config configs/quickstart.yaml] [--samples 64] [--shard-size 16]
    python benchmarks/report.py --url DATASET [--samples N]      # an existing dataset, first N samples
    python benchmarks/report.py --samples 256 --shard-size 16 --ray   # also the Ray engine

Without ``--url`` it first writes ``--samples`` samples of ``--config`` to a temporary
folder (one process, no Ray; not timed). Then, on the same samples, in one process:

* baseline: ``open_dataset(url).samples()`` and ``factory.sample.decode.decode_sample`` of
  every sample (all members to arrays: what any consumer of the data pays);
* report: ``make_report(url, tmp, max_samples=N)``: the single statistics pass, the
  near-duplicate search, the plots and preview grid, the card, HTML and JSON, written to
  a temporary folder.

With ``--ray``, also the whole dataset on the local engine against the Ray one (one
Ray Data task per shard on a local Ray of all the machine's cores, started before the
clock). Each runs once untimed first (imports, matplotlib's font cache), then ``--repeat`` times
timed; the best run of each is printed. Prints seconds per sample of both, the ratio
report / baseline, and where the report's time goes. Figures depend on the machine;
nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_dataset(config_path: str, folder: Path, samples: int, shard_size: int) -> None:
    """Shards, records and manifest of ``samples`` samples, without Ray, through the one
    dataset writer."""
    from factory.dataset.resume import prepare
    from factory.dataset.shards import build_shard, shard_count, shard_indices
    from factory.dataset.storage import resolve
    from factory.sample.generate import generate_members
    from factory.scene.config import load_config

    config = load_config(config_path)
    plan = prepare(resolve(str(folder)), config, samples=samples, shard_size=shard_size, mode="overwrite")
    records = {}
    for s in range(shard_count(samples, shard_size)):
        members = [generate_members(config, i, samples=samples) for i in shard_indices(s, samples, shard_size)]
        records[s] = plan.put_shard(s, build_shard([(m["__key__"], m) for m in members]))
    plan.commit(records)


def baseline(url: str, samples: int) -> float:
    from factory.dataset.reader import open_dataset
    from factory.sample.decode import decode_sample

    start = time.perf_counter()
    n = 0
    for _, _, members in open_dataset(url).samples():
        decode_sample(members)
        n += 1
        if n >= samples:
            break
    return time.perf_counter() - start


def report(url: str, samples: int | None, timings: dict | None = None, engine: str = "local") -> float:
    from factory.commands.engines import map_shards_for
    from factory.trust.report.build import make_report

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        make_report(url, out, max_samples=samples, timings=timings, map_shards=map_shards_for(engine))
        return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "quickstart.yaml"))
    ap.add_argument("--url", default=None, help="an existing dataset (default: write one of --config)")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--shard-size", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ray", action="store_true", help="also the Ray engine against the local one, whole dataset")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.url
        if url is None:
            url = str(Path(tmp) / "data")
            t0 = time.perf_counter()
            write_dataset(args.config, Path(url), args.samples, args.shard_size)
            print(f"wrote {args.samples} samples of {args.config} in {time.perf_counter() - t0:.1f} s (not timed)")
        n = args.samples
        baseline(url, 2)
        report(url, 2)  # imports, font cache
        base = min(baseline(url, n) for _ in range(args.repeat))
        runs = []
        for _ in range(args.repeat):
            timings: dict[str, float] = {}
            runs.append((report(url, n, timings), timings))
        rep, timings = min(runs, key=lambda r: r[0])
        if args.ray:
            import ray

            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
            report(url, None, engine="ray")
            engines = {e: min(report(url, None, engine=e) for _ in range(args.repeat)) for e in ("local", "ray")}

    print(
        f"workload: first {n} samples of {url}; 1 process (cores on machine: {os.cpu_count()}); best of {args.repeat}"
    )
    print(f"baseline: read + decode_sample : {base / n * 1e3:8.2f} ms/sample  ({base:.2f} s)")
    print(f"factory report                 : {rep / n * 1e3:8.2f} ms/sample  ({rep:.2f} s)")
    print(f"ratio report / baseline        : {rep / base:8.2f}")
    fixed = sum(
        v
        for k, v in timings.items()
        if k in ("plots and preview grid", "card, HTML, JSON", "writing files", "contact sheet (first sample)")
    )
    print(
        f"  per-sample part of the report: {(rep - fixed) / n * 1e3:8.2f} ms/sample "
        f"(ratio {(rep - fixed) / base:.2f}); once per report: {fixed:.2f} s"
    )
    print("where the report's time goes:")
    for name, secs in sorted(timings.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<42} {secs:7.3f} s  {secs / rep:6.1%}")
    if args.ray:
        print(f"whole dataset, local engine        : {engines['local']:7.2f} s")
        print(
            f"whole dataset, ray engine ({os.cpu_count()} CPUs) : {engines['ray']:7.2f} s  "
            f"(speedup {engines['local'] / engines['ray']:.2f}x)"
        )


if __name__ == "__main__":
    main()
