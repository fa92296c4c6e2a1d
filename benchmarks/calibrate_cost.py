"""Calibrate the endpoint's cost model on this machine: time ``generate_members`` over a
grid of configs that vary one driver at a time, fit the seconds each term of
:mod:`factory.service.cost` costs (non-negative least squares), write the model.

    .venv/bin/python benchmarks/calibrate_cost.py            # writes factory/service/cost_model.json
    .venv/bin/python benchmarks/calibrate_cost.py --out /tmp/model.json --repeats 1

Rerun it when the renderer or the physics changes: the budget of every replica is read
in these seconds. The file records the machine, the date, every grid point with its
measured and predicted seconds, and the fit's error.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from factory.sample.generate import generate_members  # noqa: E402
from factory.scene.config import parse_config  # noqa: E402
from factory.scene.shapes import ANALYTIC  # noqa: E402
from factory.service.cost import MODEL_FILE, TERMS, scenario_terms  # noqa: E402

# (width, height, frames, motion_blur_samples, substeps, objects, lights, shadow_rays,
# ao_rays, meshes): the base and one driver moved at a time, then a few together, so
# every term is seen apart. meshes 1: the objects are tori and rocks, else analytic.
GRID = [
    (32, 32, 2, 1, 2, 1, 1, 1, 0, 0), (64, 64, 2, 1, 2, 1, 1, 1, 0, 0), (128, 128, 2, 1, 2, 1, 1, 1, 0, 0),
    (64, 64, 6, 1, 2, 1, 1, 1, 0, 0), (64, 64, 2, 4, 2, 1, 1, 1, 0, 0), (64, 64, 2, 1, 2, 12, 1, 1, 0, 0),
    (64, 64, 2, 1, 2, 24, 1, 1, 0, 0), (64, 64, 2, 1, 2, 12, 4, 1, 0, 0), (64, 64, 2, 1, 2, 24, 4, 1, 0, 0),
    (32, 32, 8, 1, 32, 24, 1, 1, 0, 0), (32, 32, 8, 1, 64, 48, 1, 1, 0, 0), (96, 96, 4, 2, 4, 8, 2, 1, 0, 0),
    (32, 32, 1, 1, 1, 0, 1, 1, 0, 0), (128, 128, 4, 1, 2, 8, 1, 1, 0, 0),
    (64, 64, 2, 1, 2, 12, 1, 16, 0, 0), (64, 64, 2, 1, 2, 12, 2, 8, 16, 0), (64, 64, 2, 1, 2, 12, 1, 1, 32, 0),
    (64, 64, 2, 1, 2, 12, 1, 1, 0, 1), (64, 64, 2, 1, 2, 24, 2, 8, 8, 1), (128, 128, 2, 1, 2, 6, 1, 1, 0, 1),
    # heavier points, so that the fit holds where budgets bite
    (64, 64, 4, 8, 2, 4, 1, 1, 0, 0), (64, 64, 2, 1, 2, 64, 1, 1, 0, 0), (64, 64, 2, 1, 2, 64, 8, 1, 0, 0),
    (32, 32, 4, 1, 128, 96, 1, 1, 0, 0), (128, 128, 8, 4, 8, 16, 2, 1, 0, 0), (256, 256, 2, 1, 2, 4, 1, 1, 0, 0),
    (192, 192, 6, 2, 8, 32, 4, 4, 4, 1),
]
POINT_FIELDS = ("width", "height", "frames", "motion_blur_samples", "substeps", "objects", "lights", "shadow_rays",
                "ao_rays", "meshes")


def config_of(point: tuple) -> object:
    w, h, frames, blur, substeps, objects, lights, shadow_rays, ao_rays, meshes = point
    shape = {"dist": "choice", "values": ["torus", "rock"]} if meshes else {
        "dist": "choice", "values": list(ANALYTIC)}
    return parse_config({
        "name": "calibration", "seed": 1, "licence": "CC0-1.0",
        "render": {"width": w, "height": h, "frames": frames, "fps": 12, "substeps": substeps,
                   "motion_blur_samples": blur, "shadow_rays": shadow_rays, "ao_rays": ao_rays},
        "output": {"mp4": False},
        "scenarios": {"only": {"objects": {"count": objects, "shape": shape},
                               "lighting": {"count": lights, "size": 0.3}}},
    }, "calibration grid")


def measure(point: tuple, repeats: int) -> float:
    """Best-of-``repeats`` seconds for one sample (two indices, averaged)."""
    config = config_of(point)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for index in (0, 1):
            generate_members(config, index, samples=2)
        best = min(best, (time.perf_counter() - t0) / 2)
    return best


def fit(rows: list[dict[str, float]], seconds: list[float]) -> dict[str, float]:
    """Non-negative least squares of ``seconds`` on the terms (Lawson-Hanson's active
    set, on relative errors so that small configs count as much as big ones)."""
    names = list(TERMS)
    y = np.asarray(seconds)
    a = np.array([[r[k] for k in names] for r in rows], dtype=float) / y[:, None]
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    a /= scale
    b = np.ones(len(y))
    active = list(range(len(names)))
    while True:
        x = np.zeros(len(names))
        x[active] = np.linalg.lstsq(a[:, active], b, rcond=None)[0]
        negative = [i for i in active if x[i] < 0]
        if not negative:
            break
        active.remove(min(negative, key=lambda i: x[i]))
    return {k: float(x[i] / scale[i]) for i, k in enumerate(names)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=MODEL_FILE, help=f"model file (default {MODEL_FILE.relative_to(ROOT)})")
    p.add_argument("--repeats", type=int, default=2, help="best of this many timings per grid point")
    args = p.parse_args(argv)
    generate_members(config_of(GRID[0]), 0, samples=2)  # warm-up: imports, caches
    rows, seconds = [], []
    for point in GRID:
        rows.append(scenario_terms(config_of(point), "only"))
        seconds.append(measure(point, args.repeats))
        print(f"{point}: {seconds[-1] * 1000:8.1f} ms", flush=True)
    model = fit(rows, seconds)
    predicted = [sum(model[k] * r[k] for k in TERMS) for r in rows]
    errors = [abs(p_ / s - 1) for p_, s in zip(predicted, seconds)]
    doc = {
        "format": "factory.cost_model/1",
        "command": "benchmarks/calibrate_cost.py" + (f" --repeats {args.repeats}" if args.repeats != 2 else ""),
        "date": datetime.date.today().isoformat(),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "python": platform.python_version()},
        "seconds_per_unit": model,
        "fit": {"median_relative_error": float(np.median(errors)), "max_relative_error": float(max(errors))},
        "grid": [{"point": dict(zip(POINT_FIELDS, pt)), "seconds": round(s, 5), "predicted": round(pr, 5)}
                 for pt, s, pr in zip(GRID, seconds, predicted)],
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps({"seconds_per_unit": model, "fit": doc["fit"]}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
