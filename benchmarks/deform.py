"""What deforming meshes cost the renderer (issue 27): render time of a clip with an
n x n deforming sheet (2 n^2 triangles, a travelling wave: the test's) against the same
clip with a rigid static mesh object of the same triangles, in the same run; and per
view, the host work of a deforming surface: area-weighted normals, a BVH built
(``wp.Mesh``) against one refit (``mesh.refit()`` after writing its points), and the
whole ``deform_views`` of one view.

    taskset -c 0 .venv/bin/python benchmarks/deform.py [--repeats 3] [--frames 8]
    taskset -c 0 .venv/bin/python benchmarks/deform.py --rigid-only   # also from a tree without this code

One process, one thread (BLAS and OpenMP pinned before NumPy loads; a Warp CPU launch
is one thread), warmed up first; the variants take turns within each repeat and the
best of ``--repeats`` is kept. Times are CPU seconds of the process
(``time.process_time``). ``--rigid-only`` renders only the rigid clips (spheres, a box
and a torus; no sheet), the figure to compare between trees for the cost to
rigid-only clips.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

import numpy as np  # noqa: E402

from factory.render import Clip, render_clips  # noqa: E402
from factory.render.device import get_device  # noqa: E402
from factory.scene.assets import MeshAsset  # noqa: E402
from factory.scene.deformables import grid_faces  # noqa: E402
from factory.scene.types import Camera, Light, Material, Scene, SceneObject  # noqa: E402

W, H, F, FPS = 160, 120, 200.0, 12.0
MAT = Material((0.6, 0.5, 0.4), (0.3, 0.3, 0.3), "plain", 3.0, 0.5, 0.5)


def _grid(n: int):
    a = np.linspace(-0.7, 0.7, n + 1)
    x, y = np.meshgrid(a, a, indexing="ij")
    # The cloth's grid triangulation (rows along x), each triangle turned over: normals +z.
    return x.ravel(), y.ravel(), np.ascontiguousarray(grid_faces(n + 1, n + 1)[:, ::-1])


class Wave:
    """An n x n sheet whose height is a travelling wave; rigid objects stand still."""

    def __init__(self, n: int, objects=()):
        self.x, self.y, self.faces = _grid(n)
        self.objects = objects

    def vertices(self, time: float) -> np.ndarray:
        z = 0.5 + 0.12 * np.sin(3.0 * self.x - 5.0 * time) + 0.1 * self.y
        return np.stack([self.x + 0.2 * time, self.y + 0.3 * time * self.x, z], 1)

    def state_at(self, time: float):
        pos = np.array([o.position for o in self.objects], np.float64).reshape(-1, 3)
        return pos, np.array([o.rotation for o in self.objects], np.float64).reshape(-1, 3, 3)

    def deformed_at(self, time: float):
        return [self.vertices(time)]


def _scene(objects, frames: int) -> Scene:
    K = np.array([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]], np.float64)
    cam = Camera(W, H, K, "orbit", (0.0, 0.0, 0.4), 2.4, 0.6, 0.3, 0.2, 0.0, 0.0, 0.0)
    light = Light("directional", (0.3, -0.4, 0.866), 2.0)
    scene = Scene(tuple(objects), cam, (light,), 0.3, (0.5, 0.6, 0.7), MAT, 0.5, 0.5, None, frames, FPS, 1, {})
    return replace(scene, classes=scene.classes + ("cloth",))


def _object(oid, shape, dims, position, mesh=None) -> SceneObject:
    return SceneObject(
        oid, shape, "sphere" if mesh is None else "cloth", tuple(dims), np.eye(3), tuple(position), 0.0,
        (0.0, 0.0, 0.0), 0.0, 1.0, 0.5, 0.5, MAT, mesh=mesh,
    )  # fmt: skip


def _static_sheet(n: int) -> SceneObject:
    """A rigid mesh object of the sheet's triangles at t = 0 (unit frame: max |coord| 1)."""
    wave = Wave(n)
    v = wave.vertices(0.0)
    c = (v.min(0) + v.max(0)) / 2
    s = np.abs(v - c).max(0)
    unit = ((v - c) / s).astype(np.float32)
    asset = MeshAsset(
        f"bench-sheet-{n}", unit, wave.faces, np.tile(np.float32([0, 0, 1]), (len(v), 1)), 0.0,
        np.zeros(3), np.zeros((3, 3)), (unit.astype(np.float64),),
    )  # fmt: skip
    return _object(50, "gen:sheet", s, c, asset)


def _clips(frames: int, rigid_only: bool) -> dict:
    rigid = [_object(1, "sphere", (0.2,) * 3, (0.9, 0.5, 0.2)), _object(2, "box", (0.2, 0.3, 0.2), (-0.9, -0.4, 0.2))]
    rigid.append(_object(3, "torus", (0.3, 0.3, 0.1), (-0.8, 0.6, 0.1)))
    out = {"rigid objects only": Clip(_scene(rigid, frames), Wave(2, rigid))}
    if rigid_only:
        return out
    from factory.render.deform import DeformingSurface  # not in a tree without this code

    for n in (32, 64):
        wave = Wave(n)
        sheet = DeformingSurface(wave.faces, 40, "cloth", MAT)
        out[f"{n}x{n} deforming sheet"] = Clip(_scene((), frames), wave, surfaces=(sheet,))
        out[f"{n}x{n} static mesh object"] = Clip(_scene((_static_sheet(n),), frames), Wave(2, (_static_sheet(n),)))
    return out


def _per_view(n: int, repeats: int = 20) -> dict:
    """CPU ms per view of the host work of one n x n deforming surface."""
    import warp as wp

    from factory.render.batch import ViewSpec
    from factory.render.deform import deform_views, vertex_normals

    wave = Wave(n)
    v = wave.vertices(0.1)
    device = get_device("cpu")
    best = {}

    def best_of(name, fn):
        t = []
        for _ in range(repeats):
            start = time.process_time()
            fn()
            t.append(time.process_time() - start)
        best[name] = 1e3 * min(t)

    best_of("normals", lambda: vertex_normals(v, wave.faces))
    pts = wp.array(v.astype(np.float32), dtype=wp.vec3, device="cpu")
    idx = wp.array(wave.faces.ravel(), dtype=wp.int32, device="cpu")
    best_of("BVH build", lambda: wp.Mesh(points=pts, indices=idx))
    mesh = wp.Mesh(points=pts, indices=idx)

    def refit():
        mesh.points.assign(wave.vertices(0.2).astype(np.float32))
        mesh.refit()

    best_of("points + refit", refit)
    spec = ViewSpec(0, np.eye(4), np.eye(3), np.zeros((1, 3)), np.eye(3)[None], ((v, wave.faces),))
    best_of("deform_views (all)", lambda: deform_views([spec], device))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--rigid-only", action="store_true")
    args = ap.parse_args()
    clips = _clips(args.frames, args.rigid_only)
    for c in clips.values():  # warm-up: kernels compiled, caches filled
        render_clips([c])
    best = {name: float("inf") for name in clips}
    for _ in range(args.repeats):
        for name, c in clips.items():
            timings: dict = {}
            start = time.process_time()
            render_clips([c], timings=timings)
            best[name] = min(best[name], time.process_time() - start)
    print(f"{W}x{H}, {args.frames} frames, best of {args.repeats}: CPU ms per frame (render_clips)")
    for name, t in best.items():
        print(f"  {name:28s} {1e3 * t / args.frames:8.1f}")
    if not args.rigid_only:
        for n in (32, 64):
            per = _per_view(n)
            print(
                f"per view, {n}x{n} sheet ({2 * n * n} faces), CPU ms: "
                + ", ".join(f"{k} {v:.3f}" for k, v in per.items())
            )


if __name__ == "__main__":
    main()
