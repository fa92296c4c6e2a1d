"""The cost model's calibration grid and its fit, shared by the script that measures
(``benchmarks/calibrate_cost.py`` times ``generate_members`` at each grid point and
writes :data:`factory.service.cost.MODEL_FILE`) and the tests that check the shipped
model against them. Pure: numpy and the config parser, no timing here.
"""

from __future__ import annotations

import numpy as np

from factory.scene.config import Config, parse_config
from factory.scene.shapes import ANALYTIC
from factory.service.cost import TERMS

# (width, height, frames, motion_blur_samples, substeps, objects, lights, shadow_rays,
# ao_rays, meshes): the base and one driver moved at a time, then a few together, so
# every term is seen apart. meshes 1: the objects are tori and rocks, else analytic.
GRID = [
    (32, 32, 2, 1, 2, 1, 1, 1, 0, 0),
    (64, 64, 2, 1, 2, 1, 1, 1, 0, 0),
    (128, 128, 2, 1, 2, 1, 1, 1, 0, 0),
    (64, 64, 6, 1, 2, 1, 1, 1, 0, 0),
    (64, 64, 2, 4, 2, 1, 1, 1, 0, 0),
    (64, 64, 2, 1, 2, 12, 1, 1, 0, 0),
    (64, 64, 2, 1, 2, 24, 1, 1, 0, 0),
    (64, 64, 2, 1, 2, 12, 4, 1, 0, 0),
    (64, 64, 2, 1, 2, 24, 4, 1, 0, 0),
    (32, 32, 8, 1, 32, 24, 1, 1, 0, 0),
    (32, 32, 8, 1, 64, 48, 1, 1, 0, 0),
    (96, 96, 4, 2, 4, 8, 2, 1, 0, 0),
    (32, 32, 1, 1, 1, 0, 1, 1, 0, 0),
    (128, 128, 4, 1, 2, 8, 1, 1, 0, 0),
    (64, 64, 2, 1, 2, 12, 1, 16, 0, 0),
    (64, 64, 2, 1, 2, 12, 2, 8, 16, 0),
    (64, 64, 2, 1, 2, 12, 1, 1, 32, 0),
    (64, 64, 2, 1, 2, 12, 1, 1, 0, 1),
    (64, 64, 2, 1, 2, 24, 2, 8, 8, 1),
    (128, 128, 2, 1, 2, 6, 1, 1, 0, 1),
    # heavier points, so that the fit holds where budgets bite
    (64, 64, 4, 8, 2, 4, 1, 1, 0, 0),
    (64, 64, 2, 1, 2, 64, 1, 1, 0, 0),
    (64, 64, 2, 1, 2, 64, 8, 1, 0, 0),
    (32, 32, 4, 1, 128, 96, 1, 1, 0, 0),
    (128, 128, 8, 4, 8, 16, 2, 1, 0, 0),
    (256, 256, 2, 1, 2, 4, 1, 1, 0, 0),
    (192, 192, 6, 2, 8, 32, 4, 4, 4, 1),
]
POINT_FIELDS = (
    "width",
    "height",
    "frames",
    "motion_blur_samples",
    "substeps",
    "objects",
    "lights",
    "shadow_rays",
    "ao_rays",
    "meshes",
)


def config_of(point: tuple) -> Config:
    """The config of one grid point: one scenario of ``objects`` analytic shapes (tori
    and rocks when ``meshes``) and ``lights`` lights of size 0.3 over a flat backdrop, no MP4."""
    w, h, frames, blur, substeps, objects, lights, shadow_rays, ao_rays, meshes = point
    shape = {"dist": "choice", "values": ["torus", "rock"]} if meshes else {"dist": "choice", "values": list(ANALYTIC)}
    return parse_config(
        {
            "name": "calibration",
            "seed": 1,
            "licence": "CC0-1.0",
            "render": {
                "width": w,
                "height": h,
                "frames": frames,
                "fps": 12,
                "substeps": substeps,
                "motion_blur_samples": blur,
                "shadow_rays": shadow_rays,
                "ao_rays": ao_rays,
            },
            "output": {"mp4": False},
            "scenarios": {
                "only": {
                    "objects": {"count": objects, "shape": shape},
                    "lighting": {"count": lights, "size": 0.3},
                    "backdrop": {"kind": "flat"},  # no sun of its own: ``lights`` is every light
                }
            },
        },
        "calibration grid",
    )


def fit(rows: list[dict[str, float]], seconds: list[float]) -> dict[str, float]:
    """Non-negative least squares of ``seconds`` on the terms (Lawson-Hanson's active
    set, on relative errors so that small configs count as much as big ones)."""
    names = list(TERMS)
    y = np.asarray(seconds)
    a = np.array([[r[k] for k in names] for r in rows], dtype=float) / y[:, None]
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    a /= scale
    b = np.ones(len(y))
    active = list(range(len(names)))
    while True:
        x = np.zeros(len(names))
        x[active] = np.linalg.lstsq(a[:, active], b, rcond=None)[0]
        negative = [i for i in active if x[i] < 0]
        if not negative:
            break
        active.remove(min(negative, key=lambda i: x[i]))
    return {k: float(x[i] / scale[i]) for i, k in enumerate(names)}
