"""From linear radiance to display values, as Warp functions: the exposure and white
balance gains per channel, then the tone curve.

``filmic`` is Narkowicz's fit of the ACES reference rendering transform (2015), with
his 0.6 pre-scale: ``f(0.6 x)``, ``f(y) = y (2.51 y + 0.03) / (y (2.43 y + 0.59) + 0.14)``,
a rational curve (no libm): 0 at 0, 0.14 at middle grey (0.18: sRGB byte 105), 0.64
at 0.9 (a white card under the metered light: byte 210), and 1 from x = 12.1 on:
highlights roll off instead of clipping. ``linear`` clips at 1,
as the renderer did before tone mapping. The sRGB table of the kernels then encodes.
"""

from __future__ import annotations

import numpy as np

from factory.render.tables import FILMIC
from factory.render.warp_setup import wp

# linear [0, 1] -> sRGB uint8 through a table: no per-pixel pow, and identical on
# every machine (transcendental functions may differ in the last bit across CPUs).
_LUT_SIZE = 4096
_x = np.arange(_LUT_SIZE) / (_LUT_SIZE - 1)
SRGB_LUT = np.round(255 * np.where(_x <= 0.0031308, 12.92 * _x, 1.055 * _x ** (1 / 2.4) - 0.055)).astype(np.uint8)


@wp.func
def filmic(x: float):
    """The ACES fit at 0.6 x (x >= 0), clipped to [0, 1]."""
    y = wp.max(x, 0.0) * 0.6
    return wp.clamp(y * (2.51 * y + 0.03) / (y * (2.43 * y + 0.59) + 0.14), 0.0, 1.0)


@wp.func
def display(c: wp.vec3, gain: wp.vec3, tone: int):
    """Linear RGB ``c`` times ``gain`` (exposure and white balance), through tone curve
    ``tone`` (FILMIC or LINEAR): display-linear values in [0, 1]."""
    x = wp.cw_mul(c, gain)
    if tone == FILMIC:
        return wp.vec3(filmic(x[0]), filmic(x[1]), filmic(x[2]))
    return wp.vec3(wp.clamp(x[0], 0.0, 1.0), wp.clamp(x[1], 0.0, 1.0), wp.clamp(x[2], 0.0, 1.0))
