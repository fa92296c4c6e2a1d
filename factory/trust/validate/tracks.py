"""The point tracks' members held to their own spec (docs/format.md, "Point tracks"):
they decode, and the TAP-Vid, TAPVid-3D and factory arrays tell one story with each
other and with the metadata (frames, K, world_to_camera, object ids). Whether each
visibility is right needs the scene's geometry: that is the oracle's, not this."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np

from factory.render.tracks import OUT_OF_VIEW, VISIBLE
from factory.sample.deform_members import instances
from factory.sample.track_members import TRACK_MEMBERS, decode_tracks

PIXEL_TOL = 1e-3  # pixels: float32 storage of float64 projections (error ~1e-5 px)
METRE_TOL = 1e-4  # metres: the metadata's rounded matrices (9 decimals) and float32 positions


def _raw(members: dict[str, Any], name: str) -> np.ndarray:
    value = members[name]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return np.load(io.BytesIO(bytes(value)), allow_pickle=False)
    return np.asarray(value)


def check_tracks(add: Callable[[str, str], None], members: dict[str, Any], meta: dict) -> None:
    """Report ``tracks.decode`` or ``tracks.layout`` findings through ``add(check,
    message)`` for a sample's tracks members (none, or some missing, which ``members.set``
    reports: nothing to check)."""
    if not all(name in members for name in TRACK_MEMBERS):
        return
    try:
        tr = decode_tracks(members)
    except ValueError as e:
        add("tracks.decode", str(e))
        return
    raw = {name.removesuffix(".npy"): _raw(members, name) for name in TRACK_MEMBERS}
    T, N = tr.state.shape
    try:
        H, W = int(meta["height"]), int(meta["width"])
        K = np.array(meta["camera"]["K"], np.float64).reshape(3, 3)
    except (KeyError, TypeError, ValueError):
        return  # malformed metadata: the meta checks say so
    problems = []
    if T != int(meta["frames"]):
        problems.append(f"{T} frames, the metadata says {meta['frames']}")
    if not np.array_equal(raw["occluded"], (tr.state != VISIBLE).T) or not np.array_equal(
        raw["visibility"], tr.state == VISIBLE
    ):
        problems.append("occluded / visibility disagree with track_state")
    if not np.array_equal(raw["queries_xyt"], raw["query_points"][:, [2, 1, 0]]):
        problems.append("queries_xyt is not query_points [t, y, x] reordered")
    if not np.allclose(tr.intrinsics, [K[0, 0], K[1, 1], K[0, 2], K[1, 2]], rtol=1e-6, atol=1e-4):
        problems.append(f"intrinsics {tr.intrinsics.tolist()} are not the metadata's K")
    ids = {0} | {o.get("id") for o in instances(meta) or []}
    if not set(np.unique(tr.surface).tolist()) <= ids:
        problems.append(f"track_surface ids {sorted(set(np.unique(tr.surface).tolist()) - ids)} are no object's")
    t = raw["query_points"][:, 0]
    if (t != np.round(t)).any() or ((t < 0) | (t >= T)).any():
        problems.append("a query frame that is not a frame of the clip")
    else:
        tq = t.astype(int)
        if np.abs(tr.uv[tq, np.arange(N)] - tr.query_uv).max(initial=0) > PIXEL_TOL:
            problems.append("target_points at a query's frame are not the query")
    problems += _geometry(tr, meta, K, W, H)
    for p in problems:
        add("tracks.layout", p)


def _geometry(tr, meta: dict, K: np.ndarray, W: int, H: int) -> list[str]:
    """Image positions against the camera-frame points and the image, camera-frame
    points against the world ones through the metadata's world_to_camera."""
    out = []
    xyz = tr.xyz.astype(np.float64)
    seen = tr.state != OUT_OF_VIEW
    z = np.where(seen, xyz[..., 2], 1.0)
    proj = np.stack([K[0, 0] * xyz[..., 0] / z + K[0, 2], K[1, 1] * xyz[..., 1] / z + K[1, 2]], -1)
    if (np.abs(proj - tr.uv)[seen] > PIXEL_TOL * (1 + np.abs(tr.uv[seen]) / 100)).any():
        out.append("target_points are not the projection of tracks_xyz where in view")
    u, v = tr.uv[..., 0], tr.uv[..., 1]
    inside = (tr.depth > 0) & (u > -PIXEL_TOL) & (u < W + PIXEL_TOL) & (v > -PIXEL_TOL) & (v < H + PIXEL_TOL)
    strictly = (tr.depth > 1e-5) & (u > PIXEL_TOL) & (u < W - PIXEL_TOL) & (v > PIXEL_TOL) & (v < H - PIXEL_TOL)
    if (seen & ~inside).any() or (~seen & strictly).any():
        out.append("track_state's out-of-view entries are not those outside the image or behind the camera")
    M = np.array(meta["camera"]["world_to_camera"], np.float64)
    cam = np.einsum("tij,tnj->tni", M[:, :3, :3], tr.world.astype(np.float64)) + M[:, None, :3, 3]
    if np.abs(cam - xyz).max(initial=0) > METRE_TOL * (1 + np.abs(xyz).max(initial=0)):
        out.append("tracks_xyz is not track_world through the metadata's world_to_camera")
    return out
