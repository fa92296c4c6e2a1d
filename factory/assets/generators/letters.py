"""Extruded capital letters A-Z from a 5 x 7 pixel font written here (no font files).

A letter's lit pixels (unit squares) are united into one outline (manifold3d's
CrossSection), closed morphologically (grown by ``weight`` pixels, shrunk back) so
that pixels touching only at a corner join with a bridge and inner corners round,
then grown by ``rounding`` pixels with round joins; the outline is extruded along z
and scaled per axis to (size_x, size_y, size_z). Not bevelled (a chamfer of a
non-convex outline with holes needs an offset surface, not a scaled copy as the
stars' and gears' do). Closed and outward (manifold3d); letters with counters (A, B,
D, O, P, Q, R) have holes through them. Faces: a few hundred. No uv.
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
    return RawMesh(v, f, None, (p["size_x"], p["size_y"], p["size_z"]))
