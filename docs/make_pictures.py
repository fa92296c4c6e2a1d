"""Make the README's picture, ``docs/images/contact_sheet.png`` (``make pictures``).

The contact sheets (every modality of the middle frame, as ``factory render`` draws
them) of three shipped samples, stacked top to bottom on the sheets' background:
sample 3 of a 16-sample ``configs/quickstart.yaml`` dataset (the README's Python
example), sample 2 of a 10-sample ``configs/shapes.yaml`` dataset (the ``pile``: meshes,
soft shadows, ambient occlusion) and sample 0 of a 10-sample ``configs/rooms.yaml``
dataset (a room with furniture and point lights). The bytes depend only on the samples,
so the picture changes exactly when a sample's bytes do; ``tests/unit/test_docs.py``
makes it again and fails when the committed file is stale.

    python docs/make_pictures.py [--out docs/images/contact_sheet.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from factory import generate_sample, load_config
from factory.sample.preview import BACKGROUND, contact_sheet, png_bytes

REPO = Path(__file__).resolve().parent.parent
PICTURE = REPO / "docs" / "images" / "contact_sheet.png"
# (config, dataset size, index): the samples shown, top to bottom
SAMPLES = (("configs/quickstart.yaml", 16, 3), ("configs/shapes.yaml", 10, 2), ("configs/rooms.yaml", 10, 0))
GAP = 8  # pixels of background between two sheets


def sheets() -> list[np.ndarray]:
    """Each sample's contact sheet of its middle frame, (h, w, 3) uint8 RGB."""
    out = []
    for path, samples, index in SAMPLES:
        sample = generate_sample(load_config(REPO / path), index, samples=samples)
        out.append(contact_sheet(sample.frames, sample.meta, sample.frames.depth.shape[0] // 2, sample.tracks))
    return out


def picture_png() -> bytes:
    """The picture's PNG bytes: the sheets stacked, each left-aligned on a canvas as wide
    as the widest."""
    parts = sheets()
    width = max(s.shape[1] for s in parts)
    height = sum(s.shape[0] for s in parts) + GAP * (len(parts) - 1)
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = BACKGROUND
    row = 0
    for s in parts:
        canvas[row : row + s.shape[0], : s.shape[1]] = s
        row += s.shape[0] + GAP
    return png_bytes(canvas)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make the README's contact-sheet picture.")
    parser.add_argument("--out", type=Path, default=PICTURE, help=f"where to write it (default {PICTURE})")
    args = parser.parse_args(argv)
    data = picture_png()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"{args.out}: {len(data):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
