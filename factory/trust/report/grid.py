"""A grid of sample pictures with their keys: the report's first look at the data.

Each picture is scaled to fit a ``TILE`` x ``TILE`` square (nearest-neighbour when
enlarged, so small clips stay sharp pixels; area averaging when shrunk), centred on a
dark background, under a label bar with its key.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

TILE = 128  # pixels
LABEL_H = 16
GAP = 4
COLUMNS = 8
BACKGROUND = (32, 32, 32)


def fit(rgb: np.ndarray, size: int = TILE) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 scaled to fit ``size`` x ``size`` and centred on it."""
    h, w = rgb.shape[:2]
    scale = min(size / h, size / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_NEAREST if scale >= 1 else cv2.INTER_AREA
    small = cv2.resize(np.ascontiguousarray(rgb), (nw, nh), interpolation=interp)
    tile = np.empty((size, size, 3), np.uint8)
    tile[:] = BACKGROUND
    y, x = (size - nh) // 2, (size - nw) // 2
    tile[y : y + nh, x : x + nw] = small
    return tile


def preview_grid(items: Sequence[tuple[str, np.ndarray]], columns: int = COLUMNS) -> np.ndarray:
    """The grid (rows * (LABEL_H + TILE + GAP) - GAP, cols * (TILE + GAP) - GAP, 3) uint8
    RGB of ``(key, picture)`` items, row by row in order."""
    if not items:
        raise ValueError("preview_grid needs at least one picture")
    cols = min(columns, len(items))
    rows = -(-len(items) // cols)
    cell_h, cell_w = LABEL_H + TILE + GAP, TILE + GAP
    grid = np.empty((rows * cell_h - GAP, cols * cell_w - GAP, 3), np.uint8)
    grid[:] = BACKGROUND
    for i, (key, rgb) in enumerate(items):
        y, x = (i // cols) * cell_h, (i % cols) * cell_w
        grid[y + LABEL_H : y + LABEL_H + TILE, x : x + TILE] = fit(rgb)
        label = key if len(key) <= 20 else "..." + key[-17:]
        cv2.putText(
            grid, label, (x + 2, y + LABEL_H - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (235, 235, 235), 1, cv2.LINE_AA
        )
    return grid
