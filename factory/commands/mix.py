"""``factory mix --synthetic URL --real URL --ratio R --out URL``: synthetic + real data.

Writes a new dataset of which a fraction R of the samples come from a real WebDataset
(any members: jpg + cls, png + json, ...; a folder or prefix of .tar files, or one
.tar) and the rest from a factory dataset, interleaved evenly and deterministically
from --seed. Every sample keeps its original members byte for byte and gains a
source.json member naming its source, dataset, URL, original shard and key, and
licence. Shards, records and manifest.json (kind "mix", written last) are factory's
own, so factory's tools and any WebDataset reader read the result.
"""

from __future__ import annotations

import argparse

from factory.commands.argtypes import add_storage_option, int_at_least

HELP = "mix a synthetic dataset with a real WebDataset"


def _ratio(text: str):
    from factory.dataset.mix import parse_ratio
    from factory.errors import ConfigError

    try:
        return parse_ratio(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(e.problems[0].removeprefix("--ratio ")) from None


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from factory.dataset.mix import DEFAULT_PREFIX
    from factory.dataset.shards import DEFAULT_SHARD_SIZE

    p.add_argument(
        "--synthetic",
        required=True,
        metavar="URL",
        help="a complete factory dataset (with manifest.json): folder, s3://..., memory://...",
    )
    p.add_argument(
        "--real",
        required=True,
        metavar="URL",
        help="any WebDataset: a folder or prefix of .tar files (read in name order; no manifest needed) or one .tar",
    )
    p.add_argument(
        "--ratio",
        required=True,
        type=_ratio,
        metavar="R",
        help="fraction of REAL samples in the output, 0 < R < 1 (0.25 or 1/4: a quarter real, "
        "three quarters synthetic); the real count is round(R*N), halves to even",
    )
    p.add_argument("--out", required=True, metavar="URL", help="where the mixed dataset goes (not an input)")
    p.add_argument("--seed", type=int_at_least(0), default=0, metavar="S", help="seed of the interleave (default 0)")
    p.add_argument(
        "--samples",
        type=int_at_least(2),
        default=None,
        metavar="N",
        help="samples in the output (default: as many as both sources allow at this ratio)",
    )
    p.add_argument(
        "--shard-size",
        type=int_at_least(1),
        default=DEFAULT_SHARD_SIZE,
        metavar="S",
        help=f"samples per shard (default {DEFAULT_SHARD_SIZE})",
    )
    p.add_argument(
        "--prefix", default=DEFAULT_PREFIX, help=f"shard name prefix and dataset name (default {DEFAULT_PREFIX})"
    )
    p.add_argument(
        "--real-licence",
        default=None,
        metavar="TEXT",
        help="licence of the real data, recorded in every real sample and the manifest; required "
        "unless the real dataset has a factory manifest that names one",
    )
    p.add_argument(
        "--real-name", default=None, metavar="NAME", help="name of the real dataset (default: the last part of its URL)"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace a dataset already at --out (its shards, manifest and records)"
    )
    add_storage_option(p, "all three URLs")
    return p


def run(args: argparse.Namespace) -> int:
    from factory.dataset.mix import mix
    from factory.dataset.options import parse_options

    summary = mix(
        args.synthetic,
        args.real,
        ratio=args.ratio,
        out=args.out,
        seed=args.seed,
        samples=args.samples,
        shard_size=args.shard_size,
        prefix=args.prefix,
        real_licence=args.real_licence,
        real_name=args.real_name,
        overwrite=args.overwrite,
        options=parse_options(args.storage_option),
        log=lambda s: print(s, flush=True),
    )
    print("\n".join(summary.lines()), flush=True)
    return 0
