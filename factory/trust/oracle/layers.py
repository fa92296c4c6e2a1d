"""The oracle's layer checks, one function each, in one registry (:data:`LAYERS`).

A layer check takes a :class:`Pixels` (M sampled pixels of one frame, the decoded
stored values there and the oracle's own rays, cast lazily and shared by the layers)
and returns a :class:`Verdict`: per pixel whether the stored value is what the oracle
derives (``ok``), the error where a value was compared (``error``, NaN elsewhere) and
a message for the pixels that are not ok. A new layer (backward flow, scene flow,
object coordinates, ...) is one more function here, one more entry of :data:`LAYERS`
with its tolerance in :data:`TOLERANCES`, and its check name (``oracle.<layer>``) in
``factory.trust.validate.oracle.ORACLE_CHECKS`` and ``checks.py`` (docs/trust.md).

The rules, shared by every layer, are in docs/trust.md ("The oracle"): the oracle's
surface is its float64 ray cast through the pixel centre (plus an offset, for the
silhouette rule); a pixel showing an object the oracle cannot rebuild is not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from factory.sample.deform_members import instances
from factory.trust.oracle.cast import SKY, Hits, barycentric, camera_rays, cast
from factory.trust.oracle.scene import OracleScene

# Stated tolerances (docs/format.md's encoding bounds plus float32 rendering error):
# depth 0.5 mm of millimetre codes + 1e-5 of depth; normals 1/255 a component
# (codes of 1/127.5) + 5e-4; flow 1/128 px (codes of 1/64 px) + 2e-3 px.
TOLERANCES = {"depth": 5e-4, "normals": 1.0 / 255 + 5e-4, "flow": 1.0 / 128 + 2e-3, "instance": 0.0, "boxes": 0.0}
DEPTH_REL = 1e-5  # of depth, added to the depth tolerance
DEPTH_GRAZING = 1e-6  # of depth / cos(incidence), added too (measured: 0.64 mm at cos 0.0099, 2.8 m, movi)
FLOW_NEAR = 0.01  # the validity rule: |plane z - z| <= FLOW_NEAR (z + 1 m)
COINCIDENT = 1e-6  # unit-frame distance under which two triangles are one surface (float32's step near 1: 6e-8)


@dataclass
class Stored:
    """The decoded sample (docs/format.md "Decoded arrays") and its metadata: ``depth``
    (T, H, W) float32 m, ``instance`` (T, H, W) uint16, ``normals`` (T, H, W, 3) float32
    camera frame, ``flow`` (T, H, W, 2) float32 px, ``flow_valid`` (T, H, W) bool."""

    depth: np.ndarray
    instance: np.ndarray
    normals: np.ndarray
    flow: np.ndarray
    flow_valid: np.ndarray
    meta: dict
    # The optional layers and point tracks (docs/format.md "Optional layers", "Point
    # tracks"), as decode_sample / decode_tracks give them; None: the sample lacks the
    # member, and its oracle check is skipped (factory.trust.oracle.optional.NEEDS).
    backward_flow: np.ndarray | None = None  # (T, H, W, 2) float32 px
    backward_valid: np.ndarray | None = None  # (T, H, W) bool
    scene_flow: np.ndarray | None = None  # (T, H, W, 3) float32 m, camera frames
    scene_flow_valid: np.ndarray | None = None  # (T, H, W) bool
    object_coords: np.ndarray | None = None  # (T, H, W, 3) float32 in [0, 1], NaN off objects
    amodal: np.ndarray | None = None  # (T, K, H, W) bool, k as in meta["objects"] + meta["deformables"]
    amodal_depth: np.ndarray | None = None  # (T, K, H, W) float32 m, 0 outside
    # The point tracks (decode_tracks' Tracks): query_frame (N,), query_uv (N, 2), surface
    # (N,), uv (T, N, 2), xyz and world (T, N, 3), state (T, N).
    tracks: object = None
    # The deformables' members (docs/format.md "Deformables") as decode_deform gives them:
    # vertices (T, V, 3), velocities (T, V, 3), faces (F, 3); None: the sample has none.
    deform: dict | None = None
    liquid: dict | None = None  # the liquids' members as decode_liquids gives them; None: none


class Pixels:
    """M pixels (``rows``, ``cols``) of ``frame``, the oracle's rays through their
    centres moved by ``offset`` (du, dv) pixels, and what they meet (:attr:`hits`)."""

    def __init__(self, scene: OracleScene, stored: Stored, frame: int, rows, cols, offset=(0.0, 0.0)):
        self.scene, self.stored, self.frame = scene, stored, frame
        self.rows, self.cols, self.offset = np.asarray(rows), np.asarray(cols), offset
        self.u = self.cols + 0.5 + offset[0]
        self.v = self.rows + 0.5 + offset[1]
        ids = np.array([b.id for b in scene.bodies] + [0], np.int64)
        self._ids = ids

    @cached_property
    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        return camera_rays(self.scene, self.frame, self.u, self.v)

    @cached_property
    def hits(self) -> Hits:
        return cast(self.scene, self.frame, *self.rays)

    @cached_property
    def oracle_id(self) -> np.ndarray:
        """The instance id the oracle sees (0: floor, walls, sky)."""
        # The floor's and walls' negative codes are clamped: with no bodies they would index past the table.
        return np.where(self.hits.surface >= 0, self._ids[np.maximum(self.hits.surface, 0)], 0)

    def stored_at(self, array: np.ndarray) -> np.ndarray:
        return array[self.frame, self.rows, self.cols]

    @cached_property
    def same_surface(self) -> np.ndarray:
        """Both see a surface, and the same object (or both the floor / a wall)."""
        sky_o = self.hits.surface == SKY
        sky_s = self.stored_at(self.stored.depth) == 0
        return ~sky_o & ~sky_s & (self.oracle_id == self.stored_at(self.stored.instance))

    def normals(self) -> np.ndarray:
        """The oracle's shading normals (M, 3), camera frame, by the format's facing
        rule: the geometric normal turned to face the ray; the shading normal, or that
        geometric one where the shading normal faces away from the camera."""
        return facing(self.hits.n, self.hits.ng, self.rays[1]) @ self.scene.world_to_camera[self.frame][:3, :3].T


@dataclass
class Verdict:
    """Per pixel: ``ok`` (M,) bool, ``error`` (M,) float (NaN: no value compared),
    ``message(m)`` saying why pixel m is not ok, and ``label`` (M,) bool: the pixel is
    not ok because the two disagree on WHAT is seen there (an id, sky or not, flow
    valid or not, which face of a crease), which only the silhouette rule may excuse; a
    depth or flow value off on the surface both see is never excused."""

    ok: np.ndarray
    error: np.ndarray
    message: Callable[[int], str]
    label: np.ndarray | None = None  # None: every pixel's


def depth(px: Pixels) -> Verdict:
    """Within 0.5 mm + DEPTH_REL z + DEPTH_GRAZING z / cos, cos the cosine between the
    ray and the surface (the oracle's geometric normal): a float32 hit point's error
    along a surface seen at grazing incidence grows as 1 / cos."""
    want = np.where(px.hits.surface == SKY, 0.0, px.hits.t)
    got = px.stored_at(px.stored.depth).astype(np.float64)
    err = np.where((want > 0) & (got > 0), np.abs(got - want), np.nan)
    d = px.rays[1]
    cos = np.abs(np.einsum("ij,ij->i", px.hits.ng, d)) / np.linalg.norm(d, axis=1)
    tol = TOLERANCES["depth"] + DEPTH_REL * want + DEPTH_GRAZING * want / np.maximum(cos, 1e-3)
    ok = np.where(np.isnan(err), (want > 0) == (got > 0), err <= tol)
    label = ~px.same_surface & ((want > 0) | (got > 0))
    return Verdict(ok, err, lambda m: f"depth {got[m]:.4f} m, the oracle's {want[m]:.4f} m", label)


def instance(px: Pixels) -> Verdict:
    want, got = px.oracle_id, px.stored_at(px.stored.instance).astype(np.int64)
    return Verdict(
        want == got, (want != got).astype(np.float64), lambda m: f"instance {got[m]}, the oracle sees {want[m]}"
    )


def facing(n: np.ndarray, ng: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The format's facing rule on world normals (M, 3) along rays d (M, 3): the
    geometric normal ng turned to face the ray; the shading normal n, or that geometric
    one where n faces away from the camera."""
    ng = np.where((np.einsum("ij,ij->i", ng, d) > 0)[:, None], -ng, ng)
    return np.where((np.einsum("ij,ij->i", n, d) >= 0)[:, None], ng, n)


def coincident_normals(px: Pixels, m: int) -> np.ndarray:
    """Camera-frame normals (K, 3) by the facing rule of every triangle of pixel m's mesh
    that passes within :data:`COINCIDENT` of its hit point (unit frame): a double-sided
    mesh holds the same triangle twice, wound both ways with their own vertex normals
    (or a thin wall's two sides 6e-8 apart, in a pack mesh), and a float32 renderer may
    meet either."""
    import trimesh

    body = px.scene.bodies[px.hits.surface[m]]
    mesh, R = body.mesh_at(px.frame), body.rotations[px.frame]
    hit = px.hits.local[m] / body.scale
    tris = mesh.vertices[mesh.faces]
    near = trimesh.triangles.closest_point(tris, np.repeat(hit[None], len(tris), 0))
    k = np.flatnonzero(np.linalg.norm(near - hit, axis=1) < COINCIDENT)
    w = barycentric(tris[k], near[k])
    n = np.einsum("ki,kij->kj", w, mesh.normals[mesh.faces[k]]) / body.scale
    ng = np.cross(tris[k, 1] - tris[k, 0], tris[k, 2] - tris[k, 0]) / body.scale
    unit = lambda v: v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-300)  # noqa: E731
    d = np.repeat(px.rays[1][m][None], len(k), 0)
    return facing(unit(n) @ R.T, unit(ng) @ R.T, d) @ px.scene.world_to_camera[px.frame][:3, :3].T


def normals(px: Pixels) -> Verdict:
    """Where both see the same surface. A mesh pixel whose normal is off is held to
    every triangle through its hit point (:func:`coincident_normals`); a centre on a
    crease (a box's edge) may take either side's, so this layer's disagreements go to
    the silhouette rule too."""
    want, got = px.normals(), px.stored_at(px.stored.normals).astype(np.float64)
    err = np.where(px.same_surface, np.abs(got - want).max(1), np.nan)
    for m in np.flatnonzero(err > TOLERANCES["normals"]):
        if px.hits.surface[m] >= 0 and px.scene.bodies[px.hits.surface[m]].mesh_at(px.frame) is not None:
            others = coincident_normals(px, m)
            if len(others):
                err[m] = min(err[m], float(np.abs(others - got[m]).max(1).min()))
    ok = ~(err > TOLERANCES["normals"])

    def message(m: int) -> str:
        return f"normal {np.round(got[m], 4).tolist()}, the oracle's {np.round(want[m], 4).tolist()}"

    return Verdict(ok, err, message)


def oracle_flow(px: Pixels, step: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The oracle's forward flow (M, 2) px and validity (M,) (``step`` -1: backward flow,
    the same rule with frame t-1 for t+1), by the format's rule: the
    hit rides with its surface to t+1 (the metadata's poses), is projected with K and
    world_to_camera[t+1], lands in the image in front of the camera, and the surface
    the oracle's own ray through the landing pixel's centre (floor of u, v) meets in t+1,
    taken as its plane (geometric normal), passes within 0.01 z + 0.01 m of its camera
    z along the exact landing ray; sky there: invalid. Also the landing pixels (M, 2)
    (row, col; -1 where none)."""
    sc, t, h = px.scene, px.frame, px.hits
    M = len(px.rows)
    flow, valid, landing = np.zeros((M, 2)), np.zeros(M, bool), np.full((M, 2), -1)
    if not 0 <= t + step < sc.frames:
        return flow, valid, landing
    moved = h.point.copy()
    for b, body in enumerate(sc.bodies):
        on = h.surface == b
        if on.any():
            moved[on] = body.carry(h.point[on], t, [t + step])[0]
    w2c = sc.world_to_camera[t + step]
    c = moved @ w2c[:3, :3].T + w2c[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (c @ sc.K.T)[:, :2] / c[:, 2:3]
    land = (h.surface != SKY) & (c[:, 2] > 1e-6) & (uv[:, 0] >= 0) & (uv[:, 0] < sc.width)
    land &= (uv[:, 1] >= 0) & (uv[:, 1] < sc.height)
    idx = np.flatnonzero(land)
    if len(idx):
        qi = np.minimum(np.floor(uv[idx, 1]), sc.height - 1) + 0.5 + px.offset[1]
        qj = np.minimum(np.floor(uv[idx, 0]), sc.width - 1) + 0.5 + px.offset[0]
        landing[idx] = np.stack([np.floor(qi), np.floor(qj)], 1).astype(int)
        o, dq = camera_rays(sc, t + step, qj, qi)
        q = cast(sc, t + step, o, dq)
        _, ray = camera_rays(sc, t + step, uv[idx, 0], uv[idx, 1])
        denom = np.einsum("ij,ij->i", q.ng, ray)
        with np.errstate(divide="ignore", invalid="ignore"):
            plane_z = np.einsum("ij,ij->i", q.ng, q.t[:, None] * dq) / denom
        z = c[idx, 2]
        good = (q.surface != SKY) & (np.abs(denom) > 1e-6) & (np.abs(plane_z - z) <= FLOW_NEAR * (z + 1.0))
        valid[idx] = good
    flow[valid] = uv[valid] - np.stack([px.cols[valid] + 0.5, px.rows[valid] + 0.5], 1)
    return flow, valid, landing


def flow(px: Pixels) -> Verdict:
    want, want_ok, landing = oracle_flow(px)
    got, got_ok = px.stored_at(px.stored.flow).astype(np.float64), px.stored_at(px.stored.flow_valid)
    both = want_ok & got_ok & px.same_surface  # values compared on the surface both see
    err = np.where(both, np.abs(got - want).max(1), np.nan)
    ok = (want_ok == got_ok) & ~(err > TOLERANCES["flow"])
    if px.scene.unknown_ids and px.frame + 1 < px.scene.frames:  # an object the oracle cannot see may hide it
        lands = landing[:, 0] >= 0
        there = np.zeros(len(ok), np.int64)
        there[lands] = px.stored.instance[px.frame + 1, landing[lands, 0], landing[lands, 1]]
        ok |= np.isin(there, list(px.scene.unknown_ids))

    def message(m: int) -> str:
        if want_ok[m] != got_ok[m]:
            return f"flow valid {bool(got_ok[m])}, the oracle's rule says {bool(want_ok[m])}"
        return f"flow {np.round(got[m], 4).tolist()} px, the oracle's {np.round(want[m], 4).tolist()}"

    # Both valid on different surfaces (an id disagreement, the instance layer's to judge):
    # not compared.
    return Verdict(ok, err, message, want_ok != got_ok)


def boxes(px: Pixels) -> Verdict:
    """Each object the oracle's ray meets lies in its ``bbox_amodal`` at the pixel; the
    object it sees first, in its ``bbox_visible``."""
    M = len(px.rows)
    ok, why = np.ones(M, bool), [""] * M
    objects = {int(o["id"]): o for o in instances(px.stored.meta)}
    for b, body in enumerate(px.scene.bodies):
        o = objects[body.id]
        for key, mask in (("bbox_amodal", px.hits.met[:, b]), ("bbox_visible", px.hits.surface == b)):
            box = o[key][px.frame]
            inside = np.zeros(M, bool)
            if box is not None:
                x0, y0, x1, y1 = box
                inside = (px.cols >= x0) & (px.cols < x1) & (px.rows >= y0) & (px.rows < y1)
            for m in np.flatnonzero(mask & ~inside):
                ok[m], why[m] = False, f"object {body.id} is met here but {key} is {box}"
    return Verdict(ok, (~ok).astype(np.float64), lambda m: why[m])


LAYERS: dict[str, Callable[[Pixels], Verdict]] = {
    "depth": depth,
    "instance": instance,
    "normals": normals,
    "flow": flow,
    "boxes": boxes,
}
"""Every per-pixel layer check of the oracle, by layer name (its check is ``oracle.<name>``)."""
