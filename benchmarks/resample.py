"""The share of clips drawn again, per scenario of every shipped config, and why.

For each config in ``configs/`` (or ``--configs``), samples 0..N-1 of a dataset of N
(``--samples``) are generated as the pipeline makes them (``generate_samples``, the
config's own size and frames; no Ray) and their ``retries`` / ``retry_reasons`` are
counted per scenario: the share of samples with at least one retry, the retries per
sample, and the count of each reason (``factory.sample.scenes.RETRY_REASONS``). The
render-time check (``empty_render``) costs a second render of the clips it throws away:
its extra render work is their count over N.

    python benchmarks/resample.py [--samples 40] [--configs configs/quickstart.yaml ...]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from factory.errors import RenderError  # noqa: E402
from factory.sample.generate import generate_samples  # noqa: E402
from factory.sample.scenes import RETRY_REASONS  # noqa: E402
from factory.scene.config import load_config  # noqa: E402


def measure(path: Path, samples: int, batch: int = 8) -> dict:
    """Per scenario: samples, samples with a retry, retries, reasons (Counter), failures."""
    config = load_config(path)
    stats: dict = defaultdict(lambda: {"samples": 0, "retried": 0, "retries": 0, "reasons": Counter(), "failed": 0})
    for start in range(0, samples, batch):
        for s in generate_samples(config, range(start, min(start + batch, samples)), samples=samples):
            if isinstance(s, RenderError):
                stats["(failed)"]["failed"] += 1
                continue
            row = stats[s.scenario]
            row["samples"] += 1
            row["retried"] += s.meta["retries"] > 0
            row["retries"] += s.meta["retries"]
            row["reasons"].update(s.meta["retry_reasons"])
    return dict(stats)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--configs", nargs="*", type=Path, default=sorted((ROOT / "configs").glob("*.yaml")))
    args = ap.parse_args(argv)
    reasons = list(RETRY_REASONS)
    print(f"samples 0..{args.samples - 1} of a dataset of {args.samples} per config")
    print("| config | scenario | samples | drawn again | retries/sample | " + " | ".join(reasons) + " |")
    print("|---|---|---|---|---|" + "---|" * len(reasons))
    for path in args.configs:
        for name, row in sorted(measure(path, args.samples).items()):
            n = max(row["samples"], 1)
            counts = " | ".join(str(row["reasons"][r]) for r in reasons)
            print(
                f"| {path.stem} | {name} | {row['samples']} | {100 * row['retried'] / n:.0f}% | "
                f"{row['retries'] / n:.2f} | {counts} |" + (f" ({row['failed']} failed)" if row["failed"] else ""),
                flush=True,
            )


if __name__ == "__main__":
    main()
