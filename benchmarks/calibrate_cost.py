"""Calibrate the endpoint's cost model on this machine: time ``generate_members`` over a
grid of configs that vary one driver at a time, fit the seconds each term of
:mod:`factory.service.cost` costs (non-negative least squares), write the model. The
grid and the fit live in :mod:`factory.service.calibration` (the tests check the
shipped model against them); the timing is here.

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
from factory.service.calibration import GRID, POINT_FIELDS, config_of, fit  # noqa: E402
from factory.service.cost import MODEL_FILE, TERMS, scenario_terms  # noqa: E402


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
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "seconds_per_unit": model,
        "fit": {"median_relative_error": float(np.median(errors)), "max_relative_error": float(max(errors))},
        "grid": [
            {"point": dict(zip(POINT_FIELDS, pt)), "seconds": round(s, 5), "predicted": round(pr, 5)}
            for pt, s, pr in zip(GRID, seconds, predicted)
        ],
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps({"seconds_per_unit": model, "fit": doc["fit"]}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
