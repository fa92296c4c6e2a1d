"""Asset packs (factory/assets/pack.py, build.py, importers/): importing, building,
loading, every refusal naming its file, the held-out split, atomic writes, the CLI.

Every source is built here in tmp_path (a tiny ``.sh3f`` zip, a folder with a licence
CSV, a fake ``random_urdfs``); trimesh's own properties are the independent check of
the meshes that come out.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import fsspec
import numpy as np
import pytest
import trimesh
from PIL import Image

from factory.assets.build import build_pack
from factory.assets.importers import IMPORTERS
from factory.assets.importers.archive import safe_extract
from factory.assets.importers.sh3f import parse_properties
from factory.assets.pack import HELD_OUT_SHARE, Limits, Pack, PackFile, held_out, load_pack, split
from factory.cli import main
from factory.errors import AssetError

CUBE_UV = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


def cube_obj(folder: Path, name: str, texture: str | None = "tex.png", nan: bool = False) -> Path:
    """A unit cube OBJ (y up) whose faces all map the texture's four corners, with an MTL
    naming ``texture`` (made by the caller) or a plain red material."""
    folder.mkdir(parents=True, exist_ok=True)
    box = trimesh.creation.box()
    lines = [f"mtllib {name}.mtl", "usemtl skin"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in box.vertices]
    if nan:
        lines[2] = "v nan 0.5 0.5"
    lines += [f"vt {u} {v}" for u, v in CUBE_UV]
    lines += [f"f {a + 1}/1 {b + 1}/2 {c + 1}/3" for a, b, c in box.faces]
    (folder / f"{name}.obj").write_text("\n".join(lines) + "\n")
    mtl = "newmtl skin\nKd 0.8 0.2 0.2\n" + (f"map_Kd {texture}\n" if texture else "")
    (folder / f"{name}.mtl").write_text(mtl)
    return folder / f"{name}.obj"


def tetra_obj(folder: Path, name: str) -> Path:
    """A tetrahedron (y up) with its apex alone at the top: which way is up after import."""
    folder.mkdir(parents=True, exist_ok=True)
    v = [(-1, 0, -1), (1, 0, -1), (0, 0, 1), (0, 2, 0)]
    f = [(1, 3, 2), (1, 2, 4), (2, 3, 4), (3, 1, 4)]
    text = "".join(f"v {x} {y} {z}\n" for x, y, z in v) + "".join(f"f {a} {b} {c}\n" for a, b, c in f)
    (folder / f"{name}.obj").write_text(text)
    return folder / f"{name}.obj"


def png(path: Path, size: tuple[int, int] = (64, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.arange(size[0] * size[1] * 3, dtype=np.uint8).reshape(size[1], size[0], 3)).save(path)
    return path


def make_sh3f(
    tmp: Path, licence: str = "Creative Commons Attribution 3.0 United States license", bad_png=False
) -> Path:
    """A two-model library: a textured cube (50 x 30 x 80 cm) and a tetrahedron."""
    src = tmp / "sh3f-src"
    cube_obj(src / "lib" / "cube", "cube")
    tex = src / "lib" / "cube" / "tex.png"
    tex.write_bytes(b"not an image") if bad_png else png(tex)
    tetra_obj(src / "lib" / "tetra", "tetra")
    (src / "lib" / "cube" / "BLENDSWAP_LICENSE.txt").write_text("Cube by Jane Doe, https://example.org/cube\n")
    (src / "LICENSE.TXT").write_text("the library's licence\n")
    props = [
        "# PluginFurnitureCatalog.properties",
        "id=Test#Lib",
        f"license={licence}",
        "id#1=Test Lib#cube",
        "name#1=Caf\\u00e9 cube",
        "category#1=Kitchen",
        "model#1=/lib/cube/cube.obj",
        "width#1=50",
        "depth#1=30",
        "height#1=80",
        "creator#1=Jane \\",
        "    Doe",
        "id#2=Test Lib#tetra",
        "name#2=Tetra",
        "category#2=Misc",
        "model#2=/lib/tetra/tetra.obj",
        "width#2=20",
        "depth#2=20",
        "height#2=10",
        "creator#2=John Roe",
    ]
    (src / "PluginFurnitureCatalog.properties").write_bytes("\n".join(props).encode("latin-1"))
    out = tmp / "Test.sh3f"
    with zipfile.ZipFile(out, "w") as zf:
        for f in sorted(src.rglob("*")):
            zf.write(f, f.relative_to(src).as_posix())
    return out


def make_folder(tmp: Path, rows: list[str], nan_in: str | None = None) -> Path:
    """A folder source: cubes named by ``rows``' file column, a licences.csv of ``rows``."""
    folder = tmp / "folder-src"
    for row in rows:
        name = row.split(",")[0].removesuffix(".obj")
        if row.split(",")[0].endswith(".obj"):
            cube_obj(folder, name, texture=None, nan=name == nan_in)
    header = "file,id,category,licence,creator,title,source,size_m"
    (folder / "licences.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


def build(kind: str, source: Path, tmp: Path, out: str | None = None, **limits) -> Pack:
    assets = IMPORTERS[kind](source, tmp / "work")
    return build_pack(assets, out or str(tmp / "pack"), "test", limits=Limits(**limits) if limits else Limits())


def test_a_sweet_home_3d_library_imports_and_builds_into_a_pack_that_loads(tmp_path):
    pack = build("sh3f", make_sh3f(tmp_path), tmp_path, max_texture_px=16)
    again = load_pack(str(tmp_path / "pack"))
    assert again.meta == pack.meta
    cube, tetra = pack.assets
    assert (cube.id, cube.category, cube.title, cube.creator) == ("test-lib-cube", "kitchen", "Café cube", "Jane Doe")
    assert cube.licence == tetra.licence == "CC-BY-3.0-US" and tetra.creator == "John Roe"
    assert cube.source == "Test.sh3f:/lib/cube/cube.obj"
    assert cube.size_m == pytest.approx((0.5, 0.3, 0.8))  # width, depth, height in cm: x, y, z up
    mesh = pack.read_mesh(cube)
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=True)
    assert tm.is_watertight and tm.volume == pytest.approx(0.5 * 0.3 * 0.8, rel=1e-5)
    assert np.allclose(tm.bounds.mean(axis=0), 0.0, atol=1e-6)  # centred
    # UVs kept: the three texture corners every face of the OBJ maps, as it wrote them.
    assert mesh.uv is not None and set(map(tuple, mesh.uv.tolist())) == set(CUBE_UV[:3])
    assert mesh.material_texture.tolist() == [0] and mesh.material_colour[0, :3] == pytest.approx(
        (0.8, 0.2, 0.2), abs=0.01
    )
    # The 64x32 texture downscaled to 16 px a side, its aspect kept.
    with Image.open(tmp_path / "pack" / cube.textures[0]) as img:
        assert img.size == (16, 8)
    # y up became z up: the tetrahedron's apex is the one top vertex.
    t = pack.read_mesh(tetra)
    assert np.count_nonzero(np.isclose(t.vertices[:, 2], t.vertices[:, 2].max())) == 1
    assert tetra.size_m == pytest.approx((0.2, 0.2, 0.1)) and t.uv is None
    # The licence texts beside a model, then the library's, verbatim.
    texts = [(tmp_path / "pack" / n).read_text() for n in cube.notices]
    assert texts == ["Cube by Jane Doe, https://example.org/cube\n", "the library's licence\n"]
    assert [(tmp_path / "pack" / n).read_text() for n in tetra.notices] == ["the library's licence\n"]


def test_a_texture_within_the_limit_keeps_its_bytes(tmp_path):
    source = make_sh3f(tmp_path)
    pack = build("sh3f", source, tmp_path)
    with zipfile.ZipFile(source) as zf:
        original = zf.read("lib/cube/tex.png")
    assert (tmp_path / "pack" / pack.assets[0].textures[0]).read_bytes() == original


def test_a_pack_loads_through_fsspec_and_builds_to_memory(tmp_path):
    build("sh3f", make_sh3f(tmp_path), tmp_path, out="memory://test-packs/sh3f")
    fs = fsspec.filesystem("memory")
    try:
        pack = load_pack("memory://test-packs/sh3f")
        assert [a.id for a in pack.assets] == ["test-lib-cube", "test-lib-tetra"]
        assert pack.read_mesh(pack.assets[1]).faces.shape == (4, 3)
    finally:
        fs.rm("/test-packs", recursive=True)


def test_the_same_source_builds_the_same_bytes(tmp_path):
    source = make_sh3f(tmp_path)
    a = build("sh3f", source, tmp_path / "a")
    b = build("sh3f", source, tmp_path / "b")
    files = sorted(p.relative_to(tmp_path / "a" / "pack") for p in (tmp_path / "a" / "pack").rglob("*") if p.is_file())
    assert len(files) == 7  # pack.json, 2 meshes, 1 texture, 3 notices
    for f in files:
        assert (tmp_path / "a" / "pack" / f).read_bytes() == (tmp_path / "b" / "pack" / f).read_bytes(), f
    assert a.meta == b.meta


def test_properties_parse_as_java_writes_them():
    text = "# c\n! c\nkey = va\\\n    lue\na\\=b:c\nu=\\u00e9\\t\nempty=\nspaced value here\n"
    assert parse_properties(text) == {"key": "value", "a=b": "c", "u": "é\t", "empty": "", "spaced": "value here"}


# --- refusals, each naming its file ---------------------------------------------------


def _refused(fn, *names: str) -> str:
    with pytest.raises(AssetError) as e:
        fn()
    for name in names:
        assert name in e.value.file, (name, e.value.file)
    return str(e.value)


def test_an_unknown_licence_text_is_refused_naming_the_library(tmp_path):
    source = make_sh3f(tmp_path, licence="Free for personal use")
    msg = _refused(lambda: IMPORTERS["sh3f"](source, tmp_path / "w"), "Test.sh3f")
    assert "Free for personal use" in msg


def test_a_texture_that_is_not_an_image_is_refused(tmp_path):
    source = make_sh3f(tmp_path, bad_png=True)
    _refused(lambda: build("sh3f", source, tmp_path), "cube/tex.png")
    assert not (tmp_path / "pack").exists()


def test_a_mesh_with_a_nan_vertex_is_refused(tmp_path):
    folder = make_folder(tmp_path, ["bad.obj,bad,box,CC0-1.0,me,Bad,test,0.1"], nan_in="bad")
    assert "not finite" in _refused(lambda: build("folder", folder, tmp_path), "bad.obj")


def test_an_empty_mesh_is_refused(tmp_path):
    folder = make_folder(tmp_path, ["empty.obj,empty,box,CC0-1.0,me,Empty,test,0.1"])
    (folder / "empty.obj").write_text("# nothing here\n")
    assert "empty" in _refused(lambda: build("folder", folder, tmp_path), "empty.obj")


def test_an_unknown_or_missing_licence_in_a_csv_is_refused(tmp_path):
    folder = make_folder(tmp_path, ["a.obj,a,box,Public-Domain-ish,me,A,test,0.1"])
    assert "Public-Domain-ish" in _refused(lambda: build("folder", folder, tmp_path), "a.obj")
    (folder / "licences.csv").write_text(
        "file,id,category,licence,creator,title,source,size_m\na.obj,a,box,,me,A,t,1\n"
    )
    assert "licence" in _refused(lambda: build("folder", folder, tmp_path), "licences.csv line 2")


def test_a_hash_edited_after_the_build_is_refused(tmp_path):
    pack = build("sh3f", make_sh3f(tmp_path), tmp_path)
    mesh = tmp_path / "pack" / pack.assets[1].mesh
    data = bytearray(mesh.read_bytes())
    data[-1] ^= 1
    mesh.write_bytes(bytes(data))
    assert "sha256" in _refused(lambda: load_pack(str(tmp_path / "pack")), "test-lib-tetra/mesh.npz")


def _edit_pack_json(root: Path, edit) -> None:
    meta = json.loads((root / "pack.json").read_text())
    edit(meta)
    (root / "pack.json").write_text(json.dumps(meta))


def test_a_pack_over_its_limits_is_refused(tmp_path):
    root = tmp_path / "pack"
    build("sh3f", make_sh3f(tmp_path), tmp_path)
    _edit_pack_json(root, lambda m: m["limits"].update(max_faces=3))
    assert "more than the limit of 3" in _refused(lambda: load_pack(str(root)), "mesh.npz")
    _edit_pack_json(root, lambda m: m["limits"].update(max_faces=100, max_texture_px=8))
    assert "over the limit of 8 px" in _refused(lambda: load_pack(str(root)), "tex0.png")
    _edit_pack_json(root, lambda m: m["limits"].update(max_texture_px=10**6))
    assert "limits.max_texture_px" in _refused(lambda: load_pack(str(root)), "pack.json")


@pytest.mark.parametrize(
    ("licence", "says"), [(None, "licence: required"), ("LicenseRef-x", "unknown"), ("", "licence")]
)
def test_a_pack_json_with_a_missing_or_unknown_licence_is_refused(tmp_path, licence, says):
    root = tmp_path / "pack"
    build("sh3f", make_sh3f(tmp_path), tmp_path)

    def edit(meta):
        if licence is None:
            del meta["assets"][0]["licence"]
        else:
            meta["assets"][0]["licence"] = licence

    _edit_pack_json(root, edit)
    assert says in _refused(lambda: load_pack(str(root)), "pack.json")


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("name", ["../evil", "lib/../../evil", "/etc/evil", "C:/evil", "..\\evil"])
def test_an_archive_entry_outside_its_folder_is_refused(tmp_path, name):
    archive = _zip(tmp_path / "bad.sh3f", {"ok.txt": b"ok", name: b"x"})
    _refused(lambda: safe_extract(archive, tmp_path / "out" / "in"), "bad.sh3f", name)
    assert not (tmp_path / "out" / "evil").exists() and not (tmp_path / "out" / "in" / "ok.txt").exists()


def test_an_archive_entry_past_the_size_limit_is_refused(tmp_path):
    archive = _zip(tmp_path / "bomb.sh3f", {"small": b"x", "big": bytes(100_000)})  # deflates to ~100 bytes
    assert archive.stat().st_size < 2000
    msg = _refused(lambda: safe_extract(archive, tmp_path / "out", max_entry_bytes=10_000), "bomb.sh3f:big")
    assert "100000 bytes" in msg
    _refused(lambda: safe_extract(archive, tmp_path / "out2", max_total_bytes=50_000), "bomb.sh3f:big")


def test_a_zip_with_an_escaping_entry_is_refused_by_the_importer(tmp_path):
    archive = _zip(tmp_path / "Lib.sh3f", {"PluginFurnitureCatalog.properties": b"id=x\n", "../evil.obj": b"v 0 0 0\n"})
    _refused(lambda: IMPORTERS["sh3f"](archive, tmp_path / "w"), "Lib.sh3f:../evil.obj")


# --- folder and pybullet importers, decimation ------------------------------------------


def test_the_folder_importer_reads_the_csv(tmp_path):
    folder = make_folder(
        tmp_path,
        [
            "a.obj,Mug One,Kitchen,CC-BY-4.0,Ann,A mug,https://example.org/mug,0.3",
            "b.stl,b,toys,CC0-1.0,Bob,A ball,pkg-name,0.1x0.2x0.3",
        ],
    )
    trimesh.creation.icosphere(subdivisions=1).export(folder / "b.stl")
    pack = build("folder", folder, tmp_path)
    a, b = pack.assets
    assert (a.id, a.category, a.licence, a.creator, a.title, a.source) == (
        "mug-one",
        "kitchen",
        "CC-BY-4.0",
        "Ann",
        "A mug",
        "https://example.org/mug",
    )
    assert a.size_m == pytest.approx((0.3, 0.3, 0.3)) and b.size_m == pytest.approx((0.1, 0.2, 0.3))
    assert pack.read_mesh(a).uv is None and a.textures == ()


def test_a_folder_csv_may_name_the_up_axis_and_a_notice(tmp_path):
    folder = tmp_path / "src"
    tetra_obj(folder, "t")
    trimesh.load(folder / "t.obj").export(folder / "t.glb")
    (folder / "t.txt").write_text("by Ann\n")
    header = "file,id,category,licence,creator,title,source,size_m,up,notice"
    rows = [
        "t.obj,z-up,toys,CC0-1.0,Ann,T,s,1,,t.txt",
        "t.obj,y-up,toys,CC0-1.0,Ann,T,s,1,y,",
        "t.glb,glb,toys,CC0-1.0,Ann,T,s,1,,",
    ]
    (folder / "licences.csv").write_text("\n".join([header, *rows]) + "\n")
    pack = build("folder", folder, tmp_path)
    tops = [m.vertices[np.argmax(m.vertices[:, 2])] for m in map(pack.read_mesh, pack.assets)]
    # As written (z up) the top is the base's (0, 0, 1) corner, at the back of y; turned
    # from y up (asked for, and glTF's own), the apex (0, 2, 0), above the middle.
    assert [float(t[1]) for t in tops] == pytest.approx([-0.5, 0.0, 0.0], abs=1e-6)
    assert (tmp_path / "pack" / pack.assets[0].notices[0]).read_text() == "by Ann\n"
    assert pack.assets[1].notices == ()


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ("../a.obj,a,box,CC0-1.0,me,A,t,0.1", "outside the folder"),
        ("gone.obj,a,box,CC0-1.0,me,A,t,0.1", "missing"),
        ("a.obj,a,box,CC0-1.0,me,A,t,big", "size_m"),
    ],
)
def test_bad_csv_rows_are_refused_naming_the_line(tmp_path, row, says):
    folder = make_folder(tmp_path, ["a.obj,a,box,CC0-1.0,me,A,t,0.1"])
    (folder / "licences.csv").write_text("file,id,category,licence,creator,title,source,size_m\n" + row + "\n")
    assert says in _refused(lambda: IMPORTERS["folder"](folder, tmp_path), "licences.csv line 2")


def test_pybullet_random_urdfs_import_with_the_urdf_scale_and_zlib(tmp_path):
    root = tmp_path / "pybullet_data" / "random_urdfs"
    for name, sub in (("000", 1), ("001", 2)):
        (root / name).mkdir(parents=True)
        trimesh.creation.icosphere(subdivisions=sub, radius=10.0).export(root / name / f"{name}.obj")
        (root / name / f"{name}.urdf").write_text(
            f'<robot name="blob{name}"><link name="l"><visual><geometry>'
            f'<mesh filename="{name}.obj" scale="0.015 0.015 0.015"/></geometry></visual></link></robot>'
        )
    pack = build("pybullet", root, tmp_path)
    assert [a.id for a in pack.assets] == ["pybullet-blob-000", "pybullet-blob-001"]
    assert {a.licence for a in pack.assets} == {"Zlib"} and pack.assets[0].title == "blob000"
    assert pack.assets[1].size_m == pytest.approx((0.3, 0.3, 0.3), rel=0.02)  # radius 10 units x 0.015 m
    _refused(lambda: IMPORTERS["pybullet"](tmp_path / "pybullet_data", tmp_path), "pybullet_data")


def test_meshes_over_the_face_limit_are_decimated_keeping_materials_and_uvs(tmp_path):
    folder = tmp_path / "src"
    cube_obj(folder, "skin")
    png(folder / "tex.png")
    sphere = trimesh.creation.icosphere(subdivisions=4)  # 5120 faces
    uv = (sphere.vertices[:, :2] + 1) / 2  # any UVs in [0, 1]
    lines = ["mtllib skin.mtl", "usemtl skin"] + [f"v {x} {y} {z}" for x, y, z in sphere.vertices]
    lines += [f"vt {u} {v}" for u, v in uv] + [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in sphere.faces + 1]
    (folder / "ball.obj").write_text("\n".join(lines) + "\n")
    (folder / "ball.mtl").write_text("newmtl skin\nKd 1 1 1\nmap_Kd tex.png\n")
    header = "file,id,category,licence,creator,title,source,size_m"
    (folder / "licences.csv").write_text(f"{header}\nball.obj,ball,toys,CC0-1.0,me,Ball,t,0.2\n")
    pack = build("folder", folder, tmp_path, max_faces=500)
    mesh = pack.read_mesh(pack.assets[0])
    assert 250 <= len(mesh.faces) <= 500
    assert mesh.uv is not None and mesh.uv.min() >= 0.0 and mesh.uv.max() <= 1.0
    assert (mesh.face_material == 0).all() and mesh.material_texture.tolist() == [0]
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces)
    assert tm.volume == pytest.approx(4 / 3 * np.pi * 0.1**3, rel=0.05)  # still a 0.2 m ball


# --- held-out split, atomicity, CLI -----------------------------------------------------


def _fake_pack(ids: list[str]) -> Pack:
    digest = "0" * 64
    assets = [
        {
            "id": i,
            "mesh": f"{i}/mesh.npz",
            "category": "c",
            "size_m": [1.0, 1.0, 1.0],
            "licence": "CC0-1.0",
            "creator": "c",
            "title": "t",
            "source": "s",
            "sha256": {f"{i}/mesh.npz": digest},
        }
        for i in ids
    ]
    meta = {"format": 1, "name": "fake", "version": "1", "limits": Limits()._asdict(), "assets": assets}
    return Pack("memory://fake", PackFile.model_validate_json(json.dumps(meta)))


def test_the_held_out_split_is_a_tenth_chosen_by_id_alone():
    ids = [f"asset-{i:04d}" for i in range(2000)]
    pack = _fake_pack(ids)
    test, train = split(pack, "test"), split(pack, "train")
    assert 0.08 < len(test) / len(ids) < 0.12 and HELD_OUT_SHARE == 0.1
    assert {a.id for a in test} | {a.id for a in train} == set(ids) and not {a.id for a in test} & {a.id for a in train}
    assert split(pack, "all") == pack.assets
    shuffled = ids[:]
    random.Random(7).shuffle(shuffled)
    assert {a.id for a in split(_fake_pack(shuffled[:700]), "test")} == {a.id for a in test} & set(shuffled[:700])
    # The sha256 of the id, not Python's hash(): another process with another hash seed agrees.
    code = f"from factory.assets.pack import held_out; print([i for i in {ids[:300]!r} if held_out(i)])"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == str([i for i in ids[:300] if held_out(i)])
    first = int.from_bytes(hashlib.sha256(b"asset-0000").digest()[:8], "big")
    assert held_out("asset-0000") == (first < 0.1 * 2**64)


def test_a_failing_asset_in_the_middle_leaves_no_pack(tmp_path):
    rows = [f"{n}.obj,{n},box,CC0-1.0,me,{n},t,0.1" for n in ("a", "b", "c")]
    folder = make_folder(tmp_path, rows, nan_in="b")
    out = tmp_path / "packs" / "mine"
    _refused(lambda: build("folder", folder, tmp_path, out=str(out)), "b.obj")
    assert not out.exists() and list((tmp_path / "packs").iterdir()) == []  # no half-built folder beside it


def test_a_pack_is_never_overwritten(tmp_path):
    (tmp_path / "pack").mkdir()
    assert "already exists" in _refused(lambda: build("sh3f", make_sh3f(tmp_path), tmp_path), "pack")


def test_the_cli_builds_and_checks_a_pack(tmp_path, capsys):
    source, out = make_sh3f(tmp_path), tmp_path / "packs" / "sh3d-test"
    argv = ["pack", "build", "--from", "sh3f", str(source), "--out", str(out), "--max-texture", "16"]
    assert main(argv + ["--max-faces", "100"]) == 0
    assert main(["pack", "check", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pack sh3d-test (format 1, version 1): 2 assets" in printed
    assert "  kitchen: 1" in printed and "  CC-BY-3.0-US: 2" in printed
    (out / "test-lib-cube" / "tex0.png").write_bytes(b"edited")
    assert main(["pack", "check", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("factory pack: error: ") and "tex0.png" in err[0]


def test_the_cli_refuses_bad_arguments_in_one_line(tmp_path, capsys):
    assert main(["pack", "build", str(tmp_path)]) == 2
    assert "--from: required" in capsys.readouterr().err
    assert main(["pack", "check", "a", "b"]) == 2
    assert "one URL" in capsys.readouterr().err
    assert main(["pack", "build", "--from", "folder", str(tmp_path), "--out", str(tmp_path / "p")]) == 2
    assert "licences.csv" in capsys.readouterr().err
    assert main(["pack", "build", "--from", "sh3f", str(tmp_path / "gone.sh3f"), "--out", str(tmp_path / "p")]) == 2
    assert "gone.sh3f: cannot be read" in capsys.readouterr().err


def test_pack_json_round_trips_through_the_model(tmp_path):
    pack = build("sh3f", make_sh3f(tmp_path), tmp_path)
    text = (tmp_path / "pack" / "pack.json").read_bytes()
    assert PackFile.model_validate_json(text) == pack.meta
    assert json.loads(text)["assets"][0]["sha256"] == {
        p: hashlib.sha256((tmp_path / "pack" / p).read_bytes()).hexdigest() for p in pack.assets[0].files()
    }
    assert io.BytesIO(text).read(1) == b"{"


def test_decimation_survives_a_material_whose_part_collapses_away():
    from factory.assets.build import decimate
    from factory.assets.meshfile import MeshData, check_mesh

    ball = trimesh.creation.icosphere(subdivisions=3)  # 1280 faces, material 0
    chips = [trimesh.creation.box(extents=(1e-3, 1e-3, 1e-3)) for _ in range(3)]  # tiny loose parts, material 1
    for i, chip in enumerate(chips):
        chip.apply_translation((2.0 + i, 0, 0))
    parts = [ball, *chips]
    vertices = np.concatenate([p.vertices for p in parts]).astype(np.float32)
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    faces = np.concatenate([p.faces + o for p, o in zip(parts, offsets)]).astype(np.int32)
    material = np.repeat(np.int16([0, 1, 1, 1]), [len(p.faces) for p in parts])
    uv = (vertices[:, :2] - vertices[:, :2].min(axis=0)) / np.ptp(vertices[:, :2], axis=0)
    mesh = MeshData(vertices, faces, uv.astype(np.float32), material, np.ones((2, 4), np.float32), np.int16([0, 0]))
    out = decimate(mesh, 60)
    check_mesh(out, "ball", 60, 1)
    assert len(out.faces) <= 60 and (out.face_material == 0).any()


def test_a_texture_outside_the_models_folder_is_never_read_into_the_pack(tmp_path):
    png(tmp_path / "secret.png")
    folder = tmp_path / "src"
    cube_obj(folder, "cube", texture="../secret.png")
    header = "file,id,category,licence,creator,title,source,size_m"
    (folder / "licences.csv").write_text(f"{header}\ncube.obj,cube,box,CC0-1.0,me,Cube,t,0.1\n")
    notes: list[str] = []
    pack = build_pack(IMPORTERS["folder"](folder, tmp_path), str(tmp_path / "pack"), "t", log=notes.append)
    cube = pack.assets[0]
    assert cube.textures == () and pack.read_mesh(cube).uv is None
    assert pack.read_mesh(cube).material_colour[0, :3] == pytest.approx((0.8, 0.2, 0.2), abs=0.01)  # its colour kept
    assert any("secret.png" in n and "outside" in n for n in notes)


def test_skip_refused_leaves_a_broken_asset_out_and_names_it(tmp_path, capsys):
    rows = ["a.obj,a,box,CC0-1.0,me,A,test,0.1", "b.obj,b,box,CC0-1.0,me,B,test,0.1"]
    folder, out = make_folder(tmp_path, rows, nan_in="b"), tmp_path / "packs" / "mine"
    argv = ["pack", "build", "--from", "folder", str(folder), "--out", str(out)]
    assert main(argv) == 2 and not out.exists()  # by default one refused asset refuses the pack
    assert main([*argv, "--skip-refused"]) == 0
    assert [a.id for a in load_pack(str(out)).assets] == ["a"]
    err = capsys.readouterr().err
    assert "b: left out, refused: " in err and "b.obj" in err and "not finite" in err
    assert main(["pack", "check", str(out), "--skip-refused"]) == 2  # a build-only flag
