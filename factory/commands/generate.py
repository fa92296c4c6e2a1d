"""``factory generate CONFIG --out URL --samples N``: a sharded dataset, on Ray Data.

Renders samples [0, N) of CONFIG on a Ray cluster (RAY_ADDRESS) or on an embedded
local Ray, and writes WebDataset shards of --shard-size samples, <prefix>-000000.tar
..., plus manifest.json (written last: a dataset without one is incomplete) to URL: a
folder, file://, s3://bucket/prefix, memory:// or any installed fsspec protocol.
Rerunning the same command after an interruption makes only the shards that are
missing or fail their checksum. --device cuda renders on GPUs (one per render actor
unless --gpus-per-worker says otherwise; encoding stays on CPU actors); --device and
--batch-views replace the config's render.device and render.batch_views. The same
arguments work as a Ray job entrypoint:
ray job submit --working-dir . -- python -m jobs.generate CONFIG --out URL ...
"""

from __future__ import annotations

import argparse

from factory.commands.argtypes import add_render_options, add_storage_option, float_at_least, int_at_least
from factory.commands.jobmain import job_main

HELP = "generate a sharded dataset on Ray Data"


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of ``factory generate`` and ``python -m jobs.generate`` (the same)."""
    from factory.dataset.shards import DEFAULT_SHARD_SIZE

    p.add_argument("config", metavar="CONFIG", help="scenario YAML file, e.g. configs/quickstart.yaml")
    p.add_argument(
        "--out",
        required=True,
        metavar="URL",
        help="dataset location: a folder, file://..., s3://bucket/prefix, memory://... "
        "(local paths are made absolute on this machine)",
    )
    p.add_argument("--samples", required=True, type=int_at_least(1), metavar="N", help="number of samples")
    p.add_argument(
        "--shard-size",
        type=int_at_least(1),
        default=DEFAULT_SHARD_SIZE,
        metavar="S",
        help=f"samples per shard (default {DEFAULT_SHARD_SIZE})",
    )
    p.add_argument("--prefix", default=None, help="shard name prefix (default: the config's name)")
    p.add_argument(
        "--min-workers",
        type=int_at_least(1),
        default=1,
        metavar="A",
        help="render actors the pool keeps at least (default 1)",
    )
    p.add_argument(
        "--max-workers",
        type=int_at_least(1),
        default=None,
        metavar="B",
        help="render actors the pool grows to (default: as many as the cluster's CPUs, or "
        "GPUs / --gpus-per-worker, allow)",
    )
    p.add_argument(
        "--gpus-per-worker",
        type=float_at_least(0.0),
        default=0.0,
        metavar="G",
        help="GPUs each render actor holds (default 0, which means 1 with --device cuda)",
    )
    p.add_argument(
        "--cpus-per-worker",
        type=float_at_least(0.0, strict=True),
        default=None,
        metavar="C",
        help="logical CPUs each render actor holds (default 1 with GPUs; 0.95 without, where "
        "each render actor also encodes its samples)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="require an existing dataset at URL and make only its missing or corrupt "
        "shards (rerunning without --resume does the same, and also starts fresh)",
    )
    mode.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the dataset at URL (its shards, manifest and records) and start over",
    )
    p.add_argument(
        "--max-failures",
        type=int_at_least(0),
        default=0,
        metavar="M",
        help="skip up to M samples whose generation fails, recording them in the manifest "
        "(default 0: the first failure stops the job)",
    )
    add_render_options(p)
    add_storage_option(p)
    p.add_argument("--no-progress", action="store_true", help="hide Ray Data's progress bars")
    return p


def run(args: argparse.Namespace) -> int:
    from factory.commands import preflight

    config, location, mode = preflight.generate(args)  # every refusal, before Ray is imported

    from factory.onray.pipeline import generate_dataset

    print(f"factory generate: {args.samples} samples of {args.config} -> {location.describe()}", flush=True)
    summary = generate_dataset(
        config,
        location,
        samples=args.samples,
        shard_size=args.shard_size,
        prefix=args.prefix,
        min_workers=args.min_workers,
        max_workers=args.max_workers,
        gpus_per_worker=args.gpus_per_worker,
        cpus_per_worker=args.cpus_per_worker,
        mode=mode,
        max_failures=args.max_failures,
        progress=not args.no_progress,
        log=lambda s: print(s, flush=True),
    )
    print("\n".join(summary.lines()), flush=True)
    return 0


def main(argv: list[str] | None = None, prog: str = "python -m jobs.generate") -> int:
    """Entry point for ``python -m jobs.generate``: same arguments, same errors as the CLI."""
    return job_main(prog, __doc__, add_arguments, run, argv)
