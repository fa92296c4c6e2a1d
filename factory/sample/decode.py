"""Decode one WebDataset sample written by :func:`factory.sample.encode.encode_sample`.

:func:`decode_sample` takes the member dict as it comes out of any reader:

* raw bytes (``webdataset.WebDataset(url)`` without ``.decode()``, a tar read by hand,
  or the dict ``encode_sample`` returned);
* already-decoded values (``webdataset.WebDataset(url).decode()`` decodes only the JSON;
  ``ray.data.read_webdataset(url)`` also decodes every PNG to ``np.asarray(PIL.Image)``).

Decoded PNGs must keep their bit depth: webdataset's ``"rgb8"`` / ``"l8"`` image specs
convert 16-bit members (depth, instance, flow) to 8 bits, which this module detects and
refuses. The members and their error bounds: ``docs/format.md``.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from factory.render.frames import Frames
from factory.sample.deform_members import instances
from factory.sample.encode import (
    DEPTH_SCALE,
    FLOW_INVALID,
    FLOW_SCALE,
    FLOW_ZERO,
    NORMAL_SCALE,
    SHARED_MEMBERS,
    camera_prefix,
)
from factory.sample.layers import LAYER_MEMBERS, LAYER_PNG, decode_layers, member_width
from factory.sample.track_members import decode_tracks

# member: (dtype, channels or None) of the decoded filmstrip image
_PNG_MEMBERS = {
    "rgb.png": (np.uint8, 3),
    "depth.png": (np.uint16, None),
    "instance.png": (np.uint16, None),
    "semantic.png": (np.uint8, None),
    "normals.png": (np.uint8, 3),
    "flow.png": (np.uint16, None),
    "albedo.png": (np.uint8, 3),
    "material.png": (np.uint8, None),
}
_SINCE_ISSUE_25 = ("albedo.png", "material.png")  # datasets made before have neither
_PNG_MEMBERS.update({name: (dtype, None) for name, (dtype, _) in LAYER_PNG.items()})  # optional (issue 26)


def decode_sample(members: dict[str, Any]) -> tuple[Frames, dict]:
    """``(Frames, meta)`` from a sample's members (bytes or reader-decoded values).

    ``meta`` is the JSON member as stored (with the ``frames``, ``height`` and
    ``width`` that cut the filmstrips into frames). Decoded values are within the
    error bounds of ``docs/format.md``; ``flow`` is 0 where ``flow_valid`` is False
    and ``normals`` are exactly 0 where ``depth`` is 0.

    Raises:
        ValueError: a member is missing, or has a shape or dtype the encoder never writes.
    """
    for name in _PNG_MEMBERS:
        if name in LAYER_MEMBERS:
            continue  # optional: None when absent
        if name not in _SINCE_ISSUE_25 or any(n in members for n in _SINCE_ISSUE_25):
            _member(members, name)  # every member, named when missing
    arrays = decode_present(members)
    meta = arrays.pop("meta")
    return Frames(**arrays), meta


def decode_present(members: dict[str, Any]) -> dict[str, Any]:
    """The members a sample has, decoded: ``meta`` (the JSON member, required) and, for
    each image member present, the :class:`Frames` fields it carries (``rgb``,
    ``depth``, ``instance``, ``semantic``, ``normals``, ``flow`` with ``flow_valid``,
    and the optional layers of :mod:`factory.sample.layers`),
    with the shapes, dtypes and units of :class:`Frames`. For samples asked for with
    some modalities only (``factory.client``, the endpoint's ``modalities``).

    Raises:
        ValueError: no JSON member, or a member with a shape or dtype the encoder never
            writes.
    """
    meta = _json(_member(members, "json"))
    try:
        T, H, W = int(meta["frames"]), int(meta["height"]), int(meta["width"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(
            "json member: no integer 'frames', 'height', 'width'; not written by factory.sample.encode"
        ) from e
    K = len(instances(meta) or ())  # the objects' masks, then the deformables'
    img = {name: _image(name, members[name], T, H, W, K) for name in _PNG_MEMBERS if name in members}
    out: dict[str, Any] = {"meta": meta}
    if "rgb.png" in img:
        out["rgb"] = img["rgb.png"].reshape(T, H, W, 3)
    if "depth.png" in img:
        out["depth"] = (img["depth.png"].reshape(T, H, W) / DEPTH_SCALE).astype(np.float32)
    if "instance.png" in img:
        out["instance"] = img["instance.png"].reshape(T, H, W)
    if "semantic.png" in img:
        out["semantic"] = img["semantic.png"].reshape(T, H, W)
    if "normals.png" in img:
        normals = (img["normals.png"].reshape(T, H, W, 3) / NORMAL_SCALE - 1.0).astype(np.float32)
        if "depth.png" in img:
            normals[img["depth.png"].reshape(T, H, W) == 0] = 0.0  # sky: code 128 means 0 there, not 1/255
        else:  # no depth to tell the sky by: the sky's code (128, 128, 128) is no unit normal
            normals[(img["normals.png"].reshape(T, H, W, 3) == 128).all(axis=-1)] = 0.0
        out["normals"] = normals
    if "flow.png" in img:
        flow_code = img["flow.png"].reshape(T, H, 2, W)  # the du | dv halves of each row
        du, dv = flow_code[:, :, 0], flow_code[:, :, 1]
        valid = (du != FLOW_INVALID) & (dv != FLOW_INVALID)
        flow = ((np.stack([du, dv], axis=-1).astype(np.float32) - FLOW_ZERO) / FLOW_SCALE).astype(np.float32)
        flow[~valid] = 0.0
        out["flow"], out["flow_valid"] = flow, valid
    if "albedo.png" in img:
        out["albedo"] = img["albedo.png"].reshape(T, H, W, 3)
    if "material.png" in img:
        out["material"] = img["material.png"].reshape(T, H, W)
    out.update(decode_layers(img.__getitem__, img, (T, H, W, K), decode_flow, DEPTH_SCALE))
    return out


def decode_flow(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """flow.png's codes (T, H, 2, W) uint16 (the du | dv halves of each row) -> flow
    (T, H, W, 2) float32 pixels, 0 where not valid, and validity (T, H, W) bool."""
    du, dv = code[:, :, 0], code[:, :, 1]
    valid = (du != FLOW_INVALID) & (dv != FLOW_INVALID)
    flow = ((np.stack([du, dv], axis=-1).astype(np.float32) - FLOW_ZERO) / FLOW_SCALE).astype(np.float32)
    flow[~valid] = 0.0
    return flow, valid


def _member(members: dict[str, Any], name: str) -> Any:
    if name not in members:
        present = ", ".join(sorted(k for k in members if not k.startswith("__")))
        raise ValueError(f"sample {members.get('__key__', '?')!r}: no {name!r} member (has: {present})")
    return members[name]


def _json(value: Any) -> dict:
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        return json.loads(bytes(value) if not isinstance(value, str) else value)
    if isinstance(value, dict):
        return value
    raise ValueError(f"json member: expected bytes or a dict, got {type(value).__name__}")


def png_array(data: bytes) -> np.ndarray:
    """A PNG's pixels as Pillow decodes them (``np.asarray(PIL.Image.open(...))``, the
    decoder both readers use, so results match theirs): 16-bit grey stays uint16."""
    import PIL.Image

    with PIL.Image.open(io.BytesIO(bytes(data))) as im:
        return np.asarray(im)


def _image(name: str, value: Any, T: int, H: int, W: int, K: int = 0) -> np.ndarray:
    """The filmstrip array of PNG member ``name``, decoded if still bytes."""
    dtype, channels = _PNG_MEMBERS[name]
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = png_array(value)
    else:
        value = np.asarray(value)  # also accepts a PIL image
    width = member_width(name, W, K) if name in LAYER_PNG else 2 * W if name == "flow.png" else W
    shape = (T * H, width) + ((channels,) if channels else ())
    if value.shape != shape or value.dtype != dtype:
        hint = ""
        if value.dtype != dtype and dtype == np.uint16:
            hint = " (16-bit PNGs must be decoded without 8-bit conversion, e.g. np.asarray(PIL.Image.open(f)))"
        raise ValueError(f"{name}: decoded to {value.shape} {value.dtype}, expected {shape} {np.dtype(dtype)}{hint}")
    return value


# decode_tracks (factory.sample.track_members): a sample's point tracks, or None
__all__ = ["decode_present", "decode_sample", "decode_tracks", "png_array"]


def camera_count(members: dict[str, Any]) -> int:
    """K, the cameras of a sample: ``len(meta["cameras"])``, 1 without the key."""
    return len(_json(_member(members, "json")).get("cameras") or [None])


def camera_members(members: dict[str, Any], c: int) -> dict[str, Any]:
    """The members of camera ``c`` of a rig's sample under camera 0's names (its
    ``cam<c>.`` members, prefix dropped, the JSON as :func:`camera_meta` gives it and
    the shared ``geometry.glb``; no ``mp4``: camera 0's alone),
    so :func:`decode_sample`, :func:`decode_present` and ``decode_tracks`` read any camera."""
    if c == 0:
        return members
    K = camera_count(members)
    if not 0 <= c < K:
        raise ValueError(f"camera {c}: the sample has {K} cameras (0 to {K - 1})")
    prefix = camera_prefix(c)
    out = {k[len(prefix) :]: v for k, v in members.items() if k.startswith(prefix)}
    out["json"] = camera_meta(_json(members["json"]), c)
    out.update({k: members[k] for k in ("__key__", *SHARED_MEMBERS[2:]) if k in members})  # geometry.glb: the scene's
    return out


def camera_meta(meta: dict, c: int) -> dict:
    """The metadata as camera ``c`` sees it: ``camera`` with camera c's ``K``,
    ``world_to_camera`` and ``gain``, and each ``objects[k]``'s camera-dependent
    per-frame keys (``corners_2d`` ... ``visible_fraction``) camera c's. Camera 0: ``meta``."""
    if c == 0:
        return meta
    entry = meta["cameras"][c]
    out = dict(meta)
    out["camera"] = {**meta["camera"], **{k: entry[k] for k in ("K", "world_to_camera", "gain")}}
    out["objects"] = [
        {**o, **{k: v for k, v in e.items() if k != "id"}} for o, e in zip(meta["objects"], entry["objects"])
    ]
    return out


def decode_cameras(members: dict[str, Any]) -> list[Frames]:
    """Every camera's :class:`Frames` of a sample, camera 0 first (one for a sample
    without a rig); see :func:`decode_sample`."""
    return [decode_sample(camera_members(members, c))[0] for c in range(camera_count(members))]
