"""What a multi-camera rig costs: the CPU time of generating a sample with K = 1, 2
(stereo) and 4 (ring) cameras, as ratios to K = 1 in the same run, and the bytes per
sample, on ``configs/quickstart.yaml`` (its scenes, layers and tracks) with
``render.cameras`` and the scenario's ``camera.rig`` set, in one process.

    taskset -c 0 .venv/bin/python benchmarks/cameras.py [--samples 4] [--rigs 1 2:stereo 4:ring]

Per rig: ``generate_samples`` of samples 0 .. n-1 one at a time (draw, physics, render
of every camera, tracks, metadata), after a warm-up sample, in CPU seconds of the
process (``time.process_time``; on a shared machine wall time counts other processes'
work), and the render alone: ``render_clips`` of the sample's K camera clips (as
``generate_samples`` makes them), CPU seconds; bytes: ``encode_sample``'s members
(without the MP4, as quickstart with ``output.mp4: false`` would have them; the MP4 is
camera 0's alone). One thread: BLAS and OpenMP pinned before NumPy loads; a Warp CPU
launch is one thread.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from factory.render.device import get_device  # noqa: E402
from factory.render.layers import Layers  # noqa: E402
from factory.render.renderer import Clip, render_clips  # noqa: E402
from factory.sample.encode import encode_sample  # noqa: E402
from factory.sample.generate import generate_samples, scenario_of  # noqa: E402
from factory.sample.scenes import scene_and_motion  # noqa: E402
from factory.scene.camera_rig import with_camera  # noqa: E402
from factory.scene.config import parse_config  # noqa: E402


def rig_config(cameras: int, rig: str):
    """quickstart with ``render.cameras`` and every scenario's ``camera.rig`` set."""
    data = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
    data["render"]["cameras"] = cameras
    for sc in data["scenarios"].values():
        sc.setdefault("camera", {})["rig"] = rig
    return parse_config(data, "quickstart+rig")


def measure(config, samples: int) -> dict:
    """CPU seconds, render seconds and bytes per sample over samples 0 .. n-1."""
    generate_samples(config, [samples], samples=samples + 1)  # warm-up: kernels, caches
    cpu = render = 0.0
    size = 0
    r, device = config.render, get_device("cpu")
    for i in range(samples):
        start = time.process_time()
        (sample,) = generate_samples(config, [i], samples=samples + 1)
        cpu += time.process_time() - start
        size += sum(len(v) for k, v in encode_sample(sample, mp4=False).items() if k != "__key__")
        scene, motion = scene_and_motion(config, scenario_of(config, i, samples + 1), i)
        clips = [Clip(with_camera(scene, c), motion, r.motion_blur_samples) for c in range(r.cameras)]
        start = time.process_time()
        render_clips(clips, device, r.batch_views, None, None, r, Layers.of(config.output))
        render += time.process_time() - start
    return {"cpu": cpu / samples, "render": render / samples, "bytes": size / samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--rigs", nargs="+", default=["1", "2:stereo", "4:ring"])
    args = parser.parse_args(argv)
    rows = []
    for spec in args.rigs:
        k, _, rig = spec.partition(":")
        rows.append((spec, measure(rig_config(int(k), rig or "stereo"), args.samples)))
    base = rows[0][1]
    print(f"quickstart, samples 0-{args.samples - 1}, per sample (ratios to {rows[0][0]}):")
    print("| rig | CPU s | ratio | render s | ratio | kB | ratio |")
    print("|---|---|---|---|---|---|---|")
    for spec, m in rows:
        print(
            f"| {spec} | {m['cpu']:.2f} | {m['cpu'] / base['cpu']:.2f} | {m['render']:.2f} | "
            f"{m['render'] / base['render']:.2f} | {m['bytes'] / 1000:.0f} | {m['bytes'] / base['bytes']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
