"""``factory rerun CONFIG --index I [--samples N] --out FILE.rrd``: one sample as a rerun recording.

It generates sample I of the config (as ``factory render`` does) and writes it to
FILE.rrd with :func:`factory.client.rerun_export.write_rerun`: the camera with its
pose, intrinsics, RGB, depth, semantic image and visible 2D boxes; the depth as
coloured world points (at most --max-points a frame); every object's 3D box; the
tracks of the moving objects; all on the timelines ``frame`` and ``time``. Open it
with ``rerun FILE.rrd``. The file appears atomically and its folder is created if
missing. Needs the optional extra: pip install 'factory[rerun]'. --device and
--batch-views replace the config's render.device and render.batch_views.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from factory.commands.argtypes import add_render_options, int_at_least
from factory.errors import ConfigError, StorageError

HELP = "write one sample as a rerun recording (.rrd)"


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("config", metavar="CONFIG", help="scenario YAML file, e.g. configs/quickstart.yaml")
    p.add_argument("--index", type=int_at_least(0), required=True, metavar="I", help="sample index (>= 0)")
    p.add_argument(
        "--samples",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="the size of the dataset the index belongs to, which fixes its scenario "
        "(factory generate --samples N); default: the open-ended stream of factory serve",
    )
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="FILE.rrd",
        help="the recording to write (.rrd; its folder is created if missing)",
    )
    p.add_argument(
        "--max-points",
        type=int_at_least(1),
        default=20000,
        metavar="M",
        help="at most this many world points per frame (default: 20000)",
    )
    add_render_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    from factory.commands.preflight import sample_config

    config = sample_config(args, [args.index], "rerun")
    out: Path = args.out
    if out.suffix != ".rrd":
        raise ConfigError("rerun arguments", [f"--out {str(out)!r}: must end in .rrd (a rerun recording)"])
    if out.is_dir():
        raise StorageError(f"--out {str(out)!r}: is a folder; give the recording's file name, e.g. {out / 'x.rrd'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StorageError(f"--out {str(out)!r}: cannot create the folder {str(out.parent)!r}: {e.strerror}") from None

    from factory.client.rerun_export import require_rerun, write_rerun
    from factory.sample.generate import generate_members

    require_rerun()  # the extra must be there before the sample is generated
    start = time.perf_counter()
    members = generate_members(config, args.index, samples=args.samples, mp4=False)
    seconds = time.perf_counter() - start
    write_rerun(members, out, max_points=args.max_points)
    print(
        f"sample {members['__key__']} (index {args.index}): generated in {seconds:.2f} s, "
        f"written to {out}  {out.stat().st_size:,} bytes; open it with: rerun {out}"
    )
    return 0
