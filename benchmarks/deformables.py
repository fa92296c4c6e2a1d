"""What deformables cost per scenario of ``configs/deformables.yaml``: the CPU seconds of
a sample and of its physics (and the physics' share), against a rigid twin of the same
scenario in the same run (its deformable blocks removed, as many rigid objects as the
scenario's samples had objects and deformables together), and the memory a clip's
deformables take: the simulator's record (every substep's float64 positions and
velocities; a liquid's float32 particles at every frame and its surfaces) and the
sample's ``deform_*.npy`` and ``liquid_*.npy`` members.

    taskset -c 0 .venv/bin/python benchmarks/deformables.py [--samples 3] [--scenarios drape flag ...]

Per scenario: ``generate_samples`` of the first n samples of that scenario alone, one
at a time, after a warm-up sample, in CPU seconds of the process
(``time.process_time``; on a shared machine wall time counts other processes' work);
the physics: ``scene_and_motion`` of the same sample timed again alone (the draw and
the simulation; a draw thrown away counts too). One thread: BLAS and OpenMP pinned
before NumPy loads; a Warp CPU launch is one thread.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from factory.sample.encode import encode_sample  # noqa: E402
from factory.sample.generate import generate_samples  # noqa: E402
from factory.sample.scenes import scene_and_motion  # noqa: E402
from factory.scene.config import parse_config  # noqa: E402

DEFORMABLE_BLOCKS = ("cloth", "soft", "wind", "liquid")


def _alone(data: dict, name: str, scenario: dict):
    """The config with one scenario."""
    one = copy.deepcopy(data)
    one["scenarios"] = {name: scenario}
    return parse_config(one, f"deformables:{name}")


def measure(config, samples: int) -> dict:
    """Per sample: CPU s, physics s (the scene's draw and simulation, timed again on
    their own), things (objects + deformables), record and member bytes of the
    deformables."""
    generate_samples(config, [samples], samples=samples + 1)  # warm-up: kernels, caches
    out = {"cpu": 0.0, "physics": 0.0, "things": 0, "record": 0, "members": 0}
    for i in range(samples):
        start = time.process_time()
        (sample,) = generate_samples(config, [i], samples=samples + 1)
        out["cpu"] += time.process_time() - start
        start = time.process_time()  # the draw and the simulation again, alone
        scene_and_motion(config, sample.scenario, i)
        out["physics"] += time.process_time() - start
        meta = sample.meta
        deform = meta.get("deformables") or []
        out["things"] += len(meta["objects"]) + len(deform)
        S = meta["frames"] * config.render.substeps + 1
        out["record"] += sum(e["vertices"][1] for e in deform) * S * 3 * 8 * 2  # float64 positions, velocities
        liquids = meta.get("liquids") or []
        out["things"] += len(liquids)
        # a liquid's record: float32 positions and velocities at T + 1 states, and its surfaces
        out["record"] += sum(e["particles"][1] for e in liquids) * (meta["frames"] + 1) * 3 * 4 * 2
        members = encode_sample(sample, mp4=False)
        out["record"] += sum(len(v) for k, v in members.items() if k.startswith("liquid_surface"))
        out["members"] += sum(len(v) for k, v in members.items() if k.startswith(("deform_", "liquid_")))
    return {k: v / samples for k, v in out.items()}


def rigid_twin(data: dict, name: str, scenario: dict, things: float):
    """The scenario without its deformables, with ``things`` rigid objects instead."""
    twin = {k: v for k, v in copy.deepcopy(scenario).items() if k not in DEFORMABLE_BLOCKS}
    twin.setdefault("objects", {})["count"] = max(1, round(things))
    return _alone(data, name, twin)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--config", default=str(ROOT / "configs" / "deformables.yaml"))
    parser.add_argument("--scenarios", nargs="*", default=None)
    args = parser.parse_args(argv)
    data = yaml.safe_load(Path(args.config).read_text())
    names = args.scenarios or list(data["scenarios"])
    r = data["render"]
    print(f"{Path(args.config).name}: {r['width']}x{r['height']}, {r['frames']} frames, per sample, CPU seconds:")
    print(
        "| scenario | sample s | physics s | physics share | rigid twin: sample s | physics s | sample ratio | physics ratio | record MB | members kB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        scenario = data["scenarios"][name]
        m = measure(_alone(data, name, scenario), args.samples)
        b = measure(rigid_twin(data, name, scenario, m["things"]), args.samples)
        print(
            f"| {name} | {m['cpu']:.2f} | {m['physics']:.2f} | {m['physics'] / m['cpu']:.0%} | "
            f"{b['cpu']:.2f} | {b['physics']:.3f} | {m['cpu'] / b['cpu']:.1f} | "
            f"{m['physics'] / max(b['physics'], 1e-9):.0f} | {m['record'] / 1e6:.1f} | {m['members'] / 1e3:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
