"""The particle liquid's CPU time per clip (issue 27): simulation and surface.

A clip is 24 frames at 12 fps. The scene is a dam break: a 0.2 x 0.2 x 0.4 m column
of water (16 litres) released at one end of a 0.6 x 0.2 m tank (its walls the run's
bounds), on a lattice of n x n x 2n particles (n = 8, 13, 20: 1,024, 4,394 and 16,000
particles; spacing 0.2 / n). Substeps per frame from the CFL rule
(``cfl_substeps``: at most 0.4 spacing a substep at sqrt(2 g H) = 2.8 m/s), 4 PBF
iterations. Each figure is the best of ``--repeat`` runs (kernels compiled before).
The surface (field on a spacing / 2 grid and marching cubes, with vertex velocities)
is timed on every recorded state (25) of the clip. The rigid baseline is the same
clip's rigid physics for one object (a ball dropped in an empty room: the liquid is
one object), timed in the same run.

    taskset -c 0 .venv/bin/python benchmarks/liquid.py [--repeat 1] [--sizes 8 13 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factory.physics.dynamics import simulate  # noqa: E402
from factory.physics.liquid import cfl_substeps, simulate_liquid  # noqa: E402
from factory.physics.liquid_surface import liquid_surface  # noqa: E402
from factory.scene.liquids import Liquid  # noqa: E402
from factory.scene.types import Camera, Light, Material, Scene, SceneObject  # noqa: E402

MAT = Material((0.6, 0.5, 0.4), (0.3, 0.3, 0.3), "checker", 3.0, 0.5, 0.5)
FRAMES, FPS, TANK = 24, 12.0, ((0.0, 0.0, 0.0), (0.6, 0.2, 1.0))


def _rigid_seconds(repeat: int) -> float:
    """Best time of the rigid path's simulate for one ball, 24 frames at 12 fps."""
    K = np.array([[110.0, 0, 48], [0, 110.0, 36], [0, 0, 1]])
    camera = Camera(96, 72, K, "static", (0.0, 0.0, 0.4), 4.0, 0.45, 0.3, 0.0, 0.0, 0.0, 0.0)
    ball = SceneObject(
        1, "sphere", "sphere", (0.1, 0.1, 0.1), np.eye(3), (0.0, 0.0, 0.5), 0.0, (0.0, 0.0, 0.0), 0.0, 0.5, 0.5, 0.5,
        MAT,
    )  # fmt: skip
    light = Light("directional", (0.3, -0.4, 0.866), 2.0)
    scene = Scene((ball,), camera, (light,), 0.3, (0.5, 0.6, 0.7), MAT, 0.5, 0.5, None, FRAMES, FPS, 4, {})
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        simulate(scene)
        best = min(best, time.perf_counter() - t)
    return best


def _liquid(n: int, repeat: int) -> dict:
    d = 0.2 / n
    liquid = Liquid(1, ((0.0, 0.0, 0.0), (0.2, 0.2, 0.4)), spacing=d)
    substeps = cfl_substeps(d, FPS, np.sqrt(2 * 9.81 * 0.4))
    simulate_liquid(liquid, frames=1, fps=FPS, substeps=1, bounds=TANK)  # compile
    sim = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        rec = simulate_liquid(liquid, frames=FRAMES, fps=FPS, substeps=substeps, iterations=4, bounds=TANK)
        sim = min(sim, time.perf_counter() - t)
    t = time.perf_counter()
    faces = [len(liquid_surface(x, v, d)[1]) for x, v in zip(rec.positions, rec.velocities, strict=True)]
    surface = time.perf_counter() - t
    return {
        "particles": liquid.particle_count,
        "substeps": substeps,
        "sim": sim,
        "surface": surface,
        "faces": int(np.mean(faces)),
        "mb": (rec.positions.nbytes + rec.velocities.nbytes) / 1e6,
        "volume": float(np.abs(rec.volume / (liquid.particle_count * d**3) - 1).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 13, 20])
    args = parser.parse_args()
    rigid = _rigid_seconds(max(args.repeat, 2))
    print(f"rigid, 1 ball: {rigid:.3f} s per clip")
    print(
        "particles  substeps/frame  simulation (s)  surface, 25 states (s)  triangles  record (MB)  x rigid  max volume error"
    )
    for n in args.sizes:
        r = _liquid(n, args.repeat)
        print(
            f"{r['particles']:9d}  {r['substeps']:14d}  {r['sim']:14.2f}  {r['surface']:22.2f}  {r['faces']:9d}"
            f"  {r['mb']:11.1f}  {(r['sim'] + r['surface']) / rigid:7.0f}  {100 * r['volume']:15.2f}%"
        )


if __name__ == "__main__":
    main()
