"""Frames per second of the renderer on a backend, against the NumPy reference in the
same run.

Standard workload: 10 objects, 24 frames, every modality (RGB with shadows and
textures, depth, instance and semantic segmentation, normals, optical flow with
validity, boxes and per-object metadata), at each ``--sizes`` resolution. Samples are
made with ``generate_samples`` (scene sampling, physics, batched rendering, metadata),
so the figure is what a render actor delivers. One process.

Prints, per size: frames/s on ``--device`` and on the NumPy backend (the baseline,
fewer clips), the speedup, frames/s of encoding one process on the CPU (what the
pipeline's encode actors do), and where the device's time goes.

    python benchmarks/render.py [--device cpu|torch-cpu|gpu] [--sizes 256,512]
        [--samples 6] [--baseline-samples 2] [--frames 24 --objects 10] [--batch-views 0]
"""

from __future__ import annotations

import argparse
import os
import time

from factory.render.backend import get_backend
from factory.sample.encode import encode_sample
from factory.sample.generate import generate_samples
from factory.scene.config import parse_config


def workload(width: int, height: int, frames: int, objects: int, mp4: bool, device: str = "cpu",
             batch_views: int = 0):
    return parse_config({
        "name": "bench", "seed": 1,
        "render": {"width": width, "height": height, "frames": frames, "fps": 24, "substeps": 4,
                   "device": device, "batch_views": batch_views},
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


def _render(cfg, samples: int, timings: dict | None = None) -> tuple[float, list]:
    """(seconds, samples) for samples [0, samples), after one warm-up call."""
    generate_samples(cfg, [10_000 + i for i in range(min(samples, 2))])  # imports, kernels, allocator
    t0 = time.perf_counter()
    out = generate_samples(cfg, range(samples), timings)
    get_backend(cfg.render.device).synchronize()
    failed = [s for s in out if not hasattr(s, "frames")]
    if failed:
        raise failed[0]
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "torch-cpu", "gpu"])
    ap.add_argument("--sizes", default="256", help="square image sizes, comma-separated (default 256)")
    ap.add_argument("--samples", type=int, default=6, help="clips rendered on --device per size")
    ap.add_argument("--baseline-samples", type=int, default=2, help="clips rendered on the NumPy baseline")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--objects", type=int, default=10)
    ap.add_argument("--batch-views", type=int, default=0, help="views per launch (0: sized from memory)")
    ap.add_argument("--mp4", action="store_true", help="also encode the MP4 preview member")
    args = ap.parse_args()
    backend = get_backend(args.device)
    print(f"device {args.device}; {args.objects} objects, {args.frames} frames per clip, all modalities, "
          f"mp4={'on' if args.mp4 else 'off'}; 1 process (cores on machine: {os.cpu_count()})")
    for size in (int(s) for s in args.sizes.split(",")):
        cfg = workload(size, size, args.frames, args.objects, args.mp4, args.device, args.batch_views)
        per_launch = backend.batch_views(size, size, args.batch_views)
        timings: dict[str, float] = {}
        secs, samples = _render(cfg, args.samples, timings)
        fps = args.samples * args.frames / secs
        base_cfg = workload(size, size, args.frames, args.objects, args.mp4)
        base_secs, _ = _render(base_cfg, args.baseline_samples)
        base_fps = args.baseline_samples * args.frames / base_secs
        t0 = time.perf_counter()
        nbytes = sum(len(v) for s in samples for k, v in encode_sample(s, mp4=args.mp4).items() if k != "__key__")
        enc_fps = args.samples * args.frames / (time.perf_counter() - t0)
        print(f"\n{size}x{size}, {per_launch} views per launch:")
        print(f"  render on {args.device:9s}: {fps:9.1f} frames/s ({args.samples} clips)")
        print(f"  render on NumPy    : {base_fps:9.1f} frames/s ({args.baseline_samples} clips, the baseline)")
        print(f"  speedup            : {fps / base_fps:9.2f}x")
        print(f"  encode (1 CPU proc): {enc_fps:9.1f} frames/s, {nbytes / args.samples / 1e6:.2f} MB per clip; "
              f"encode processes to keep up with this renderer: {fps / enc_fps:.1f}")
        total = sum(timings.values())
        print("  where the render time goes:")
        for name, s in sorted(timings.items(), key=lambda kv: -kv[1]):
            print(f"    {name:30s} {1e3 * s / (args.samples * args.frames):8.3f} ms/frame  {100 * s / total:5.1f}%")


if __name__ == "__main__":
    main()
