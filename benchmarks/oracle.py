"""The independent oracle's cost in ``factory validate``, against validate without it,
in the same run; and the ``geometry.glb`` member's bytes per sample.

    python benchmarks/oracle.py [--configs quickstart,household] [--samples 16]
                                [--shard-size 8] [--fractions 0.001,0.01,0.1]
                                [--repeats 2] [--out DIR]

Per config: ``--samples`` samples written without Ray (``generate_members`` into the
dataset writer) into ``--out``/<config> (default: a temporary folder; reused when its
manifest is there). Arms, each ``validate_dataset`` in one process over every shard:
``--oracle 0`` (the baseline) and each fraction. The arms take turns ``--repeats`` times
and each arm's best run counts; the page cache is warmed by a first read. It prints
seconds per sample, the ratio to the baseline, the oracle's own seconds per sample and
its figures (max / p99 error per layer); then the members' mean bytes per sample.
For a config whose samples carry optional layers or point tracks, a second table: the
oracle's own seconds per sample (``check_sample`` on the decoded samples, best of
``--repeats``) at each fraction with the base layers only and with each new check
added on its own (backward flow, scene flow, object coordinates, amodal mask + depth,
tracks), and with all of them.
Figures depend on the machine; nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_dataset(config_path: Path, folder: Path, samples: int, shard_size: int):
    """The dataset of ``samples`` samples of the config at ``folder`` (made if absent)."""
    from factory.dataset.resume import prepare
    from factory.dataset.shards import build_shard, shard_count, shard_indices
    from factory.dataset.storage import resolve
    from factory.sample.generate import generate_members
    from factory.scene.config import load_config

    if (folder / "manifest.json").exists():
        return
    config = load_config(config_path)
    plan = prepare(resolve(str(folder)), config, samples=samples, shard_size=shard_size, mode="overwrite")
    done = {}
    for s in range(shard_count(samples, shard_size)):
        members = [generate_members(config, i, samples=samples) for i in shard_indices(s, samples, shard_size)]
        done[s] = plan.put_shard(s, build_shard([(m["__key__"], m) for m in members]))
    plan.commit(done)


def member_bytes(folder: Path) -> dict[str, float]:
    """Mean bytes per sample of each member over the dataset's shards."""
    from factory.dataset.reader import iter_tar

    total: dict[str, int] = {}
    n = 0
    for tar in sorted(folder.glob("*.tar")):
        for _, members in iter_tar(tar.read_bytes(), tar.name):
            n += 1
            for name, data in members.items():
                if not name.startswith("__"):
                    total[name] = total.get(name, 0) + len(data)
    return {k: v / max(n, 1) for k, v in sorted(total.items())}


NEW_CHECKS = {  # the new checks and the Stored fields each needs
    "backward flow": ("backward_flow", "backward_valid"),
    "scene flow": ("scene_flow", "scene_flow_valid"),
    "object coords": ("object_coords",),
    "amodal + depth": ("amodal", "amodal_depth"),
    "tracks": ("tracks",),
}


def new_check_costs(folder: Path, fractions: list[float], repeats: int) -> None:
    """Print the oracle's seconds per sample with the base layers and each new check."""
    import dataclasses

    from factory.dataset.reader import iter_tar
    from factory.sample.decode import decode_sample
    from factory.trust.oracle import GEOMETRY_MEMBER, Stored, check_sample
    from factory.trust.validate.oracle import oracle_stored

    samples = []
    for tar in sorted(folder.glob("*.tar")):
        for key, members in iter_tar(tar.read_bytes(), tar.name):
            frames, meta = decode_sample({k: v for k, v in members.items() if k != GEOMETRY_MEMBER})
            base = Stored(frames.depth, frames.instance, frames.normals, frames.flow, frames.flow_valid, meta)
            samples.append((key, base, oracle_stored(base, frames, members), members.get(GEOMETRY_MEMBER)))
    have = [n for n, fields in NEW_CHECKS.items() if all(getattr(samples[0][2], f) is not None for f in fields)]
    if not have:
        return
    variants = {"base layers": ()} | {f"+ {n}": NEW_CHECKS[n] for n in have}
    variants["all"] = tuple(f for n in have for f in NEW_CHECKS[n])

    def run(fields, fraction):
        # CPU seconds of this process: the oracle is single-threaded NumPy, and CPU time
        # is less disturbed than wall time by other work on a shared machine.
        t0 = time.process_time()
        for key, base, full, geometry in samples:
            stored = dataclasses.replace(base, **{f: getattr(full, f) for f in fields})
            check_sample(key, stored, geometry, fraction)
        return (time.process_time() - t0) / len(samples)

    run((), fractions[0])  # warm: the meshes' ray casters
    print("\noracle CPU s/sample, base layers and each new check added (check_sample, best of repeats, interleaved):")
    print("| oracle fraction | " + " | ".join(variants) + " |")
    print("|---" * (len(variants) + 1) + "|")
    for f in fractions:
        runs = [[run(fields, f) for fields in variants.values()] for _ in range(repeats)]
        best = [min(r[i] for r in runs) for i in range(len(variants))]
        print(f"| {f:g} | " + " | ".join(f"{b:.4f}" for b in best) + " |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="quickstart,household")
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--shard-size", type=int, default=8)
    ap.add_argument("--fractions", default="0.001,0.01,0.1")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    from factory.trust.validate import validate_dataset

    out = Path(args.out or tempfile.mkdtemp(prefix="oracle-bench-"))
    fractions = [0.0] + [float(f) for f in args.fractions.split(",")]
    for name in args.configs.split(","):
        folder = out / name
        make_dataset(ROOT / "configs" / f"{name}.yaml", folder, args.samples, args.shard_size)
        validate_dataset(folder, oracle=0.0)  # warm: the page cache, imports
        best: dict[float, float] = {}
        figures: dict[float, dict] = {}
        for _ in range(args.repeats):
            for f in fractions:
                t0 = time.perf_counter()
                result = validate_dataset(folder, oracle=f)
                dt = time.perf_counter() - t0
                assert result.ok, result.lines()
                best[f] = min(best.get(f, float("inf")), dt)
                figures[f] = result.oracle
        n = result.samples
        print(f"\n{name}: {n} samples ({folder})")
        print("| oracle fraction | s/sample | ratio to validate without it | oracle s/sample |")
        print("|---|---|---|---|")
        for f in fractions:
            label = "0 (off, baseline)" if f == 0 else f"{f:g}"
            extra = (best[f] - best[0.0]) / n
            print(f"| {label} | {best[f] / n:.3f} | {best[f] / best[0.0]:.2f} | {extra:.3f} |")
        top = figures[fractions[-1]]
        print(f"oracle figures at {fractions[-1]:g} (max / p99 vs tolerance):")
        for layer, fig in top.items():
            if isinstance(fig, dict):
                print(
                    f"  {layer}: {fig['compared']} compared, max {fig['max']:.3g} / p99 {fig['p99']:.3g} "
                    f"(tolerance {fig['tolerance']:.3g}), {fig['edges']} at silhouettes"
                )
        sizes = member_bytes(folder)
        print("bytes per sample: " + ", ".join(f"{k} {v:,.0f}" for k, v in sizes.items()))
        new_check_costs(folder, fractions[1:], args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
