"""Extruded capital letters A-Z from a 5 x 7 pixel font written here (no font files).

A letter's lit pixels (unit squares) are united into one outline (manifold3d's
CrossSection), closed morphologically (grown by ``weight`` pixels, shrunk back) so
that pixels touching only at a corner join with a bridge and inner corners round,
then grown by ``rounding`` pixels with round joins; the outline is extruded along z
and scaled per axis to (size_x, size_y, size_z). Not bevelled (a chamfer of a
non-convex outline with holes needs an offset surface, not a scaled copy as the
stars' and gears' do). Closed and outward (manifold3d); letters with counters (A, B,
D, O, P, Q, R) have holes through them. Faces: a few hundred. No uv.

Collision pieces: the lit pixels merged into rectangles (runs along rows stacked
where the next row has the same run, or the same down the columns, whichever gives
fewer: 2-9 per letter), each grown by ``rounding`` as an octagon (its corners cut at
45 degrees, inside the round joins) and extruded through the thickness. They lie
inside the letter; what they leave uncovered is the closing's fillets and diagonal
bridges, within 0.3 x ``weight`` pixels (< 0.14 pixel) of a piece.
"""

from __future__ import annotations

import numpy as np

from factory.assets.generators.mesh import RawMesh, canonical_order
from factory.assets.generators.spec import Param

# Row strings top to bottom, "#" lit; one letter per entry, A first.
FONT = (
    ".###. #...# #...# ##### #...# #...# #...#",
    "####. #...# #...# ####. #...# #...# ####.",
    ".###. #...# #.... #.... #.... #...# .###.",
    "####. #...# #...# #...# #...# #...# ####.",
    "##### #.... #.... ####. #.... #.... #####",
    "##### #.... #.... ####. #.... #.... #....",
    ".###. #...# #.... #.### #...# #...# .###.",
    "#...# #...# #...# ##### #...# #...# #...#",
    ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "..### ...#. ...#. ...#. #..#. #..#. .##..",
    "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "#.... #.... #.... #.... #.... #.... #####",
    "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "#...# ##..# #.#.# #..## #...# #...# #...#",
    ".###. #...# #...# #...# #...# #...# .###.",
    "####. #...# #...# ####. #.... #.... #....",
    ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "####. #...# #...# ####. #.#.. #..#. #...#",
    ".#### #.... #.... .###. ....# ....# ####.",
    "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "#...# #...# #...# #...# #...# #...# .###.",
    "#...# #...# #...# #...# #...# .#.#. ..#..",
    "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "##### ....# ...#. ..#.. .#... #.... #####",
)
# Offsetting leaves outline vertices a hair apart (faces of 1e-12 of the area): drop
# those within this many pixels of their neighbours' line.
SIMPLIFY = 0.01
HOLES = {"A": 1, "B": 2, "D": 1, "O": 1, "P": 1, "Q": 1, "R": 1}  # counters through the letter

SPEC = {
    "letter": Param(0, 25, 0, 25, integer=True, doc="which capital: 0 = A ... 25 = Z"),
    "size_x": Param(0.06, 0.25, 0.01, 2.0, doc="bounding-box extent along x, m"),
    "size_y": Param(0.08, 0.30, 0.01, 2.0, doc="bounding-box extent along y (the letter's height), m"),
    "size_z": Param(0.015, 0.06, 0.002, 2.0, doc="thickness (z extent), m"),
    "weight": Param(0.3, 0.45, 0.2, 0.45, doc="closing radius joining diagonal pixels, pixels"),
    "rounding": Param(0.05, 0.2, 0.0, 0.25, doc="outward rounding of the strokes, pixels"),
    "resolution": Param(12, 12, 4, 24, integer=True, doc="segments of a whole circle in the round joins"),
}


def pixels(letter: int) -> np.ndarray:
    """The lit pixels (7, 5) bool of capital ``letter`` (0 = A), row 0 at the top."""
    return np.array([[c == "#" for c in row] for row in FONT[letter].split()])


def rectangles(lit: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The lit pixels (R, C) bool cut into rectangles (r0, r1, c0, c1) (rows r0 to r1 - 1,
    columns c0 to c1 - 1): each row's runs, a run extended down while the next row
    has the same run; the transposed cut instead when it gives fewer."""

    def by_rows(grid: np.ndarray) -> list[tuple[int, int, int, int]]:
        done, open_ = [], {}  # open_: (c0, c1) -> first row
        for r in range(grid.shape[0] + 1):
            runs = set()
            if r < grid.shape[0]:
                padded = np.concatenate([[False], grid[r], [False]]).astype(np.int8)
                edges = np.flatnonzero(np.diff(padded))
                runs = {(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)}
            for run in sorted(set(open_) - runs):
                done.append((open_.pop(run), r, *run))
            for run in sorted(runs - set(open_)):
                open_[run] = r
        return sorted(done)

    rows, cols = by_rows(lit), [(c0, c1, r0, r1) for r0, r1, c0, c1 in by_rows(lit.T)]
    return rows if len(rows) <= len(cols) else sorted(cols)


def _parts(lit: np.ndarray, g: float) -> tuple[np.ndarray, ...]:
    """The pieces (8 or 16 points each) in the raw frame: pixel (r, c) is the unit
    square at x = c, y = rows - 1 - r; z from 0 to 1."""
    out = []
    for r0, r1, c0, c1 in rectangles(lit):
        x0, x1, y0, y1 = float(c0), float(c1), float(lit.shape[0] - r1), float(lit.shape[0] - r0)
        corners = [(x0, y0), (x0, y1), (x1, y0), (x1, y1)]
        if g > 0:  # the octagon: each side pushed out by g, the corners cut
            corners = [(x0 - g, y0), (x0 - g, y1), (x1 + g, y0), (x1 + g, y1)]
            corners += [(x0, y0 - g), (x1, y0 - g), (x0, y1 + g), (x1, y1 + g)]
        flat = np.array(corners, np.float64)
        out.append(np.concatenate([np.c_[flat, np.zeros(len(flat))], np.c_[flat, np.ones(len(flat))]]))
    return tuple(out)


def build(p: dict) -> RawMesh:
    """The extruded letter with params ``p`` (see :data:`SPEC`), y up the letter."""
    import manifold3d

    cs = manifold3d.CrossSection
    lit = pixels(p["letter"])
    squares = [
        cs.square((1.0, 1.0)).translate((float(c), float(lit.shape[0] - 1 - r)))
        for r, c in zip(*np.nonzero(lit), strict=True)
    ]
    n = p["resolution"]
    outline = cs.batch_boolean(squares, manifold3d.OpType.Add)
    outline = outline.offset(p["weight"], circular_segments=n).offset(-p["weight"], circular_segments=n)
    if p["rounding"] > 0:
        outline = outline.offset(p["rounding"], circular_segments=n)
    outline = outline.simplify(SIMPLIFY)
    mesh = manifold3d.Manifold.extrude(outline, 1.0).to_mesh64()
    v, f = canonical_order(np.asarray(mesh.vert_properties, np.float64)[:, :3], np.asarray(mesh.tri_verts))
    return RawMesh(v, f, None, (p["size_x"], p["size_y"], p["size_z"]), _parts(lit, p["rounding"]))
