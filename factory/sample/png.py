"""A fast lossless PNG writer for the image members: row filters in NumPy, deflate by
libdeflate (the ``deflate`` package).

:func:`png` writes the same PNGs as any other encoder would decode them (greyscale or
RGB, 8 or 16 bits, no interlace; one IHDR, one IDAT, one IEND chunk), so both WebDataset
readers decode them with their default handlers (Pillow) to the same arrays as
OpenCV's. What makes it cheaper than OpenCV's libpng at zlib level 1: one filter per
member chosen once from measurements (libpng tries all five per row and keeps the row
with the smallest sum), computed over the whole filmstrip in a few NumPy passes, and
libdeflate, which compresses at least as well as zlib level 1 in a third of its time.

Bytes are deterministic for a given version of libdeflate (which the pinned ``deflate``
wheel bundles): it holds no state between calls, and its CPU-specific code (checksums,
match-finder set-up) computes the same values on every CPU. They differ from OpenCV's.
"""

from __future__ import annotations

import struct

import numpy as np

# PNG filter types (PNG spec, 9.2) that :func:`png` computes. Paeth compresses a little
# better but costs 3x the deflate in NumPy (benchmarks/encode.py).
FILTERS = {"none": 0, "sub": 1, "up": 2}
LEVEL = 2  # libdeflate level: as fast as its level 1 on these images and 5-10% smaller

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE = {1: 0, 3: 2}  # channels -> PNG colour type (greyscale, RGB)


def png(image: np.ndarray, filter: str, level: int = LEVEL) -> bytes:
    """PNG bytes of ``image``: (H, W) greyscale, uint8 or uint16, or (H, W, 3) RGB
    uint8, each row filtered with ``filter`` (a key of :data:`FILTERS`) and compressed by
    libdeflate at ``level``.

    Raises:
        ValueError: another shape, dtype or filter.
    """
    import deflate

    grey = image.ndim == 2 and image.dtype in (np.uint8, np.uint16)
    if not grey and (image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8):
        # Pillow, the readers' decoder, reads 16-bit RGB as 8 bits: no member is written so
        raise ValueError(
            f"png: a {image.shape} {image.dtype} image; expected (H, W) uint8 or uint16, or (H, W, 3) uint8"
        )
    channels = 1 if grey else 3
    H, W = image.shape[:2]
    header = struct.pack(">IIBBBBB", W, H, 8 * image.dtype.itemsize, _COLOUR_TYPE[channels], 0, 0, 0)
    data = deflate.zlib_compress(filtered(image, filter), level)
    return b"".join(
        (
            _SIGNATURE,
            _chunk(b"IHDR", header, deflate.crc32),
            _chunk(b"IDAT", data, deflate.crc32),
            _chunk(b"IEND", b"", deflate.crc32),
        )
    )


def filtered(image: np.ndarray, filter: str) -> np.ndarray:
    """The scanlines of ``image`` as PNG stores them before compression: (H, 1 + W *
    channels * bytes) uint8, each row its filter type byte then the filtered samples
    (16-bit samples big-endian, PNG's byte order; arithmetic modulo 256)."""
    if filter not in FILTERS:
        raise ValueError(f"png: filter {filter!r}; expected one of {', '.join(FILTERS)}")
    H = image.shape[0]
    raw = np.ascontiguousarray(image, image.dtype.newbyteorder(">")).view(np.uint8).reshape(H, -1)
    bpp = (1 if image.ndim == 2 else image.shape[-1]) * image.dtype.itemsize  # bytes per pixel
    out = np.empty((H, raw.shape[1] + 1), np.uint8)
    out[:, 0] = FILTERS[filter]
    body = out[:, 1:]
    if filter == "none":
        body[:] = raw
    elif filter == "sub":  # each byte minus the byte one pixel to its left (0 before the row)
        body[:, :bpp] = raw[:, :bpp]
        np.subtract(raw[:, bpp:], raw[:, :-bpp], out=body[:, bpp:])
    else:  # "up": each byte minus the byte above it (0 above the first row)
        body[0] = raw[0]
        np.subtract(raw[1:], raw[:-1], out=body[1:])
    return out


def _chunk(kind: bytes, data: bytes, crc32) -> bytes:
    """One PNG chunk: length, type, data and the CRC-32 of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc32(data, crc32(kind)))
