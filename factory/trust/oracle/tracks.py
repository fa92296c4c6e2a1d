"""The oracle's check of the point tracks (docs/format.md "Point tracks") at a seeded
subset of the points, every frame: each point's world position against its query
frame's position carried by the metadata's poses, its query depth and surface against
the oracle's own ray through the query pixel's centre, its image position and camera
point against the metadata's camera, and its visibility state against the oracle's own
cast of the segment from the camera centre to the point.

Two statistics: ``tracks`` (positions; each entry's error in units of its own
tolerance, as the corners') and ``track_state`` (the three-valued state, exact; the
silhouette rule as for pixels: a state the oracle reproduces only with the point's
image position nudged EDGE_DELTA px is counted in ``edges``). Both report as the
``oracle.tracks`` check; a sample without tracks (``Stored.tracks`` None) skips them.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from factory.trust.oracle.cast import SKY, camera_rays, cast
from factory.trust.oracle.layers import DEPTH_GRAZING, DEPTH_REL, Stored
from factory.trust.oracle.scene import OracleScene

VISIBLE, OCCLUDED, OUT_OF_VIEW = 0, 1, 2  # track_state.npy's values
NEAR = 1e-6  # m of camera z: at or nearer, out of view
SEGMENT = 1.0 - 1e-4  # a hit before this share of the segment to the point occludes it
BEHIND = -1.0e4  # px: the image position of a point at or behind the camera
MIN_POINTS = 16  # points checked per sample at least (all of them when fewer)
# Tolerances (docs/trust.md): world 1e-5 m + float32's step (the metadata's poses are
# rounded to 6 decimals; the stored world is float32); the camera point 1e-5 m +
# float32's step; the image position 0.01 px (docs/format.md's bound); the query
# depth: the depth check's float allowance (DEPTH_REL z + DEPTH_GRAZING z / cos) + 1e-5 m.
WORLD_M = 1e-5
XYZ_M = 1e-5
UV_PX = 0.01
F32 = 2.0**-23  # float32's relative step
TRACK_STATS = ("tracks", "track_state")
EDGE_OFFSETS = ((0.01, 0.0), (-0.01, 0.0), (0.0, 0.01), (0.0, -0.01))  # px: run.py's silhouette rule


def sample_points(key: str, n: int, fraction: float) -> np.ndarray:
    """The points (indices, sorted) the oracle checks in sample ``key`` of ``n`` points:
    a share ``fraction`` of them but at least MIN_POINTS (all when fewer), drawn by a
    generator seeded from the key."""
    m = min(n, max(MIN_POINTS, math.ceil(fraction * n)))
    seed = int.from_bytes(hashlib.sha256(f"oracle-tracks:{key}".encode()).digest()[:8], "little")
    return np.arange(n) if m == n else np.sort(np.random.default_rng(seed).choice(n, m, replace=False))


def carried_world(scene: OracleScene, tracks, pick: np.ndarray) -> np.ndarray:
    """(T, m, 3) each picked point's world position per frame from its query frame's
    stored position: through its object's pose at the query frame into the object's
    frame and out through each frame's pose (floor and walls: unmoved). NaN for a point
    on an object the oracle could not rebuild."""
    T = scene.frames
    q = tracks.query_frame[pick].astype(np.int64)
    at_q = tracks.world[q, pick].astype(np.float64)  # (m, 3)
    surface = tracks.surface[pick]
    out = np.broadcast_to(at_q, (T, *at_q.shape)).copy()
    out[:, np.isin(surface, list(scene.unknown_ids))] = np.nan
    for body in scene.bodies:
        for frame in np.unique(q[surface == body.id]):
            on = np.flatnonzero((surface == body.id) & (q == frame))
            out[:, on] = body.carry(at_q[on], int(frame), np.arange(T), onto_surface=True)
    return out


def project(scene: OracleScene, t: int, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera points (m, 3) and image positions (m, 2) (BEHIND at or behind) of world
    points (m, 3) in frame t."""
    w2c = scene.world_to_camera[t]
    cam = world @ w2c[:3, :3].T + w2c[:3, 3]
    z = np.where(cam[:, 2] > NEAR, cam[:, 2], 1.0)
    uv = (cam @ scene.K.T)[:, :2] / z[:, None]
    uv[cam[:, 2] <= NEAR] = BEHIND
    return cam, uv


def oracle_state(scene: OracleScene, t: int, z: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """(m,) the state of points at camera z (m,) and image positions uv (m, 2) of frame
    t: out of view, else occluded when the oracle's ray to the point (camera z = 1
    directions, so the point lies at parameter z) meets anything before SEGMENT z."""
    state = np.full(len(z), OUT_OF_VIEW, np.uint8)
    inside = (z > NEAR) & (uv[:, 0] >= 0) & (uv[:, 0] < scene.width) & (uv[:, 1] >= 0) & (uv[:, 1] < scene.height)
    idx = np.flatnonzero(inside)
    if len(idx):
        o, d = camera_rays(scene, t, uv[idx, 0], uv[idx, 1])
        hits = cast(scene, t, o, d)
        state[idx] = np.where(hits.t < SEGMENT * z[idx], OCCLUDED, VISIBLE)
    return state


def _query_cast(scene: OracleScene, t: int, uv: np.ndarray):
    """The oracle's depth (m; inf: sky), instance id (-1: sky) and depth allowance
    through image points uv (m, 2) of frame t."""
    ids = np.array([b.id for b in scene.bodies] + [0], np.int64)
    o, d = camera_rays(scene, t, uv[:, 0], uv[:, 1])
    h = cast(scene, t, o, d)
    cos = np.abs(np.einsum("ij,ij->i", h.ng, d)) / np.linalg.norm(d, axis=1)
    sid = np.where(h.surface >= 0, ids[np.maximum(h.surface, 0)], 0)
    sid[h.surface == SKY] = -1
    return h.t, sid, XYZ_M + DEPTH_REL * h.t + DEPTH_GRAZING * h.t / np.maximum(cos, 1e-3)


def _query(scene: OracleScene, tracks, pick: np.ndarray, st) -> tuple[np.ndarray, np.ndarray, list]:
    """Per picked point visible at its query frame, through its query pixel's centre there: the
    oracle's depth (m; NaN where it sees another surface than ``track_surface`` says)
    and its allowance; and the failures (frame, index into pick, message) of surfaces
    the oracle does not see there even with the silhouette rule's nudges (those it
    sees only so are counted in ``st.edges``). A point on an object the oracle could
    not rebuild is left out."""
    q = tracks.query_frame[pick].astype(np.int64)
    known = ~np.isin(tracks.surface[pick], list(scene.unknown_ids))
    # Where the point is visible at its query frame: always in the camera that drew it;
    # a rig's other camera may see something else there (its state says so and is
    # checked on its own).
    known &= tracks.state[q, pick] == VISIBLE
    depth, tol, out = np.full(len(pick), np.nan), np.ones(len(pick)), []
    for t in np.unique(q):
        on = np.flatnonzero((q == t) & known)
        if not len(on):
            continue
        uv = tracks.query_uv[pick[on]].astype(np.float64)
        want = tracks.surface[pick[on]]
        z, sid, allow = _query_cast(scene, int(t), uv)
        same = sid == want
        depth[on[same]], tol[on[same]] = z[same], allow[same]
        bad = np.flatnonzero(~same)
        edge = np.zeros(len(bad), bool)
        for offset in EDGE_OFFSETS if len(bad) else ():
            edge |= _query_cast(scene, int(t), uv[bad] + np.array(offset))[1] == want[bad]
        st.edges += int(edge.sum())
        st.sampled += len(on)
        err = (~same).astype(np.float64)
        err[bad[edge]] = np.nan
        st.add(err)
        for m in bad[~edge]:
            msg = f"track_surface {want[m]}, the oracle's ray through its query pixel meets {sid[m]} (-1: sky)"
            out.append((int(t), int(on[m]), msg))
    return depth, tol, out


def check_tracks(key: str, scene: OracleScene, stored: Stored, fraction: float, stats: dict) -> list:
    """The tracks of ``stored`` at the points :func:`sample_points` picks: statistics
    into ``stats["tracks"]`` / ``stats["track_state"]`` (LayerStats); returns the
    failures, (layer, frame, point, message) each."""
    tr = stored.tracks
    T, N = tr.state.shape
    pick = sample_points(key, N, fraction)
    want_world = carried_world(scene, tr, pick)
    q = tr.query_frame[pick].astype(np.int64)
    pos, st = stats["tracks"], stats["track_state"]
    qdepth, qtol, wrong = _query(scene, tr, pick, st)
    fails = [("track_state", t, int(pick[m]), msg) for t, m, msg in wrong]
    for t in range(T):
        world = tr.world[t, pick].astype(np.float64)
        cam, uv = project(scene, t, world)
        w_err = np.abs(world - want_world[t]).max(1) / (WORLD_M + F32 * np.abs(world).max(1))
        x_err = np.abs(tr.xyz[t, pick] - cam).max(1) / (XYZ_M + F32 * np.abs(cam).max(1))
        u_err = np.abs(tr.uv[t, pick] - uv).max(1) / UV_PX
        ratio = np.fmax(np.fmax(w_err, x_err), u_err)
        at_q = np.flatnonzero(q == t)
        ratio[at_q] = np.fmax(ratio[at_q], np.abs(cam[at_q, 2] - qdepth[at_q]) / qtol[at_q])
        pos.sampled += len(pick)
        pos.add(ratio)
        for m in np.flatnonzero(ratio > 1.0):
            what = {w_err[m]: "world", x_err[m]: "tracks_xyz", u_err[m]: "target_points"}.get(ratio[m], "query depth")
            msg = (
                f"{what} off by {ratio[m]:.3g} tolerances: world {np.round(world[m], 6).tolist()} m "
                f"(carried from its query frame: {np.round(want_world[t, m], 6).tolist()}), image position "
                f"{np.round(tr.uv[t, pick[m]], 4).tolist()} px (the metadata camera's {np.round(uv[m], 4).tolist()})"
            )
            fails.append(("tracks", t, int(pick[m]), msg))
        if not scene.unknown_ids:  # an object the oracle cannot rebuild may hide any point
            fails += _states(scene, t, tr, pick, cam, uv, st)
    return fails


def _states(scene: OracleScene, t: int, tr, pick: np.ndarray, cam, uv, st) -> list:
    """Frame t's states of the picked points against the oracle's (statistics into
    ``st``, failures returned); a disagreement the oracle reproduces with the image
    position nudged EDGE_DELTA px is a silhouette's."""
    want = oracle_state(scene, t, cam[:, 2], uv)
    got = tr.state[t, pick]
    st.sampled += len(pick)
    bad = np.flatnonzero(want != got)
    edge = np.zeros(len(bad), bool)
    for offset in EDGE_OFFSETS if len(bad) else ():
        edge |= oracle_state(scene, t, cam[bad, 2], uv[bad] + np.array(offset)) == got[bad]
    st.edges += int(edge.sum())
    err = (want != got).astype(np.float64)
    err[bad[edge]] = np.nan
    st.add(err)
    names = {VISIBLE: "visible", OCCLUDED: "occluded", OUT_OF_VIEW: "out of view"}
    msg = "state {}, the oracle's cast of the segment to the point says {}"
    return [
        ("track_state", t, int(pick[m]), msg.format(names.get(int(got[m]), got[m]), names[int(want[m])]))
        for m in bad[~edge]
    ]
