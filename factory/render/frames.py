"""What the renderer outputs for one clip: every per-pixel modality of its T frames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Frames:
    """Per-frame ground truth for a clip of T frames at H x W pixels.

    ==============  =================  =======  ===========================================
    field           shape              dtype    meaning
    ==============  =================  =======  ===========================================
    rgb             (T, H, W, 3)       uint8    sRGB colour
    depth           (T, H, W)          float32  metres, z along the optical axis; 0 where
                                                no surface (sky)
    instance        (T, H, W)          uint16   object id, 0 = floor, walls and sky
    semantic        (T, H, W)          uint8    class id, see ``scene.CLASSES``
    normals         (T, H, W, 3)       float32  unit surface normal, camera frame; 0 on sky
    flow            (T, H, W, 2)       float32  forward flow to frame t+1, pixels (du, dv)
    flow_valid      (T, H, W)          bool     flow is defined: visible in t+1, in frame
                                                (always False in the last frame)
    ==============  =================  =======  ===========================================
    """

    rgb: np.ndarray
    depth: np.ndarray
    instance: np.ndarray
    semantic: np.ndarray
    normals: np.ndarray
    flow: np.ndarray
    flow_valid: np.ndarray
