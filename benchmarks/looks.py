"""Frames per second per core of issue 25's look (GGX materials, procedural textures,
sky/HDRI backdrops with image-based lighting, exposure and tone, the albedo and
material members) against the renderer before it, and what each option costs.

    taskset -c 0 .venv/bin/python benchmarks/looks.py [--samples 8] [--repeats 2]
        [--baseline-commit db7823f] [--no-baseline] [--no-options]

**Before and after**, in the same run: each commit renders its own shipped
``configs/{quickstart,movi,household,rooms}.yaml`` (each in a scratch worktree of the
baseline commit for the old one, as ``benchmarks/render.py`` does), and both render one
common config, the baseline's ``quickstart.yaml`` (old-style fields only: this commit
parses it and gives it the new defaults, a clear sky and the families' materials), to
set the renderer apart from what the configs now ask for.

**Options**, this commit only: the shipped quickstart with one thing changed by a config
override (backdrop kind, plain textures, a sized light with 1 or 4 shadow rays, ambient
occlusion, fixed exposure with a linear tone), and the encoding with and without the
``albedo.png`` and ``material.png`` members.

Each measurement runs in a fresh process (one thread: BLAS and OpenMP pinned before
NumPy loads; a Warp CPU launch is one thread) after a warm-up call of the same size; the
best of ``--repeats`` timed calls is kept. Times are CPU seconds of that process (wall
time on a shared machine counts the other processes too). "render" is the render launches and
annotations (``render_clips``'s ``timings["render"]``); "end to end" is
``generate_sample`` over the samples (scene sampling, physics, render, metadata); the
encode figures are ``encode_sample`` without mp4.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASELINE_COMMIT = "db7823f"  # main before issue 25
CONFIGS = ("quickstart", "movi", "household", "rooms")
LEAN = ("albedo.png", "material.png")  # the members issue 25 added

# Run in a process of its own, in whichever checkout is on sys.path.
_MEASURE = r"""
import json, sys, time
# CPU time of this process, not wall time: the shared machine's other work only adds to
# wall time; factory.timing reads time.perf_counter when a block ends.
time.perf_counter = time.process_time
from factory.sample.encode import IMAGE_MEMBERS, encode_sample
from factory.sample.generate import generate_sample
from factory.scene.config import parse_config
data, samples, repeats = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
lean = [m for m in IMAGE_MEMBERS if m not in json.loads(sys.argv[4])]
cfg = parse_config(data)
def run(indices, timings):
    return [generate_sample(cfg, i, timings) for i in indices]
run([10_000 + i for i in range(samples)], {})  # imports, kernels, caches: a worker's steady state
try:
    from factory.heap import settle
except ImportError:
    import gc
    def settle():
        gc.collect()
        gc.freeze()
settle()
best = None
for _ in range(repeats):  # the best of a few: another process on the core only ever adds time
    timings = {}
    t0 = time.perf_counter()
    out = run(range(samples), timings)
    gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    nbytes = sum(len(v) for s in out for k, v in encode_sample(s, mp4=False).items() if k != "__key__")
    enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in out:
        encode_sample(s, mp4=False, only=lean)
    enc_lean = time.perf_counter() - t0
    frames = sum(len(s.frames.rgb) for s in out)
    del out
    if best is None or gen + enc < best["gen"] + best["encode"]:
        best = dict(gen=gen, render=timings["render"], encode=enc, encode_lean=enc_lean, bytes=nbytes, frames=frames)
print(json.dumps(best))
"""


def measure(data: dict, samples: int, checkout: Path, repeats: int) -> dict:
    """Seconds of ``generate_sample`` (``gen``), of its render launches (``render``) and of
    encoding (``encode``; ``encode_lean`` without :data:`LEAN`) for ``samples`` clips of
    config ``data``, the best of ``repeats`` calls, and their ``frames`` and ``bytes``, in
    a fresh process running the ``factory`` package of ``checkout``."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    argv = [sys.executable, "-c", _MEASURE, json.dumps(data), str(samples), str(repeats), json.dumps(LEAN)]
    proc = subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"measuring in {checkout} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def config_data(checkout: Path, name: str) -> dict:
    """The config ``configs/<name>.yaml`` of ``checkout`` as data."""
    return yaml.safe_load((checkout / "configs" / f"{name}.yaml").read_text())


def _ms(m: dict, key: str) -> float:
    """Milliseconds per frame of measurement ``m``'s ``key``."""
    return 1e3 * m[key] / m["frames"]


def before_after(old: Path, samples: int, repeats: int) -> None:
    """The markdown table of each commit's own configs and the common one (``samples``
    clips of quickstart and the common config, half as many of the larger configs)."""
    print(
        "\n| config | image | before: render ms/frame | after | ratio | before: end to end ms/frame | after | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    common = config_data(old, "quickstart")
    common["name"] = "common"
    rows = [(name, config_data(old, name), config_data(ROOT, name)) for name in CONFIGS]
    rows.append(("common (db7823f's quickstart)", common, common))
    for name, old_data, new_data in rows:
        n = samples if name.startswith(("quickstart", "common")) else max(1, samples // 2)
        a = measure(old_data, n, old, repeats)
        b = measure(new_data, n, ROOT, repeats)
        r = new_data["render"]
        cells = []
        for key in ("render", "gen"):
            cells += [f"{_ms(a, key):.2f}", f"{_ms(b, key):.2f}", f"{_ms(b, key) / _ms(a, key):.2f}x"]
        print(f"| {name} | {r['width']}x{r['height']} | " + " | ".join(cells) + " |", flush=True)


def _override(data: dict, path: str, value) -> dict:
    """A copy of ``data`` with the dotted ``path`` (under every scenario when it starts
    with ``*.``) set to ``value``."""
    data = copy.deepcopy(data)
    keys = path.split(".")
    targets = list(data["scenarios"].values()) if keys[0] == "*" else [data]
    for target in targets:
        for k in keys[1:-1] if keys[0] == "*" else keys[:-1]:
            target = target.setdefault(k, {})
        target[keys[-1]] = value
    return data


def variants(base: dict) -> list[tuple[str, dict]]:
    """(label, config data) of each option's toggle on ``base``."""
    sized = {"count": 1, "kind": "area", "size": 0.3, "intensity": 1.0}
    lit = _override(_override(base, "*.backdrop.kind", "sky"), "*.lighting", sized)
    plain = _override(_override(base, "*.objects.texture", "plain"), "*.floor.texture", "plain")
    # As near the look before issue 25 as the fields go: a flat backdrop, one sun, plain
    # surfaces, no metering or tone curve (the GGX shading and the members stay).
    near_old = _override(_override(plain, "*.backdrop.kind", "flat"), "*.lighting", {"count": 1, "ambient": 0.25})
    near_old = _override(_override(near_old, "*.camera.exposure", "fixed"), "*.camera.tone", "linear")
    return [
        ("shipped quickstart (sky or hdri)", base),
        ("backdrop flat", _override(base, "*.backdrop.kind", "flat")),
        ("backdrop sky (sun shadows)", _override(base, "*.backdrop.kind", "sky")),
        ("backdrop overcast (no sun)", _override(base, "*.backdrop.kind", "overcast")),
        ("backdrop hdri", _override(base, "*.backdrop.kind", "hdri")),
        ("textures plain (objects, floor)", plain),
        ("sky + area light, shadow_rays 1", _override(lit, "render.shadow_rays", 1)),
        ("sky + area light, shadow_rays 4", _override(lit, "render.shadow_rays", 4)),
        ("ao_rays 4", _override(base, "render.ao_rays", 4)),
        (
            "exposure fixed, tone linear",
            _override(_override(base, "*.camera.exposure", "fixed"), "*.camera.tone", "linear"),
        ),
        ("near the old look: flat, 1 sun, plain, fixed linear", near_old),
    ]


def options(samples: int, repeats: int, match: str = "") -> None:
    """The markdown table of each option's cost on this commit (the variants whose
    label contains ``match``, and the shipped one they are compared with)."""
    print(
        "\n| variant | render ms/frame | vs shipped | end to end ms/frame | vs shipped | encode ms/frame | without albedo, material |"
    )
    print("|---|---|---|---|---|---|---|")
    ref = None
    for label, data in variants(config_data(ROOT, "quickstart")):
        if ref is not None and match not in label:
            continue
        m = measure(data, samples, ROOT, repeats)
        ref = ref or m
        print(
            f"| {label} | {_ms(m, 'render'):.2f} | {_ms(m, 'render') / _ms(ref, 'render'):.2f}x "
            f"| {_ms(m, 'gen'):.2f} | {_ms(m, 'gen') / _ms(ref, 'gen'):.2f}x "
            f"| {_ms(m, 'encode'):.2f} | {_ms(m, 'encode_lean'):.2f} |",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=8, help="clips per measurement")
    ap.add_argument("--repeats", type=int, default=2, help="timed calls per measurement (the best is kept)")
    ap.add_argument("--baseline-commit", default=BASELINE_COMMIT)
    ap.add_argument("--no-baseline", action="store_true", help="skip the before/after table")
    ap.add_argument("--no-options", action="store_true", help="skip the options table")
    ap.add_argument("--match", default="", help="only the options whose label contains this")
    args = ap.parse_args()
    print(
        f"{args.samples} samples a measurement, best of {args.repeats}; 1 process, 1 thread, cores allowed: {sorted(os.sched_getaffinity(0))}"
    )
    if not args.no_baseline:
        with tempfile.TemporaryDirectory() as tmp:
            old = Path(tmp) / "baseline"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.baseline_commit],
                check=True,
                capture_output=True,
            )
            try:
                before_after(old, args.samples, args.repeats)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], capture_output=True)
    if not args.no_options:
        options(args.samples, args.repeats, args.match)


if __name__ == "__main__":
    main()
