"""factory's renderer against a peer, Blender's Cycles at 1 sample per pixel, on one
core in one run: factory's frames/s over Cycles' frames/s.

The scene is factory's benchmark workload (``benchmarks/render.py``'s ``analytic``
workload: 10 analytic shapes, an orbiting camera, one light) at ``--size``: sample 0's
Scene and Motion, drawn and simulated by factory, exported as a plain JSON description
per frame (camera K and world-to-camera, each object's parts and world pose, base
colours, the floor, the sky, the ambient term and the light). Both sides run one after
the other under ``taskset -c CORE``, one thread each, ``--rounds`` times (the medians
are reported; the ratio is the median of each round's own ratio):

* factory: ``generate_samples`` of that clip (scene sampling, physics, render, metadata;
  every modality), ``--repeats`` times after a warm-up clip, then ``encode_sample`` of
  each (the WebDataset members, no MP4): frames/s render-only and render + encode; and
  ``render_clips`` of the drawn scene and its motion, what Cycles is given (the
  renderer alone, every layer): frames/s "renderer";
* Cycles: ``benchmarks/peer_blender_scene.py`` in a Python that has ``bpy`` (a
  benchmark-only virtual environment this script creates on first use, ``--venv``;
  bpy is never a dependency of factory): CPU device, 1 sample, no denoising, one fixed
  thread; one render call per frame timed, after one warm-up render. Blender's start-up,
  building the scene and writing the PNGs are reported apart and not counted.

It prints both sides' frames/s and factory's ratios by two clocks: wall seconds, and
CPU seconds of the process (all its threads; on a core that other processes share, as
on a busy 2-core machine, wall time swings with their load and CPU time much less). It
saves the middle frame of each side by side (factory left, Cycles right) into
``out/bench/peer_blender.png``.

What is comparable and what is not: both draw the same geometry from the same camera
with one light and a hard shadow, at the same size on the same core. Cycles path-traces:
1 sample per pixel is its cheapest setting, a noisy image with indirect light (its
default bounces), and colour only. factory casts one ray per pixel
(rasterisation-class) and gives exact ground truth with the colour (depth, ids,
normals, forward flow with validity, boxes), procedural textures, and its frames/s
include scene sampling, physics and metadata. Cycles here draws plain base colours
(factory's checker, stripes and noise textures are not rebuilt), and its meshes are
tessellated (32 segments) where factory hits spheres, cylinders and capsules exactly.

    python benchmarks/peer_blender.py [--frames 8] [--size 256] [--core 0] [--repeats 5]
        [--rounds 3] [--venv out/bench/blender-venv] [--out out/bench/peer_blender.png]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
# The Blender the peer is measured with, pinned here and only here (factory never
# imports bpy). 5.0.1 is the release whose wheels PyPI has for Python 3.11.
BPY_VERSION = "5.0.1"
INDEX = 0  # the sample both sides draw
WARMUP_INDEX = 10_000  # factory's warm-up clip (imports, kernels, caches), not timed
CLOCKS = {
    "wall": "frames per wall second",
    # CPU seconds of the process (all its threads): what a frame costs the core even
    # where another process shares it, as other benchmarks on a shared machine do.
    "cpu": "frames per CPU second of the process (robust to a shared core)",
}


def blender_python(venv: Path) -> Path:
    """The Python of ``venv``, made (``python -m venv``, ``pip install bpy``) unless it
    already imports bpy ``BPY_VERSION``."""
    py = venv / "bin" / "python"
    check = [str(py), "-c", f"import bpy, sys; sys.exit(bpy.app.version_string != {BPY_VERSION!r})"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return py
    if sys.version_info[:2] != (3, 11):
        raise SystemExit(f"bpy {BPY_VERSION} has wheels for Python 3.11 only; run this with a Python 3.11")
    print(f"creating {venv} with bpy=={BPY_VERSION} (once; a few minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", f"bpy=={BPY_VERSION}"], check=True)
    subprocess.run(check, check=True)
    return py


def export_scene(config, index: int) -> tuple[dict, tuple]:
    """The scene description of sample ``index`` (the JSON ``peer_blender_scene.py``
    reads), drawn and simulated as ``generate_samples`` does: poses per frame at
    ``t / fps`` from the Motion, the camera from its trajectory; and the (Scene,
    Motion) pair it describes."""
    from factory.physics.dynamics import simulate
    from factory.sample.generate import scenario_of
    from factory.sample.scenes import scene_and_model

    scene, built = scene_and_model(config, scenario_of(config, index), index)
    motion = simulate(scene, None, built)
    return _describe(scene, motion), (scene, motion)


def _describe(scene, motion) -> dict:
    """The JSON description of a drawn ``scene`` and its ``motion`` (see :func:`export_scene`)."""
    import numpy as np

    from factory.scene.types import camera_pose

    if scene.room is not None or any(not o.kind.parts for o in scene.objects):
        raise ValueError("only analytic shapes on an open floor are exported (no meshes, no rooms)")
    frames = []
    for t in range(scene.frames):
        pos, rot = motion.state_at(t / scene.fps)
        poses = []
        for k in range(len(scene.objects)):
            m = np.eye(4)
            m[:3, :3], m[:3, 3] = rot[k], pos[k]
            poses.append(m.tolist())
        frames.append({"world_to_camera": camera_pose(scene.camera, t / scene.fps).tolist(), "objects": poses})
    objects = []
    for o in scene.objects:
        parts = [dict(zip(("centre", "half"), p.placed(o.dims)), primitive=p.primitive) for p in o.kind.parts]
        m = o.material
        objects.append(
            {"id": o.id, "shape": o.shape, "color": m.color, "roughness": m.roughness, "specular": m.specular}
            | {"parts": parts}
        )
    lights = [
        {"kind": li.kind, "vector": li.vector, "intensity": li.intensity, "ref": float(np.linalg.norm(li.vector))}
        for li in scene.lights
    ]
    f = scene.floor
    return json.loads(
        json.dumps(
            {
                "width": scene.camera.width,
                "height": scene.camera.height,
                "K": scene.camera.K.tolist(),
                "sky_color": scene.sky_color,
                "ambient": scene.ambient,
                "floor": {"color": f.color, "roughness": f.roughness, "specular": f.specular},
                "lights": lights,
                "objects": objects,
                "frames": frames,
            },
            default=float,  # NumPy scalars
        )
    )


def factory_side(args, tmp: Path) -> dict:
    """factory's figures (wall and CPU seconds of render and of encode over
    ``args.repeats`` clips);
    writes the scene description and factory's middle RGB frame into ``tmp``."""
    import numpy as np
    from PIL import Image
    from render import workload

    from factory.heap import settle
    from factory.render.renderer import Clip, render_clips
    from factory.sample.encode import encode_sample
    from factory.sample.generate import generate_samples
    from factory.scene.config import parse_config

    config = parse_config(workload("analytic", args.size, args.frames))
    desc, (scene, motion) = export_scene(config, INDEX)
    (tmp / "scene.json").write_text(json.dumps(desc))
    generate_samples(config, [WARMUP_INDEX])  # imports, kernels, caches
    settle()  # as a render actor does after its first block (factory.heap)
    parts = ("render", "encode", "renderer")
    wall, cpu = dict.fromkeys(parts, 0.0), dict.fromkeys(parts, 0.0)
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        (sample,) = generate_samples(config, [INDEX])
        wall["render"] += time.perf_counter() - t0
        cpu["render"] += time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        encode_sample(sample, mp4=False, png=config.output.png)
        wall["encode"] += time.perf_counter() - t0
        cpu["encode"] += time.process_time() - c0
        # What Cycles is given: the drawn scene and its poses, rendered (every layer).
        t0, c0 = time.perf_counter(), time.process_time()
        render_clips([Clip(scene, motion)], settings=config.render)
        wall["renderer"] += time.perf_counter() - t0
        cpu["renderer"] += time.process_time() - c0
    # The description is the scene factory rendered: the same camera and object poses.
    meta = sample.meta
    w2c = np.array([f["world_to_camera"] for f in desc["frames"]])
    assert np.allclose(w2c, meta["camera"]["world_to_camera"], atol=1e-6)
    pos = np.array([f["objects"] for f in desc["frames"]])[:, :, :3, 3]  # (T, N, 3) metres
    assert np.allclose(pos, np.swapaxes([o["position"] for o in meta["objects"]], 0, 1), atol=1e-5)
    Image.fromarray(sample.frames.rgb[args.frames // 2]).save(tmp / "factory.png")
    return {"wall": wall, "cpu": cpu, "frames": args.repeats * args.frames}


def run_json(cmd: list[str], env: dict | None = None) -> tuple[dict, float]:
    """The last stdout line of ``cmd`` as JSON, and the command's wall seconds."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def side_by_side(left: Path, right: Path, out: Path) -> None:
    """factory's frame and Cycles' frame in one PNG, labelled, a gap between."""
    from PIL import Image, ImageDraw

    a, b = Image.open(left).convert("RGB"), Image.open(right).convert("RGB")
    gap = 8
    img = Image.new("RGB", (a.width + gap + b.width, max(a.height, b.height)), "white")
    img.paste(a, (0, 0))
    img.paste(b, (a.width + gap, 0))
    draw = ImageDraw.Draw(img)
    draw.text((4, 4), "factory", fill="white")
    draw.text((a.width + gap + 4, 4), "Cycles 1 spp", fill="white")
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)


def figures(fac: dict, bl: dict, clock: str) -> dict:
    """Frames/s of one round by ``clock`` (wall | cpu): Cycles, factory render-only and
    render + encode."""
    n, f = fac["frames"], fac[clock]
    cycles = len(bl[clock]) / sum(bl[clock])
    return {
        "cycles": cycles,
        "render": n / f["render"],
        "both": n / (f["render"] + f["encode"]),
        "renderer": n / f["renderer"],
    }


def one_round(args, py: Path, tmp: Path) -> tuple[dict, dict, float]:
    """factory's side, then Cycles' side, each in a process pinned to ``args.core``:
    factory's figures, Cycles' figures and the Blender process's wall seconds."""
    pin = ["taskset", "-c", str(args.core)]
    flags = ["--frames", str(args.frames), "--size", str(args.size), "--repeats", str(args.repeats)]
    fac, _ = run_json([*pin, sys.executable, str(Path(__file__).resolve()), *flags, "--factory-side", str(tmp)])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # bpy's Python never sees factory
    bl, wall = run_json([*pin, str(py), str(HERE / "peer_blender_scene.py"), str(tmp / "scene.json"), str(tmp)], env)
    return fac, bl, wall


def report(args, rounds: list[tuple[dict, dict, float]]) -> None:
    """Each round's figures by both clocks, then the medians over rounds (the ratio's
    median is taken over the rounds' own ratios, each of two measurements seconds apart)."""
    print(f"\nanalytic workload, {args.size}x{args.size}, sample {INDEX}, {args.frames} frames; core {args.core}")
    for clock in ("wall", "cpu"):
        got = [figures(fac, bl, clock) for fac, bl, _ in rounds]
        print(f"  {CLOCKS[clock]}:")
        for i, g in enumerate(got):
            print(
                f"    round {i}: Cycles {g['cycles']:6.2f}, factory renderer {g['renderer']:6.2f}, render "
                f"{g['render']:6.2f}, render + encode {g['both']:6.2f} frames/s; ratio "
                f"{g['renderer'] / g['cycles']:.2f}x, {g['render'] / g['cycles']:.2f}x, {g['both'] / g['cycles']:.2f}x"
            )
        med = {k: statistics.median(g[k] for g in got) for k in got[0]}
        ratio = {k: statistics.median(g[k] / g["cycles"] for g in got) for k in ("renderer", "render", "both")}
        print(f"    medians over {len(got)} rounds:")
        print(f"    Cycles {rounds[0][1]['version']}, 1 spp, 1 thread: {med['cycles']:8.2f} frames/s")
        print(
            f"    factory renderer        : {med['renderer']:8.2f} frames/s (the scene and poses given, as to Cycles)"
        )
        print(f"    factory render          : {med['render']:8.2f} frames/s (+ scene sampling, physics, metadata)")
        print(f"    factory render + encode : {med['both']:8.2f} frames/s")
        print(
            f"    ratio factory / Cycles  : renderer {ratio['renderer']:.2f}x, render {ratio['render']:.2f}x, "
            f"render + encode {ratio['both']:.2f}x"
        )
    fac, bl, wall = rounds[-1]
    n = len(bl["wall"])
    print(
        f"  Cycles, last round: {n} frames, {1e3 * sum(bl['wall']) / n:.1f} ms a frame (min {1e3 * min(bl['wall']):.1f}"
        f" ms); not counted: import bpy {bl['import']:.2f} s, scene build {bl['build']:.2f} s, warm-up render "
        f"{bl['first']:.2f} s, PNGs {bl['save']:.2f} s; process wall {wall:.1f} s. factory: {fac['frames']} frames"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=256, help="square image size, pixels")
    ap.add_argument("--core", type=int, default=0, help="the CPU core both sides run on (taskset -c)")
    ap.add_argument("--repeats", type=int, default=5, help="factory's timed clips a round (the same clip each time)")
    ap.add_argument("--rounds", type=int, default=3, help="factory then Cycles, this many times; medians reported")
    ap.add_argument("--venv", type=Path, default=ROOT / "out" / "bench" / "blender-venv")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "peer_blender.png")
    ap.add_argument("--factory-side", type=Path, help=argparse.SUPPRESS)  # internal: the pinned factory process
    args = ap.parse_args()
    if args.factory_side is not None:
        print(json.dumps(factory_side(args, args.factory_side)))
        return
    py = blender_python(args.venv.resolve())
    print(f"one core (taskset -c {args.core}), one thread each side (cores on machine: {os.cpu_count()})", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rounds = [one_round(args, py, tmp) for _ in range(args.rounds)]
        side_by_side(tmp / "factory.png", tmp / f"frame_{args.frames // 2:04d}.png", args.out)
    report(args, rounds)
    print(f"  frame {args.frames // 2} side by side (factory | Cycles): {args.out}")


if __name__ == "__main__":
    main()
