"""Frames per second of the Warp renderer per core, against the renderer it replaced
(the NumPy one, run from its last commit in a scratch worktree) in the same run.

Workloads, each at every ``--sizes`` resolution, every modality (RGB with textures,
shadows and specular highlights, depth, instance and semantic ids, normals, forward
flow with validity, amodal and visible boxes, projected 3D box corners):

* ``analytic``: 10 analytic shapes (spheres, boxes, cylinders, capsules, ells), an
  orbiting camera, one light: the standard workload of earlier benchmarks.
* ``mesh``: 10 triangle meshes (tori, rocks and tubes, about 15k triangles in all),
  tumbled into arbitrary orientations. The old renderer cannot draw meshes, so its
  baseline is the analytic one's.

Per workload and size it prints frames/s of render alone (``generate_samples``:
scene sampling, physics, render launches, metadata) and of render + encode (the
WebDataset members of ``encode_sample``), where the time goes, and the ratio to the
baseline. One process, one thread: BLAS and OpenMP are pinned to one thread before
NumPy loads, and a Warp CPU launch runs on one thread, so the figures are per core.

    python benchmarks/render.py [--device cpu|cuda] [--sizes 256,512] [--samples 4]
        [--frames 24] [--baseline-commit e816e31] [--baseline-samples 2] [--no-baseline]
        [--repeats 3] [--passes]

Each figure is the best of ``--repeats`` timed calls in one process, after a warm-up
call of the same size (a worker's steady state: imports, kernels, caches, memory).

``--baseline-commit`` may also name a commit of the Warp renderer (today's main, to
measure a speed-up against it): then each workload is measured against its own
baseline, not the analytic one.

``--passes`` also splits the kernel's time: the same launches without flow rays,
without shading and without both (the CPU path of this checkout).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASELINE_COMMIT = "e816e31"  # the last commit of the NumPy/PyTorch renderer


def workload(kind: str, size: int, frames: int, device: str = "cpu", batch_views: int = 0) -> dict:
    """The config data of a workload (see the module docstring)."""
    objects = {
        "count": 10,
        "size": {"dist": "uniform", "low": 0.15, "high": 0.35},
        "texture": {"dist": "choice", "values": ["plain", "checker", "stripes", "noise"]},
        "speed": {"dist": "uniform", "low": 0.0, "high": 1.5},
        "spin": {"dist": "uniform", "low": -2, "high": 2},
    }
    if kind == "mesh":
        objects.update(shape={"dist": "choice", "values": ["torus", "rock", "tube"], "weights": [2, 2, 1]}, tumble=1.0)
    render = {"width": size, "height": size, "frames": frames, "fps": 24, "substeps": 4}
    if device != "cpu" or batch_views:  # the baseline's config knows neither field's new values
        render.update(device=device, batch_views=batch_views)
    return {
        "name": "bench",
        "seed": 1,
        "render": render,
        "output": {"mp4": False},
        "scenarios": {
            "standard": {
                "objects": objects,
                "lighting": {"count": 1},
                "camera": {"trajectory": "orbit", "distance": 4.5},
            }
        },
    }


# Run in a process of its own, in whichever checkout is on sys.path: the same timing
# for the renderer of this commit and of the baseline commit.
_MEASURE = r"""
import json, sys, time
from factory.sample.encode import encode_sample
from factory.sample.generate import generate_samples
from factory.scene.config import parse_config
data, samples, repeats = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
without = sys.argv[4].split(",") if len(sys.argv) > 4 else []
if without:  # where the kernel's time goes: drop flow rays and/or shading from every job
    import factory.render.renderer as rr
    init = rr._Launch.__init__
    units = rr._units
    def ablated(self, *a):
        init(self, *a)
        if "shading" in without:
            self.jobs[3][:] = 0
    def no_next(*a):  # no frame has a next one: no flow, nor the next view's job
        out = units(*a)
        for u in out:
            u.next = None if "flow" in without else u.next
        return out
    rr._Launch.__init__, rr._units = ablated, no_next
cfg = parse_config(data)
# Imports, kernels, caches, and a call of the timed one's size: a worker's steady state
# (its memory for a call's frames already touched, see factory.render.recycle).
generate_samples(cfg, [10_000 + i for i in range(samples)])
try:  # as a render actor or replica does after its first samples (factory.heap)
    from factory.heap import settle
except ImportError:  # a checkout from before it: the same policy by hand
    import gc
    def settle():
        gc.collect()
        gc.freeze()
settle()
best = None
for _ in range(repeats):  # the best of a few: another process on the core only ever adds time
    timings = {}
    t0 = time.perf_counter()
    out = generate_samples(cfg, range(samples), timings)
    render = time.perf_counter() - t0
    bad = [s for s in out if not hasattr(s, "frames")]
    if bad:
        raise bad[0]
    t0 = time.perf_counter()
    # encode_sample's default writer is the config's default one (output.png, where a
    # checkout has it): each checkout's own bytes and time for this workload.
    nbytes = sum(len(v) for s in out for k, v in encode_sample(s, mp4=False).items() if k != "__key__")
    encode = time.perf_counter() - t0
    del out
    if best is None or render + encode < best[0] + best[1]:
        best = (render, encode, nbytes, timings)
render, encode, nbytes, timings = best
print(json.dumps({"render": render, "encode": encode, "bytes": nbytes, "timings": timings}))
"""


REPEATS = 3  # timed calls per measurement, the best kept


def measure(data: dict, samples: int, checkout: Path, without: str = "", repeats: int = REPEATS) -> dict:
    """Seconds of render and of encode for ``samples`` clips (the best of ``repeats``
    calls), in a fresh process running the ``factory`` package of ``checkout``;
    ``without`` ("flow", "shading", both comma-separated) drops that part of the
    kernel's work (this checkout only)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, json.dumps(data), str(samples), str(repeats), *([without] if without else [])],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise RuntimeError(f"measuring in {checkout} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def baseline_checkout(commit: str, where: Path) -> Path:
    """A scratch worktree of ``commit`` (removed by the caller's temporary folder)."""
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), commit], check=True, capture_output=True
    )
    return where


def kernel_passes(data: dict, samples: int, frames: int, full: float) -> None:
    """Where the kernel's time goes: render seconds without flow, without shading and
    without both, against the full kernel (``full`` seconds)."""
    n = samples * frames
    rest = {w: measure(data, samples, ROOT, w)["timings"]["render"] for w in ("flow", "shading", "flow,shading")}
    base = rest["flow,shading"]
    print("  where the kernel's time goes (launches of the same views, parts left out):")
    print(f"    {'camera rays, ids, depth, normals, boxes':40s} {1e3 * base / n:7.2f} ms/frame")
    print(f"    {'flow (projection, next view hits)':40s} {1e3 * (full - rest['flow']) / n:7.2f} ms/frame")
    print(f"    {'shading (textures, lights, shadow rays)':40s} {1e3 * (full - rest['shading']) / n:7.2f} ms/frame")


def report(kind: str, size: int, frames: int, samples: int, got: dict, base: dict | None, label: str = "") -> None:
    n = samples * frames
    fps = n / got["render"]
    both = n / (got["render"] + got["encode"])
    print(f"\n{kind} workload, {size}x{size} ({samples} clips of {frames} frames):")
    print(f"  render           : {fps:8.1f} frames/s")
    print(
        f"  render + encode  : {both:8.1f} frames/s   (encode alone {n / got['encode']:.1f} frames/s, "
        f"{got['bytes'] / samples / 1e6:.2f} MB per clip)"
    )
    if base is not None:
        bn = base["samples"] * frames
        b_fps, b_both = bn / base["render"], bn / (base["render"] + base["encode"])
        print(f"  baseline ({label}): render {b_fps:.1f}, render + encode {b_both:.1f} frames/s")
        print(f"  ratio            : render {fps / b_fps:.2f}x, render + encode {both / b_both:.2f}x")
    total = got["render"]
    print("  where the render time goes:")
    for name, s in sorted(got["timings"].items(), key=lambda kv: -kv[1]):
        print(f"    {name:22s} {1e3 * s / n:8.3f} ms/frame  {100 * s / total:5.1f}%")
    print(f"    {'encode (after)':22s} {1e3 * got['encode'] / n:8.3f} ms/frame")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sizes", default="256,512", help="square image sizes, comma-separated")
    ap.add_argument("--samples", type=int, default=4, help="clips per workload and size")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--batch-views", type=int, default=0, help="views per launch (0: sized from memory)")
    ap.add_argument("--baseline-commit", default=BASELINE_COMMIT)
    ap.add_argument("--baseline-samples", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=REPEATS, help="timed calls per measurement (the best is kept)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the old renderer (e.g. on a GPU machine)")
    ap.add_argument("--passes", action="store_true", help="also time the kernel without flow and shading")
    args = ap.parse_args()
    print(f"device {args.device}; every modality; 1 process, 1 thread (cores on machine: {os.cpu_count()})")
    with tempfile.TemporaryDirectory() as tmp:
        old = None if args.no_baseline else baseline_checkout(args.baseline_commit, Path(tmp) / "baseline")
        # A baseline commit of the Warp renderer (e.g. today's main) draws each workload
        # itself; the NumPy one only the analytic workload.
        warp_baseline = old is not None and (old / "factory" / "render" / "kernels.py").exists()
        label = f"{args.baseline_commit}, {'each workload' if warp_baseline else 'NumPy renderer, analytic'}"
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                base = None
                if old is not None:
                    base = measure(
                        workload("analytic", size, args.frames), args.baseline_samples, old, repeats=args.repeats
                    )
                    base["samples"] = args.baseline_samples
                for kind in ("analytic", "mesh"):
                    data = workload(kind, size, args.frames, args.device, args.batch_views)
                    if old is not None and kind == "mesh" and warp_baseline:
                        base = measure(
                            data, args.baseline_samples, old, repeats=args.repeats
                        )  # a Warp baseline draws meshes too
                        base["samples"] = args.baseline_samples
                    got = measure(data, args.samples, ROOT, repeats=args.repeats)
                    report(kind, size, args.frames, args.samples, got, base, label)
                    if args.passes:
                        kernel_passes(data, args.samples, args.frames, got["timings"]["render"])
        finally:
            if old is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], capture_output=True)


if __name__ == "__main__":
    main()
