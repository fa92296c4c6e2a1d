"""An independent answer to "does anything block the segment from the camera to this
point?", from a sample's documented format alone: the oracle's float64 ray caster
(:mod:`factory.trust.oracle`: analytic shapes, floor and walls, trimesh over the
``geometry.glb`` meshes), which shares no code with the renderer. The reference for
point-track visibility.
"""

from __future__ import annotations

import numpy as np

from factory.trust.oracle.cast import cast
from factory.trust.oracle.scene import oracle_scene

EPS = 1e-4  # docs/format.md: the segment stops this fraction of its length short of the point


def camera_centre(meta: dict, t: int) -> np.ndarray:
    M = np.array(meta["camera"]["world_to_camera"][t])
    return -M[:3, :3].T @ M[:3, 3]


def project(meta: dict, t: int, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel positions (M, 2) and camera z (M,) of world points (M, 3) at frame t."""
    K, M = np.array(meta["camera"]["K"]), np.array(meta["camera"]["world_to_camera"][t])
    cam = world @ M[:3, :3].T + M[:3, 3]
    z = cam[:, 2]
    return np.stack([K[0, 0] * cam[:, 0] / z + K[0, 2], K[1, 1] * cam[:, 1] / z + K[1, 2]], 1), z


def blocked(meta: dict, geometry: bytes | None, t: int, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For world points (M, 3) in front of the camera at frame t: whether something
    meets the segment from the camera centre before 1 - EPS of its length, and the
    nearest surface's parameter along it (inf: none), float64."""
    o = camera_centre(meta, t)
    _, z = project(meta, t, world)
    hits = cast(oracle_scene(meta, geometry), t, o, (world - o) / z[:, None])  # camera z = 1: t is depth
    s = hits.t / z
    return s < 1 - EPS, s
