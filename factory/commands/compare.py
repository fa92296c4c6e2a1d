"""``factory compare URL_A URL_B``: how far two datasets' pictures lie apart.

Profiles one picture per sample of each dataset (a factory clip's first frame, or the
jpg/png/webp of any other WebDataset: a folder or prefix with manifest.json, a folder of
.tar shards, or one .tar) and prints each side's size and near-duplicate rate (64-bit
perceptual hashes), the share of B's pictures that nearly duplicate one of A's, the
Fréchet distance between the two sets of colour, exposure and edge features
(standardised with the pooled mean and std, so units cancel), each feature's
Wasserstein-1 distance largest first, and a verdict in plain words. It measures and does
not judge: the exit status is 0 whatever the distance, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from factory.commands.argtypes import add_storage_option, int_at_least
from factory.errors import StorageError

HELP = "compare two datasets' picture statistics (diversity and drift)"


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from factory.trust.diversity import HASH_BITS, NEAR_DUPLICATE_BITS

    p.add_argument("url_a", metavar="URL_A", help="reference dataset (e.g. the real set, or the old version)")
    p.add_argument("url_b", metavar="URL_B", help="dataset compared with it")
    p.add_argument(
        "--max-samples",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="read only the first N samples of each dataset, in dataset order (default: all)",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write every figure (both profiles' per-feature summaries included) as JSON to FILE",
    )
    p.add_argument(
        "--near-duplicate-bits",
        type=_bits(HASH_BITS),
        default=NEAR_DUPLICATE_BITS,
        metavar="B",
        help=f"largest Hamming distance of {HASH_BITS} hash bits counted as a near-duplicate "
        f"(default {NEAR_DUPLICATE_BITS})",
    )
    add_storage_option(p, "both URLs")
    return p


def _bits(high: int):
    def parse(text: str) -> int:
        value = int_at_least(0)(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {value}")
        return value

    return parse


def run(args: argparse.Namespace) -> int:
    from factory.dataset.options import parse_options
    from factory.trust.diversity import compare, profile_dataset

    options = parse_options(args.storage_option)
    if args.json is not None:
        folder = args.json.parent if str(args.json.parent) else Path(".")
        if not folder.is_dir():
            raise StorageError(f"--json {str(args.json)!r}: folder {str(folder)!r} does not exist")

    def log(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    profiles = []
    for tag, url in (("A", args.url_a), ("B", args.url_b)):
        print(f"factory compare: reading {tag} = {url}", file=sys.stderr, flush=True)
        profiles.append(
            profile_dataset(
                url, options=options, max_samples=args.max_samples, log=log, max_distance=args.near_duplicate_bits
            )
        )
    result = compare(*profiles, max_distance=args.near_duplicate_bits)
    print("\n".join(result.lines()), flush=True)
    if args.json is not None:
        _write_json(args.json, result.to_json())
        print(f"wrote {args.json}", flush=True)
    return 0


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"--json {str(path)!r}: cannot write: {e.strerror}") from None
