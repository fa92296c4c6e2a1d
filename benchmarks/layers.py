"""What issue 26's optional layers cost: render time per frame with each layer on, as a
share of the frame time with all off, in the same run, and the bytes and encode time of
each layer's member.

    taskset -c 0 .venv/bin/python benchmarks/layers.py [--config configs/quickstart.yaml]
        [--samples 8] [--repeats 3]

Variants: every layer off (the shipped default), each of ``backward_flow``,
``scene_flow``, ``object_coords``, ``amodal``, ``amodal`` + ``amodal_depth`` alone, and
all on; the same scenes (same seed and indices) in each. One process, one thread (BLAS
and OpenMP pinned before NumPy loads; a Warp CPU launch is one thread), warmed up on
other indices first; the variants take turns within each repeat and the best of
``--repeats`` is kept. Times are CPU seconds of the process (``time.process_time``: the
shared machine's other work only adds wall time). "render" is ``render_clips``'s
``timings["render"]`` (buffers and launches) plus ``timings["annotations"]`` (the
copies to NumPy, the boxes, the object coordinates' normalisation); "end to end" is ``generate_sample`` (scene sampling, physics, render,
metadata). Bytes and encode time per member: ``encode_sample(mp4=False, only=[member])``
of the all-on samples with the default (libdeflate) writer.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

time.perf_counter = time.process_time  # factory.timing reads it: CPU time of this process

from factory.sample.encode import IMAGE_MEMBERS, encode_sample  # noqa: E402
from factory.sample.generate import generate_sample  # noqa: E402
from factory.sample.layers import LAYER_MEMBERS  # noqa: E402
from factory.scene.config import load_config  # noqa: E402

LAYERS = ("backward_flow", "scene_flow", "object_coords", "amodal", "amodal_depth")
VARIANTS = {
    "all off (default)": (),
    "backward_flow": ("backward_flow",),
    "scene_flow": ("scene_flow",),
    "object_coords": ("object_coords",),
    "amodal": ("amodal",),
    "amodal + amodal_depth": ("amodal", "amodal_depth"),
    "all on": LAYERS,
}


def _config(base, on: tuple):
    return base.model_copy(update={"output": base.output.model_copy(update={n: n in on for n in LAYERS})})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    base = load_config(a.config)
    configs = {name: _config(base, on) for name, on in VARIANTS.items()}
    for cfg in configs.values():  # kernels, caches: a worker's steady state
        generate_sample(cfg, 10_000)
    best: dict[str, tuple[float, float]] = {}
    frames = 0
    out = []
    for _ in range(a.repeats):
        for name, cfg in configs.items():
            timings: dict = {}
            t0 = time.process_time()
            out = [generate_sample(cfg, i, timings) for i in range(a.samples)]
            total = time.process_time() - t0
            frames = sum(s.frames.depth.shape[0] for s in out)
            got = ((timings["render"] + timings["annotations"]) / frames * 1e3, total / frames * 1e3)
            best[name] = min(best.get(name, got), got)
    r0, e0 = best["all off (default)"]
    print(f"{a.config}: {a.samples} samples, {frames} frames; CPU ms per frame, best of {a.repeats}")
    print("| layers on | render ms/frame | share of all-off render | end to end ms/frame | share |")
    print("|---|---|---|---|---|")
    for name, (r, e) in best.items():
        print(f"| {name} | {r:.2f} | {r / r0:.2f}x | {e:.2f} | {e / e0:.2f}x |")
    print()
    print("| member | kB per sample | encode ms per frame |")
    print("|---|---|---|")
    for member in IMAGE_MEMBERS + LAYER_MEMBERS:  # ``out`` is the all-on variant's last repeat
        t0 = time.process_time()
        size = sum(len(encode_sample(s, mp4=False, only=[member])[member]) for s in out)
        ms = (time.process_time() - t0) / frames * 1e3
        print(f"| {member} | {size / len(out) / 1e3:.1f} | {ms:.2f} |")


if __name__ == "__main__":
    main()
