"""One pack asset's mesh as a file: a ``.npz`` of plain arrays, written byte-for-byte
the same every time, read back with every array checked.

Why ``.npz`` and not GLB or OBJ: NumPy reads it with no parser of ours and no pickle
(``allow_pickle=False``), the arrays come back with the exact dtypes the renderer and
physics take (no float64 round trip, no per-vertex splitting), and a file is a few
stored arrays, so checking one is a handful of shape and range tests. Members are
deflated and carry a fixed timestamp, so the same mesh always hashes the same.

Members (``V`` vertices, ``F`` faces, ``M`` materials):

* ``vertices`` float32 (V, 3), metres, the bounding box centred on the origin, z up;
* ``faces`` int32 (F, 3), vertex indices, counter-clockwise seen from outside;
* ``uv`` float32 (V, 2), texture coordinates (v up, as OBJ); absent when no
  material has a texture;
* ``face_material`` int16 (F,), each face's material;
* ``material_colour`` float32 (M, 4), linear RGBA in [0, 1] (the MTL's ``Kd``);
* ``material_texture`` int16 (M,), index into the asset's texture files, -1 for none;
* ``part_vertices`` float32 (P, 3), metres in the mesh's frame, and ``part_offsets``
  int32 (K + 1,): the K convex pieces whose hulls collide (:mod:`factory.assets.parts`),
  piece ``j`` the points ``part_vertices[part_offsets[j]:part_offsets[j + 1]]``
  (``part_offsets`` starts at 0 and ends at P). Both or neither: a mesh written before
  pieces were made at build time has neither, and collides as its hull (the pack
  format stays 1: such a pack is still right, only coarser, and the pieces, when there,
  are covered by the mesh's sha256 like every other member). Each piece holds at least
  4 points that span a volume (not all in one plane), finite, within the mesh's bounding
  box widened by :data:`PART_TOLERANCE` of its largest extent; at most
  :data:`MAX_PIECES` pieces.
"""

from __future__ import annotations

import io
import zipfile
from typing import NamedTuple

import numpy as np

from factory.assets.parts import MAX_PIECES, split_pieces
from factory.errors import AssetError

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: no build time in the bytes
# Pieces lie within the bounding box (the build clips them); the tolerance is a flat
# mesh's thickened hull (parts.FLAT_PAD) and float32 rounding.
PART_TOLERANCE = 0.01


class MeshData(NamedTuple):
    """A normalised asset mesh; see the module docstring for shapes, dtypes and units."""

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None
    face_material: np.ndarray
    material_colour: np.ndarray
    material_texture: np.ndarray
    part_vertices: np.ndarray | None = None
    part_offsets: np.ndarray | None = None


_DTYPES = {
    "vertices": np.float32,
    "faces": np.int32,
    "uv": np.float32,
    "face_material": np.int16,
    "material_colour": np.float32,
    "material_texture": np.int16,
    "part_vertices": np.float32,
    "part_offsets": np.int32,
}


def encode_mesh(mesh: MeshData) -> bytes:
    """The ``.npz`` bytes of ``mesh`` (arrays cast to the stored dtypes); the same mesh
    gives the same bytes in any process."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, dtype in _DTYPES.items():
            value = getattr(mesh, name)
            if value is None:
                continue
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(value, dtype=dtype), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def decode_mesh(data: bytes, file: str, max_faces: int, textures: int) -> MeshData:
    """The mesh in ``.npz`` bytes ``data``, every array checked: dtypes and shapes as
    the module docstring, at least one face and at most ``max_faces``, finite vertices,
    face indices in range, material indices in range, texture indices below
    ``textures`` (the asset's texture count).

    Raises:
        AssetError: naming ``file``, the array and what is wrong.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k.removesuffix(".npy"): npz[k] for k in npz.files}
    except Exception as e:  # a zip or .npy that NumPy cannot read: corrupt, not a mesh
        raise AssetError(file, f"not a readable .npz mesh ({type(e).__name__}: {e})") from None
    unknown = sorted(set(arrays) - set(_DTYPES))
    if unknown:
        raise AssetError(file, f"unknown arrays {unknown}; allowed: {', '.join(_DTYPES)}")
    for name, dtype in _DTYPES.items():
        if name in arrays and arrays[name].dtype != dtype:
            raise AssetError(file, f"{name} has dtype {arrays[name].dtype}; expected {np.dtype(dtype)}")
    mesh = MeshData(**{name: arrays.get(name) for name in _DTYPES})
    check_mesh(mesh, file, max_faces, textures)
    return mesh


def _need(ok: bool, file: str, message: str) -> None:
    if not ok:
        raise AssetError(file, message)


def check_mesh(mesh: MeshData, file: str, max_faces: int, textures: int) -> None:
    """Raise :class:`AssetError` naming ``file`` unless ``mesh`` is well formed (see
    :func:`decode_mesh`)."""
    v, f = mesh.vertices, mesh.faces
    _need(v is not None and v.ndim == 2 and v.shape[1] == 3, file, f"vertices must be (V, 3), got {_shape(v)}")
    _need(f is not None and f.ndim == 2 and f.shape[1] == 3, file, f"faces must be (F, 3), got {_shape(f)}")
    _need(len(f) > 0 and len(v) > 0, file, "empty mesh: no faces")
    _need(len(f) <= max_faces, file, f"{len(f)} faces, more than the limit of {max_faces}")
    bad = int(np.count_nonzero(~np.isfinite(v).all(axis=1)))
    _need(bad == 0, file, f"{bad} vertices are not finite (NaN or inf)")
    _need(int(f.min()) >= 0 and int(f.max()) < len(v), file, f"face indices outside [0, {len(v)})")
    if mesh.uv is not None:
        _need(mesh.uv.shape == (len(v), 2), file, f"uv must be ({len(v)}, 2), got {_shape(mesh.uv)}")
        _need(bool(np.isfinite(mesh.uv).all()), file, "uv holds values that are not finite")
    colours, tex = mesh.material_colour, mesh.material_texture
    _need(colours is not None and colours.ndim == 2 and colours.shape[1] == 4, file, "material_colour must be (M, 4)")
    _need(tex is not None and tex.shape == (len(colours),), file, f"material_texture must be ({len(colours)},)")
    fm = mesh.face_material
    _need(fm is not None and fm.shape == (len(f),), file, f"face_material must be ({len(f)},), got {_shape(fm)}")
    _need(int(fm.min()) >= 0 and int(fm.max()) < len(colours), file, f"face_material outside [0, {len(colours)})")
    _need(bool(((tex >= -1) & (tex < textures)).all()), file, f"material_texture outside [-1, {textures})")
    _need(mesh.uv is not None or not (tex >= 0).any(), file, "a material has a texture but the mesh has no uv")
    check_parts(mesh, file)


def check_parts(mesh: MeshData, file: str) -> None:
    """Raise :class:`AssetError` naming ``file`` unless ``mesh``'s convex pieces, when
    it has them, are well formed (see the module docstring)."""
    pv, po = mesh.part_vertices, mesh.part_offsets
    if pv is None and po is None:
        return
    _need(pv is not None and po is not None, file, "part_vertices and part_offsets come together; one is missing")
    _need(pv.ndim == 2 and pv.shape[1] == 3, file, f"part_vertices must be (P, 3), got {_shape(pv)}")
    _need(
        po.ndim == 1 and 2 <= len(po) <= MAX_PIECES + 1,
        file,
        f"part_offsets must be (K + 1,) with 1 <= K <= {MAX_PIECES}, got {_shape(po)}",
    )
    _need(int(po[0]) == 0 and int(po[-1]) == len(pv), file, f"part_offsets must run from 0 to {len(pv)}")
    sizes = np.diff(po)
    few = int(np.argmax(sizes < 4))
    _need(bool((sizes >= 4).all()), file, f"piece {few} has {int(sizes[few])} points; a convex piece needs at least 4")
    bad = int(np.count_nonzero(~np.isfinite(pv).all(axis=1)))
    _need(bad == 0, file, f"{bad} piece points are not finite (NaN or inf)")
    lo, hi = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    tol = PART_TOLERANCE * float((hi - lo).max()) + 1e-6
    out = int(np.count_nonzero(((pv < lo - tol) | (pv > hi + tol)).any(axis=1)))
    _need(out == 0, file, f"{out} piece points lie outside the mesh's bounding box (tolerance {tol:.3g} m)")
    for j, piece in enumerate(split_pieces(pv.astype(np.float64), po)):
        s = np.linalg.svd(piece - piece.mean(axis=0), compute_uv=False)
        _need(s[-1] > 1e-6 * max(float(s[0]), 1e-12), file, f"piece {j} is flat: its points lie in one plane")


def _shape(a: np.ndarray | None) -> str:
    return "nothing" if a is None else str(tuple(a.shape))
