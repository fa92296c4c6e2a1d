"""Pictures of a clip for people: a contact sheet of every modality, and a GIF.

:func:`contact_sheet` lays out one frame's modalities as a 2 x 5 grid of H x W panels,
each under a 14-pixel label bar (see :func:`sheet_layout`)::

    rgb        boxes      depth      normals    albedo
    instance   semantic   flow       flow valid material

and, for a clip with any of issue 26's optional layers or point tracks, a third row
(:mod:`factory.sample.preview_layers`)::

    backward flow  scene flow  object coords  amodal  tracks

* **boxes**: RGB with each object's visible 2D box, ``meta["objects"][k]["bbox_visible"][t]``
  (``[x0, y0, x1, y1]`` pixel edges, x1/y1 exclusive), in the object's instance colour;
  missing keys, ``null`` boxes and short lists are skipped, so any meta works.
* **depth**: inverse depth through the Turbo colormap (near = red, far = blue), scaled
  over the whole clip so colours mean the same depth in every frame; sky black.
* **normals**: camera-frame ``(n + 1) / 2`` as RGB; sky black.
* **instance** / **semantic**: a fixed colour per id (a hash of the id, so stable
  across frames, clips and runs); id 0 / background black.
* **albedo**: the base colour as stored (black where the clip has none: a dataset
  made before it existed); **material**: a fixed colour per family id, like instance.
* **flow**: direction as hue, magnitude as saturation (white = still), scaled by the
  clip's largest valid flow; invalid black. **flow valid**: white where valid.

Everything is vectorised numpy / OpenCV; the output is uint8 RGB.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np

from factory.render.frames import Frames
from factory.render.tracks import Tracks
from factory.sample import preview_layers as extra
from factory.scene.shapes import CLASSES

PANELS = ("rgb", "boxes", "depth", "normals", "albedo", "instance", "semantic", "flow", "flow valid", "material")
COLUMNS = 5
LABEL_H = 14  # pixels of label bar above each panel
GAP = 2  # pixels between panels
BACKGROUND = (32, 32, 32)

# A fixed, readable colour per semantic class (RGB); ids beyond CLASSES use the hash.
_CLASS_COLOURS = {
    "background": (0, 0, 0),
    "floor": (150, 130, 100),
    "wall": (110, 110, 140),
    "sphere": (230, 80, 60),
    "box": (70, 170, 230),
    "cylinder": (90, 200, 90),
    "capsule": (230, 200, 60),
    "ell": (200, 90, 210),
    "furniture": (160, 100, 50),
}


def sheet_layout(height: int, width: int, layers: bool = False) -> tuple[tuple[int, int], dict[str, tuple[int, int]]]:
    """``((sheet_h, sheet_w), {panel: (row, col) of its image's top-left pixel})``;
    ``layers``: with the third row."""
    panels = PANELS + (extra.EXTRA_PANELS if layers else ())
    rows = -(-len(panels) // COLUMNS)
    cell_h, cell_w = LABEL_H + height + GAP, width + GAP
    origins = {name: ((i // COLUMNS) * cell_h + LABEL_H, (i % COLUMNS) * cell_w) for i, name in enumerate(panels)}
    return (rows * cell_h - GAP, COLUMNS * cell_w - GAP), origins


def contact_sheet(frames: Frames, meta: dict, t: int, tracks: Tracks | None = None) -> np.ndarray:
    """The contact sheet (sheet_h, sheet_w, 3) uint8 RGB of frame ``t`` (``tracks``:
    the clip's point tracks, drawn in the third row)."""
    return _sheet(frames, meta, t, _Scales.of(frames), tracks)


def png_bytes(rgb: np.ndarray) -> bytes:
    """A uint8 RGB image (H, W, 3) as PNG bytes."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))  # OpenCV takes BGR
    if not ok:
        raise RuntimeError(f"OpenCV failed to encode a {rgb.shape} PNG")
    return buf.tobytes()


def animated_preview(frames: Frames, meta: dict, tracks: Tracks | None = None) -> bytes:
    """An animated GIF (looping, at ``meta["fps"]``, 12 if absent) of every frame's
    contact sheet."""
    from PIL import Image

    scales = _Scales.of(frames)
    sheets = [Image.fromarray(_sheet(frames, meta, t, scales, tracks)) for t in range(frames.depth.shape[0])]
    # One palette for the clip (from the middle frame) keeps colours from flickering
    # between frames and is faster than quantising each frame on its own.
    palette = sheets[len(sheets) // 2].quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    images = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in sheets]
    fps = float(meta.get("fps", 12.0)) if isinstance(meta, dict) else 12.0
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return buf.getvalue()


def id_colours(n: int) -> np.ndarray:
    """(n, 3) uint8 RGB: a stable pseudo-random colour per id ``0..n-1``; id 0 black."""
    ids = np.arange(n, dtype=np.uint64)
    h = (ids * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)  # Knuth's multiplicative hash
    rgb = np.stack([(h >> np.uint64(s)) & np.uint64(255) for s in (0, 11, 22)], axis=-1)
    lut = (64 + rgb * 3 // 4).astype(np.uint8)  # keep away from black, which means "none"
    lut[:1] = 0
    return lut


@dataclass(frozen=True)
class _Scales:
    """Clip-wide ranges, so a colour means the same value in every frame."""

    inv_depth: tuple[float, float]  # (far, near) in 1/m
    flow_max: float  # pixels

    @staticmethod
    def of(frames: Frames) -> _Scales:
        d = frames.depth[frames.depth > 0]
        inv = (1.0 / float(d.max()), 1.0 / float(d.min())) if d.size else (0.0, 1.0)
        f = frames.flow[frames.flow_valid]
        flow_max = float(np.sqrt((f.astype(np.float64) ** 2).sum(-1)).max()) if f.size else 0.0
        return _Scales(inv, max(flow_max, 1.0))  # below 1 px: show as nearly still


def _sheet(frames: Frames, meta: dict, t: int, scales: _Scales, tracks: Tracks | None = None) -> np.ndarray:
    T, H, W = frames.depth.shape
    if not 0 <= t < T:
        raise IndexError(f"frame {t} out of range: the clip has {T} frames (0..{T - 1})")
    rgb = frames.rgb[t]
    panels = {
        "rgb": rgb,
        "boxes": _boxes(rgb, meta, t),
        "depth": _depth(frames.depth[t], scales),
        "normals": _normals(frames.normals[t], frames.depth[t]),
        "instance": id_colours(int(frames.instance[t].max()) + 1)[frames.instance[t]],
        "semantic": _semantic(frames.semantic[t]),
        "flow": _flow(frames.flow[t], frames.flow_valid[t], scales),
        "flow valid": np.repeat((frames.flow_valid[t] * np.uint8(255))[..., None], 3, axis=-1),
        "albedo": frames.albedo[t] if frames.albedo is not None else np.zeros_like(rgb),
        "material": id_colours(256)[frames.material[t]] if frames.material is not None else np.zeros_like(rgb),
    }
    layers = extra.has_layers(frames, tracks)
    if layers:
        colours = id_colours(65536)
        backward = frames.backward_flow
        panels["backward flow"] = (
            _flow(backward[t], frames.backward_valid[t], scales) if backward is not None else np.zeros_like(rgb)
        )
        panels["scene flow"] = extra.scene_flow_panel(frames, t)
        panels["object coords"] = extra.object_coords_panel(frames, t)
        panels["amodal"] = extra.amodal_panel(frames, meta, t, colours)
        panels["tracks"] = extra.tracks_panel(frames, tracks, t, colours)
    shape, origins = sheet_layout(H, W, layers)
    sheet = np.empty((*shape, 3), np.uint8)
    sheet[:] = BACKGROUND
    for name, (y, x) in origins.items():
        sheet[y : y + H, x : x + W] = panels[name]
        cv2.putText(sheet, name, (x + 2, y - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (235, 235, 235), 1, cv2.LINE_AA)
    return sheet


def _boxes(rgb: np.ndarray, meta: dict, t: int) -> np.ndarray:
    out = np.ascontiguousarray(rgb.copy())
    H, W = rgb.shape[:2]
    objects = meta.get("objects") if isinstance(meta, dict) else None
    for obj in objects or ():
        boxes = obj.get("bbox_visible") if isinstance(obj, dict) else None
        if not isinstance(boxes, list) or t >= len(boxes) or not boxes[t]:
            continue
        x0, y0, x1, y1 = boxes[t]
        # Pixel-edge box -> the first and last pixel it covers (x1, y1 are exclusive).
        c0, r0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
        c1, r1 = min(int(np.ceil(x1)) - 1, W - 1), min(int(np.ceil(y1)) - 1, H - 1)
        if c1 < c0 or r1 < r0:
            continue
        oid = obj.get("id")
        colour = id_colours(oid + 1)[oid] if isinstance(oid, int) and 0 < oid < 65536 else np.array([255, 255, 255])
        cv2.rectangle(out, (c0, r0), (c1, r1), tuple(int(c) for c in colour), 1)
    return out


def _depth(depth: np.ndarray, scales: _Scales) -> np.ndarray:
    far, near = scales.inv_depth
    inv = np.divide(1.0, depth, out=np.zeros_like(depth), where=depth > 0)
    level = np.clip((inv - far) / max(near - far, 1e-12), 0.0, 1.0)
    bgr = cv2.applyColorMap((level * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    out = bgr[..., ::-1].copy()
    out[depth <= 0] = 0
    return out


def _normals(normals: np.ndarray, depth: np.ndarray) -> np.ndarray:
    out = np.clip((normals + 1.0) * 127.5, 0, 255).astype(np.uint8)
    out[depth <= 0] = 0
    return out


def _semantic(semantic: np.ndarray) -> np.ndarray:
    lut = id_colours(256)
    lut[: len(CLASSES)] = [_CLASS_COLOURS.get(name, lut[i]) for i, name in enumerate(CLASSES)]
    return lut[semantic]


def _flow(flow: np.ndarray, valid: np.ndarray, scales: _Scales) -> np.ndarray:
    du, dv = flow[..., 0], flow[..., 1]
    hue = ((np.arctan2(dv, du) + np.pi) * (90.0 / np.pi)).astype(np.uint8) % 180  # OpenCV hue: 0..179
    sat = (np.clip(np.hypot(du, dv) / scales.flow_max, 0.0, 1.0) * 255).astype(np.uint8)
    hsv = np.stack([hue, sat, np.full_like(hue, 255)], axis=-1)
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    out[~valid] = 0
    return out
