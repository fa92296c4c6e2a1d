"""An independent answer to "does anything block the segment from the camera to this
point?", from a sample's metadata alone: analytic spheres and boxes and the floor
(z = 0) in NumPy float64, meshes through trimesh's ray caster over the posed unit
assets (:mod:`tests.helpers.raycast`). The reference for point-track visibility.
"""

from __future__ import annotations

import numpy as np
from trimesh.ray.ray_triangle import RayMeshIntersector

from factory.scene.assets import MESH_KINDS, mesh_asset
from tests.helpers.raycast import posed

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


def _sphere(o, d, c, r) -> np.ndarray:
    """Nearest positive segment parameter of each ray o + s d (d: (M, 3)) on the sphere."""
    oc = o - c
    a, b, cc = np.einsum("ij,ij->i", d, d), np.einsum("j,ij->i", oc, d), oc @ oc - r * r
    disc = b * b - a * cc
    s = np.where(disc >= 0, (-b - np.sqrt(np.maximum(disc, 0))) / a, np.inf)
    return np.where(s > 0, s, np.inf)


def _box(o, d, centre, R, half) -> np.ndarray:
    """Entry parameter of each ray into the oriented box (slab test), inf if missed."""
    o_l, d_l = R.T @ (o - centre), d @ R  # (3,), (M, 3) in the box frame
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (-half - o_l) / d_l, (half - o_l) / d_l
    near = np.nanmax(np.minimum(t1, t2), axis=1)
    far = np.nanmin(np.maximum(t1, t2), axis=1)
    return np.where((near <= far) & (near > 0), near, np.inf)


def blocked(meta: dict, t: int, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For world points (M, 3) at frame t: whether something meets the segment from
    the camera centre before 1 - EPS of its length, and the nearest such parameter
    (inf: none), float64. Objects may be spheres, boxes or built-in mesh kinds."""
    o = camera_centre(meta, t)
    d = world - o
    s = np.full(len(world), np.inf)
    with np.errstate(divide="ignore"):
        floor = np.where(d[:, 2] < 0, -o[2] / d[:, 2], np.inf)
    s = np.minimum(s, np.where(floor > 0, floor, np.inf))
    room = meta.get("room") or {}
    if room:  # the walls: planes x = +-width/2, y = +-depth/2, for 0 <= z <= height
        for axis, half in ((0, room["width"] / 2), (1, room["depth"] / 2)):
            for sign in (-1.0, 1.0):
                with np.errstate(divide="ignore", invalid="ignore"):
                    w = (sign * half - o[axis]) / d[:, axis]
                z = o[2] + w * d[:, 2]
                s = np.minimum(s, np.where((w > 0) & (z >= 0) & (z <= room["height"]), w, np.inf))
    meshes = []
    for ob in meta["objects"]:
        c, R, dims = np.array(ob["position"][t]), np.array(ob["rotation"][t]), np.array(ob["dims"])
        if ob["shape"] == "sphere":
            s = np.minimum(s, _sphere(o, d, c, dims[0]))
        elif ob["shape"] == "box":
            s = np.minimum(s, _box(o, d, c, R, dims))
        elif ob["shape"] in MESH_KINDS:
            meshes.append(ob)
        else:
            raise ValueError(f"segments: no reference for shape {ob['shape']!r}")
    if meshes:
        unit = {k: (mesh_asset(k).vertices.astype(np.float64), mesh_asset(k).faces, None) for k in MESH_KINDS}
        mesh, _, _ = posed({**meta, "objects": meshes}, t, lambda ob: unit[ob["shape"]])
        locs, ray, _ = RayMeshIntersector(mesh).intersects_location(
            np.repeat(o[None], len(d), 0), d, multiple_hits=True
        )
        hit = np.einsum("ij,ij->i", locs - o, d[ray]) / np.einsum("ij,ij->i", d[ray], d[ray])
        keep = hit > 0
        np.minimum.at(s, ray[keep], hit[keep])
    return s < 1 - EPS, s
