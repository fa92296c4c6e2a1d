"""Image textures as the kernels read them: each texture's mip pyramid, its levels
packed into one byte array per mesh asset, and the sRGB decode table.

Texels stay sRGB bytes (RGBA, 4 a texel, as GPUs' sRGB8_ALPHA8 formats do): the
kernels decode each fetched texel through :data:`SRGB_DECODE` (256 linear floats) and
filter in linear light. A level is half its parent's size per axis (at least 1 texel;
an odd last row or column is left out of the box filter), each texel the mean in
linear light of its 2x2 parent texels, encoded back to the nearest sRGB byte.
Everything here is NumPy on integer bytes and one fixed table, so the same bytes on
every machine.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

_c = np.arange(256) / 255.0
# sRGB byte -> linear [0, 1] (IEC 61966-2-1), float64; the kernels read it as float32.
SRGB_DECODE = np.where(_c <= 0.04045, _c / 12.92, ((_c + 0.055) / 1.055) ** 2.4)
# Linear value -> the nearest byte's decoded value: the midpoints between levels.
_MIDPOINTS = (SRGB_DECODE[1:] + SRGB_DECODE[:-1]) / 2


def encode_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear values in [0, 1] (any shape, float) -> the sRGB bytes (uint8) whose
    decoded value is nearest."""
    return np.searchsorted(_MIDPOINTS, np.clip(linear, 0.0, 1.0)).astype(np.uint8)


def mip_levels(image: np.ndarray) -> list[np.ndarray]:
    """The mip pyramid of ``image`` (H, W, 4) uint8 sRGB RGBA: level 0 is the image,
    each next level (max(1, h // 2), max(1, w // 2), 4) uint8, down to 1 x 1. Colour is
    averaged in linear light, alpha as it is."""
    levels = [np.ascontiguousarray(image, np.uint8)]
    while levels[-1].shape[0] > 1 or levels[-1].shape[1] > 1:
        img = levels[-1]
        h, w = img.shape[:2]
        lin = np.concatenate([SRGB_DECODE[img[..., :3]], img[..., 3:] / 255.0], -1)
        rows = np.minimum(np.arange(max(1, h // 2))[:, None] * 2 + np.arange(2), h - 1)  # (h2, 2)
        cols = np.minimum(np.arange(max(1, w // 2))[:, None] * 2 + np.arange(2), w - 1)  # (w2, 2)
        mean = lin[rows[:, :, None, None], cols[None, None]].mean(axis=(1, 3))  # (h2, w2, 4)
        alpha = np.round(mean[..., 3:] * 255.0).astype(np.uint8)
        levels.append(np.concatenate([encode_srgb(mean[..., :3]), alpha], -1))
    return levels


class PackedTextures(NamedTuple):
    """The textures of one mesh asset (T textures, Lv levels in all), as the kernels'
    :class:`~factory.render.tables.MeshData` holds them: texture t's levels are rows
    ``first[t] : first[t] + count[t]`` of ``level`` (Lv, 3) int32 (width, height, first
    texel), whose texels are ``texels[4 * first : 4 * (first + width * height)]``, row
    by row from the image's top, RGBA sRGB bytes."""

    first: np.ndarray  # (T,) int32
    count: np.ndarray  # (T,) int32
    level: np.ndarray  # (Lv, 3) int32
    texels: np.ndarray  # (4 * texels,) uint8


def pack_textures(textures) -> PackedTextures:
    """Every texture's mip pyramid in one array (one zero texel and level where there is
    no texture: Warp wants arrays)."""
    first, count, level, parts = [], [], [], []
    texel = 0
    for image in textures:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 4 or image.dtype != np.uint8 or 0 in image.shape:
            raise ValueError(f"a texture must be (H, W, 4) uint8 with H, W >= 1, got {image.shape} {image.dtype}")
        levels = mip_levels(image)
        first.append(len(level))
        count.append(len(levels))
        for lv in levels:
            h, w = lv.shape[:2]
            level.append((w, h, texel))
            parts.append(lv.reshape(-1))
            texel += w * h
    if not level:
        level, parts = [(1, 1, 0)], [np.zeros(4, np.uint8)]
    return PackedTextures(
        np.array(first or [0], np.int32),
        np.array(count or [1], np.int32),
        np.array(level, np.int32),
        np.concatenate(parts),
    )
