"""``factory render CONFIG --index I [--index J ...] --out DIR``: samples as local files.

For each index it generates the sample, encodes it exactly as a shard would hold it,
and writes every member as DIR/<key>.<ext> (0000000007.rgb.png, 0000000007.json, ...),
plus two pictures for people: DIR/<key>.contact.png (contact sheet of the middle
frame) and DIR/<key>.preview.gif (every frame's contact sheet). Each file appears
atomically: it is written under a temporary name, then renamed. --device and
--batch-views replace the config's render.device and render.batch_views; a device this
machine cannot render on (cuda without a CUDA device) is refused before anything renders.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from factory.commands.argtypes import add_render_options, int_at_least
from factory.errors import StorageError

HELP = "render samples to local files with previews"


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("config", metavar="CONFIG", help="scenario YAML file, e.g. configs/quickstart.yaml")
    p.add_argument(
        "--index",
        type=int_at_least(0),
        action="append",
        required=True,
        metavar="I",
        help="sample index (>= 0); repeat for several samples",
    )
    p.add_argument(
        "--samples",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="the size of the dataset the indices belong to, which fixes each index's scenario "
        "(factory generate --samples N); default: the open-ended stream of factory serve",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (created if missing)")
    add_render_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    from factory.commands.preflight import sample_config

    config = sample_config(args, args.index, "render")
    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StorageError(f"--out {str(out)!r}: cannot create the folder: {e.strerror}") from None

    from factory.sample.encode import encode_sample
    from factory.sample.generate import generate_sample
    from factory.sample.preview import animated_preview, contact_sheet, png_bytes

    for index in dict.fromkeys(args.index):  # de-duplicate, keep order
        start = time.perf_counter()
        sample = generate_sample(config, index, samples=args.samples)
        members = encode_sample(sample, mp4=config.output.mp4, png=config.output.png)
        seconds = time.perf_counter() - start
        key = members.pop("__key__")
        files = {f"{key}.{ext}": data for ext, data in members.items()}
        T = sample.frames.depth.shape[0]
        sheet = contact_sheet(sample.frames, sample.meta, T // 2, sample.tracks)
        files[f"{key}.contact.png"] = png_bytes(sheet)
        files[f"{key}.preview.gif"] = animated_preview(sample.frames, sample.meta, sample.tracks)
        for name, data in files.items():
            _write(out / name, data)
            print(f"  {out / name}  {len(data):,} bytes")
        total = sum(len(v) for v in members.values())
        print(
            f"sample {key} (index {index}, scenario {sample.scenario!r}): {total:,} bytes in "
            f"{len(members)} members, generated and encoded in {seconds:.2f} s"
        )
    return 0


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"{str(path)!r}: cannot write: {e.strerror}") from None
