"""Global colour, exposure and edge statistics of one picture (:data:`FEATURES`, each
with a unit in :data:`FEATURE_UNITS`), measured at one scale (:func:`analysis_picture`)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from factory.trust.diversity.pictures import LUMA, checked_rgb

# Pictures are measured at one scale, shorter side ANALYSIS_SIDE pixels (aspect kept):
# edge and gradient statistics depend on resolution, and a 1024-px real set must be
# comparable with a 128-px synthetic one. Larger pictures shrink with INTER_AREA,
# smaller ones grow with INTER_LINEAR. The longer side is capped at MAX_ANALYSIS_SIDE
# (only pictures more than 16 times as long as wide are squashed).
ANALYSIS_SIDE = 128
MAX_ANALYSIS_SIDE = 16 * ANALYSIS_SIDE
CANNY_THRESHOLDS = (100, 200)  # hysteresis thresholds of cv2.Canny on 8-bit grey
DARK_LEVEL, BRIGHT_LEVEL = 10, 245  # luma at or below / at or above: crushed / blown

FEATURES: tuple[str, ...] = (
    "r_mean",
    "g_mean",
    "b_mean",
    "r_std",
    "g_std",
    "b_std",
    "luma_mean",
    "luma_std",
    "saturation_mean",
    "colourfulness",
    "edge_density",
    "gradient_mean",
    "sharpness",
    "entropy",
    "dark_fraction",
    "bright_fraction",
)
FEATURE_UNITS: dict[str, str] = {
    "r_mean": "levels 0-255",
    "g_mean": "levels 0-255",
    "b_mean": "levels 0-255",
    "r_std": "levels",
    "g_std": "levels",
    "b_std": "levels",
    "luma_mean": "levels 0-255",
    "luma_std": "levels",
    "saturation_mean": "0-1",
    "colourfulness": "levels",
    "edge_density": "fraction 0-1",
    "gradient_mean": "levels/pixel",
    "sharpness": "levels^2",
    "entropy": "bits 0-8",
    "dark_fraction": "fraction 0-1",
    "bright_fraction": "fraction 0-1",
}
# What each feature measures, in words (for the verdict).
FEATURE_WORDS: dict[str, str] = {
    "r_mean": "red level",
    "g_mean": "green level",
    "b_mean": "blue level",
    "r_std": "red spread",
    "g_std": "green spread",
    "b_std": "blue spread",
    "luma_mean": "brightness",
    "luma_std": "contrast",
    "saturation_mean": "saturation",
    "colourfulness": "colourfulness",
    "edge_density": "edge density",
    "gradient_mean": "gradient strength",
    "sharpness": "sharpness",
    "entropy": "tonal entropy",
    "dark_fraction": "share of crushed shadows",
    "bright_fraction": "share of blown highlights",
}


def analysis_picture(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` resized (aspect kept) so its shorter side is :data:`ANALYSIS_SIDE`;
    (H', W', 3) uint8, the same array when it already is."""
    rgb = checked_rgb(rgb)
    h, w = rgb.shape[:2]
    if min(h, w) == ANALYSIS_SIDE and max(h, w) <= MAX_ANALYSIS_SIDE:
        return rgb
    scale = ANALYSIS_SIDE / min(h, w)
    size = (min(MAX_ANALYSIS_SIDE, max(1, round(w * scale))), min(MAX_ANALYSIS_SIDE, max(1, round(h * scale))))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def image_features(rgb: np.ndarray) -> np.ndarray:
    """Global statistics of one (H, W, 3) uint8 RGB picture: shape (len(FEATURES),)
    float64, in the order of :data:`FEATURES`. Measured on :func:`analysis_picture`.

    ====================  ====================================================================
    ``r/g/b_mean``        mean of each channel, levels 0-255
    ``r/g/b_std``         standard deviation of each channel over the pixels, levels
    ``luma_mean``         mean BT.601 luma ``0.299 R + 0.587 G + 0.114 B``, levels 0-255
    ``luma_std``          its standard deviation (RMS contrast), levels
    ``saturation_mean``   mean HSV saturation ``(max - min) / max`` (0 where max = 0), 0-1
    ``colourfulness``     Hasler & Süsstrunk (2003): ``std(rg, yb) + 0.3 mean(rg, yb)`` with
                          ``rg = R - G``, ``yb = (R + G) / 2 - B`` (root-sum-squares), levels
    ``edge_density``      fraction of pixels that ``cv2.Canny`` (thresholds 100, 200, on the
                          8-bit grey picture) marks as edges, 0-1
    ``gradient_mean``     mean Sobel gradient magnitude of luma, 3 x 3 kernels divided by 8
                          so a ramp of s levels per pixel reads s; levels/pixel
    ``sharpness``         variance of the 4-neighbour Laplacian of luma, levels^2
    ``entropy``           Shannon entropy of the 256-bin 8-bit grey histogram, bits 0-8
    ``dark_fraction``     fraction of pixels with luma <= 10 (crushed shadows), 0-1
    ``bright_fraction``   fraction of pixels with luma >= 245 (blown highlights), 0-1
    ====================  ====================================================================

    Borders are reflected without repeating the edge pixel (OpenCV's default).
    """
    img = analysis_picture(rgb)
    # Contiguous float32 planes: numpy reductions over the short channel axis are slow.
    r, g, b = (c.astype(np.float32) for c in cv2.split(img))
    mean, std = cv2.meanStdDev(img)  # per channel, float64, population std
    luma = r * np.float32(LUMA[0]) + g * np.float32(LUMA[1]) + b * np.float32(LUMA[2])
    hi, lo = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    saturation = np.divide(hi - lo, hi, out=np.zeros_like(hi), where=hi > 0)
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = math.hypot(rg.std(dtype=np.float64), yb.std(dtype=np.float64)) + 0.3 * math.hypot(
        rg.mean(dtype=np.float64), yb.mean(dtype=np.float64)
    )
    grey8 = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey8, *CANNY_THRESHOLDS)
    gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)
    # np.sqrt is correctly rounded; cv2.magnitude's vector path is not, so it would
    # depend on the arrays' memory alignment.
    gradient = np.sqrt(gx * gx + gy * gy).mean(dtype=np.float64) / 8.0
    laplacian = cv2.Laplacian(luma, cv2.CV_32F, ksize=1)
    hist = np.bincount(grey8.ravel(), minlength=256).astype(np.float64)
    p = hist[hist > 0] / grey8.size
    return np.array(
        [
            *mean.ravel(),
            *std.ravel(),
            luma.mean(dtype=np.float64),
            luma.std(dtype=np.float64),
            saturation.mean(dtype=np.float64),
            colourfulness,
            np.count_nonzero(edges) / edges.size,
            gradient,
            laplacian.var(dtype=np.float64),
            float(-(p * np.log2(p)).sum()) + 0.0,
            np.count_nonzero(luma <= DARK_LEVEL) / luma.size,
            np.count_nonzero(luma >= BRIGHT_LEVEL) / luma.size,
        ],
        dtype=np.float64,
    )
