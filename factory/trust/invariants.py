"""The ground-truth invariants of one decoded factory clip, as :mod:`factory.trust.validate` checks them.

:func:`check_clip` takes the :class:`~factory.render.frames.Frames` that
:func:`factory.sample.decode.decode_sample` returns, the raw ``flow.png`` codes and the
metadata, and reports each broken invariant through ``add(check, message)``. What
holds, and why (see ``factory/render/`` and the sample format, ``docs/format.md``):

* **depth** is finite and >= 0; it is 0 (sky) exactly where no surface is hit, so an
  object pixel (instance > 0) has depth > 0.
* **normals** are unit vectors on every surface; the encoding is within 1/255 per
  component, so the length is within sqrt(3)/255 = 0.0068 of 1 (we allow 0.01).
* **segmentation**: every nonzero instance id is an ``objects[*].id``; on an object's
  pixels semantic is its ``class_id``; elsewhere it is background on sky and floor or
  wall on a surface.
* **boxes** (``factory.render.renderer._box``): ``bbox_visible`` is ``[x0, y0, x1,
  y1]`` of the object's pixels in ``instance.png``, x1/y1 exclusive, inside ``[0, W] x
  [0, H]``, null when it has none; ``visible_pixels`` is their count; the amodal box
  holds the visible one and ``visible_fraction`` = visible / amodal (rounded to 6
  places; 0 when amodal is 0).
* **flow** (``factory.render.flow``): invalid in both halves of ``flow.png`` together;
  never valid in the last frame nor on sky; where valid, the target ``(j + 0.5 + du,
  i + 0.5 + dv)`` lies in the image (the renderer's ``inside`` test) and the pixel it
  lands on in frame t+1 is a surface (its ``seen`` test), up to the 1/128 px
  quantisation of the code. The renderer's third test (the landing surface's tangent
  plane agrees with the carried point's depth) needs that depth, which the sample does
  not store, so it is not checked.
* **albedo and material** (issue 25's members, :mod:`factory.trust.intrinsics`): the
  family id is 0 exactly on sky, indexes ``material_families`` and is each object's,
  the floor's and the walls' ``family_id`` on their pixels; albedo is 0 on sky and a
  plain surface's ``color`` in sRGB bytes (+-1). Skipped for samples made before.

Pure NumPy, a few full-image passes per clip; no Ray.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from factory.sample.deform_members import instances
from factory.sample.encode import FLOW_INVALID, FLOW_SCALE, FLOW_ZERO
from factory.trust.intrinsics import check_intrinsics

Add = Callable[[str, str], None]  # add(check name, message)

# Tolerances, from the encodings' documented error bounds (factory.sample.encode).
FLOW_QUANT_PX = 0.5 / FLOW_SCALE  # a flow code is round(flow * 64): error <= 1/128 px
FLOW_SLACK_PX = FLOW_QUANT_PX + 1e-3  # plus float32 rounding of u, v in the renderer
FLOW_LIMIT = (65535 - FLOW_ZERO) / FLOW_SCALE  # |flow| at or beyond this may be saturated
NORMAL_TOL = 0.01  # each component is within 1/255: the length within sqrt(3)/255 = 0.0068


def check_clip(frames, flow_code: np.ndarray, meta: dict, add: Add) -> None:
    """Check a decoded clip: ``frames`` (:class:`~factory.render.frames.Frames`, T x H x W),
    ``flow_code`` the ``flow.png`` filmstrip as stored (uint16, (T*H, 2*W)), ``meta``
    its JSON. Each broken invariant is reported as ``add(check, message)`` with the
    check names of :data:`factory.trust.validate.checks.CHECKS` (``meta.objects``, ``depth.*``,
    ``normals.unit``, ``instance.ids``, ``semantic.class``, ``bbox.*``, ``flow.*``,
    ``material.*``, ``albedo.*``).
    """
    objects = _objects(add, meta, frames.depth.shape[0])
    _check_frames(add, frames, flow_code, meta, objects)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def is_int(x) -> bool:
    """An int that is not a bool (JSON numbers that must be integers)."""
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass
class _Object:
    id: int
    class_id: int
    visible: list  # per frame: [x0, y0, x1, y1] or None
    visible_pixels: list
    amodal: list | None
    amodal_pixels: list | None
    fraction: list | None


def _objects(add: Add, meta: dict, T: int) -> list[_Object] | None:
    """The objects' ids, classes and per-frame boxes, or None (and a meta.objects
    failure) when the metadata does not have them in the documented form."""
    objs = instances(meta)  # the objects, then the deformables
    if not isinstance(objs, list):
        add("meta.objects", f"objects is {type(objs).__name__}, expected a list")
        return None
    out, ids = [], set()
    for n, o in enumerate(objs):
        problem = None
        if not isinstance(o, dict):
            problem = f"is {type(o).__name__}, expected an object"
        elif not is_int(o.get("id")) or not 1 <= o["id"] <= 65535:
            problem = f"id {o.get('id')!r} is not an integer in 1..65535"
        elif o["id"] in ids:
            problem = f"id {o['id']} appears twice"
        elif not is_int(o.get("class_id")) or not 0 <= o["class_id"] <= 255:
            problem = f"class_id {o.get('class_id')!r} is not an integer in 0..255"
        else:
            for k in ("bbox_visible", "visible_pixels"):
                if not isinstance(o.get(k), list) or len(o[k]) != T:
                    problem = f"{k} is not a list of {T} (one per frame)"
        if problem:
            add("meta.objects", f"objects[{n}] {problem}")
            return None
        ids.add(o["id"])
        per_frame = {
            k: o.get(k) if isinstance(o.get(k), list) and len(o[k]) == T else None
            for k in ("bbox_amodal", "amodal_pixels", "visible_fraction")
        }
        out.append(
            _Object(
                o["id"],
                o["class_id"],
                o["bbox_visible"],
                o["visible_pixels"],
                per_frame["bbox_amodal"],
                per_frame["amodal_pixels"],
                per_frame["visible_fraction"],
            )
        )
    return out


def _first(mask: np.ndarray) -> str:
    """How many pixels of a (T, H, W) mask are set, and where the first is."""
    t, v, u = np.unravel_index(int(np.argmax(mask)), mask.shape)
    return f"{plural(int(np.count_nonzero(mask)), 'pixel')}, first in frame {t} at (u={u}, v={v})"


def _class_id(meta: dict, name: str) -> int:
    from factory.scene.shapes import CLASS_ID

    classes = meta.get("classes")
    if isinstance(classes, list) and name in classes:
        return classes.index(name)
    return CLASS_ID[name]


def _check_frames(add: Add, f, flow_code: np.ndarray, meta: dict, objects: list[_Object] | None) -> None:
    """The ground-truth invariants of one decoded clip (see the module docstring)."""
    T, H, W = f.depth.shape
    depth, inst, sem = f.depth, f.instance, f.semantic
    surface = depth > 0
    obj = inst > 0

    if not np.isfinite(depth).all() or (depth < 0).any():
        add("depth.finite", f"{_first(~np.isfinite(depth) | (depth < 0))} NaN, inf or negative")
    bad = obj & ~surface
    if bad.any():
        add("depth.object", f"depth 0 (sky) where an object is hit (instance > 0): {_first(bad)}")
    nrm = f.normals
    sq = nrm[..., 0] * nrm[..., 0] + nrm[..., 1] * nrm[..., 1] + nrm[..., 2] * nrm[..., 2]
    bad = surface & ((sq < (1 - NORMAL_TOL) ** 2) | (sq > (1 + NORMAL_TOL) ** 2))
    if bad.any():
        add("normals.unit", f"|n| off 1 by more than {NORMAL_TOL}: {_first(bad)}")

    # Segmentation against the objects' ids and classes.
    bg, floor, wall = (_class_id(meta, n) for n in ("background", "floor", "wall"))
    bad = ~surface & ~obj & (sem != bg)
    if bad.any():
        add("semantic.class", f"not background ({bg}) on sky: {_first(bad)}")
    bad = surface & ~obj & (sem != floor) & (sem != wall)
    if bad.any():
        add("semantic.class", f"instance 0 on a surface but class not floor ({floor}) or wall ({wall}): {_first(bad)}")
    if objects is not None:
        lut = np.full(65536, -1, dtype=np.int16)
        for o in objects:
            lut[o.id] = o.class_id
        cls = lut[inst]
        unknown = obj & (cls < 0)
        if unknown.any():
            ids = np.unique(inst[unknown])
            add(
                "instance.ids",
                f"ids {ids[:10].tolist()} are not in meta objects {sorted(o.id for o in objects)}: {_first(unknown)}",
            )
        bad = obj & (cls >= 0) & (sem != cls)
        if bad.any():
            t, v, u = np.unravel_index(int(np.argmax(bad)), bad.shape)
            add(
                "semantic.class",
                f"not the object's class_id: {_first(bad)} (object {inst[t, v, u]}, "
                f"class_id {cls[t, v, u]}, semantic {sem[t, v, u]})",
            )
        _check_boxes(add, inst, objects, H, W)

    check_intrinsics(add, f, meta, floor, wall)
    _check_flow(add, f, flow_code, surface)


def _mask_boxes(inst: np.ndarray) -> dict[tuple[int, int], tuple[list[int], int]]:
    """``{(frame, id): ([x0, y0, x1, y1], pixels)}`` of every nonzero id, x1/y1 exclusive."""
    out = {}
    for t in range(inst.shape[0]):
        v, u = np.nonzero(inst[t])
        if not v.size:
            continue
        ids = inst[t][v, u]
        order = np.argsort(ids, kind="stable")
        ids, v, u = ids[order], v[order], u[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        counts = np.diff(np.r_[starts, ids.size])
        x0, x1 = np.minimum.reduceat(u, starts), np.maximum.reduceat(u, starts) + 1
        y0, y1 = np.minimum.reduceat(v, starts), np.maximum.reduceat(v, starts) + 1
        for n, s in enumerate(starts):
            out[(t, int(ids[s]))] = ([int(x0[n]), int(y0[n]), int(x1[n]), int(y1[n])], int(counts[n]))
    return out


def _valid_box(box, H: int, W: int) -> bool:
    return (
        isinstance(box, list)
        and len(box) == 4
        and all(is_int(c) for c in box)
        and 0 <= box[0] < box[2] <= W
        and 0 <= box[1] < box[3] <= H
    )


def _check_boxes(add: Add, inst: np.ndarray, objects: list[_Object], H: int, W: int) -> None:
    masks = _mask_boxes(inst)
    for o in objects:
        for t in range(inst.shape[0]):
            where = f"object {o.id} frame {t}"
            box = o.visible[t]
            want, pixels = masks.get((t, o.id), (None, 0))
            if box is not None and not _valid_box(box, H, W):
                add("bbox.inside", f"{where}: bbox_visible {box} is not a non-empty integer box in [0, {W}] x [0, {H}]")
            elif box != want:
                add("bbox.segmentation", f"{where}: bbox_visible {box}, but its pixels in instance.png span {want}")
            if o.visible_pixels[t] != pixels:
                add("bbox.pixels", f"{where}: visible_pixels {o.visible_pixels[t]}, instance.png has {pixels}")
            if o.amodal is None:
                continue
            am = o.amodal[t]
            if am is not None and not _valid_box(am, H, W):
                add("bbox.inside", f"{where}: bbox_amodal {am} is not a non-empty integer box in [0, {W}] x [0, {H}]")
                continue
            if _valid_box(box, H, W) and (
                am is None or not (am[0] <= box[0] and am[1] <= box[1] and box[2] <= am[2] and box[3] <= am[3])
            ):
                add("bbox.amodal", f"{where}: bbox_amodal {am} does not hold bbox_visible {box}")
            if o.amodal_pixels is not None and o.fraction is not None:
                n_am, n_vis, frac = o.amodal_pixels[t], o.visible_pixels[t], o.fraction[t]
                if not (is_int(n_am) and is_int(n_vis)) or n_vis > n_am:
                    add("bbox.amodal", f"{where}: visible_pixels {n_vis} > amodal_pixels {n_am}")
                elif not isinstance(frac, (int, float)) or abs(frac - (n_vis / n_am if n_am else 0.0)) > 1e-6:
                    add("bbox.amodal", f"{where}: visible_fraction {frac}, visible / amodal pixels is {n_vis}/{n_am}")


def _check_flow(add: Add, f, flow_code: np.ndarray, surface: np.ndarray) -> None:
    T, H, W = surface.shape
    code = flow_code.reshape(T, H, 2, W)
    half = (code[:, :, 0] == FLOW_INVALID) != (code[:, :, 1] == FLOW_INVALID)
    if half.any():
        add("flow.encoding", f"one half of flow.png is 0 (invalid) and the other not: {_first(half)}")
    valid = f.flow_valid
    if valid[-1].any():
        add("flow.last_frame", f"flow_valid in the last frame ({int(valid[-1].sum())} pixels); there is no frame t+1")
    bad = valid & ~surface
    if bad.any():
        add("flow.sky", f"flow_valid where depth is 0 (sky): {_first(bad)}")
    if T < 2:
        return
    # Where valid (frames 0..T-2), the target (u + du, v + dv) of the pixel centre lies
    # in frame t+1's image and on a surface there. Decoded flow is within
    # FLOW_QUANT_PX of the true flow, so a target that close to an edge may fall on
    # either side of it: accept any pixel within the slack.
    du, dv = f.flow[:-1, ..., 0], f.flow[:-1, ..., 1]
    check = valid[:-1] & (np.abs(du) < FLOW_LIMIT) & (np.abs(dv) < FLOW_LIMIT)  # saturated codes say little
    u = du + (np.arange(W, dtype=np.float32) + 0.5)
    v = dv + (np.arange(H, dtype=np.float32) + 0.5)[:, None]
    s = FLOW_SLACK_PX
    outside = check & ((u < -s) | (u >= W + s) | (v < -s) | (v >= H + s))
    if outside.any():
        t, i, j = np.unravel_index(int(np.argmax(outside)), outside.shape)
        add(
            "flow.target",
            f"(u + du, v + dv) outside the {W}x{H} image by more than {s:.4f} px: "
            f"{_first(outside)} -> ({u[t, i, j]:.3f}, {v[t, i, j]:.3f})",
        )
        check &= ~outside
    # The landing pixel, then (for the few that land on sky) its neighbours within the slack.
    frame_base = (np.arange(T - 1) * (H * W))[:, None, None]
    nxt = surface[1:].reshape(-1)
    seen = nxt[frame_base + _pixel(v, H) * W + _pixel(u, W)]
    miss = check & ~seen
    if miss.any():
        t, i, j = np.nonzero(miss)
        mu, mv = u[t, i, j], v[t, i, j]
        near = np.zeros(t.size, dtype=bool)
        for ou in (-s, s):
            for ov in (-s, s):
                near |= nxt[t * (H * W) + _pixel(mv + ov, H) * W + _pixel(mu + ou, W)]
        if not near.all():
            k = int(np.argmin(near))
            add(
                "flow.landing",
                f"{int((~near).sum())} valid pixels land on sky in frame t+1, first in frame "
                f"{t[k]} at (u={j[k]}, v={i[k]}) -> ({mu[k]:.3f}, {mv[k]:.3f})",
            )


def _pixel(x: np.ndarray, n: int) -> np.ndarray:
    """The pixel index holding coordinate ``x`` (pixel k covers [k, k+1)), clipped to 0..n-1."""
    q = np.floor(x).astype(np.intp)
    return np.clip(q, 0, n - 1, out=q)
