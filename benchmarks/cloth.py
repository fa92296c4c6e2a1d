"""Cloth simulation's CPU time per clip (issue 27), and what cloth does to the rigid
bodies' bounce.

A clip is 24 frames at 12 fps, 4 physics substeps per frame (integrator steps of
1.89 ms). A square cloth of 16 x 16, 32 x 32 and 48 x 48 vertices (0.8 m, 0.2 kg/m^2,
Young 1e5 Pa, 1 mm) is dropped from 0.6 m onto the floor, alone and onto 4 balls
(free bodies, r = 8 cm); the same 4 balls without cloth are the rigid baseline, timed
in the same run. Each time is the best of ``--repeat`` runs of ``simulate`` (model
building included).

Restitution: a 5 cm ball dropped 0.6 m, ball and floor of restitution 0.35, 2 ms
steps, in a scene without cloth (RK4 / semi-implicit Euler) and with a small cloth far
from it (which makes the scene step with MuJoCo's discrete integrator, calibrated
apart): the speed it comes back up through the floor's level over sqrt(2 g h).

    taskset -c 0 .venv/bin/python benchmarks/cloth.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factory.physics.dynamics import simulate  # noqa: E402
from factory.scene.deformables import Cloth  # noqa: E402
from factory.scene.types import Camera, Light, Material, Scene, SceneObject  # noqa: E402

MAT = Material((0.6, 0.5, 0.4), (0.3, 0.3, 0.3), "checker", 3.0, 0.5, 0.5)


def _scene(objects, cloths, frames: int = 24) -> Scene:
    K = np.array([[110.0, 0, 48], [0, 110.0, 36], [0, 0, 1]])
    camera = Camera(96, 72, K, "static", (0.0, 0.0, 0.4), 4.0, 0.45, 0.3, 0.0, 0.0, 0.0, 0.0)
    light = Light("directional", (0.3, -0.4, 0.866), 2.0)
    return Scene(
        tuple(objects), camera, (light,), 0.3, (0.5, 0.6, 0.7), MAT, 0.5, 0.5, None, frames, 12.0, 4, {},
        cloths=tuple(cloths),
    )  # fmt: skip


def _ball(oid: int, r: float, centre, restitution: float = 0.5) -> SceneObject:
    return SceneObject(
        oid, "sphere", "sphere", (r, r, r), np.eye(3), tuple(centre), 0.0, (0.0, 0.0, 0.0), 0.0, 0.5, restitution, 0.5,
        MAT,
    )  # fmt: skip


def _best(scene: Scene, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        simulate(scene)
        best = min(best, time.perf_counter() - t)
    return best


def _bounce(with_cloth: bool) -> float:
    """Restitution of a 5 cm ball dropped 0.6 m (see the module docstring)."""
    r, h = 0.05, 0.6
    cloths = [Cloth(9, 4, 4, (0.1, 0.1), (2.0, 2.0, 0.01))] if with_cloth else []
    scene = _scene([_ball(1, r, (0.0, 0.0, h + r), restitution=0.35)], cloths, frames=50)
    m = simulate(replace(scene, fps=50.0, substeps=10, floor_restitution=0.35))  # a state every 2 ms step
    z, vz = m.positions[:, 0, 2] - r, m.velocities[:, 0, 2]
    up = np.flatnonzero((np.arange(len(z)) > np.argmin(z)) & (z > 0) & (vz > 0))[0]  # first state back above
    v_out = np.sqrt(vz[up] ** 2 + 2 * 9.81 * z[up])  # by energy, at the floor's level
    return float(v_out / np.sqrt(2 * 9.81 * h))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    balls = [_ball(i + 1, 0.08, (0.2 * (i % 2) - 0.1, 0.2 * (i // 2) - 0.1, 0.08)) for i in range(4)]
    rigid = _best(_scene(balls, []), args.repeat)
    print(f"rigid, 4 balls: {rigid:.3f} s per clip")
    print("vertices  cloth alone (s)  cloth + 4 balls (s)  ratio to rigid")
    for n in (16, 32, 48):
        cloth = Cloth(10, n, n, (0.8, 0.8), (0.0, 0.0, 0.6))
        alone = _best(_scene([], [cloth]), args.repeat)
        both = _best(_scene(balls, [cloth]), args.repeat)
        print(f"{n}x{n:<6} {alone:15.3f}  {both:19.3f}  {both / rigid:14.1f}")
    print(f"restitution 0.35: rigid-only stepping {_bounce(False):.3f}, with cloth (discrete) {_bounce(True):.3f}")


if __name__ == "__main__":
    main()
