"""Pack assets as MeshAssets (factory/assets/loaded.py): every starter asset normalised
to the unit box with its real size, pieces and decoded textures; mass from the mesh
when it is closed and from its pieces when not (checked against analytic volumes);
the per-process caches.

Independent checks: Pillow's own reading of each texture file's size, the pack's
recorded sizes, and the analytic volumes of an L-shaped prism and of its hull."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from factory.assets.build import build_pack
from factory.assets.importers import IMPORTERS
from factory.assets.loaded import (
    STARTER,
    PackMeshCache,
    build_pack_mesh,
    open_pack,
    pack_mesh,
    pack_mesh_stats,
    pack_url,
)
from factory.assets.meshfile import PART_TOLERANCE
from factory.assets.pack import load_pack


@pytest.fixture(scope="module")
def starter():
    pack = open_pack("starter")
    return pack, {r.id: pack_mesh(pack, r) for r in pack.assets}


def test_every_starter_asset_is_a_unit_mesh_of_its_real_size(starter):
    pack, built = starter
    for r in pack.assets:
        asset, scale = built[r.id]
        v = asset.vertices.astype(np.float64)
        assert asset.kind == f"pack:starter/{r.id}@{r.sha256[r.mesh][:12]}"
        assert np.abs(v).max() == pytest.approx(1.0, abs=1e-6), r.id
        np.testing.assert_allclose((v.min(axis=0) + v.max(axis=0)) / 2, 0.0, atol=1e-5, err_msg=r.id)
        assert 2 * scale == pytest.approx(max(r.size_m), rel=1e-4), r.id  # metres per unit: the half-extent
        np.testing.assert_allclose(np.ptp(v, axis=0) * scale, r.size_m, rtol=1e-3, atol=1e-5, err_msg=r.id)
        assert len(asset.faces) and asset.faces.max() < len(v), r.id
        np.testing.assert_allclose(np.linalg.norm(asset.normals, axis=1), 1.0, atol=1e-4, err_msg=r.id)
        assert np.isfinite(asset.volume) and 0 < asset.volume <= np.prod(np.ptp(v, axis=0)) * 1.0001, r.id
        assert np.isfinite(asset.centroid).all() and np.isfinite(asset.moment).all(), r.id


def test_every_starter_asset_has_pieces_within_its_box(starter):
    pack, built = starter
    tol = PART_TOLERANCE * 2 + 1e-5  # the tolerance is a share of the largest extent: 2 in the unit box
    for r in pack.assets:
        asset, _ = built[r.id]
        assert 1 <= len(asset.parts) <= 16, r.id
        for piece in asset.parts:
            assert piece.shape[1] == 3 and len(piece) >= 4 and np.isfinite(piece).all(), r.id
            assert np.abs(piece).max() <= 1 + tol, r.id


def test_every_starter_texture_decodes_to_its_files_size_in_rgba(starter):
    pack, built = starter
    seen = 0
    for r in pack.assets:
        asset, _ = built[r.id]
        assert len(asset.textures) == len(r.textures), r.id
        for path, tex in zip(r.textures, asset.textures):
            with Image.open(STARTER / path) as img:
                w, h = img.size
                opaque = "A" not in img.getbands()
            assert tex.shape == (h, w, 4) and tex.dtype == np.uint8, path
            assert not opaque or (tex[..., 3] == 255).all(), path
            seen += 1
        if r.textures:
            assert asset.uv is not None and asset.uv.shape == (len(asset.vertices), 2), r.id
            assert asset.material_texture.max() < len(asset.textures), r.id
        assert asset.face_material.shape == (len(asset.faces),), r.id
    assert seen >= 20  # 387 of 820 Sweet Home 3D models carry textures; the starter pack has dozens


def test_a_cached_asset_is_the_same_object_the_second_time_and_counted(starter):
    pack, _ = starter
    record = pack.assets[0]
    first = pack_mesh(pack, record)
    before = pack_mesh_stats()
    again = pack_mesh(pack, record)
    after = pack_mesh_stats()
    assert again is first and again[0] is first[0]
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)
    assert after.bytes >= first[0].nbytes and after.bytes <= after.max_bytes
    assert not first[0].vertices.flags.writeable and not first[0].textures[0].flags.writeable  # shared: read-only


def test_the_cache_keeps_within_its_bytes_and_evicts_the_oldest(starter):
    pack, built = starter
    a, b = pack.assets[0], pack.assets[1]
    cache = PackMeshCache(max_bytes=max(built[a.id][0].nbytes, built[b.id][0].nbytes))
    cache.get(pack, a)
    cache.get(pack, b)
    stats = cache.stats()
    assert (stats.misses, stats.evictions, stats.entries) == (2, 1, 1) and stats.bytes <= stats.max_bytes
    assert cache.get(pack, b) is cache.get(pack, b)
    none = PackMeshCache(max_bytes=0)
    assert none.get(pack, a)[0].kind == built[a.id][0].kind and none.stats().entries == 0


def test_packs_resolve_by_name_and_load_once():
    assert pack_url("starter") == str(Path(__file__).resolve().parents[2] / "factory" / "assets" / "starter")
    assert pack_url("s3://bucket/packs/mine") == "s3://bucket/packs/mine"
    assert open_pack("starter") is open_pack("starter")


def _l_prism_obj(folder: Path, name: str, open_top: bool) -> None:
    """An L-shaped prism: a 2 x 2 square less a 1 x 1 quadrant, 1 high (z), written as
    OBJ; with ``open_top``, its top faces left out (a mesh that bounds nothing)."""
    import manifold3d

    m = manifold3d.Manifold.cube([2, 2, 1]) - manifold3d.Manifold.cube([1, 1, 3]).translate([1, 1, -1])
    mesh = m.to_mesh64()
    v, f = np.asarray(mesh.vert_properties)[:, :3], np.asarray(mesh.tri_verts)
    if open_top:
        f = f[~np.isclose(v[f][:, :, 2], 1.0).all(axis=1)]
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in v] + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in f]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.obj").write_text("\n".join(lines) + "\n")


# In the unit box the L spans x, y in [-1, 1] less the quadrant x, y > 0, z in [-1/2, 1/2];
# its hull also less the triangle x + y > 1 of that quadrant. Integrals by hand: the
# second moment's xx is the square's 4/3 less the quadrant's 1/3 (the triangle's 1/4),
# xy the quadrant's 1/4 (the triangle's 5/24) taken away, zz the area over 12.
L_CLOSED = (0.75, -1 / 6, [[1, -1 / 4, 0], [-1 / 4, 1, 0], [0, 0, 1 / 4]])
L_HULL = (0.875, -2 / 21, [[13 / 12, -5 / 24, 0], [-5 / 24, 13 / 12, 0], [0, 0, 7 / 24]])


@pytest.mark.parametrize(("open_top", "expected"), [(False, L_CLOSED), (True, L_HULL)])
def test_a_closed_mesh_keeps_its_volume_and_an_open_one_takes_its_pieces(tmp_path, open_top, expected):
    """Closed: the L's own volume (3/4 of its box), centroid and second moment. Open:
    its hull's (its one piece, built with --parts hull: 7/8 of the box)."""
    share, centre, moment = expected
    folder = tmp_path / "src"
    _l_prism_obj(folder, "ell", open_top)
    header = "file,id,category,licence,creator,title,source,size_m,up"
    (folder / "licences.csv").write_text(f"{header}\nell.obj,ell,toy,CC0-1.0,Jane,Ell,https://example.org,0.3,z\n")
    build_pack(IMPORTERS["folder"](folder, tmp_path / "work"), str(tmp_path / "pack"), "test", parts="hull")
    pack = load_pack(str(tmp_path / "pack"))
    asset, scale = build_pack_mesh(pack, pack.assets[0])
    box = float(np.prod(np.ptp(asset.vertices.astype(np.float64), axis=0)))
    assert scale == pytest.approx(0.15)
    assert asset.volume == pytest.approx(share * box, rel=1e-5)
    np.testing.assert_allclose(asset.centroid, [centre, centre, 0.0], atol=1e-5)
    np.testing.assert_allclose(asset.moment, moment, atol=1e-5)


def test_a_texture_altered_after_the_pack_was_opened_is_refused_naming_it(tmp_path):
    import shutil

    from factory.errors import AssetError

    root = tmp_path / "starter"
    shutil.copytree(STARTER, root)
    pack = load_pack(str(root))
    record = next(r for r in pack.assets if r.textures)
    (root / record.textures[0]).write_bytes(b"not the texture")
    with pytest.raises(AssetError) as e:
        build_pack_mesh(pack, record)
    assert e.value.file == f"{root}/{record.textures[0]}" and "sha256" in e.value.message
    with pytest.raises(AssetError, match="not a file of asset"):
        pack.read_file(record, pack.assets[-1].mesh if pack.assets[-1] is not record else pack.assets[0].mesh)
