"""Frames per second per core of the CPU renderer on the standard workload.

Standard workload: 256x256 pixels, 10 objects, 24 frames, every modality (RGB with
shadows and textures, depth, instance and semantic segmentation, normals, optical flow
with validity, boxes and per-object metadata). One process, so figures are per core.

Prints, in one run: frames/s for rendering alone (``generate_sample``) and with
encoding (``generate_sample`` + ``encode_sample``), the ratio between the two, and
where the time goes (scene sampling, physics, each render pass, metadata, encoding).

    python benchmarks/render.py [--samples 6] [--width 256 --height 256 --frames 24 --objects 10]
"""

from __future__ import annotations

import argparse
import os
import time

from factory.config import parse_config
from factory.encode import encode_sample
from factory.generate import generate_sample
from factory.timing import timed


def workload(width: int, height: int, frames: int, objects: int, mp4: bool):
    return parse_config({
        "name": "bench", "seed": 1,
        "render": {"width": width, "height": height, "frames": frames, "fps": 24, "substeps": 4},
        "output": {"mp4": mp4},
        "scenarios": {"standard": {
            "objects": {"count": objects, "size": {"dist": "uniform", "low": 0.15, "high": 0.35},
                        "texture": {"dist": "choice", "values": ["plain", "checker", "stripes", "noise"]},
                        "speed": {"dist": "uniform", "low": 0.0, "high": 1.5},
                        "spin": {"dist": "uniform", "low": -2, "high": 2}},
            "lighting": {"count": 1},
            "camera": {"trajectory": "orbit", "distance": 4.5},
        }},
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=6)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--objects", type=int, default=10)
    ap.add_argument("--mp4", action="store_true", help="also encode the MP4 preview member")
    args = ap.parse_args()
    cfg = workload(args.width, args.height, args.frames, args.objects, args.mp4)
    generate_sample(cfg, 999)  # warm caches and imports outside the measurement

    timings: dict[str, float] = {}
    render_s = encode_s = 0.0
    nbytes = 0
    for i in range(args.samples):
        t0 = time.perf_counter()
        sample = generate_sample(cfg, i, timings=timings)
        t1 = time.perf_counter()
        with timed(timings, "encoding"):
            members = encode_sample(sample, mp4=args.mp4)
        t2 = time.perf_counter()
        render_s += t1 - t0
        encode_s += t2 - t1
        nbytes += sum(len(v) for k, v in members.items() if k != "__key__")

    n_frames = args.samples * args.frames
    fps_render = n_frames / render_s
    fps_total = n_frames / (render_s + encode_s)
    print(f"workload: {args.width}x{args.height}, {args.objects} objects, {args.frames} frames, "
          f"{args.samples} clips, all modalities, mp4={'on' if args.mp4 else 'off'}; "
          f"1 process (cores on machine: {os.cpu_count()})")
    print(f"render only        : {fps_render:7.1f} frames/s per core")
    print(f"render + encode    : {fps_total:7.1f} frames/s per core  "
          f"(ratio to render only {fps_total / fps_render:.2f})")
    print(f"bytes per clip     : {nbytes / args.samples / 1e6:.2f} MB ({nbytes / n_frames / 1e3:.1f} kB per frame)")
    total = sum(timings.values())
    print("where the time goes (share of render + encode):")
    for name, secs in sorted(timings.items(), key=lambda kv: -kv[1]):
        print(f"  {name:30s} {1e3 * secs / n_frames:7.2f} ms/frame  {100 * secs / total:5.1f}%")


if __name__ == "__main__":
    main()
