"""``factory pack build|check``: turn a licensed source into an asset pack, or check one.

factory pack build --from sh3f|folder|pybullet SOURCE... --out URL: imports every
SOURCE (Sweet Home 3D .sh3f libraries, folders with a licences.csv, or pybullet_data's
random_urdfs folder), normalises each mesh (z up, metres, bounding box centred),
decimates meshes over --max-faces, downscales textures over --max-texture pixels, makes
each mesh's convex pieces for collisions (--parts coacd|hull; CoACD when installed), and
writes the pack (pack.json and one folder per asset) atomically: nothing is left at
URL when anything is refused. factory pack check URL loads a pack, verifies every
licence, hash, mesh and texture, and prints its assets, categories and licences with
counts. Exit status 0 when done, 2 when a file is refused (the message names it).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

from factory.commands.argtypes import int_at_least

HELP = "build an asset pack from licensed meshes, or check one"


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``factory pack build ...`` and ``factory pack check URL`` share one parser (the
    action is the first positional), so every option is listed on ``factory pack``."""
    from factory.assets.importers import IMPORTERS
    from factory.assets.pack import HARD_LIMITS, Limits

    p.add_argument("action", choices=("build", "check"), help="build a pack, or check one")
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="build: the sources (files or folders); check: the pack's URL"
    )
    p.add_argument("--from", dest="source_kind", choices=tuple(IMPORTERS), help="build: what the sources are")
    p.add_argument("--out", metavar="URL", help="build: where the pack goes (a new folder or fsspec URL)")
    p.add_argument(
        "--max-faces",
        type=int_at_least(1),
        default=Limits().max_faces,
        metavar="N",
        help=f"build: decimate meshes over N triangles (default {Limits().max_faces}, at most {HARD_LIMITS.max_faces})",
    )
    p.add_argument(
        "--max-texture",
        type=int_at_least(1),
        default=Limits().max_texture_px,
        metavar="PX",
        help=f"build: downscale textures over PX pixels a side (default {Limits().max_texture_px}, "
        f"at most {HARD_LIMITS.max_texture_px})",
    )
    p.add_argument(
        "--parts",
        choices=("hull", "coacd"),
        help="build: the convex pieces that collide: CoACD's decomposition (the 'assets' extra; the default "
        "when installed, seconds an asset) or each mesh's hull (milliseconds)",
    )
    p.add_argument("--name", help="build: the pack's name (default: the --out folder's name)")
    p.add_argument(
        "--skip-refused",
        action="store_true",
        help="build: leave out an asset the build refuses (named, with why) instead of refusing the pack",
    )
    p.add_argument(
        "--only",
        metavar="ID,...",
        help="build: only these asset ids (comma-separated, or @FILE with one id a line; an id not found is an error)",
    )
    return p


def _only(spec: str, found: list[str]) -> set[str]:
    """The ids ``--only`` names (``a,b`` or ``@file``); an id the sources lack is an error."""
    from factory.errors import ConfigError

    text = Path(spec[1:]).read_text() if spec.startswith("@") else spec.replace(",", "\n")
    wanted = {line.split("#")[0].strip() for line in text.splitlines()} - {""}
    missing = sorted(wanted - set(found))
    if missing:
        raise ConfigError("factory pack build", [f"--only: no asset {i!r} in the sources" for i in missing])
    return wanted


def run(args: argparse.Namespace) -> int:
    from factory.errors import ConfigError

    if args.action == "check":
        if (
            len(args.paths) != 1
            or args.source_kind
            or args.out
            or args.name
            or args.only
            or args.skip_refused
            or args.parts
        ):
            raise ConfigError(
                "factory pack check", ["check takes one URL and no --from, --out, --name, --only or --parts"]
            )
        return _check(args.paths[0])
    missing = [flag for flag, value in (("--from", args.source_kind), ("--out", args.out)) if not value]
    if missing:
        raise ConfigError("factory pack build", [f"{flag}: required to build a pack" for flag in missing])
    return _build(args)


def _build(args: argparse.Namespace) -> int:
    from factory.assets.build import build_pack
    from factory.assets.importers import IMPORTERS
    from factory.assets.pack import HARD_LIMITS, ID_PATTERN, Limits
    from factory.assets.source import asset_id
    from factory.errors import ConfigError

    limits = Limits(args.max_faces, args.max_texture)
    over = [
        f"{flag}: {value} is over the most a pack may hold, {most}"
        for flag, value, most in zip(("--max-faces", "--max-texture"), limits, HARD_LIMITS)
        if value > most
    ]
    if over:
        raise ConfigError("factory pack build", over)
    name = args.name or asset_id(Path(args.out.rstrip("/")).name, "--out")
    if not re.match(ID_PATTERN, name):
        raise ConfigError("factory pack build", [f"--name: {name!r} must match {ID_PATTERN}"])
    with tempfile.TemporaryDirectory(prefix="factory-pack-") as work:
        assets = []
        for i, source in enumerate(args.paths):
            assets += IMPORTERS[args.source_kind](Path(source), Path(work) / str(i))
        if args.only:
            keep = _only(args.only, [a.id for a in assets])
            assets = [a for a in assets if a.id in keep]
        print(f"factory pack build: {len(assets)} assets from {len(args.paths)} sources", flush=True)
        pack = build_pack(
            assets,
            args.out,
            name,
            limits=limits,
            log=lambda s: print(s, file=sys.stderr, flush=True),
            skip_refused=args.skip_refused,
            parts=args.parts,
        )
    print(f"wrote {args.out}", flush=True)
    print("\n".join(summary(pack)), flush=True)
    return 0


def _check(url: str) -> int:
    from factory.assets.pack import load_pack

    pack = load_pack(url)
    print(f"factory pack check: {url}: every licence, hash, mesh and texture verified", flush=True)
    print("\n".join(summary(pack)), flush=True)
    return 0


def summary(pack) -> list[str]:
    """The lines ``factory pack check`` prints: name, asset count with the held-out
    share, limits and how the convex pieces were made, then categories and licences with counts (most first, then by name)."""
    from factory.assets.pack import split

    pieces = pack.meta.parts.method if pack.meta.parts else "none stored (each mesh's hull)"
    lines = [
        f"pack {pack.name} (format {pack.meta.format}, version {pack.meta.version}): {len(pack.assets)} assets, "
        f"{len(split(pack, 'test'))} held out for test; limits {pack.limits.max_faces} faces, "
        f"{pack.limits.max_texture_px} px; convex pieces: {pieces}"
    ]
    for title, counts in (
        ("categories", Counter(a.category for a in pack.assets)),
        ("licences", Counter(a.licence for a in pack.assets)),
    ):
        lines.append(f"{title}:")
        lines += [f"  {k}: {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return lines
