"""Colour temperature as linear RGB: the colour of a light of T kelvin, and the white
balance gains that make a light of T kelvin render white.

The chromaticity of a black body at T (CIE 1931 xy) is Kang et al.'s cubic fit of the
Planckian locus (2002; within 0.0004 of the exact locus over 1667..25000 K; T is clamped
to that range), taken to XYZ at Y = 1 and to linear Rec. 709 RGB by the sRGB matrix
(IEC 61966-2-1), then divided channel by channel by the same colour of
:data:`WHITE_K`, so a light of 6500 K is exactly (1, 1, 1), and scaled to Rec. 709
luminance 1 (a light's ``intensity`` keeps meaning its brightness). Host-side float64.
"""

from __future__ import annotations

import numpy as np

WHITE_K = 6500.0  # the temperature that is white: (1, 1, 1)
LUMA = np.array([0.2126, 0.7152, 0.0722])  # Rec. 709 luminance weights of linear RGB
_XYZ_TO_RGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]]
)


def _chromaticity(t: float) -> tuple[float, float]:
    """CIE 1931 (x, y) of a black body at ``t`` kelvin (Kang et al. 2002)."""
    t = min(max(float(t), 1667.0), 25000.0)
    a = 1e3 / t
    if t <= 4000.0:
        x = -0.2661239 * a**3 - 0.2343589 * a**2 + 0.8776956 * a + 0.179910
    else:
        x = -3.0258469 * a**3 + 2.1070379 * a**2 + 0.2226347 * a + 0.240390
    if t <= 2222.0:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000.0:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    return x, y


def _rgb(t: float) -> np.ndarray:
    x, y = _chromaticity(t)
    return _XYZ_TO_RGB @ np.array([x / y, 1.0, (1.0 - x - y) / y])


def kelvin_rgb(t: float) -> tuple[float, float, float]:
    """Linear RGB (3,) of a light of ``t`` kelvin, relative to :data:`WHITE_K`, of
    luminance 1; channels clipped at 0."""
    rgb = np.maximum(_rgb(t) / _rgb(WHITE_K), 0.0)
    return tuple(float(c) for c in rgb / float(rgb @ LUMA))


def white_balance(t: float) -> tuple[float, float, float]:
    """Per-channel gains (3,) that turn a light of ``t`` kelvin grey (a camera's white
    balance set to ``t``), scaled so a white of :data:`WHITE_K` keeps its luminance;
    no gain above 20 (a channel the light hardly has stays dark, as in a camera)."""
    rgb = np.maximum(np.asarray(kelvin_rgb(t)), 0.05)
    gains = 1.0 / rgb
    return tuple(float(g) for g in gains / float(gains @ LUMA))
