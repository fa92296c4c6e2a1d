"""How well exposed the shipped configs' frames are: per config, over ``--samples``
samples, the share of each frame's pixels clipped (255 in some channel) or black (0 in
every channel), as the mean over frames, the 95th-percentile frame and the worst frame.
Issue 25 (looks) measures its exposure and tone curve against these figures.

    .venv/bin/python benchmarks/exposure.py --samples 100 [--configs configs/quickstart.yaml,...]

Samples are generated in one process per core (no Ray); only the RGB frames are kept.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _shares(job: tuple[str, int, int]) -> np.ndarray:
    """(clipped, black) share of every frame of sample ``index``, (T, 2)."""
    from factory.sample.generate import generate_sample
    from factory.scene.config import load_config

    path, index, samples = job
    rgb = generate_sample(load_config(path), index, samples=samples).frames.rgb  # (T, H, W, 3) uint8
    clipped = (rgb == 255).any(-1).mean((1, 2))
    black = (rgb == 0).all(-1).mean((1, 2))
    return np.stack([clipped, black], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument(
        "--configs", default=",".join(str(p.relative_to(ROOT)) for p in sorted(ROOT.glob("configs/*.yaml")))
    )
    args = ap.parse_args()
    print(f"{args.samples} samples per config; share of a frame's pixels")
    print("| config | frames | clipped: mean | p95 frame | worst | black: mean | p95 frame | worst |")
    print("|---|---|---|---|---|---|---|---|")
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        for path in args.configs.split(","):
            jobs = [(str(ROOT / path), i, args.samples) for i in range(args.samples)]
            frames = np.concatenate(list(pool.map(_shares, jobs)))
            cells = [f"{100 * f(frames[:, k]):.1f}%" for k in (0, 1) for f in (np.mean, _p95, np.max)]
            print(f"| {Path(path).stem} | {len(frames)} | " + " | ".join(cells) + " |")


def _p95(x: np.ndarray) -> float:
    return float(np.quantile(x, 0.95))


if __name__ == "__main__":
    main()
