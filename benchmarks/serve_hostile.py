"""The endpoint under hostile load (``benchmarks/serve.py --hostile SECONDS``).

One replica (1 CPU) with a small budget (``max_cost_s`` 8, ``time_limit_s`` 16) so the
run stays short. For ``SECONDS`` each:

1. **light alone**: 8 clients posting light requests (a 1-frame 64 x 64 quickstart clip) one
   after another; p50 / p99 latency and throughput;
2. **light under heavy**: the same 8 light clients while 8 heavy clients post the
   heaviest request the budget allows (256 objects at enough physics steps a frame to
   cost just under ``max_cost_s``); the light clients' figures against phase 1, and
   every 5xx of either (must be 0);
3. **freeing bound**: on a second application with a 1 s time limit and one lane, a
   heavy request runs into the limit (504) and a light one follows at once: the light
   answer's latency over its latency on an idle replica is how long the stopped work
   held the thread past its 504.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time

import requests

from factory.scene.config import parse_config
from factory.service.catalogue import Catalogue
from factory.service.cost import CostModel
from factory.service.request import merge

LIGHT = {"scenario": "quickstart", "overrides": {"render": {"frames": 1, "width": 64, "height": 64}}}
BUDGET = {"max_cost_s": 8.0, "time_limit_s": 16.0}


def heavy_request(budget_s: float) -> dict:
    """The dearest request under ``budget_s``: quickstart at 32 x 32 with 256 objects, the
    most frames and physics steps a frame that stay within the budget by the calibrated
    model."""
    base = Catalogue().get("quickstart").data
    crowd = {"objects": {"count": 256}}
    model = CostModel.load()
    best = None
    for frames in range(2, 65, 2):
        for substeps in (64, 128, 256):
            body = {
                "render": {"frames": frames, "width": 32, "height": 32, "substeps": substeps},
                "scenarios": dict.fromkeys(base["scenarios"], crowd),
            }
            seconds = model.request(parse_config(merge(base, body)), 1)[0]
            if seconds <= 0.95 * budget_s and (best is None or seconds > best[1]):
                best = (body, seconds)
    return {"scenario": base["name"], "overrides": best[0], "_cost": best[1]}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _clients(url: str, body: dict, n: int, until: float, out: dict, start: int) -> list[threading.Thread]:
    def loop(k: int) -> None:
        session, i = requests.Session(), start + k * 100_000
        while time.monotonic() < until:
            t0 = time.perf_counter()
            r = session.post(f"{url}/v1/samples", data=json.dumps({**body, "start": i}), timeout=120)
            _ = r.content
            with out["lock"]:
                out["codes"].append(r.status_code)
                if r.status_code == 200:
                    out["times"].append(time.perf_counter() - t0)
            i += 1

    threads = [threading.Thread(target=loop, args=(k,), daemon=True) for k in range(n)]
    for th in threads:
        th.start()
    return threads


def _phase(url: str, seconds: float, heavy: dict | None) -> tuple[dict, dict]:
    light_out = {"lock": threading.Lock(), "codes": [], "times": []}
    heavy_out = {"lock": threading.Lock(), "codes": [], "times": []}
    until = time.monotonic() + seconds
    threads = _clients(url, LIGHT, 8, until, light_out, 0)
    if heavy is not None:
        threads += _clients(url, {k: v for k, v in heavy.items() if k != "_cost"}, 8, until, heavy_out, 50_000)
    for th in threads:
        th.join()
    return light_out, heavy_out


def _freeing_bound(url: str, heavy: dict, repeats: int = 5) -> tuple[float, list[float]]:
    session = requests.Session()
    idle = []
    for i in range(repeats):
        t0 = time.perf_counter()
        session.post(
            f"{url}/limited/v1/samples", data=json.dumps({**LIGHT, "start": 900 + i}), timeout=60
        ).raise_for_status()
        idle.append(time.perf_counter() - t0)
    held = []
    body = {k: v for k, v in heavy.items() if k != "_cost"}
    for i in range(repeats):
        r = session.post(f"{url}/limited/v1/samples", data=json.dumps({**body, "start": 700 + i}), timeout=60)
        assert r.status_code == 504, r.status_code
        t0 = time.perf_counter()
        r = session.post(f"{url}/limited/v1/samples", data=json.dumps({**LIGHT, "start": 800 + i}), timeout=60)
        held.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
    return statistics.median(idle), held


def run_hostile(seconds: float, port: int) -> None:
    import ray
    from ray import serve

    from factory.service.app import build_app

    os.environ.pop("RAY_ADDRESS", None)
    ray.init(address="local", include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    one = {"min_replicas": 1, "max_replicas": 1, "max_count": 64, "max_ongoing_requests": 64}
    serve.run(build_app({**one, **BUDGET}), name="main", route_prefix="/")
    serve.run(
        build_app({**one, **BUDGET, "time_limit_s": 1.0, "light_cost_s": 1000.0}),
        name="limited",
        route_prefix="/limited",
    )
    url = f"http://127.0.0.1:{port}"
    heavy = heavy_request(BUDGET["max_cost_s"])
    print(
        f"one replica x 1 CPU ({os.cpu_count()} cores here); budget {BUDGET}; heavy request: "
        f"{heavy['overrides']['render']} with 256 objects, estimated {heavy['_cost']:.1f} s; light: {LIGHT}"
    )
    _phase(url, 3, None)  # warm
    alone, _ = _phase(url, seconds, None)
    mixed, heavy_out = _phase(url, seconds, heavy)
    print(f"\n{'phase':<24} {'light p50 ms':>12} {'light p99 ms':>12} {'light req/s':>11} {'5xx':>5}")
    for name, out in (("light alone", alone), ("light + 8 heavy clients", mixed)):
        t = out["times"]
        print(
            f"{name:<24} {statistics.median(t) * 1000:>12.1f} {_percentile(t, 99) * 1000:>12.1f} "
            f"{len(t) / seconds:>11.2f} {sum(c >= 500 for c in out['codes']):>5}"
        )
    codes = heavy_out["codes"]
    print(
        f"heavy clients: {len(codes)} answers ({', '.join(f'{c}: {codes.count(c)}' for c in sorted(set(codes)))}), "
        f"5xx {sum(c >= 500 and c != 504 for c in codes)} (504 is the time limit, a client's answer)"
    )
    a, m = alone["times"], mixed["times"]
    print(
        f"ratios under heavy load: p50 x{statistics.median(m) / statistics.median(a):.2f}, "
        f"throughput x{len(m) / max(1, len(a)):.2f}"
    )
    # Soft shadows make every launch heavy (the Warp renderer draws plain 256 x 256 x 48
    # clips inside the 1 s limit): CPU launches shrink to keep their rays, and the
    # sample runs into the limit between two of them.
    render_heavy = {
        "scenario": "quickstart",
        "overrides": {
            "render": {"width": 256, "height": 256, "frames": 48, "shadow_rays": 16},
            "scenarios": {"nominal": {"lighting": {"size": 0.5}}},
        },
    }
    for name, body in (("physics-heavy", heavy), ("render-heavy (256 x 256 x 48, 16 shadow rays)", render_heavy)):
        idle, held = _freeing_bound(url, body)
        print(
            f"\nfreeing bound, {name}, 1 s limit: a light request right after the heavy one's 504 took "
            f"{', '.join(f'{h * 1000:.0f}' for h in held)} ms; on an idle replica {idle * 1000:.0f} ms; "
            f"held past the 504 at most {max(held) - idle:.3f} s"
        )
    serve.shutdown()
    ray.shutdown()
