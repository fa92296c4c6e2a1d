"""``factory report URL --out DIR``: an HTML report and a dataset card for a dataset.

Reads the dataset at URL once (a factory dataset with its manifest, a folder or prefix
of WebDataset .tar files, or one .tar) and writes into DIR (a folder or any storage
URL): report.html, self-contained with every plot embedded; the same plots as PNG
files; DATASET_CARD.md with provenance, licences, counts, intended use and the known
limits of procedural data; and stats.json with every figure shown. --reference URL
adds the drift of colour and edge statistics against another dataset. --engine ray
reads the shards in Ray Data tasks, the same files; as a Ray job entrypoint (Ray engine
by default): ray job submit --working-dir . -- python -m jobs.report URL --out URL
"""

from __future__ import annotations

import argparse

from factory.commands.argtypes import add_storage_option, int_at_least
from factory.commands.engines import ENGINES, map_shards_for
from factory.commands.jobmain import job_main

HELP = "write an HTML report, dataset card and stats for a dataset"


def add_arguments(p: argparse.ArgumentParser, engine: str = "local") -> argparse.ArgumentParser:
    """The arguments of ``factory report`` and ``python -m jobs.report`` (the same; only
    the default ``--engine`` differs)."""
    p.add_argument("url", metavar="URL", help="dataset: a folder, file://, s3://bucket/prefix, memory://, or a .tar")
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="folder (or storage URL) for report.html, DATASET_CARD.md, stats.json and the PNGs",
    )
    p.add_argument(
        "--max-samples",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="read only the first N samples, in dataset order (default: all; local engine only)",
    )
    p.add_argument(
        "--previews",
        type=int_at_least(0),
        default=16,
        metavar="K",
        help="samples shown in the preview grid (default 16)",
    )
    p.add_argument(
        "--reference",
        default=None,
        metavar="URL",
        help="a reference dataset (e.g. real data) to compare colour and edge statistics against",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=engine,
        help="local: this process (or --workers processes); ray: one Ray Data task per shard, on "
        f"RAY_ADDRESS's cluster or an embedded local Ray; the same files (default {engine})",
    )
    p.add_argument(
        "--workers",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="shards read at once: local worker processes (default 1), or Ray tasks (default: as "
        "many as the cluster's CPUs)",
    )
    add_storage_option(p, "every URL")
    return p


def run(args: argparse.Namespace) -> int:
    from factory.commands import preflight
    from factory.dataset.options import parse_options
    from factory.trust.report.build import make_report

    preflight.report(args)  # every refusal, before Ray is imported
    report = make_report(
        args.url,
        args.out,
        options=parse_options(args.storage_option),
        reference=args.reference,
        max_samples=args.max_samples,
        previews=args.previews,
        log=lambda s: print(f"  {s}", flush=True),
        map_shards=map_shards_for(args.engine),
        workers=args.workers,
    )
    print("\n".join(report.lines()), flush=True)
    return 0


def main(argv: list[str] | None = None, prog: str = "python -m jobs.report") -> int:
    """Entry point for ``python -m jobs.report``: same arguments (``--engine`` defaults
    to ray), same errors and exit statuses as the CLI."""
    return job_main(prog, __doc__, lambda p: add_arguments(p, engine="ray"), run, argv)
