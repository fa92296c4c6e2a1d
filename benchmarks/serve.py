"""HTTP overhead of the Serve endpoint: latency and throughput against in-process calls;
with ``--hostile``, light clients' latency under heavy clients, and how soon a timed-out
request frees its replica.

    .venv/bin/python benchmarks/serve.py [--replicas 1] [--max-batch-size 4]
    .venv/bin/python benchmarks/serve.py --hostile 30      # seconds per phase

Deploys the app (``build_app``) on an embedded Ray with a fixed number of replicas
(1 CPU each), then for a 1-frame and a 24-frame quickstart clip (128 x 128, MP4
included, as the batch job writes it) measures:

* in process: ``generate_sample`` + encode, one sample after another: the baseline;
* over HTTP: 1, 8 and 32 concurrent clients, each posting ``count=1`` requests for
  distinct indices and reading the whole tar answer.

Prints per level p50 / p99 latency, throughput, and the ratios against the baseline:
latency ratio (HTTP p50 / in-process p50) and throughput ratio (HTTP / in-process).
With one replica the throughput ratio is the share of one core's sample rate that
survives HTTP, Serve's proxy and routing; the clients run on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402

from factory.sample.generate import generate_members  # noqa: E402
from factory.scene.config import parse_config  # noqa: E402
from factory.service.catalogue import Catalogue  # noqa: E402
from factory.service.request import merge  # noqa: E402

CLIENTS = (1, 8, 32)
WORKLOADS = {  # name: (overrides, requests per client level)
    "1-frame": ({"render": {"frames": 1}}, {1: 40, 8: 80, 32: 128}),
    "24-frame": ({"render": {"frames": 24}}, {1: 8, 8: 16, 32: 32}),
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def in_process(config, indices: list[int]) -> list[float]:
    times = []
    for i in indices:
        start = time.perf_counter()
        generate_members(config, i)
        times.append(time.perf_counter() - start)
    return times


def over_http(url: str, overrides: dict, indices: list[int], clients: int) -> tuple[list[float], float]:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=clients, pool_maxsize=clients)
    session.mount("http://", adapter)

    def one(i: int) -> float:
        start = time.perf_counter()
        r = session.post(f"{url}/v1/samples", data=json.dumps({"overrides": overrides, "start": i}), timeout=600)
        r.raise_for_status()
        _ = r.content
        return time.perf_counter() - start

    wall = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = list(pool.map(one, indices))
    return times, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--hostile",
        type=float,
        default=None,
        metavar="SECONDS",
        help="run the hostile-load comparison instead, each phase this long",
    )
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--max-batch-size", type=int, default=1)
    parser.add_argument("--max-ongoing-requests", type=int, default=64)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if args.hostile is not None:
        from serve_hostile import run_hostile  # benchmarks/serve_hostile.py

        return run_hostile(args.hostile, args.port)

    import ray
    from ray import serve

    from factory.service.app import build_app

    quickstart = Catalogue().get("quickstart").data
    os.environ.pop("RAY_ADDRESS", None)
    ray.init(address="local", include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    serve.run(
        build_app(
            {
                "min_replicas": args.replicas,
                "max_replicas": args.replicas,
                "max_batch_size": args.max_batch_size,
                "max_count": 64,
                "max_ongoing_requests": args.max_ongoing_requests,
            }
        ),
        name="bench",
        route_prefix="/",
    )
    url = f"http://127.0.0.1:{args.port}"
    print(
        f"Serve: {args.replicas} replica(s) x 1 CPU, max_batch_size {args.max_batch_size}, "
        f"max_ongoing_requests {args.max_ongoing_requests}; "
        f"{os.cpu_count()} cores on this machine"
    )
    next_index = 10_000  # every request below asks for a sample nobody asked for before
    for name in args.workloads:
        overrides, counts = WORKLOADS[name]
        config = parse_config(merge(quickstart, overrides))
        over_http(url, overrides, [0, 1, 2], 1)  # warm: imports, first render, connections
        in_process(config, [0, 1])
        base = in_process(config, list(range(next_index, next_index + counts[1])))
        next_index += counts[1]
        base_p50, base_rate = statistics.median(base), len(base) / sum(base)
        print(
            f"\n{name} sample (128x128, {config.render.frames} frames, MP4): in process p50 "
            f"{base_p50 * 1000:.1f} ms, p99 {percentile(base, 99) * 1000:.1f} ms, {base_rate:.2f} samples/s"
        )
        print(
            f"  {'clients':>7}  {'p50 ms':>8}  {'p99 ms':>8}  {'samples/s':>9}  {'p50 / in-proc':>13}  "
            f"{'rate / in-proc':>14}"
        )
        for clients in CLIENTS:
            n = counts[clients]
            times, wall = over_http(url, overrides, list(range(next_index, next_index + n)), clients)
            next_index += n
            p50, p99, rate = statistics.median(times), percentile(times, 99), n / wall
            print(
                f"  {clients:>7}  {p50 * 1000:>8.1f}  {p99 * 1000:>8.1f}  {rate:>9.2f}  {p50 / base_p50:>13.2f}  "
                f"{rate / base_rate:>14.2f}"
            )
    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    main()
