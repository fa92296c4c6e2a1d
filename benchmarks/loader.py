"""Samples per second into a PyTorch DataLoader: from shards (``ShardDataset``) and from
the endpoint (``EndpointDataset`` against a local ``factory serve``), against reading
the same shards with plain webdataset in the same run.

Arms, each over the whole dataset (the endpoint: as many samples, made on demand):

* ``webdataset, raw``: ``wds.WebDataset(urls)``, members as bytes (the tar reading alone);
* ``webdataset + decode``: the same, each sample through ``decode_sample`` (every
  modality to arrays: the work any loader of these samples does);
* ``ShardDataset, 0 / 2 workers``: factory's dataset through a DataLoader (batch 8,
  ``collate``): decoded, turned into tensors, batched; and with ``modalities=["rgb",
  "depth"]`` (what a depth model reads: the other members are not decoded);
* ``EndpointDataset, 2 workers``: the same samples asked of the endpoint, which renders
  them as they are asked for.

    python benchmarks/loader.py [--samples 256] [--shard-size 32] [--no-endpoint]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(name: str, run, samples: int, baseline: float | None) -> float:
    """Run ``run`` (returns the samples it read), print samples/s and the ratio."""
    t0 = time.perf_counter()
    n = run()
    rate = n / (time.perf_counter() - t0)
    assert n == samples, f"{name}: {n} samples, expected {samples}"
    ratio = f"  x{rate / baseline:.2f} of plain webdataset + decode" if baseline else ""
    print(f"{name:34s} {rate:8.1f} samples/s{ratio}", flush=True)
    return rate


def count_loader(dataset, workers: int) -> int:
    from torch.utils.data import DataLoader

    from factory.client.torch_data import collate

    return sum(len(b["index"]) for b in DataLoader(dataset, batch_size=8, num_workers=workers, collate_fn=collate))


def start_serve(port: int) -> subprocess.Popen:
    from factory.client import Client

    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "FACTORY_SERVE_TOKEN")}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "factory"), "serve", "--port", str(port), "--max-replicas", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(300):
        try:
            Client(f"http://127.0.0.1:{port}", retries=0, timeout=2).health()
            return proc
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(1.0)
    raise SystemExit("factory serve did not come up")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "quickstart.yaml"))
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--shard-size", type=int, default=32)
    ap.add_argument("--port", type=int, default=28123)
    ap.add_argument("--no-endpoint", action="store_true")
    args = ap.parse_args()

    import ray
    import webdataset as wds

    from factory.client.torch_data import EndpointDataset, ShardDataset
    from factory.onray.pipeline import generate_dataset
    from factory.sample.decode import decode_sample
    from factory.scene.config import load_config

    config = load_config(args.config)
    tmp = tempfile.TemporaryDirectory(prefix="factory-bench-loader-")
    out = os.path.join(tmp.name, "dataset")
    os.environ.pop("RAY_ADDRESS", None)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    manifest = generate_dataset(
        config, out, samples=args.samples, shard_size=args.shard_size, progress=False, log=lambda s: None
    ).manifest
    ray.shutdown()
    urls = [os.path.join(out, r["name"]) for r in manifest["shards"]]
    print(
        f"{args.samples} samples of {Path(args.config).name} ({config.render.width}x{config.render.height}, "
        f"{config.render.frames} frames) in {len(urls)} shards, {manifest['bytes'] / 1e6:.1f} MB; "
        f"1 process + DataLoader workers (cores on machine: {os.cpu_count()})"
    )
    n = args.samples
    timed("webdataset, raw", lambda: sum(1 for _ in wds.WebDataset(urls, shardshuffle=False)), n, None)
    base = timed(
        "webdataset + decode",
        lambda: sum(1 for s in wds.WebDataset(urls, shardshuffle=False) if decode_sample(s)),
        n,
        None,
    )
    timed("ShardDataset, 0 workers", lambda: count_loader(ShardDataset(out, rank=0, world_size=1), 0), n, base)
    timed("ShardDataset, 2 workers", lambda: count_loader(ShardDataset(out, rank=0, world_size=1), 2), n, base)
    timed(
        "ShardDataset rgb+depth, 2 workers",
        lambda: count_loader(ShardDataset(out, modalities=["rgb", "depth"], rank=0, world_size=1), 2),
        n,
        base,
    )
    if not args.no_endpoint:
        proc = start_serve(args.port)
        try:
            url = f"http://127.0.0.1:{args.port}"
            samples = manifest["samples_written"]
            count_loader(EndpointDataset(url, count=2, config=config.resolved(), samples=samples), 0)  # warm
            timed(
                "EndpointDataset, 2 workers",
                lambda: count_loader(
                    EndpointDataset(url, count=n, config=config.resolved(), samples=samples, rank=0, world_size=1), 2
                ),
                n,
                base,
            )
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)


if __name__ == "__main__":
    main()
