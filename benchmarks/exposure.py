"""How well exposed the shipped configs' frames are: per config, over ``--samples``
samples, the share of each frame's pixels clipped (255 in some channel) or black (0 in
every channel), as the mean over frames, the 95th-percentile frame and the worst frame.
Issue 25 (looks) measures its exposure and tone curve against these figures.

    .venv/bin/python benchmarks/exposure.py --samples 100 [--configs configs/quickstart.yaml,...]
        [--checkout PATH] [--workers N] [--seconds S]

Samples are generated in ``--workers`` processes (default: the cores this process may
run on; no Ray); only the RGB frames are kept. ``--checkout`` measures another commit's
``factory`` package with its own ``configs/`` (a worktree of it, e.g. the code before
issue 25); ``--seconds`` stops drawing a config's samples once that much wall time has
gone on it (the table says how many samples each config got).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _shares(job: tuple[str, int, int]) -> np.ndarray:
    """(clipped, black) share of every frame of sample ``index``, (T, 2)."""
    from factory.sample.generate import generate_sample
    from factory.scene.config import load_config

    path, index, samples = job
    rgb = generate_sample(load_config(path), index, samples=samples).frames.rgb  # (T, H, W, 3) uint8
    clipped = (rgb == 255).any(-1).mean((1, 2))
    black = (rgb == 0).all(-1).mean((1, 2))
    return np.stack([clipped, black], 1)


def _config_frames(pool, path: str, samples: int, workers: int, seconds: float) -> tuple[np.ndarray, int]:
    """Every frame's (clipped, black) shares, (frames, 2), and the samples drawn: indices
    0, 1, ... in chunks of ``workers`` until ``samples`` or ``seconds`` run out."""
    t0, done, parts = time.perf_counter(), 0, []
    while done < samples and time.perf_counter() - t0 < seconds:
        chunk = range(done, min(samples, done + workers))
        parts.extend(pool.map(_shares, [(path, i, samples) for i in chunk]))
        done = chunk.stop
    return np.concatenate(parts), done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--configs", default="", help="comma-separated, relative to the checkout (default: configs/*.yaml)")
    ap.add_argument("--checkout", default=str(ROOT), help="the repository whose factory package and configs to use")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--seconds", type=float, default=float("inf"), help="wall time per config, then stop drawing")
    args = ap.parse_args()
    checkout = Path(args.checkout).resolve()
    sys.path.insert(0, str(checkout))  # the workers fork after this: they import the same factory
    configs = (
        args.configs.split(",")
        if args.configs
        else [str(p.relative_to(checkout)) for p in sorted(checkout.glob("configs/*.yaml"))]
    )
    print(f"{checkout}: up to {args.samples} samples per config, {args.workers} workers; share of a frame's pixels")
    print("| config | samples | frames | clipped: mean | p95 frame | worst | black: mean | p95 frame | worst | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with ProcessPoolExecutor(args.workers) as pool:
        for path in configs:
            t0 = time.perf_counter()
            frames, n = _config_frames(pool, str(checkout / path), args.samples, args.workers, args.seconds)
            cells = [f"{100 * f(frames[:, k]):.1f}%" for k in (0, 1) for f in (np.mean, _p95, np.max)]
            took = time.perf_counter() - t0
            print(f"| {Path(path).stem} | {n} | {len(frames)} | " + " | ".join(cells) + f" | {took:.0f} |", flush=True)


def _p95(x: np.ndarray) -> float:
    return float(np.quantile(x, 0.95))


if __name__ == "__main__":
    main()
