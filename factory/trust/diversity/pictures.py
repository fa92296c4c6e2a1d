"""One picture per sample: the picture every diversity figure is measured on.

:func:`picture` takes it from a WebDataset sample's members (a factory clip's first
frame, or a plain sample's image); :func:`checked_rgb` is what the hash and the
features require of a picture, :data:`LUMA` the weights both use for grey.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

import numpy as np
from PIL import Image

# Members that hold a picture in a plain WebDataset, in the order they are preferred.
PICTURE_MEMBERS = ("jpg", "jpeg", "png", "webp")
# factory's ground-truth filmstrips: PNGs, but not pictures of the scene.
_GROUND_TRUTH = frozenset({"depth.png", "instance.png", "semantic.png", "normals.png", "flow.png"})
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma weights of R, G, B


def picture(members: Mapping[str, bytes]) -> np.ndarray | None:
    """The picture of one WebDataset sample: (H, W, 3) uint8 RGB, or None if it has none.

    * a factory sample (``rgb.png``): its FIRST frame, rows ``[0, height)`` of the
      filmstrip, ``height`` from the ``json`` member (the whole image if the sample has
      no ``json`` member or it gives no ``height``);
    * otherwise the first of the ``jpg``, ``jpeg``, ``png``, ``webp`` members present
      (in that order), else the first member, in sample order, whose name ends in one
      of those extensions (``image.jpg``, ``left.png``, ...) and is not one of factory's
      ground-truth PNGs. Decoded with Pillow and converted to RGB (alpha dropped).

    Raises:
        ValueError: the picture member cannot be decoded, or the ``json`` member that
            should give the frame height is not valid JSON. The message names the member.
    """
    if "rgb.png" in members:
        height = _frame_height(members)
        if height is not None:
            first = _first_rows(members["rgb.png"], height)
            if first is not None:
                return first
        rgb = _decode("rgb.png", members["rgb.png"])
        return rgb[:height] if height is not None and 0 < height < rgb.shape[0] else rgb
    for name in PICTURE_MEMBERS:
        if name in members:
            return _decode(name, members[name])
    for name, data in members.items():
        if name not in _GROUND_TRUTH and name.rpartition(".")[2].lower() in PICTURE_MEMBERS:
            return _decode(name, data)
    return None


def _decode(name: str, data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            rgb = np.asarray(im.convert("RGB"))
    except Exception as e:  # noqa: BLE001 - Pillow's decoders raise many kinds; all mean "undecodable"
        raise ValueError(f"member {name!r} cannot be decoded as an image: {type(e).__name__}: {e}") from None
    return rgb


def _first_rows(data: bytes, height: int) -> np.ndarray | None:
    """Rows ``[0, height)`` of a non-interlaced PNG, decoding only those (a clip's first
    frame: 1/T of the work). Pillow decodes a PNG top to bottom as one tile; shortening
    that tile's extent stops the decoder after ``height`` rows. None when the PNG is not
    of that form or anything goes wrong: the caller then decodes the whole image."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, full = im.size
            tile = im.tile
            if (
                im.format != "PNG"
                or im.info.get("interlace")
                or len(tile) != 1
                or tile[0][0] != "zip"
                or tuple(tile[0][1]) != (0, 0, width, full)
                or not 0 < height < full
            ):
                return None
            im.tile = [tile[0]._replace(extents=(0, 0, width, height))]
            im._size = (width, height)
            rgb = np.asarray(im.convert("RGB"))
    except Exception:  # noqa: BLE001 - any failure: fall back to the full decode, which reports it
        return None
    return rgb if rgb.shape == (height, width, 3) else None


def _frame_height(members: Mapping[str, bytes]) -> int | None:
    raw = members.get("json")
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"member 'json' is not valid JSON ({e}); it gives rgb.png's frame height") from None
    height = meta.get("height") if isinstance(meta, dict) else None
    return height if isinstance(height, int) and not isinstance(height, bool) else None


def checked_rgb(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` as an array, when it is an (H, W, 3) uint8 RGB picture of at least one pixel.

    Raises:
        ValueError: it is not (the message gives its shape and dtype).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB picture, got shape {rgb.shape} dtype {rgb.dtype}")
    return rgb
