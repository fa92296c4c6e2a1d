"""Frames per second of textured meshes against the same meshes untextured, and the
mesh cache's share of a cold call (BVHs, normals, UVs and texture mip pyramids built
on the device) against a warm one.

The meshes are the starter pack's textured assets (``factory/assets/starter``: CC0
household objects, up to 4,000 faces and 256 px textures each), read and turned into
:class:`~factory.scene.assets.MeshAsset` outside the timings; ``--objects`` of them
stand on a grid under one light, the camera orbits. Untextured: the same assets with
no materials (the config's flat colour). Cold: the device's mesh cache cleared before
the call; warm: the next call. One process, one thread: the figures are per core (CPU
time of the process on the CPU, so other work on the machine does not count).

    python benchmarks/render_textures.py [--device cpu|cuda] [--size 256] [--frames 24]
        [--objects 8] [--repeats 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "factory" / "assets" / "starter"


def starter_assets(count: int) -> list:
    """The first ``count`` textured assets of the starter pack as unit MeshAssets."""
    from PIL import Image

    from factory.assets.pack import load_pack
    from factory.scene.assets import make_asset

    pack = load_pack(str(STARTER))
    out = []
    for rec in pack.assets:
        if not rec.textures or len(out) == count:
            continue
        m = pack.read_mesh(rec)
        v = m.vertices.astype(np.float64)
        v = v - (v.max(0) + v.min(0)) / 2
        v = v / np.abs(v).max()
        textures = []
        for path in rec.textures:
            with Image.open(io.BytesIO((STARTER / path).read_bytes())) as img:
                textures.append(np.asarray(img.convert("RGBA")))
        surface = {
            "uv": m.uv,
            "face_material": m.face_material,
            "material_colour": m.material_colour,
            "material_texture": m.material_texture,
            "textures": tuple(textures),
        }
        out.append(make_asset(f"pack:starter/{rec.id}", v, m.faces, (v,), **surface))
    return out


def scene_of(assets: list, size: int, frames: int):
    """A scene of ``assets`` on a grid, a camera orbiting at 3.5 m, one light."""
    from factory.scene.types import Camera, Light, Material, Scene, SceneObject

    n = len(assets)
    side = int(np.ceil(np.sqrt(n)))
    mat = Material((0.7, 0.5, 0.3), (0.2, 0.2, 0.2), "plain", 1.0, 0.5, 0.2)
    objs = []
    for k, a in enumerate(assets):
        x, y = (k % side - (side - 1) / 2) * 0.8, (k // side - (side - 1) / 2) * 0.8
        objs.append(
            SceneObject(
                k + 1,
                "pack:starter",
                "box",
                (0.35, 0.35, 0.35),
                np.eye(3),
                (x, y, 0.35),
                0.3 * k,
                (0, 0, 0),
                0.0,
                1.0,
                0.5,
                0.5,
                mat,
                mesh=a,
            )  # fmt: skip
        )
    f = 0.9 * size
    K = np.array([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1]], np.float64)
    cam = Camera(size, size, K, "orbit", (0.0, 0.0, 0.3), 3.5, 0.5, 0.3, 0.5, 0.0, 0.0, 0.0)
    light = Light("directional", (0.4, -0.3, 0.85), 1.0, 0.0)
    return Scene(tuple(objs), cam, (light,), 0.3, (0.5, 0.6, 0.7), mat, 0.5, 0.5, None, frames, 24.0, 1, {})


class _Still:
    def __init__(self, scene):
        self.pos = np.array([o.position for o in scene.objects], np.float64)
        self.rot = np.array([o.rotation for o in scene.objects], np.float64)

    def state_at(self, time):
        return self.pos, self.rot


def timed_call(scene, device, cold: bool) -> tuple[float, dict]:
    """Seconds of one render_clip call, and the cache's counters it moved."""
    from factory.render import render_clip
    from factory.render.meshes import mesh_cache

    cache = mesh_cache(device)
    if cold:
        cache.clear()
    before = cache.stats()
    # On the CPU the process's own CPU time (one thread: other processes on a shared
    # machine do not count); on CUDA wall time, the device synchronised.
    clock = time.process_time if device.name == "cpu" else time.perf_counter
    start = clock()
    render_clip(scene, _Still(scene), device=device)
    device.synchronize()
    seconds = clock() - start
    after = cache.stats()
    return seconds, {k: after[k] - before[k] for k in ("hits", "misses", "build_seconds")} | {"bytes": after["bytes"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--objects", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from factory.render.device import get_device

    device = get_device(args.device)
    textured = starter_assets(args.objects)
    plain = [replace(a, kind=a.kind + "#plain", face_material=None) for a in textured]
    faces = sum(len(a.faces) for a in textured)
    texels = sum(t.shape[0] * t.shape[1] for a in textured for t in a.textures)
    print(f"device {args.device}; {len(textured)} starter meshes, {faces} faces, {texels} texels; {args.size}px")
    scenes = {
        "textured": scene_of(textured, args.size, args.frames),
        "untextured": scene_of(plain, args.size, args.frames),
    }
    best: dict = {}
    for scene in scenes.values():
        timed_call(scene, device, cold=True)  # kernels compiled or loaded
    for _ in range(args.repeats):  # interleaved, the best of each kept: a busy core only ever adds time
        for label, scene in scenes.items():
            for cold in (True, False):
                got = timed_call(scene, device, cold=cold)
                if (label, cold) not in best or got[0] < best[label, cold][0]:
                    best[label, cold] = got
    for label in scenes:
        (cs, c), (ws, w) = best[label, True], best[label, False]
        print(
            f"  {label:10s} warm {args.frames / ws:6.1f} frames/s ({w['hits']} hits, {w['misses']} misses);"
            f" cold {args.frames / cs:6.1f} frames/s (cold - warm: {(cs - ws) * 1e3:.0f} ms = {100 * (cs - ws) / cs:.0f}%"
            f" of the call; cache build {c['build_seconds'] * 1e3:.0f} ms wall, {c['misses']} misses,"
            f" {c['bytes'] / 2**20:.1f} MiB)"
        )


if __name__ == "__main__":
    main()
