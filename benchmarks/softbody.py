"""Soft-body simulation's CPU time per clip (issue 27: the squishy ball, the cushion).

A clip is 24 frames at 12 fps, 4 physics substeps per frame (1,056 integrator steps
of 1.89 ms). A foam ball (r = 8 cm) and a cushion (40 x 40 x 16 cm), Young 5e4 Pa,
Poisson 0.45, 200 kg/m^3, at 4, 6 and 8 vertices along the longest side, are dropped
from 0.5 m onto the floor; one rigid ball (r = 8 cm) dropped the same way is the rigid
baseline of the same object count, timed in the same run. Each time is the best of
``--repeat`` runs of ``simulate`` (model building included), in CPU seconds of this
process (``time.process_time``: the shared machine's load does not count); the record
is the soft body's (S, V, 3) float64 positions and velocities.

    taskset -c 0 .venv/bin/python benchmarks/softbody.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factory.physics.dynamics import simulate  # noqa: E402
from factory.scene.deformables import SoftBody  # noqa: E402
from factory.scene.types import Camera, Light, Material, Scene, SceneObject  # noqa: E402

MAT = Material((0.6, 0.5, 0.4), (0.3, 0.3, 0.3), "checker", 3.0, 0.5, 0.5)
SHAPES = {"ball": (0.08, 0.08, 0.08), "box": (0.2, 0.2, 0.08)}


def _scene(objects, soft) -> Scene:
    K = np.array([[110.0, 0, 48], [0, 110.0, 36], [0, 0, 1]])
    camera = Camera(96, 72, K, "static", (0.0, 0.0, 0.4), 4.0, 0.45, 0.3, 0.0, 0.0, 0.0, 0.0)
    light = Light("directional", (0.3, -0.4, 0.866), 2.0)
    return Scene(
        tuple(objects), camera, (light,), 0.3, (0.5, 0.6, 0.7), MAT, 0.5, 0.5, None, 24, 12.0, 4, {},
        soft_bodies=tuple(soft),
    )  # fmt: skip


def _best(scene: Scene, repeat: int):
    """The best CPU time (s) of ``repeat`` simulations, and the last motion."""
    best, motion = np.inf, None
    for _ in range(repeat):
        t = time.process_time()
        motion = simulate(scene)
        best = min(best, time.process_time() - t)
    return best, motion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    r = 0.08
    ball = SceneObject(
        1, "sphere", "sphere", (r, r, r), np.eye(3), (0.0, 0.0, 0.5), 0.0, (0.0, 0.0, 0.0), 0.0, 0.5, 0.5, 0.5, MAT
    )
    rigid, _ = _best(_scene([ball], []), args.repeat)
    print(f"rigid, 1 ball: {rigid:.3f} CPU s per clip")
    print("shape  res  vertices  tets  faces  CPU s  x rigid  record (MB)")
    for shape, size in SHAPES.items():
        for res in (4, 6, 8):
            s = SoftBody(2, shape, size, (0.0, 0.0, 0.5), resolution=res, young=5e4, poisson=0.45)
            seconds, m = _best(_scene([], [s]), args.repeat)
            mb = (m.soft_positions[0].nbytes + m.soft_velocities[0].nbytes) / 1e6
            print(
                f"{shape:5}  {res:3}  {s.vertex_count:8}  {len(s.tetrahedra()):4}  {len(s.faces()):5}"
                f"  {seconds:5.2f}  {seconds / rigid:7.1f}  {mb:11.2f}"
            )


if __name__ == "__main__":
    main()
