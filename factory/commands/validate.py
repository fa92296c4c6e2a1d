"""``factory validate URL``: re-read a dataset and check everything.

Checks the manifest against the shards (every listed shard present, bytes and sha256
as recorded, no extra shards, sample counts and key ranges), that every tar parses and
every sample decodes, the ground truth's invariants per sample (ids, classes,
boxes, depth, normals, flow, scenario allocation) and, at a share of pixels
(--oracle), the ground truth against an independent ray caster. Prints a summary and every failure
as "SHARD KEY CHECK: message", writes the result as JSON (--result), and exits with 0
when everything passes, 1 when anything fails, 2 for bad arguments or an unreachable
URL. The same arguments work as a Ray job entrypoint (Ray engine by default):
ray job submit --working-dir . -- python -m jobs.validate URL ...
"""

from __future__ import annotations

import argparse
import sys
import time

from factory.commands.argtypes import add_storage_option, int_at_least, share
from factory.commands.jobmain import job_main

DEFAULT_RESULT = "validation.json"

HELP = "check a dataset: manifest, shards, samples, ground truth"


def add_arguments(p: argparse.ArgumentParser, engine: str = "local") -> argparse.ArgumentParser:
    """The arguments of ``factory validate`` and ``python -m jobs.validate`` (the same;
    only the default ``--engine`` differs)."""
    from factory.commands.engines import ENGINES
    from factory.trust.oracle import DEFAULT_FRACTION
    from factory.trust.validate import DEFAULT_MAX_LISTED

    p.add_argument(
        "url",
        metavar="URL",
        help="dataset location: a folder, file://..., s3://bucket/prefix, "
        "memory://... (a folder of .tar files without a manifest is "
        "checked for tar integrity and unique keys, and fails)",
    )
    p.add_argument(
        "--result",
        default=DEFAULT_RESULT,
        metavar="FILE",
        help=f"where to write the machine-readable result (JSON; default {DEFAULT_RESULT} in the "
        "current folder; '-' for stdout, the human summary then goes to stderr)",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=engine,
        help=f"local: this machine (--workers processes); ray: one Ray Data task per shard, on "
        f"RAY_ADDRESS's cluster or an embedded local Ray (default {engine})",
    )
    p.add_argument(
        "--workers",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="shards checked at once (default: local 1, ray as many as the cluster's CPUs)",
    )
    p.add_argument(
        "--max-listed",
        type=int_at_least(0),
        default=DEFAULT_MAX_LISTED,
        metavar="N",
        help=f"failures listed in the output and the result (default {DEFAULT_MAX_LISTED}); all are counted",
    )
    oracle = p.add_mutually_exclusive_group()
    oracle.add_argument(
        "--oracle",
        type=share,
        nargs="?",
        const=DEFAULT_FRACTION,
        default=DEFAULT_FRACTION,
        metavar="FRACTION",
        help=f"the share of each frame's pixels the independent oracle re-derives (a float64 ray caster over "
        f"the documented geometry: depth, ids, normals, flow, boxes; docs/trust.md); on by default at "
        f"{DEFAULT_FRACTION}; 0 turns it off, 1 checks every pixel",
    )
    oracle.add_argument("--no-oracle", dest="oracle", action="store_const", const=0.0, help="the same as --oracle 0")
    add_storage_option(p)
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    return p


class _Progress:
    """``checked k/n shards`` on stderr, at most every 2 s and at the end."""

    def __init__(self):
        self.last = 0.0

    def __call__(self, done: int, total: int, name: str) -> None:
        now = time.monotonic()
        if done == total or now - self.last >= 2.0:
            self.last = now
            print(f"checked {done}/{total} shards (last: {name})", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from factory.commands import preflight
    from factory.commands.engines import map_shards_for
    from factory.errors import StorageError
    from factory.trust.validate import validate_dataset

    location = preflight.validate(args)  # every refusal, before Ray is imported
    out = sys.stderr if args.result == "-" else sys.stdout
    print(f"factory validate: {location.describe()} ({args.engine} engine)", file=out, flush=True)
    result = validate_dataset(
        location,
        map_shards=map_shards_for(args.engine),
        workers=args.workers,
        max_failures_listed=args.max_listed,
        progress=None if args.no_progress else _Progress(),
        log=lambda s: print(s, file=sys.stderr, flush=True),
        oracle=args.oracle,
    )
    print("\n".join(result.lines()), file=out, flush=True)
    if args.result == "-":
        sys.stdout.write(result.to_json())
        sys.stdout.flush()
    else:
        try:
            with open(args.result, "w", encoding="utf-8") as f:
                f.write(result.to_json())
        except OSError as e:
            raise StorageError(f"--result {args.result!r}: cannot write the result ({e})") from None
        print(f"result: {args.result}", file=out, flush=True)
    return 0 if result.ok else 1


def main(argv: list[str] | None = None, prog: str = "python -m jobs.validate") -> int:
    """Entry point for ``python -m jobs.validate``: same arguments (``--engine`` defaults
    to ray), same errors and exit statuses as the CLI."""
    return job_main(prog, __doc__, lambda p: add_arguments(p, engine="ray"), run, argv)
