"""An equirectangular backdrop image: its directions, solid angles, downscaling, the
statistics a pack records (mean radiance, the sun), and its ``.npz`` file.

Convention (Blender's, Poly Haven's and three.js's latitude-longitude layout, so an
HDRI from any of them is stored as its pixels come, neither flipped nor rolled): an
image is ``(H, W, 3)`` linear RGB radiance (relative units; no exposure applied) with
``W = 2 H``. World ``+z`` is up. Row ``i`` spans polar angles (from ``+z``)
``[pi i / H, pi (i + 1) / H]``: row 0 touches the zenith, the last row the nadir.
Column ``j`` spans ``u = j / W .. (j + 1) / W`` with azimuth ``phi = pi (1 - 2 u)``
(``atan2(y, x)``): the middle column (``u = 0.5``) faces ``+x``, ``u = 0.25`` faces
``+y``, and the azimuth falls left to right (clockwise seen from above), which is what
keeps the picture unmirrored seen from inside the sphere. The other way round, a unit
direction ``d`` falls at ``u = 0.5 - atan2(d_y, d_x) / (2 pi)``, ``v = acos(d_z) / pi``
(``v`` from the top), exactly Blender's ``direction_to_equirectangular``.

File (``image.npz``): one member ``radiance.npy``, float16 ``(H, W, 3)``, finite and
non-negative, deflated with a fixed timestamp so the same image always gives the same
bytes (as :mod:`factory.assets.meshfile`).
"""

from __future__ import annotations

import io
import zipfile
from typing import NamedTuple

import numpy as np

from factory.errors import AssetError
from factory.scene.colour import LUMA

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: no build time in the bytes
MEMBER = "radiance.npy"
SUN_CONE_DEG = 10.0  # the sun's region: this half-angle around its direction
SUN_BLUR_PX = 2  # half-width of the box blur the sun is found on, in pixels of the stored image
RING_WIDTH_DEG = 5.0  # at least: the ring around a sun cone whose mean fills it
FLOAT16_MAX = 65504.0  # float16's largest finite value: brighter pixels are clipped to it


class SunStats(NamedTuple):
    """The brightest region: ``direction`` (3,) unit vector, world frame (z up);
    ``share`` the fraction of the map's power (radiance times solid angle, luminance)
    within :data:`SUN_CONE_DEG` of it (a uniform map gives the cone's solid angle over
    4 pi, 0.0076; a clear sun 0.3 or more); ``radiance`` (3,) the mean linear RGB
    within the cone."""

    direction: tuple[float, float, float]
    share: float
    radiance: tuple[float, float, float]


def band_solid_angles(height: int, width: int) -> np.ndarray:
    """Solid angle in steradians of one pixel of each row, float64 ``(height,)``:
    exact for the latitude band, ``2 pi / width * (cos theta_top - cos theta_bottom)``;
    the whole image sums to 4 pi."""
    edges = np.cos(np.pi * np.arange(height + 1) / height)
    return (edges[:-1] - edges[1:]) * (2 * np.pi / width)


def directions(height: int, width: int) -> np.ndarray:
    """Unit direction of each pixel's centre, float64 ``(height, width, 3)`` (see the
    module docstring)."""
    theta = np.pi * (np.arange(height) + 0.5) / height
    phi = np.pi * (1 - 2 * (np.arange(width) + 0.5) / width)
    st = np.sin(theta)[:, None]
    z = np.broadcast_to(np.cos(theta)[:, None], (height, width))
    return np.stack([st * np.cos(phi)[None, :], st * np.sin(phi)[None, :], z], axis=-1)


def luminance(image: np.ndarray) -> np.ndarray:
    """Rec. 709 luminance of linear RGB ``(..., 3)``, float64 ``(...)``."""
    return np.asarray(image, dtype=np.float64) @ LUMA


def mean_radiance(image: np.ndarray) -> tuple[float, float, float]:
    """The solid-angle-weighted mean radiance over the sphere (3,) RGB: the map's power
    over 4 pi, which :func:`downscale` keeps."""
    h, w, _ = image.shape
    weights = band_solid_angles(h, w)
    total = np.einsum("hwc,h->c", np.asarray(image, dtype=np.float64), weights)
    return tuple(float(x) for x in total / (4 * np.pi))


def downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` (H, W, 3) averaged over ``factor`` x ``factor`` blocks, each source pixel
    weighted by its solid angle, so the map's power (and :func:`mean_radiance`) is kept
    exactly (in float64; the stored float16 rounds each pixel by at most 2**-11 of it).
    Returns float64 ``(H / factor, W / factor, 3)``.

    Raises:
        ValueError: ``H`` or ``W`` is not a multiple of ``factor``.
    """
    h, w, _ = image.shape
    if factor < 1 or h % factor or w % factor:
        raise ValueError(f"a {w}x{h} image cannot be downscaled by {factor}")
    src = np.asarray(image, dtype=np.float64) * band_solid_angles(h, w)[:, None, None]
    power = src.reshape(h // factor, factor, w // factor, factor, 3).sum(axis=(1, 3))
    return power / band_solid_angles(h // factor, w // factor)[:, None, None]


def sun(image: np.ndarray) -> SunStats:
    """The brightest region of ``image`` (see :class:`SunStats`): the pixel of highest
    luminance after a box blur of :data:`SUN_BLUR_PX` pixels each way (wrapping around
    in azimuth, clamped at the poles), then the power share within the cone around it."""
    h, w, _ = image.shape
    lum = luminance(image)
    k = SUN_BLUR_PX
    padded = np.pad(lum, ((k, k), (0, 0)), mode="edge")
    padded = np.concatenate([padded[:, -k:], padded, padded[:, :k]], axis=1)
    # Box sums through a summed-area table: (2k + 1)^2 pixels around each one.
    sat = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    n = 2 * k + 1
    blurred = sat[n:, n:] - sat[:-n, n:] - sat[n:, :-n] + sat[:-n, :-n]
    i, j = np.unravel_index(int(np.argmax(blurred)), blurred.shape)
    dirs = directions(h, w)
    d = dirs[i, j]
    inside = dirs @ d >= np.cos(np.radians(SUN_CONE_DEG))
    weights = np.broadcast_to(band_solid_angles(h, w)[:, None], (h, w))
    power = lum * weights
    total = float(power.sum())
    share = float(power[inside].sum() / total) if total > 0 else 0.0
    rgb = np.einsum("nc,n->c", np.asarray(image, dtype=np.float64)[inside], weights[inside]) / weights[inside].sum()
    return SunStats(tuple(float(x) for x in d), share, tuple(float(x) for x in rgb))


def to_float16(image: np.ndarray) -> np.ndarray:
    """``image`` as float16, values over float16's largest (65504) clipped to it, so the
    stored map stays finite."""
    return np.minimum(np.asarray(image, dtype=np.float64), FLOAT16_MAX).astype(np.float16)


def encode_image(image: np.ndarray) -> bytes:
    """The ``.npz`` bytes of a float16 ``(H, W, 3)`` image; the same image gives the same
    bytes in any process."""
    member = io.BytesIO()
    np.lib.format.write_array(member, np.ascontiguousarray(image, dtype=np.float16), allow_pickle=False)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(MEMBER, date_time=_FIXED_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        zf.writestr(info, member.getvalue())
    return buf.getvalue()


def check_image(image: np.ndarray, file: str) -> None:
    """Raise :class:`AssetError` naming ``file`` unless ``image`` is an
    ``(H, W, 3)`` map with ``W = 2 H`` and finite, non-negative values."""
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[1] != 2 * image.shape[0] or image.shape[0] < 1:
        raise AssetError(file, f"radiance must be (H, 2H, 3) (equirectangular RGB), got {tuple(image.shape)}")
    bad = int(np.count_nonzero(~np.isfinite(image)))
    if bad:
        raise AssetError(file, f"{bad} values are not finite (NaN or inf); radiance must be finite")
    neg = int(np.count_nonzero(image < 0))
    if neg:
        raise AssetError(file, f"{neg} values are negative (lowest {float(image.min()):.4g}); radiance must be >= 0")


def decode_image(data: bytes, file: str) -> np.ndarray:
    """The float16 ``(H, W, 3)`` image in ``.npz`` bytes ``data``, checked by
    :func:`check_image`.

    Raises:
        AssetError: naming ``file``: not a readable ``.npz``, other members, another
            dtype, a wrong shape, non-finite or negative values.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            names = list(npz.files)
            image = npz[names[0]] if names == [MEMBER.removesuffix(".npy")] else None
    except Exception as e:  # a zip or .npy that NumPy cannot read: corrupt
        raise AssetError(file, f"not a readable .npz image ({type(e).__name__}: {e})") from None
    if image is None:
        raise AssetError(file, f"members {names}; a backdrop holds exactly one, {MEMBER}")
    if image.dtype != np.float16:
        raise AssetError(file, f"radiance has dtype {image.dtype}; expected float16")
    check_image(image, file)
    return image


def split_sun(image: np.ndarray, direction, cone_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (H, 2H, 3) with its sun taken out, and the light that replaces it.

    Within ``cone_deg`` of unit ``direction`` (3,) each pixel is lowered to ``fill``,
    the solid-angle mean radiance of the ring from ``cone_deg`` to ``cone_deg`` plus
    ``max(RING_WIDTH_DEG, cone_deg / 2, two pixel rows)`` around it (pixels already
    below it, per channel, are kept: ``min(L, fill)``). The removed radiance times
    solid angle, over pi, is the light's ``intensity`` (3,) per channel (its
    irradiance at normal incidence over pi, taking cos = 1 within the cone: 1.5% high
    at 10 degrees), so the residual's power plus ``pi * intensity`` is the image's.

    Returns:
        The residual image, float32 (H, 2H, 3), and the intensity, float64 (3,).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[1] != 2 * image.shape[0]:
        raise ValueError(f"an environment image must be (H, 2H, 3) (equirectangular RGB), got {image.shape}")
    h, w, _ = image.shape
    d = np.asarray(direction, dtype=np.float64).reshape(3)
    d = d / np.linalg.norm(d)
    cosines = directions(h, w) @ d
    cone = cosines >= np.cos(np.radians(cone_deg))
    ring_deg = cone_deg + max(RING_WIDTH_DEG, cone_deg / 2, 2 * 180.0 / h)
    ring = ~cone & (cosines >= np.cos(np.radians(min(ring_deg, 180.0))))
    weights = np.broadcast_to(band_solid_angles(h, w)[:, None], (h, w))
    src = np.asarray(image, dtype=np.float64)
    fill = (src[ring] * weights[ring][:, None]).sum(0) / max(weights[ring].sum(), 1e-300)
    out = src.copy()
    out[cone] = np.minimum(src[cone], fill)
    removed = ((src[cone] - out[cone]) * weights[cone][:, None]).sum(0) / np.pi
    return out.astype(np.float32), removed
