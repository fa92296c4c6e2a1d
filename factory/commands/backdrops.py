"""``factory backdrops build|check``: turn licensed HDRIs into a backdrop pack, or check one.

factory backdrops build --from blender|pmndrs|folder SOURCE... --out URL: imports every
SOURCE (--from once for all, or once per SOURCE in order: Debian's blender-data
unpacked, npm's @pmndrs/assets tarball or folder, or a folder of .exr/.hdr files with a
licences.csv), downscales each equirectangular map to --width pixels (an integer
factor, averaging in linear light weighted by solid angle so the mean radiance is
kept), then clamps negative radiance to 0 (lossy EXR compression leaves some; the log
counts them and the power the clamp added), measures its mean radiance and sun, and
writes the pack (pack.json and one folder per backdrop) atomically: nothing is left at
URL when anything is refused. Reading OpenEXR needs the 'hdri' extra. factory
backdrops check URL (or curated, the set the package ships) loads a backdrop pack,
verifies every licence, hash and image, and prints its backdrops with their
categories, sun shares and licences. Exit status 0 when done, 2
when a file is refused (the message names it).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

from factory.commands.argtypes import int_at_least

HELP = "build a backdrop pack from licensed HDRIs, or check one"


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``factory backdrops build ...`` and ``factory backdrops check URL`` share one parser."""
    from factory.assets.backdrops.build import DEFAULT_WIDTH
    from factory.assets.backdrops.importers import IMPORTERS

    p.add_argument("action", choices=("build", "check"), help="build a backdrop pack, or check one")
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="build: the sources (files or folders); check: the pack's URL"
    )
    p.add_argument(
        "--from",
        dest="source_kind",
        action="append",
        choices=tuple(IMPORTERS),
        help="build: what the sources are: once for all of them, or once per PATH in order",
    )
    p.add_argument("--out", metavar="URL", help="build: where the pack goes (a new folder or fsspec URL)")
    p.add_argument(
        "--width",
        type=int_at_least(2),
        default=DEFAULT_WIDTH,
        metavar="PX",
        help=f"build: downscale maps to PX pixels wide, an even divisor of each map's width (default {DEFAULT_WIDTH})",
    )
    p.add_argument("--name", help="build: the pack's name (default: the --out folder's name)")
    p.add_argument(
        "--only",
        metavar="ID,...",
        help="build: only these backdrop ids (comma-separated, or @FILE with one id a line; an id not found is an error)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from factory.errors import ConfigError

    if args.action == "check":
        if len(args.paths) != 1 or args.source_kind or args.out or args.name or args.only:
            raise ConfigError("factory backdrops check", ["check takes one URL and no --from, --out, --name or --only"])
        return _check(args.paths[0])
    missing = [flag for flag, value in (("--from", args.source_kind), ("--out", args.out)) if not value]
    if missing:
        raise ConfigError("factory backdrops build", [f"{flag}: required to build a pack" for flag in missing])
    return _build(args)


def _build(args: argparse.Namespace) -> int:
    from factory.assets.backdrops.build import build_backdrops
    from factory.assets.backdrops.importers import IMPORTERS
    from factory.assets.pack import ID_PATTERN
    from factory.assets.source import asset_id
    from factory.commands.pack import _only
    from factory.errors import ConfigError

    name = args.name or asset_id(Path(args.out.rstrip("/")).name, "--out")
    if not re.match(ID_PATTERN, name):
        raise ConfigError("factory backdrops build", [f"--name: {name!r} must match {ID_PATTERN}"])
    kinds = args.source_kind
    if len(kinds) not in (1, len(args.paths)):
        raise ConfigError(
            "factory backdrops build",
            [f"--from: given {len(kinds)} times; give it once, or once per PATH ({len(args.paths)})"],
        )
    with tempfile.TemporaryDirectory(prefix="factory-backdrops-") as work:
        sources = []
        for i, source in enumerate(args.paths):
            kind = kinds[0] if len(kinds) == 1 else kinds[i]
            sources += IMPORTERS[kind](Path(source), Path(work) / str(i))
        if args.only:
            keep = _only(args.only, [s.id for s in sources])
            sources = [s for s in sources if s.id in keep]
        print(f"factory backdrops build: {len(sources)} backdrops from {len(args.paths)} sources", flush=True)
        pack = build_backdrops(
            sources, args.out, name, width=args.width, log=lambda s: print(s, file=sys.stderr, flush=True)
        )
    print(f"wrote {args.out}", flush=True)
    print("\n".join(summary(pack)), flush=True)
    return 0


def _check(url: str) -> int:
    from factory.assets.backdrops.loaded import backdrops_url
    from factory.assets.backdrops.pack import load_backdrops

    pack = load_backdrops(backdrops_url(url))  # "curated": the package's own
    print(f"factory backdrops check: {url}: every licence, hash and image verified", flush=True)
    print("\n".join(summary(pack)), flush=True)
    return 0


def summary(pack) -> list[str]:
    """The lines ``factory backdrops check`` prints: name, count with the held-out
    share, one line per backdrop (id, size, category, sun share, licence, creator),
    then licences with counts."""
    from factory.assets.backdrops.pack import split_backdrops

    test = {b.id for b in split_backdrops(pack, "test")}
    lines = [
        f"backdrop pack {pack.name} (format {pack.meta.format}, version {pack.meta.version}): "
        f"{len(pack.backdrops)} backdrops, {len(test)} held out for test"
    ]
    for b in pack.backdrops:
        held = ", test" if b.id in test else ""
        lines.append(
            f"  {b.id}: {b.width}x{b.height}, {b.bytes} bytes, {b.category}, sun share {b.sun.share:.3f}, "
            f"{b.licence}, {b.creator}{held}"
        )
    lines.append("licences:")
    counts = Counter(b.licence for b in pack.backdrops)
    lines += [f"  {k}: {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return lines
