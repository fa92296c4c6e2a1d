"""Where a frame's render time goes, per kernel pass, object count and resolution.

For each workload of :mod:`benchmarks.render` (``analytic``, ``mesh``), object count
(``--counts``) and square size (``--sizes``), the same clips (scenes and motion made
once, outside the timing) are rendered four ways in one process: the full kernel,
without flow, without shading and without both (no frame given a next one; the
jobs' ``shade`` column cleared). It runs the renderer of any checkout on
``PYTHONPATH``. Each is timed best of ``--repeat``; the parts are the differences:

* ``primary``: camera rays, ids, depth, normals, boxes (the render kernels without
  flow and shading);
* ``flow``: forward flow (full - without flow): a second trace per pixel in the
  renderer of before issue 23; since, the next view's primary hits read back, and
  that view's primary pass where its frame is in the next launch;
* ``shading``: textures, lights, shadow rays (full - without shading);
* ``resolve``: the sRGB kernel (since issue 23 only for motion-blurred frames; a frame
  drawn from one view has its sRGB written by ``render_views``); ``pack``: the host tables of each launch
  (``pack_views``, ``packed_scenes``: tables and mesh assets); ``readback``: the outputs to NumPy and the
  per-object annotations (``render_clips``' ``annotations`` timing).

All in ms of the thread's CPU time per frame (so another process on the same core
does not count; still pin it to one: ``taskset -c 0``)::

    python benchmarks/render_profile.py [--sizes 128,256,512] [--counts 1,10,40]
        [--workloads analytic,mesh] [--clips 2] [--frames 12] [--repeat 2] [--markdown]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from render import workload  # noqa: E402

# The thread's CPU time, not wall time: on a core shared with other work, time spent
# descheduled is not the renderer's (a Warp CPU launch runs on the calling thread).
_clock = time.thread_time

PARTS = ("primary", "flow", "shading", "resolve", "pack", "readback", "total")


def _clips(kind: str, size: int, count: int, clips: int, frames: int) -> list:
    """``clips`` clips of the workload with ``count`` objects: scenes and motion."""
    from factory.physics.dynamics import simulate
    from factory.render.renderer import Clip
    from factory.sample.generate import scenario_of
    from factory.sample.scenes import scene_and_model
    from factory.scene.config import parse_config

    data = workload(kind, size, frames)
    data["scenarios"]["standard"]["objects"]["count"] = count
    cfg = parse_config(data)
    out = []
    for index in range(clips):
        scene, built = scene_and_model(cfg, scenario_of(cfg, index), index)
        out.append(Clip(scene, simulate(scene, None, built)))
    return out


class _Probe:
    """Wraps the renderer's ``wp.launch``, ``pack_views`` and ``packed_scenes`` to add
    their seconds (a CPU launch is synchronous) to ``self.t``; ``without`` drops
    flow ("flow": no frame has a next one) and/or shading ("shading": the jobs'
    shade column cleared)."""

    def __init__(self):
        import factory.render.renderer as rr
        from factory.render.device import warp

        self.t: dict = {}
        self.without: tuple = ()
        wp = warp()
        launch, views, scenes, init = wp.launch, rr.pack_views, rr.packed_scenes, rr._Launch.__init__
        probe = self

        def timed(name, fn):
            def wrapper(*a, **k):
                t0 = _clock()
                try:
                    return fn(*a, **k)
                finally:
                    key = name if name != "launch" else a[0].key
                    probe.t[key] = probe.t.get(key, 0.0) + _clock() - t0

            return wrapper

        def ablated(self_, *a):
            init(self_, *a)
            if "shading" in probe.without:
                self_.jobs[3][:] = 0

        def units(*a):
            out = rr_units(*a)
            if "flow" in probe.without:  # no frame has a next: no flow, nor its view or job
                for u in out:
                    u.next = None
            return out

        rr_units = rr._units
        wp.launch = timed("launch", launch)
        rr.pack_views, rr.packed_scenes = timed("pack", views), timed("pack", scenes)
        rr._Launch.__init__, rr._units = ablated, units

    def run(self, clips: list, without: tuple, repeat: int) -> dict:
        """Best-of-``repeat`` seconds of each part of ``render_clips(clips)``."""
        from factory.render.renderer import render_clips

        best: dict = {}
        for _ in range(repeat):
            self.t, self.without = {}, without
            timings: dict = {}
            t0 = _clock()
            render_clips(clips, timings=timings)
            self.t["total"] = _clock() - t0
            self.t["readback"] = timings.get("annotations", 0.0)
            if not best or self.t["total"] < best["total"]:
                best = dict(self.t)
        return best


def profile(probe: _Probe, clips: list, repeat: int) -> dict:
    """ms per frame of each of PARTS for ``clips``."""
    n = sum(c.scene.frames for c in clips)
    full = probe.run(clips, (), repeat)
    runs = {w: probe.run(clips, w, repeat) for w in (("flow",), ("shading",), ("flow", "shading"))}
    bare = runs[("flow", "shading")]

    def kernel(run: dict) -> float:  # the render kernels (one, or primary + render_views)
        return run.get("primary", 0.0) + run["render_views"]

    ms = {
        "primary": kernel(bare),
        "flow": kernel(full) - kernel(runs[("flow",)]),
        "shading": kernel(full) - kernel(runs[("shading",)]),
        "resolve": full.get("resolve", 0.0),
        "pack": full["pack"],
        "readback": full["readback"],
        "total": full["total"],
    }
    return {k: 1e3 * v / n for k, v in ms.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="128,256,512")
    ap.add_argument("--counts", default="1,10,40")
    ap.add_argument("--workloads", default="analytic,mesh")
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--markdown", action="store_true", help="a Markdown table")
    args = ap.parse_args()
    probe = _Probe()
    head = ["workload", "objects", "size", *PARTS]
    if args.markdown:
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    else:
        print(" ".join(f"{h:>9s}" for h in head) + "   (ms per frame)")
    for kind in args.workloads.split(","):
        for count in (int(c) for c in args.counts.split(",")):
            for size in (int(s) for s in args.sizes.split(",")):
                clips = _clips(kind, size, count, args.clips, args.frames)
                probe.run(clips[:1], (), 1)  # kernels compiled and loaded, meshes built
                ms = profile(probe, clips, args.repeat)
                cells = [kind, str(count), str(size), *(f"{ms[p]:.2f}" for p in PARTS)]
                if args.markdown:
                    print("| " + " | ".join(cells) + " |", flush=True)
                else:
                    print(" ".join(f"{c:>9s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
