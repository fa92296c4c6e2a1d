"""The members of the optional layers (issue 26): their encodings, for
:mod:`factory.sample.encode`, and decodings, for :mod:`factory.sample.decode`.

Every member is a filmstrip PNG of 16-bit or 8-bit grey (Pillow reads 16-bit RGB as 8
bits, so a vector's components lie side by side, as in ``flow.png``): frame t is rows
``[t*H, (t+1)*H)``; component c (or object k) columns ``[c*W, (c+1)*W)``. Code 0 means
"no value" in each. Their shapes, units, frames, validity rules and error bounds are
specified once, in ``docs/format.md`` ("Optional layers"):

* ``backward_flow.png``: flow.png's encoding of the backward flow, (T*H, 2*W) uint16;
* ``scene_flow.png``: (T*H, 3*W) uint16, ``clip(rint(m * 10000) + 32768, 1, 65535)``
  (0.1 mm steps, +-3.2767 m), 0 where not valid;
* ``object_coords.png``: (T*H, 3*W) uint16, ``rint(clip(c, 0, 1) * 65534) + 1``, 0 off
  objects;
* ``amodal.png``: (T*H, K*W) uint8, 1 inside object k's whole silhouette, else 0;
* ``amodal_depth.png``: (T*H, K*W) uint16, depth.png's millimetres, 0 outside it.

K is the sample's object count (its metadata ``objects``, in order); a clip with no
objects still has one all-zero block (a PNG has at least one column), which decodes
to K = 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from factory.render.frames import Frames
from factory.scene.config import MAX_MEMBER_PIXELS

SCENE_FLOW_SCALE = 10000.0  # codes per metre (0.1 mm)
SCENE_FLOW_ZERO = 32768
COORD_SCALE = 65534.0  # codes per unit of the normalised box, after the 1 of "an object"

# member: (decoded PNG dtype, its width in units of W: an int, or "K" for the objects)
LAYER_PNG = {
    "backward_flow.png": (np.uint16, 2),
    "scene_flow.png": (np.uint16, 3),
    "object_coords.png": (np.uint16, 3),
    "amodal.png": (np.uint8, "K"),
    "amodal_depth.png": (np.uint16, "K"),
}
LAYER_MEMBERS = tuple(LAYER_PNG)
# Row filters of factory.sample.png's writer: the smallest of none / sub / up over 4
# samples each of quickstart and rooms with every layer on (kB a sample, the three
# filters): backward flow 124 / 99 / 96, scene flow 171 / 126 / 127, object
# coordinates 450 / 305 / 339, amodal 20 / 26 / 18, amodal depth 114 / 87 / 80.
LAYER_FILTERS = {
    "backward_flow.png": "up",
    "scene_flow.png": "sub",
    "object_coords.png": "sub",
    "amodal.png": "up",
    "amodal_depth.png": "up",
}

# Frames field: (trailing shape after T, with "K" for the object axis, dtype)
_FIELDS = {
    "backward_flow": (("H", "W", 2), np.float32),
    "backward_valid": (("H", "W"), np.bool_),
    "scene_flow": (("H", "W", 3), np.float32),
    "scene_flow_valid": (("H", "W"), np.bool_),
    "object_coords": (("H", "W", 3), np.float32),
    "amodal": (("K", "H", "W"), np.bool_),
    "amodal_depth": (("K", "H", "W"), np.float32),
}
_PAIRS = (("backward_flow", "backward_valid"), ("scene_flow", "scene_flow_valid"))


def layer_images(f: Frames, encode_flow: Callable, encode_depth: Callable) -> dict[str, Callable[[], np.ndarray]]:
    """Each optional member ``f`` has, by name: a callable giving its filmstrip codes
    (``encode_flow`` / ``encode_depth``: :mod:`factory.sample.encode`'s)."""
    T, H, W = f.depth.shape
    out: dict[str, Callable[[], np.ndarray]] = {}
    if f.backward_flow is not None:
        out["backward_flow.png"] = lambda: encode_flow(f.backward_flow, f.backward_valid).reshape(T * H, 2 * W)
    if f.scene_flow is not None:
        out["scene_flow.png"] = lambda: encode_scene_flow(f.scene_flow, f.scene_flow_valid)
    if f.object_coords is not None:
        out["object_coords.png"] = lambda: encode_object_coords(f.object_coords)
    if f.amodal is not None:
        out["amodal.png"] = lambda: _objects_side_by_side(f.amodal.astype(np.uint8))
    if f.amodal_depth is not None:
        out["amodal_depth.png"] = lambda: _objects_side_by_side(encode_depth(f.amodal_depth))
    return out


def _side_by_side(code: np.ndarray) -> np.ndarray:
    """(T, H, W, C) codes -> (T*H, C*W): component c in columns [c*W, (c+1)*W)."""
    T, H, W, C = code.shape
    return np.ascontiguousarray(code.transpose(0, 1, 3, 2)).reshape(T * H, C * W)


def _objects_side_by_side(code: np.ndarray) -> np.ndarray:
    """(T, K, H, W) codes -> (T*H, max(K, 1)*W): object k in columns [k*W, (k+1)*W)."""
    T, K, H, W = code.shape
    if K == 0:
        return np.zeros((T * H, W), code.dtype)
    return np.ascontiguousarray(code.transpose(0, 2, 1, 3)).reshape(T * H, K * W)


def encode_scene_flow(sf: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Scene flow (T, H, W, 3) metres + validity (T, H, W) -> uint16 (T*H, 3*W)."""
    code = np.rint(np.asarray(sf, np.float64) * SCENE_FLOW_SCALE) + SCENE_FLOW_ZERO
    code = np.clip(code, 1, 65535).astype(np.uint16)
    code[~np.asarray(valid, bool)] = 0
    return _side_by_side(code)


def encode_object_coords(c: np.ndarray) -> np.ndarray:
    """Object coordinates (T, H, W, 3), NaN off objects -> uint16 (T*H, 3*W), 0 off objects."""
    off = np.isnan(c).any(-1)
    code = np.rint(np.clip(np.nan_to_num(c, nan=0.0), 0.0, 1.0) * COORD_SCALE).astype(np.uint16) + np.uint16(1)
    code[off] = 0
    return _side_by_side(code)


def check_layers(f: Frames, T: int, H: int, W: int) -> None:
    """Raise ValueError naming the field when an optional layer of ``f`` has the wrong
    shape or dtype, a value the encoding cannot hold, or half of a pair is missing."""
    K = None
    for name, (tail, dtype) in _FIELDS.items():
        a = getattr(f, name)
        if a is None:
            continue
        if "K" in tail:
            K = a.shape[1] if K is None and a.ndim == 4 else K
        shape = (T, *({"H": H, "W": W, "K": K}.get(x, x) for x in tail))
        if a.shape != shape or a.dtype != dtype:
            raise ValueError(f"frames.{name}: {a.shape} {a.dtype}, expected {shape} {np.dtype(dtype)}")
    for a, b in _PAIRS:
        if (getattr(f, a) is None) != (getattr(f, b) is None):
            raise ValueError(f"frames.{a} and frames.{b}: one is None; give both or neither")
    for name in ("backward_flow", "scene_flow", "amodal_depth"):
        a = getattr(f, name)
        if a is not None and not np.isfinite(a).all():
            raise ValueError(f"frames.{name}: contains NaN or inf; the encoding has no code for them")
    wide = [("scene_flow", 3), ("object_coords", 3)] + ([("amodal", max(K, 1))] if K is not None else [])
    for name, n in wide:
        if getattr(f, name) is not None and T * H * n * W > MAX_MEMBER_PIXELS:
            raise ValueError(
                f"frames.{name}: {T} frames x {H}x{W}, {n} blocks wide: {name}.png would have {T * H * n * W} "
                f"pixels, over {MAX_MEMBER_PIXELS} (Pillow's decompression-bomb limit); fewer frames, pixels or objects"
            )


def member_width(name: str, W: int, K: int) -> int:
    """The decoded filmstrip width of optional member ``name``."""
    units = LAYER_PNG[name][1]
    return max(K, 1) * W if units == "K" else units * W


def decode_layers(
    image: Callable[[str], np.ndarray], present, shape: tuple, flow: Callable, depth_scale: float
) -> dict:
    """The :class:`Frames` fields of the optional members ``present`` (names), each
    filmstrip given by ``image(name)`` (its decoded PNG, already checked against
    :func:`member_width`); ``shape`` (T, H, W, K), K the sample's objects; ``flow``
    decodes flow.png's codes (T, H, 2, W) to (flow, valid) and ``depth_scale`` is
    depth.png's codes per metre (:mod:`factory.sample.decode`'s). Invalid or absent
    values decode as docs/format.md says: flows 0 where not valid, object coordinates
    NaN off objects, amodal depth 0 outside the silhouette."""
    T, H, W, K = shape
    out: dict = {}
    if "backward_flow.png" in present:
        out["backward_flow"], out["backward_valid"] = flow(image("backward_flow.png").reshape(T, H, 2, W))
    if "scene_flow.png" in present:
        code = np.moveaxis(image("scene_flow.png").reshape(T, H, 3, W), 2, -1)
        valid = (code != 0).all(-1)
        sf = ((code.astype(np.float64) - SCENE_FLOW_ZERO) / SCENE_FLOW_SCALE).astype(np.float32)
        sf[~valid] = 0.0
        out["scene_flow"], out["scene_flow_valid"] = sf, valid
    if "object_coords.png" in present:
        code = np.moveaxis(image("object_coords.png").reshape(T, H, 3, W), 2, -1)
        c = ((code.astype(np.float64) - 1.0) / COORD_SCALE).astype(np.float32)
        c[(code == 0).any(-1)] = np.nan
        out["object_coords"] = c
    for name, field, scale in (("amodal.png", "amodal", None), ("amodal_depth.png", "amodal_depth", depth_scale)):
        if name in present:
            a = image(name).reshape(T, H, max(K, 1), W).transpose(0, 2, 1, 3)[:, :K]
            out[field] = a != 0 if scale is None else (a / scale).astype(np.float32)
    return out
