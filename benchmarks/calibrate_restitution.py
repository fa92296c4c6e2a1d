"""Measure MuJoCo's bounce against the contact damping ratio: the table behind
:func:`factory.physics.model.damping_ratio`.

A 5 cm ball is dropped 0.3, 0.6 and 0.9 m onto the floor, both surfaces given one
damping ratio (``solref = (TIMECONST, ratio)``). Its restitution is the speed with which
its lowest point comes back up through the floor's level (from the first state above
it, by energy: the contact is soft and lets the ball sink, then rise through that
depth with no force) over the analytic impact speed sqrt(2 g h), averaged over the
three heights. Contacts are integrated with MuJoCo's semi-implicit Euler (see
:mod:`factory.physics.dynamics`), whose loss depends on the step: one row per
integrator step. It also prints the deepest the ball sank.

    .venv/bin/python benchmarks/calibrate_restitution.py [--timeconst 0.02] [--discrete]

``--discrete``: the table of a scene with cloth, which steps every step with MuJoCo's
``discrete`` integrator and CG solver (:mod:`factory.physics.cloth`); a 4 x 4 cloth
lies 3 m away from the ball to make it one (``_RESTITUTION_DISCRETE``).

Rerun it when MuJoCo, TIMECONST or the integrator changes and paste the printed
arrays into factory/physics/model.py.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factory.physics.dynamics import simulate  # noqa: E402
from factory.physics.model import _RATIO, _STEPS, TIMECONST, build  # noqa: E402
from factory.sample.scenes import sample_scene  # noqa: E402
from factory.scene.config import parse_config  # noqa: E402
from factory.scene.deformables import Cloth  # noqa: E402

G = 9.81
HEIGHTS = (0.3, 0.6, 0.9)
RADIUS = 0.05


def bounce(step: float, ratio: float, height: float, timeconst: float, discrete: bool = False) -> tuple[float, float]:
    """v_out / v_in of the ball dropped ``height`` m, integrated at ``step`` seconds,
    and the deepest its lowest point went below the floor (m)."""
    fps = 1.0 / (10 * step)  # 10 substeps of one integrator step each: every step recorded
    config = parse_config(
        {
            "seed": 1,
            "render": {"width": 8, "height": 8, "frames": int(1.5 * fps), "fps": fps, "substeps": 10},
            "scenarios": {
                "s": {
                    "objects": {
                        "count": 1,
                        "shape": "sphere",
                        "size": RADIUS,
                        "spawn_radius": 0.0,
                        "drop_height": height,
                        "speed": 0.0,
                    },
                    "camera": {"distance": 8.0},
                }
            },
        }
    )
    scene = sample_scene(config, "s", 0)
    if discrete:
        scene = replace(scene, cloths=(Cloth(99, 4, 4, (0.1, 0.1), (3.0, 3.0, 0.01)),))
    built = build(scene)
    assert abs(built.model.opt.timestep - step) < 1e-12
    built.model.geom_solref[:, 0] = timeconst
    built.model.geom_solref[:, 1] = ratio
    built.model.flex_solref[:, 0] = timeconst  # the far cloth's (it touches only the floor)
    built.model.flex_solref[:, 1] = ratio
    m = simulate(scene, built=built)
    z, vz = m.positions[:, 0, 2] - RADIUS, m.velocities[:, 0, 2]  # the ball's lowest point
    hit = int(np.argmax(np.diff(np.sign(vz)) > 0))  # falling -> rising
    up = hit + int(np.argmax(z[hit:] >= 0))  # the first state back above the floor
    v_out = np.sqrt(max(vz[up] ** 2 + 2 * G * z[up], 0.0))  # out of contact from there: energy
    return float(v_out / np.sqrt(2 * G * height)), -float(z.min())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeconst", type=float, default=TIMECONST, help="contact time constant (s) to measure")
    ap.add_argument("--discrete", action="store_true", help="the table of scenes with cloth (discrete integrator)")
    args = ap.parse_args()
    print("damping ratios:", ", ".join(f"{r:g}" for r in _RATIO))
    rows = []
    for step in _STEPS:
        runs = [[bounce(step, r, h, args.timeconst, args.discrete) for h in HEIGHTS] for r in _RATIO]
        row = [float(np.mean([e for e, _ in run])) for run in runs]
        depth = max(d for run in runs for _, d in run)
        rows.append(row)
        print(
            f"step {1e3 * step:.2f} ms: restitution",
            ", ".join(f"{e:.3f}" for e in row),
            f"(deepest {1e3 * depth:.1f} mm)",
        )
    print(
        "_RESTITUTION = np.array(["
        + ",\n    ".join("[" + ", ".join(f"{e:.3f}" for e in row) + "]" for row in rows)
        + "])"
    )


if __name__ == "__main__":
    main()
