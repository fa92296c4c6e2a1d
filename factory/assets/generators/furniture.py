"""Furniture from parts: tables, chairs, shelves and cabinets for rooms.

Each is a few axis-aligned boxes (top, legs, aprons, seat, posts, back panel, sides,
boards, body, plinth, handles) united by manifold3d (one closed, outward mesh;
a cabinet's door seams are thin grooves cut into its front), its vertices and faces
put in a canonical order. Built in metres with x across (``width``), y front (-y) to
back (+y) (``depth``) and z up from the floor (z = 0) to the ``height`` (a chair's:
``seat_height + back``); :func:`~factory.assets.generators.mesh.finish` then centres
the bounding box on the origin without scaling (the params are the extents).

Parts meeting end to end overlap by half a board (a leg reaches into the top) so that
the union has no coplanar touching faces. The collision pieces are the boxes
themselves (a cabinet's body box fills its seams: at most :data:`SEAM_DEPTH` out of
the mesh). ``tops`` are the upward faces objects can rest on, (z, x0, x1, y0, y1): a
table's top, a chair's seat in front of its back, every board of a shelf (the bottom
and the inner ones between the sides, in front of the back; the top one full width)
and a cabinet's top. Faces: 100-600. No uv.
"""

from __future__ import annotations

import numpy as np

from factory.assets.generators.mesh import RawMesh, canonical_order
from factory.assets.generators.pieces import box
from factory.assets.generators.spec import Param

BACK = 0.006  # a shelf's back panel, m
SEAM, SEAM_DEPTH = 0.004, 0.004  # a cabinet's door seams: width and depth, m
HANDLE = (0.012, 0.02, 0.12)  # a cabinet door's bar handle: width, how far it stands out, height (m, at most)
APRON = 0.02  # a table apron's thickness, m
MIN_APRON = 0.005  # an apron (or plinth) lower than this is left out, m
# Flush faces of overlapping boxes can leave manifold3d's union slivers of no area:
# collapse edges shorter than this (m), far below any part's size.
SIMPLIFY = 1e-7
RECESS = 5e-4  # how far a shelf's faces that would be flush stand apart, m

SPECS = {
    "table": {
        "width": Param(0.6, 1.8, 0.3, 3.0, doc="top's x extent, m"),
        "depth": Param(0.5, 1.0, 0.3, 1.5, doc="top's y extent, m"),
        "height": Param(0.65, 0.8, 0.3, 1.2, doc="height to the top's upper face, m"),
        "top": Param(0.02, 0.05, 0.01, 0.08, doc="top's thickness, m"),
        "leg": Param(0.035, 0.07, 0.02, 0.1, doc="square legs' side, m"),
        "inset": Param(0.0, 0.08, 0.0, 0.15, doc="legs' inset from the top's edges, m"),
        "apron": Param(0.0, 0.1, 0.0, 0.15, doc="apron boards' height under the top (under 5 mm: none), m"),
    },
    "chair": {
        "width": Param(0.38, 0.5, 0.25, 0.8, doc="seat's x extent, m"),
        "depth": Param(0.38, 0.5, 0.25, 0.8, doc="seat's y extent, m"),
        "seat_height": Param(0.42, 0.48, 0.2, 0.7, doc="height of the seat's upper face, m"),
        "back": Param(0.35, 0.5, 0.1, 0.8, doc="back's height above the seat, m"),
        "seat": Param(0.03, 0.05, 0.015, 0.08, doc="seat's thickness, m"),
        "leg": Param(0.03, 0.045, 0.015, 0.08, doc="square legs' and back posts' side, m"),
        "panel": Param(0.4, 0.8, 0.2, 1.0, doc="back panel's height, share of the back from its top"),
        "panel_thickness": Param(0.015, 0.03, 0.01, 0.06, doc="back panel's thickness, m"),
    },
    "shelf": {
        "width": Param(0.4, 1.2, 0.2, 2.0, doc="x extent, m"),
        "depth": Param(0.25, 0.45, 0.15, 0.8, doc="y extent, m"),
        "height": Param(0.6, 2.0, 0.4, 2.5, doc="z extent, m"),
        "boards": Param(1, 5, 0, 8, integer=True, doc="boards between the bottom and the top one"),
        "board": Param(0.015, 0.03, 0.01, 0.03, doc="boards' thickness, m"),
        "side": Param(0.015, 0.03, 0.01, 0.05, doc="sides' thickness, m"),
        "back": Param(0, 1, 0, 1, integer=True, doc="1: a back panel, 0: open"),
    },
    "cabinet": {
        "width": Param(0.4, 1.2, 0.3, 2.0, doc="x extent (the top's), m"),
        "depth": Param(0.35, 0.6, 0.25, 0.8, doc="y extent, handles included, m"),
        "height": Param(0.5, 0.95, 0.3, 1.2, doc="z extent, m"),
        "top": Param(0.02, 0.04, 0.01, 0.06, doc="top's thickness, m"),
        "overhang": Param(0.0, 0.02, 0.0, 0.02, doc="top's overhang past the body's sides and front, m"),
        "plinth": Param(0.0, 0.1, 0.0, 0.15, doc="plinth's height (under 5 mm: none), m"),
        "doors": Param(1, 3, 1, 4, integer=True, doc="doors across the front"),
    },
}

Box = tuple[float, float, float, float, float, float]  # x0, x1, y0, y1, z0, z1 metres


def _table(p: dict) -> tuple[list[Box], list[Box], list]:
    w, d, h, t, leg = p["width"], p["depth"], p["height"], p["top"], p["leg"]
    inset = min(p["inset"], (min(w, d) - 3 * leg) / 2)  # legs at least a leg apart
    boxes: list[Box] = [(-w / 2, w / 2, -d / 2, d / 2, h - t, h)]
    x, y = w / 2 - inset - leg, d / 2 - inset - leg  # legs' inner corners
    for sx in (-1, 1):
        for sy in (-1, 1):
            x0, y0 = (x if sx > 0 else -x - leg), (y if sy > 0 else -y - leg)
            boxes.append((x0, x0 + leg, y0, y0 + leg, 0.0, h - t / 2))
    a = min(p["apron"], h - t - 0.05)
    if a >= MIN_APRON:  # boards from leg to leg, flush with the legs' outer faces
        z0, z1 = h - t - a, h - t / 2
        for s in (-1, 1):
            y0 = s * (y + leg) - (APRON if s > 0 else 0.0)
            boxes.append((-x - leg / 2, x + leg / 2, y0, y0 + APRON, z0, z1))  # into the legs
            x0 = s * (x + leg) - (APRON if s > 0 else 0.0)
            boxes.append((x0, x0 + APRON, -y - leg / 2, y + leg / 2, z0, z1))
    return boxes, [], [(h, -w / 2, w / 2, -d / 2, d / 2)]


def _chair(p: dict) -> tuple[list[Box], list[Box], list]:
    w, d, sh, t, leg = p["width"], p["depth"], p["seat_height"], p["seat"], p["leg"]
    h = sh + p["back"]
    pt = p["panel_thickness"]
    boxes: list[Box] = [(-w / 2, w / 2, -d / 2, d / 2, sh - t, sh)]
    for x0 in (-w / 2, w / 2 - leg):
        boxes.append((x0, x0 + leg, -d / 2, -d / 2 + leg, 0.0, sh - t / 2))  # front leg
        boxes.append((x0, x0 + leg, d / 2 - leg, d / 2, 0.0, h))  # rear leg and back post
    z0 = h - p["panel"] * p["back"]
    if z0 < sh + MIN_APRON:  # reaching (nearly) down to the seat: into it, no slit
        z0 = sh - t / 2
    boxes.append((-w / 2 + leg / 2, w / 2 - leg / 2, d / 2 - pt, d / 2, z0, h))
    return boxes, [], [(sh, -w / 2, w / 2, -d / 2, d / 2 - max(leg, pt))]


def _shelf(p: dict) -> tuple[list[Box], list[Box], list]:
    """Sides under a full top board, boards between them; faces that would be flush
    stand RECESS (or twice it) apart: the sides' from the top's, the boards' from the
    sides', the back's from the sides'."""
    w, d, h, t, s, n = p["width"], p["depth"], p["height"], p["board"], p["side"], p["boards"]
    back = BACK * p["back"]
    r = RECESS
    boxes: list[Box] = [(-w / 2, w / 2, -d / 2, d / 2, h - t, h)]  # the top board
    boxes += [(x0, x0 + s - r, -d / 2 + r, d / 2 - r, 0.0, h - t / 2) for x0 in (-w / 2 + r, w / 2 - s)]
    inner = (-w / 2 + s, w / 2 - s)
    y1 = d / 2 - r - back  # the back panel's front (or the sides' back)
    end = min(y1 + back / 2, d / 2 - 2 * r)  # the boards' back: into the back panel, or short of the sides'
    gap = (h - r - (n + 2) * t) / (n + 1)
    tops = []
    for i in range(n + 1):  # the bottom board (on RECESS feet of the sides) and the inner ones
        z0 = r + i * (gap + t)
        boxes.append((inner[0] - s / 2, inner[1] + s / 2, -d / 2 + 2 * r, end, z0, z0 + t))
        tops.append((z0 + t, inner[0], inner[1], -d / 2 + 2 * r, min(y1, end)))
    tops.append((h, -w / 2, w / 2, -d / 2, d / 2))
    if back:
        boxes.append((inner[0] - s / 2, inner[1] + s / 2, y1, d / 2 - 2 * r, r + t / 2, h - t / 2))
    return boxes, [], tops


def _cabinet(p: dict) -> tuple[list[Box], list[Box], list]:
    w, d, h, t, oh = p["width"], p["depth"], p["height"], p["top"], p["overhang"]
    front = -d / 2 + HANDLE[1]  # the body's front; the handles reach -d / 2
    plinth = p["plinth"] if p["plinth"] >= MIN_APRON else 0.0
    x0, x1 = -w / 2 + oh, w / 2 - oh
    boxes: list[Box] = [(-w / 2, w / 2, front - oh, d / 2, h - t, h), (x0, x1, front, d / 2, plinth, h - t / 2)]
    if plinth:
        inset = min(0.04, (d / 2 - front) / 4, (x1 - x0) / 4)
        boxes.append((x0 + inset, x1 - inset, front + inset, d / 2, 0.0, plinth + t / 2))
    doors, door = p["doors"], (x1 - x0) / p["doors"]
    body_h = h - t - plinth
    margin = min(0.02, body_h / 8)
    seams = [
        (
            x0 + k * door - SEAM / 2,
            x0 + k * door + SEAM / 2,
            front - 1e-3,
            front + SEAM_DEPTH,
            plinth + margin,
            h - t - margin,
        )
        for k in range(1, doors)
    ]
    hh = min(HANDLE[2], body_h / 3)
    zc = plinth + body_h * 0.7
    for k in range(doors):
        side = 1 if (k + 0.5) < doors / 2 or doors == 1 else -1  # handles towards the middle
        xc = x0 + (k + 0.5) * door + side * 0.3 * door
        boxes.append((xc - HANDLE[0] / 2, xc + HANDLE[0] / 2, -d / 2, front + 1e-3, zc - hh / 2, zc + hh / 2))
    return boxes, seams, [(h, -w / 2, w / 2, front - oh, d / 2)]


_BUILDERS = {"table": _table, "chair": _chair, "shelf": _shelf, "cabinet": _cabinet}


def _corners(b: Box) -> np.ndarray:
    return box((b[0], b[2], b[4]), (b[1], b[3], b[5]))


def build(kind: str, p: dict) -> RawMesh:
    """The piece of furniture ``kind`` (a key of :data:`SPECS`) with params ``p``."""
    import manifold3d

    boxes, cuts, tops = _BUILDERS[kind](p)

    def solid(b: Box):
        return manifold3d.Manifold.cube((b[1] - b[0], b[3] - b[2], b[5] - b[4])).translate((b[0], b[2], b[4]))

    m = manifold3d.Manifold.batch_boolean([solid(b) for b in boxes], manifold3d.OpType.Add)
    if cuts:
        m = m - manifold3d.Manifold.batch_boolean([solid(b) for b in cuts], manifold3d.OpType.Add)
    mesh = m.simplify(SIMPLIFY).to_mesh64()
    v, f = canonical_order(np.asarray(mesh.vert_properties, np.float64)[:, :3], np.asarray(mesh.tri_verts))
    extents = tuple(v.max(0) - v.min(0))  # the params' extents: finish only centres it
    return RawMesh(v, f, None, extents, tuple(_corners(b) for b in boxes), tuple(tops))
