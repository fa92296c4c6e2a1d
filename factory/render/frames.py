"""What the renderer outputs for one clip: every per-pixel modality of its T frames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Frames:
    """Per-frame ground truth for a clip of T frames at H x W pixels: what the renderer
    outputs and what :func:`factory.sample.decode.decode_sample` gives back.

    Fields and their shapes and dtypes: ``rgb`` (T, H, W, 3) uint8, ``depth`` (T, H, W)
    float32 metres, ``instance`` (T, H, W) uint16, ``semantic`` (T, H, W) uint8,
    ``normals`` (T, H, W, 3) float32, ``flow`` (T, H, W, 2) float32 pixels,
    ``flow_valid`` (T, H, W) bool, ``albedo`` (T, H, W, 3) uint8 (sRGB-encoded base
    colour), ``material`` (T, H, W) uint8 (material family id). Their units, frames and meaning are specified once,
    in ``docs/format.md`` ("Decoded arrays").
    """

    rgb: np.ndarray
    depth: np.ndarray
    instance: np.ndarray
    semantic: np.ndarray
    normals: np.ndarray
    flow: np.ndarray
    flow_valid: np.ndarray
    albedo: np.ndarray | None = None  # None: decoded from a dataset made before issue 25
    material: np.ndarray | None = None
