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

    The optional layers (:mod:`factory.render.layers`; None when not rendered, or
    decoded from a sample without them), K the clip's objects in order:
    ``backward_flow`` (T, H, W, 2) float32 pixels (frame t to t-1) and
    ``backward_valid`` (T, H, W) bool; ``scene_flow`` (T, H, W, 3) float32 metres
    and ``scene_flow_valid`` (T, H, W) bool; ``object_coords`` (T, H, W, 3) float32
    (NaN off objects); ``amodal`` (T, K, H, W) bool; ``amodal_depth`` (T, K, H, W)
    float32 metres (0 off the silhouette).
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
    backward_flow: np.ndarray | None = None  # the optional layers (issue 26): None when not rendered
    backward_valid: np.ndarray | None = None
    scene_flow: np.ndarray | None = None
    scene_flow_valid: np.ndarray | None = None
    object_coords: np.ndarray | None = None
    amodal: np.ndarray | None = None
    amodal_depth: np.ndarray | None = None
