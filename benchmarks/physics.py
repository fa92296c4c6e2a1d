"""The physics' share of a clip's time, against rendering it, in one run.

Workloads: the render benchmark's standard one (10 objects, 256x256, 24 frames at 24
fps, 4 substeps) and a 40-object clutter scene (the same clip with 40 objects dropped
into a 1 m disc, so they pile up and stay in contact). For each: seconds per clip of
physics and of rendering (the launches), from ``generate_samples``' own timings, and
physics / render. Physics counts "scene sampling" in with ``simulate``: the MuJoCo model
is built there, for the spawn-overlap check, and handed on; the scene's own draw is
counted too (under 1% of render), so the share is an upper bound.

    python benchmarks/physics.py [--samples 4]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from render import workload  # noqa: E402  (the render benchmark's standard workload)

from factory.sample.generate import generate_samples  # noqa: E402
from factory.scene.config import parse_config  # noqa: E402


def clutter() -> dict:
    data = workload("analytic", 256, 24)
    objects = data["scenarios"]["standard"]["objects"]
    objects.update(
        count=40,
        spawn_radius=1.0,
        size={"dist": "uniform", "low": 0.08, "high": 0.18},
        drop_height={"dist": "uniform", "low": 0.0, "high": 1.0},
    )
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=4)
    args = ap.parse_args()
    print(f"1 process (cores on machine: {os.cpu_count()}); {args.samples} clips per workload")
    for name, data in (("standard (10 objects)", workload("analytic", 256, 24)), ("clutter (40 objects)", clutter())):
        cfg = parse_config(data)
        generate_samples(cfg, [10_000])  # imports, kernels
        timings: dict[str, float] = {}
        generate_samples(cfg, range(args.samples), timings)
        physics = (timings["physics"] + timings["scene sampling"]) / args.samples
        render = timings["render"] / args.samples
        print(
            f"{name:24s} physics {1e3 * physics:7.1f} ms/clip, render {1e3 * render:7.1f} ms/clip, "
            f"physics / render {physics / render:6.1%}"
        )


if __name__ == "__main__":
    main()
