"""The contact sheet's third row: pictures of issue 26's optional layers and tracks.

Drawn only when a clip has one of them (:func:`has_layers`); a layer the clip lacks
shows black. Each function gives an (H, W, 3) uint8 RGB panel of frame ``t``:

* **backward flow**: as forward flow (direction as hue, magnitude as saturation).
* **scene flow**: the 3D motion (x, y, z) as RGB around grey: ``0.5 + sf / (2 m)``,
  ``m`` the clip's largest valid component; invalid black.
* **object coords**: the normalised object coordinates as RGB (NOCS's picture); off
  objects black.
* **amodal**: every object's whole silhouette in its instance colour, its hidden part
  at half brightness over the darkened RGB.
* **tracks**: the darkened RGB with each point's last three frames as a trail and a
  dot where it is now: filled where visible, hollow where occluded, none out of view.
"""

from __future__ import annotations

import cv2
import numpy as np

from factory.render.frames import Frames
from factory.render.tracks import OCCLUDED, VISIBLE, Tracks

EXTRA_PANELS = ("backward flow", "scene flow", "object coords", "amodal", "tracks")
TRAIL = 3  # frames of a track's trail


def has_layers(frames: Frames, tracks: Tracks | None) -> bool:
    """Whether the clip has anything for the third row."""
    layers = (frames.backward_flow, frames.scene_flow, frames.object_coords, frames.amodal)
    return tracks is not None or any(a is not None for a in layers)


def scene_flow_panel(frames: Frames, t: int) -> np.ndarray:
    T, H, W = frames.depth.shape
    if frames.scene_flow is None:
        return np.zeros((H, W, 3), np.uint8)
    valid = frames.scene_flow_valid
    scale = float(np.abs(frames.scene_flow[valid]).max()) if valid.any() else 0.0
    out = np.clip(0.5 + frames.scene_flow[t] / (2 * max(scale, 1e-6)), 0.0, 1.0)
    out = (out * 255).astype(np.uint8)
    out[~valid[t]] = 0
    return out


def object_coords_panel(frames: Frames, t: int) -> np.ndarray:
    H, W = frames.depth.shape[1:]
    if frames.object_coords is None:
        return np.zeros((H, W, 3), np.uint8)
    c = frames.object_coords[t]
    return (np.nan_to_num(np.clip(c, 0.0, 1.0), nan=0.0) * 255).astype(np.uint8)


def amodal_panel(frames: Frames, meta: dict, t: int, colours: np.ndarray) -> np.ndarray:
    """``colours``: (n, 3) uint8, the instance colour of each id."""
    out = (frames.rgb[t] // 3).astype(np.uint8)
    if frames.amodal is None:
        return out
    ids = [o.get("id") for o in meta.get("objects") or ()] if isinstance(meta, dict) else []
    for k, mask in enumerate(frames.amodal[t]):
        oid = ids[k] if k < len(ids) and isinstance(ids[k], int) else k + 1
        colour = colours[oid % len(colours)]
        hidden = mask & (frames.instance[t] != oid)
        out[hidden] = colour // 2
        out[mask & ~hidden] = colour
    return out


def tracks_panel(frames: Frames, tracks: Tracks | None, t: int, colours: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(frames.rgb[t] // 2)
    if tracks is None:
        return out
    for n in range(tracks.uv.shape[1]):
        colour = tuple(int(c) for c in colours[(n + 1) % len(colours)])
        state = tracks.state[:, n]
        for s in range(max(t - TRAIL, 0), t):
            if state[s] != VISIBLE or state[s + 1] != VISIBLE:
                continue
            a, b = tracks.uv[s, n], tracks.uv[s + 1, n]
            cv2.line(out, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colour, 1, cv2.LINE_AA)
        if state[t] == VISIBLE or state[t] == OCCLUDED:
            u, v = tracks.uv[t, n]
            cv2.circle(out, (int(u), int(v)), 2, colour, -1 if state[t] == VISIBLE else 1, cv2.LINE_AA)
    return out
