"""The oracle's checks of the optional layers (docs/format.md "Optional layers"):
backward flow and its validity, scene flow, object coordinates, amodal masks and
amodal depth; one function each, registered in
:data:`~factory.trust.oracle.layers.LAYERS` with the base layers (importing this
module registers them; the package does) and skipped for a sample that lacks the
member (:data:`NEEDS`: the :class:`~factory.trust.oracle.layers.Stored` field each
reads).

Each works from the oracle's own float64 ray cast at the sampled pixels (the same
:class:`~factory.trust.oracle.layers.Pixels` the base layers share) and the metadata's
poses; the rules and tolerances are in docs/trust.md ("The oracle").
"""

from __future__ import annotations

import numpy as np

from factory.sample.deform_members import instances
from factory.trust.oracle.cast import SKY
from factory.trust.oracle.layers import DEPTH_GRAZING, DEPTH_REL, LAYERS, TOLERANCES, Pixels, Verdict, oracle_flow

SCENE_FLOW_BOUND = 5e-5  # m: half a 0.1 mm code (docs/format.md)
SCENE_FLOW_MAX = 3.2767  # m: the codes saturate beyond
COORD_BOUND = 0.5 / 65534  # half a code of object_coords.png
# Float slack on top of each member's bound: the metadata's poses are rounded to 6
# decimals (a rotation entry's 5e-7 over a lever of a few metres: a few 1e-6 m) and the
# renderer works in float32 (its hit point off the float64 one along the ray by up to
# DEPTH_REL z + DEPTH_GRAZING z / cos, added per pixel through the layer's own gain).
SCENE_FLOW_SLACK = 2e-5  # m
COORD_SLACK = 1e-5  # of the normalised box (its diagonal is 1)

OPTIONAL_TOLERANCES = {
    "backward_flow": TOLERANCES["flow"],
    "scene_flow": SCENE_FLOW_BOUND + SCENE_FLOW_SLACK,
    "object_coords": COORD_BOUND + COORD_SLACK,
    "amodal": 0.0,
    "amodal_depth": TOLERANCES["depth"],
}
NEEDS = {
    "backward_flow": "backward_flow",
    "scene_flow": "scene_flow",
    "object_coords": "object_coords",
    "amodal": "amodal",
    "amodal_depth": "amodal_depth",
}
"""Each optional layer check and the :class:`Stored` field it needs (None: skipped)."""


def _along_ray(px: Pixels) -> np.ndarray:
    """(M,) how far (m, along the ray, in units of camera z) a float32 renderer's hit
    may sit from the oracle's: DEPTH_REL z + DEPTH_GRAZING z / cos (the depth check's
    float allowance, without its 0.5 mm of codes)."""
    d = px.rays[1]
    cos = np.abs(np.einsum("ij,ij->i", px.hits.ng, d)) / np.linalg.norm(d, axis=1)
    z = np.where(np.isfinite(px.hits.t), px.hits.t, 0.0)
    return DEPTH_REL * z + DEPTH_GRAZING * z / np.maximum(cos, 1e-3)


def backward_flow(px: Pixels) -> Verdict:
    """The oracle's hit carried by the metadata's poses to frame t-1 and projected, its
    validity by the forward rule with the frames swapped (:func:`oracle_flow` with step
    -1): validity exactly, the flow within the forward flow's tolerance."""
    want, want_ok, landing = oracle_flow(px, step=-1)
    got, got_ok = px.stored_at(px.stored.backward_flow).astype(np.float64), px.stored_at(px.stored.backward_valid)
    both = want_ok & got_ok & px.same_surface
    err = np.where(both, np.abs(got - want).max(1), np.nan)
    ok = (want_ok == got_ok) & ~(err > OPTIONAL_TOLERANCES["backward_flow"])
    if px.scene.unknown_ids and px.frame >= 1:  # an object the oracle cannot see may hide it
        lands = landing[:, 0] >= 0
        there = np.zeros(len(ok), np.int64)
        there[lands] = px.stored.instance[px.frame - 1, landing[lands, 0], landing[lands, 1]]
        ok |= np.isin(there, list(px.scene.unknown_ids))

    def message(m: int) -> str:
        if want_ok[m] != got_ok[m]:
            return f"backward flow valid {bool(got_ok[m])}, the oracle's rule says {bool(want_ok[m])}"
        return f"backward flow {np.round(got[m], 4).tolist()} px, the oracle's {np.round(want[m], 4).tolist()}"

    return Verdict(ok, err, message, want_ok != got_ok)


def _carried(px: Pixels, points: np.ndarray, step: int) -> np.ndarray:
    """World points (M, 3) on the pixels' surfaces carried to frame t+step: an object's
    through its pose at t and at t+step, the floor's and walls' unmoved."""
    sc, t, h = px.scene, px.frame, px.hits
    out = points.copy()
    for b, body in enumerate(sc.bodies):
        on = h.surface == b
        if on.any():
            out[on] = body.carry(points[on], t, [t + step])[0]
    return out


def _camera(px: Pixels, frame: int, points: np.ndarray) -> np.ndarray:
    w2c = px.scene.world_to_camera[frame]
    return points @ w2c[:3, :3].T + w2c[:3, 3]


def scene_flow(px: Pixels) -> Verdict:
    """X_cam(t+1) - X_cam(t) of the oracle's hit (its material point carried by the
    metadata's poses), metres: valid on every surface pixel of a frame with a next one;
    each component within half a code + SCENE_FLOW_SLACK + the change of the motion
    over the renderer's float32 hit error along the ray."""
    sc, t, h = px.scene, px.frame, px.hits
    M = len(px.rows)
    want_ok = (h.surface != SKY) & (t + 1 < sc.frames)
    got = px.stored_at(px.stored.scene_flow).astype(np.float64)
    got_ok = px.stored_at(px.stored.scene_flow_valid)
    want, err = np.zeros((M, 3)), np.full(M, np.nan)
    if t + 1 < sc.frames:
        d = px.rays[1]
        x0 = _camera(px, t, h.point)
        want = _camera(px, t + 1, _carried(px, h.point, 1)) - x0
        # How the motion changes per metre along the ray (camera z units): times the
        # renderer's hit error, its share of the error.
        gain = _camera(px, t + 1, _carried(px, h.point + d, 1)) - _camera(px, t, h.point + d) - want
        slack = np.abs(gain).max(1) * _along_ray(px)
        want = np.clip(want, -SCENE_FLOW_MAX, SCENE_FLOW_MAX)
        both = want_ok & got_ok & px.same_surface
        err = np.where(both, np.abs(got - want).max(1), np.nan)
        tol = OPTIONAL_TOLERANCES["scene_flow"] + slack
    ok = want_ok == got_ok
    if t + 1 < sc.frames:
        ok &= ~(err > tol)

    def message(m: int) -> str:
        if want_ok[m] != got_ok[m]:
            return f"scene flow valid {bool(got_ok[m])}, the oracle says {bool(want_ok[m])}"
        return f"scene flow {np.round(got[m], 5).tolist()} m, the oracle's {np.round(want[m], 5).tolist()}"

    return Verdict(ok, err, message, want_ok != got_ok)


def object_coords(px: Pixels) -> Verdict:
    """The oracle's hit in its object's frame over 2 |half_extents| + 0.5, where both see
    the same object: each component within half a code + COORD_SLACK + the renderer's
    float32 hit error along the ray over 2 |e|; present (not NaN) exactly where the
    oracle sees an object."""
    h, M = px.hits, len(px.rows)
    want, scale = np.full((M, 3), np.nan), np.ones(M)
    for b, body in enumerate(px.scene.bodies):
        on = h.surface == b
        if body.frames is not None:  # a deformable or a liquid has no object frame: no coordinates (NaN)
            continue
        scale[on] = 2.0 * np.linalg.norm(body.half_extents)
        want[on] = h.local[on] / scale[on, None] + 0.5
    got = px.stored_at(px.stored.object_coords).astype(np.float64)
    want_ok, got_ok = h.surface >= 0, ~np.isnan(got).any(1)
    want_ok[want_ok] = [px.scene.bodies[b].frames is None for b in h.surface[want_ok]]
    both = want_ok & got_ok & px.same_surface
    err = np.where(both, np.abs(got - want).max(1), np.nan)
    ray = np.linalg.norm(px.rays[1], axis=1)
    tol = OPTIONAL_TOLERANCES["object_coords"] + _along_ray(px) * ray / scale
    ok = (want_ok == got_ok) & ~(err > tol)

    def message(m: int) -> str:
        if want_ok[m] != got_ok[m]:
            return f"object coordinates {'present' if got_ok[m] else 'absent'}, the oracle sees {'an object' if want_ok[m] else 'none'}"
        return f"object coordinates {np.round(got[m], 6).tolist()}, the oracle's {np.round(want[m], 6).tolist()}"

    return Verdict(ok, err, message, (want_ok != got_ok) | ~px.same_surface)


def _columns(px: Pixels) -> list[tuple[int, int]]:
    """(body index, its k in the amodal masks: meta["objects"], then meta["deformables"])
    for every body the oracle rebuilt."""
    k_of = {int(o["id"]): k for k, o in enumerate(instances(px.stored.meta))}
    return [(b, k_of[body.id]) for b, body in enumerate(px.scene.bodies)]


def amodal(px: Pixels) -> Verdict:
    """Every rebuilt object's amodal bit: set exactly where the oracle's ray meets it
    at all (parameter > 1e-4, hidden or not). The error: the count of objects whose
    bit differs."""
    M = len(px.rows)
    err, first = np.zeros(M), np.full(M, -1)
    got_all = px.stored.amodal[px.frame][:, px.rows, px.cols]  # (K, M)
    for b, k in _columns(px):
        bad = got_all[k] != px.hits.met[:, b]
        first[bad & (first < 0)] = k
        err += bad

    def message(m: int) -> str:
        k = int(first[m])
        got = bool(got_all[k, m])
        return f"amodal bit of object {instances(px.stored.meta)[k]['id']} is {int(got)}, the oracle's ray {'misses' if got else 'meets'} it"

    return Verdict(err == 0, err, message)


def amodal_depth(px: Pixels) -> Verdict:
    """Every rebuilt object's amodal depth: camera z of the oracle's nearest hit on it
    (hidden or not), within the depth check's tolerance (its own surface's incidence);
    0 exactly where the ray misses it. The error: the largest over objects (m)."""
    M = len(px.rows)
    d = px.rays[1]
    dn = np.linalg.norm(d, axis=1)
    err, ok, first = np.full(M, np.nan), np.ones(M, bool), np.full(M, -1)
    label = np.zeros(M, bool)
    got_all = px.stored.amodal_depth[px.frame][:, px.rows, px.cols].astype(np.float64)  # (K, M)
    for b, k in _columns(px):
        want = np.where(px.hits.met[:, b], px.hits.body_t[:, b], 0.0)
        got = got_all[k]
        cos = np.abs(np.einsum("ij,ij->i", px.hits.body_ng[:, b], d)) / dn
        tol = TOLERANCES["depth"] + DEPTH_REL * want + DEPTH_GRAZING * want / np.maximum(cos, 1e-3)
        both = (want > 0) & (got > 0)
        e = np.where(both, np.abs(got - want), np.nan)
        bad = ((want > 0) != (got > 0)) | (e > tol)
        label |= (want > 0) != (got > 0)
        first[bad & (first < 0)] = k
        ok &= ~bad
        err = np.fmax(err, e)

    def message(m: int) -> str:
        k = int(first[m])
        b = next(b for b, kk in _columns(px) if kk == k)
        want = px.hits.body_t[m, b] if px.hits.met[m, b] else 0.0
        return f"amodal depth of object {instances(px.stored.meta)[k]['id']} {got_all[k, m]:.4f} m, the oracle's {want:.4f} m"

    return Verdict(ok, err, message, label)


OPTIONAL_LAYERS = {
    "backward_flow": backward_flow,
    "scene_flow": scene_flow,
    "object_coords": object_coords,
    "amodal": amodal,
    "amodal_depth": amodal_depth,
}
# Registered with the base layers: the oracle runs, counts and reports them alike.
LAYERS.update(OPTIONAL_LAYERS)
TOLERANCES.update(OPTIONAL_TOLERANCES)
