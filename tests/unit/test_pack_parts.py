"""Convex pieces made when a pack is built (factory/assets/parts.py) and stored in its
meshes (factory/assets/meshfile.py): deterministic, recorded in pack.json, every
malformed piece refused naming the file, and a pack without pieces still loading.

The independent checks: the pieces of a box are its eight corners, CoACD's pieces of a
ring lie within its bounding box and leave its hole empty (the ring's own geometry)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from factory.assets.build import build_pack
from factory.assets.importers import IMPORTERS
from factory.assets.meshfile import MeshData, decode_mesh, encode_mesh
from factory.assets.pack import load_pack
from factory.assets.parts import convex_hull, hull_piece, make_pieces, split_pieces
from factory.errors import AssetError
from tests.unit.test_packs import make_folder

ROWS = ["box.obj,box,toy,CC0-1.0,Jane Doe,Box,https://example.org/box,0.2x0.1x0.3"]


def _pack(tmp: Path, parts: str = "hull") -> Path:
    assets = IMPORTERS["folder"](make_folder(tmp, ROWS), tmp / "work")
    build_pack(assets, str(tmp / "pack"), "test", parts=parts)
    return tmp / "pack"


def _rewrite(root: Path, mesh: MeshData | None = None, data: bytes | None = None) -> Path:
    """Replace the one asset's mesh.npz and its sha256 in pack.json, so that the mesh's
    own checks, not the hash, are what a load meets."""
    path = root / "box" / "mesh.npz"
    data = encode_mesh(mesh) if data is None else data
    path.write_bytes(data)
    meta = json.loads((root / "pack.json").read_text())
    meta["assets"][0]["sha256"]["box/mesh.npz"] = hashlib.sha256(data).hexdigest()
    (root / "pack.json").write_text(json.dumps(meta))
    return path


def _read(root: Path) -> MeshData:
    return decode_mesh((root / "box" / "mesh.npz").read_bytes(), "mesh.npz", 10**6, 0)


def test_a_box_collides_as_its_eight_corners_and_pack_json_says_how(tmp_path):
    root = _pack(tmp_path, "hull")
    mesh = _read(root)
    pieces = split_pieces(mesh.part_vertices, mesh.part_offsets)
    corners = np.array([[x, y, z] for x in (-0.1, 0.1) for y in (-0.05, 0.05) for z in (-0.15, 0.15)])
    assert len(pieces) == 1 and mesh.part_vertices.dtype == np.float32 and mesh.part_offsets.dtype == np.int32
    np.testing.assert_allclose(np.unique(pieces[0], axis=0), np.unique(corners, axis=0), atol=1e-6)
    assert json.loads((root / "pack.json").read_text())["parts"] == {"method": "hull", "params": {}}


def test_a_flat_mesh_collides_as_its_box_thickened_within_the_tolerance():
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    piece = hull_piece(square)
    assert piece.shape == (8, 3) and np.ptp(piece[:, 2]) == pytest.approx(0.01)
    faces = np.array([[0, 1, 2], [0, 2, 3]], np.int32)
    pv, po, used = make_pieces(square, faces, "hull")
    mesh = MeshData(
        square.astype(np.float32),
        faces,
        None,
        np.zeros(2, np.int16),
        np.ones((1, 4), np.float32),
        -np.ones(1, np.int16),
    )
    decode_mesh(encode_mesh(mesh._replace(part_vertices=pv, part_offsets=po)), "flat.npz", 10, 0)  # accepted


def _ring() -> trimesh.Trimesh:
    return trimesh.creation.annulus(r_min=0.6, r_max=1.0, height=0.4, sections=24)


def test_coacd_pieces_of_a_ring_are_the_same_bytes_twice_and_leave_its_hole_empty():
    pytest.importorskip("coacd")
    ring = _ring()
    first = make_pieces(ring.vertices, ring.faces, "coacd")
    second = make_pieces(ring.vertices, ring.faces, "coacd")
    assert first[2] == "coacd" and 2 <= len(first[1]) - 1 <= 16
    assert first[0].tobytes() == second[0].tobytes() and first[1].tobytes() == second[1].tobytes()
    lo, hi = ring.vertices.min(axis=0), ring.vertices.max(axis=0)
    assert (first[0] >= lo - 1e-6).all() and (first[0] <= hi + 1e-6).all()  # clipped to the box
    # The hole stays open: no piece's hull holds the ring's axis at mid-height.
    axis = np.array([[0.0, 0.0, 0.0]])
    for piece in split_pieces(first[0].astype(np.float64), first[1]):
        assert not trimesh.Trimesh(*convex_hull(piece)).contains(axis)[0]


def test_a_pack_built_with_coacd_records_its_settings(tmp_path):
    pytest.importorskip("coacd")
    root = _pack(tmp_path, "coacd")
    parts = json.loads((root / "pack.json").read_text())["parts"]
    assert parts["method"] == "coacd" and parts["params"]["seed"] == 1 and parts["params"]["max_convex_hull"] == 16
    assert _read(root).part_offsets[-1] >= 8  # a box is convex: one piece (or a few) with its corners


def _piece(mesh: MeshData, pv: np.ndarray, po: list[int] | None = None) -> MeshData:
    return mesh._replace(part_vertices=np.asarray(pv, np.float32), part_offsets=np.array(po or [0, len(pv)], np.int32))


def _cases(mesh: MeshData) -> dict[str, tuple[MeshData, str]]:
    good = mesh.part_vertices.astype(np.float64)
    nan = good.copy()
    nan[0, 1] = np.nan
    far = good.copy()
    far[0] = [0.0, 0.0, 0.5]  # the box reaches 0.15 m up
    flat = good.copy()
    flat[:, 2] = 0.0
    return {
        "nan": (_piece(mesh, nan), "not finite"),
        "few": (_piece(mesh, good, [0, 3, len(good)]), "piece 0 has 3 points"),
        "outside": (_piece(mesh, far), "outside the mesh's bounding box"),
        "flat": (_piece(mesh, flat), "piece 0 is flat"),
        "offsets": (_piece(mesh, good, [0, len(good) - 1]), f"run from 0 to {len(good)}"),
        "alone": (mesh._replace(part_offsets=None), "one is missing"),
    }


@pytest.mark.parametrize("case", ["nan", "few", "outside", "flat", "offsets", "alone"])
def test_a_malformed_piece_is_refused_naming_the_mesh_file(tmp_path, case):
    root = _pack(tmp_path)
    mesh, says = _cases(_read(root))[case]
    _rewrite(root, mesh)
    with pytest.raises(AssetError) as e:
        load_pack(str(root))
    assert e.value.file.endswith("box/mesh.npz") and says in e.value.message, str(e.value)


def test_a_mesh_without_pieces_still_loads_and_collides_as_its_hull(tmp_path):
    from factory.assets.loaded import build_pack_mesh

    root = _pack(tmp_path)
    mesh = _read(root)
    _rewrite(root, mesh._replace(part_vertices=None, part_offsets=None))
    meta = json.loads((root / "pack.json").read_text())
    del meta["parts"]  # as a pack built before pieces were
    (root / "pack.json").write_text(json.dumps(meta))
    pack = load_pack(str(root))
    asset, scale = build_pack_mesh(pack, pack.assets[0])
    assert len(asset.parts) == 1 and scale == pytest.approx(0.15)
    corners = np.array([[x, y, z] for x in (-2 / 3, 2 / 3) for y in (-1 / 3, 1 / 3) for z in (-1, 1)])
    np.testing.assert_allclose(np.unique(asset.parts[0], axis=0), np.unique(corners, axis=0), atol=1e-6)


def test_the_cli_takes_parts_and_check_refuses_it(tmp_path, capsys):
    from factory.cli import main

    src = make_folder(tmp_path, ROWS)
    assert main(["pack", "build", "--from", "folder", str(src), "--out", str(tmp_path / "p"), "--parts", "hull"]) == 0
    assert json.loads((tmp_path / "p" / "pack.json").read_text())["parts"]["method"] == "hull"
    assert main(["pack", "check", str(tmp_path / "p"), "--parts", "hull"]) == 2
    assert "--parts" in capsys.readouterr().err
