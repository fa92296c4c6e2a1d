"""What point tracks cost: the CPU time of :func:`factory.render.tracks.render_tracks`
for 256 and 1024 points a clip as a share of the clip's render time without them, and
the bytes of the tracks members per sample, on shipped configs, in one process.

    taskset -c 0 .venv/bin/python benchmarks/tracks.py [--configs quickstart movi rooms]
        [--samples 4] [--repeats 3] [--points 256 1024] [--device cpu]

Per sample: its scene and motion (as ``generate_sample`` draws them), then
``render_clips`` of its clip (the render: launches and annotations) and, for each point
count, ``render_tracks`` on that render's depth and ids (query draw, posing and
projection on the host, the visibility launch); each the best of ``--repeats`` calls
after a warm-up, in CPU seconds of the process (``time.process_time``; on a shared
machine wall time counts other processes' work). One thread: BLAS and OpenMP pinned
before NumPy loads; a Warp CPU launch is one thread. Bytes: the ``.npy`` members of
:func:`factory.sample.track_members.encode_tracks` (uncompressed, as the tar holds them).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from factory.render.device import get_device  # noqa: E402
from factory.render.renderer import Clip, render_clips  # noqa: E402
from factory.render.tracks import TrackRequest, render_tracks  # noqa: E402
from factory.sample.generate import scenario_of  # noqa: E402
from factory.sample.scenes import scene_and_motion  # noqa: E402
from factory.sample.track_members import encode_tracks  # noqa: E402
from factory.scene.config import load_config  # noqa: E402
from factory.scene.sampling import rng_for  # noqa: E402


def _best(fn, repeats: int):
    """(least CPU seconds over ``repeats`` calls after one warm-up, the last result)."""
    out = fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def measure(name: str, samples: int, repeats: int, points: list[int], device) -> dict:
    config = load_config(ROOT / "configs" / f"{name}.yaml")
    r = config.render
    render_s, frames = 0.0, 0
    tracks_s = dict.fromkeys(points, 0.0)
    nbytes = {n: [] for n in points}
    for index in range(samples):
        scene, motion = scene_and_motion(config, scenario_of(config, index, samples), index)

        def render(scene=scene, motion=motion, index=index):
            clip = Clip(scene, motion, r.motion_blur_samples, rng_for(config.seed, index, "render"))
            return render_clips([clip], device, r.batch_views, None, None, r)[0]

        seconds, rendered = _best(render, repeats)
        render_s += seconds
        frames += scene.frames
        for n in points:

            def tracks(n=n, scene=scene, motion=motion, rendered=rendered, index=index):
                req = TrackRequest(
                    scene, motion, rendered.frames.depth, rendered.frames.instance, n,
                    config.output.track_object_share, rng_for(config.seed, index, "tracks"),
                )  # fmt: skip
                return render_tracks([req], device)[0]

            seconds, tr = _best(tracks, repeats)
            tracks_s[n] += seconds
            nbytes[n].append(sum(len(b) for b in encode_tracks(tr).values()))
    H, W = r.height, r.width
    return {"config": name, "image": f"{W}x{H}x{r.frames}", "render": render_s / frames, "frames": frames} | {
        n: (tracks_s[n] / frames, float(np.mean(nbytes[n]))) for n in points
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", nargs="+", default=["quickstart", "movi", "rooms"])
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--points", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    device = get_device(args.device)
    head = "| config | image (W x H x T) | render ms/frame |"
    for n in args.points:
        head += f" {n} tracks ms/frame | share | kB/sample |"
    print(head)
    print("|---" * (3 + 3 * len(args.points)) + "|")
    for name in args.configs:
        m = measure(name, args.samples, args.repeats, args.points, device)
        row = f"| {name} | {m['image']} | {1e3 * m['render']:.2f} |"
        for n in args.points:
            per_frame, nbytes = m[n]
            row += f" {1e3 * per_frame:.3f} | {per_frame / m['render']:.1%} | {nbytes / 1e3:.1f} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
