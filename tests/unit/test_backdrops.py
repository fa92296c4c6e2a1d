"""Backdrops (factory/assets/backdrops): the curated set verified, the direction
convention, downscaling that keeps the radiance, the sun against an independent
argmax, refusals naming the file, and tiny sources built here through the importers."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from factory.assets.backdrops.build import build_backdrops, prepare
from factory.assets.backdrops.image import decode_image, directions, downscale, encode_image, sun
from factory.assets.backdrops.importers import import_blender, import_folder, import_pmndrs
from factory.assets.backdrops.loaded import CURATED, backdrop_image, open_backdrops
from factory.assets.backdrops.pack import load_backdrops, split_backdrops
from factory.cli import main
from factory.errors import AssetError


@pytest.fixture(scope="module")
def curated():
    return load_backdrops(str(CURATED))


# ---- independent references -------------------------------------------------------


def _pixel_direction(i: float, j: float, h: int, w: int) -> np.ndarray:
    """Blender's equirectangular mapping inverted, written out: row i, column j (centres)."""
    theta, phi = math.pi * (i + 0.5) / h, math.pi * (1 - 2 * (j + 0.5) / w)
    return np.array([math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi), math.cos(theta)])


def _band_weights(h: int, w: int) -> np.ndarray:
    """Each row's pixel solid angle by numerical integration of sin(theta) (not the
    closed form the module uses)."""
    out = np.empty(h)
    for i in range(h):
        t = np.linspace(math.pi * i / h, math.pi * (i + 1) / h, 201)
        s = np.sin(t)
        out[i] = float(np.sum((s[1:] + s[:-1]) / 2 * np.diff(t))) * 2 * math.pi / w
    return out


def _mean(image: np.ndarray) -> np.ndarray:
    w = _band_weights(*image.shape[:2])
    return (np.asarray(image, np.float64) * w[:, None, None]).sum(axis=(0, 1)) / (4 * math.pi)


def _blurred_argmax(image: np.ndarray, k: int = 2) -> tuple[int, int]:
    """Argmax of luminance box-blurred by shifted copies (wrap in azimuth, edge rows repeated)."""
    lum = np.asarray(image, np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    h = lum.shape[0]
    total = np.zeros_like(lum)
    for di in range(-k, k + 1):
        rows = np.clip(np.arange(h) + di, 0, h - 1)
        for dj in range(-k, k + 1):
            total += np.roll(lum[rows], -dj, axis=1)
    return np.unravel_index(int(np.argmax(total)), total.shape)


def _sky_with_sun(h: int, w: int, sun_dir: np.ndarray, share: float) -> np.ndarray:
    """A uniform sky of radiance 1 plus a 3-degree disc around ``sun_dir`` holding
    ``share`` of the power."""
    dirs = np.stack([[_pixel_direction(i, j, h, w) for j in range(w)] for i in range(h)])
    disc = dirs @ sun_dir >= math.cos(math.radians(3))
    weights = np.broadcast_to(_band_weights(h, w)[:, None], (h, w))
    sky = np.ones((h, w, 3))
    extra = share / (1 - share) * 4 * math.pi / weights[disc].sum()
    sky[disc] += extra
    return sky


# ---- the curated set --------------------------------------------------------------


def test_curated_set_loads_with_every_hash_verified(curated):
    assert 6 <= len(curated.backdrops) <= 10
    total = 0
    for b in curated.backdrops:
        for path, digest in b.sha256.items():
            data = (CURATED / path).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest
            total += len(data)
        assert (CURATED / b.image).stat().st_size == b.bytes
    assert total < 3 * 2**20  # the repository carries it
    assert sorted(p.name for p in CURATED.iterdir()) == sorted([*(b.id for b in curated.backdrops), "pack.json"])
    ids = [line for line in (CURATED.parent / "curated.ids").read_text().splitlines() if not line.startswith("#")]
    assert ids == [b.id for b in curated.backdrops]


def test_curated_licences_are_cc0_with_attribution(curated):
    for b in curated.backdrops:
        assert b.licence == "CC0-1.0"
        assert b.creator and b.title and b.source
        assert b.source.startswith(("debian:blender-data=3.4.1+dfsg-2:", "npm:@pmndrs/assets@1.7.0:"))
        assert len(b.notices) == 1
        assert "CC0" in (CURATED / b.notices[0]).read_text()


def test_curated_images_are_finite_non_negative_equirectangular(curated):
    for b in curated.backdrops:
        image = decode_image((CURATED / b.image).read_bytes(), b.image)
        assert image.dtype == np.float16 and image.shape == (b.height, b.width, 3) == (128, 256, 3)
        assert np.isfinite(image).all() and (image >= 0).all()
        assert float(image.max()) > 0
        assert encode_image(image) == (CURATED / b.image).read_bytes()  # the bytes are a function of the pixels


def test_recorded_statistics_match_independent_ones(curated):
    for b in curated.backdrops:
        image = curated.read_image(b)
        np.testing.assert_allclose(b.mean_radiance, _mean(image), rtol=1e-5, atol=1e-9)
        i, j = _blurred_argmax(image)
        expected = _pixel_direction(i, j, b.height, b.width)
        angle = math.degrees(math.acos(min(1.0, float(np.dot(b.sun.direction, expected)))))
        assert angle < 0.1, (b.id, angle)


def test_open_backdrops_and_images_are_shared_and_read_only():
    pack = open_backdrops("curated")
    assert open_backdrops("curated") is pack
    record = pack.backdrops[0]
    image = backdrop_image(pack, record)
    assert backdrop_image(pack, record) is image
    assert image.dtype == np.float32 and not image.flags.writeable


def test_held_out_split_is_by_id_hash(curated):
    test = {b.id for b in split_backdrops(curated, "test")}
    train = {b.id for b in split_backdrops(curated, "train")}
    expected = {
        b.id
        for b in curated.backdrops
        if int.from_bytes(hashlib.sha256(b.id.encode()).digest()[:8], "big") < 0.1 * 2**64
    }
    assert test == expected and not test & train and test | train == {b.id for b in curated.backdrops}


# ---- the convention, downscaling and the sun --------------------------------------


def test_directions_follow_blenders_mapping():
    h, w = 16, 32
    dirs = directions(h, w)
    assert np.allclose(np.linalg.norm(dirs, axis=-1), 1)
    assert dirs[0, 0, 2] > 0.99 and dirs[-1, 0, 2] < -0.99  # row 0 at the zenith
    rng = np.random.default_rng(3)
    for d in rng.normal(size=(50, 3)):
        d /= np.linalg.norm(d)
        u = 0.5 - math.atan2(d[1], d[0]) / (2 * math.pi)  # Blender's direction_to_equirectangular
        v = math.acos(d[2]) / math.pi
        i, j = min(int(v * h), h - 1), min(int(u * w), w - 1)
        assert np.allclose(dirs[i, j], _pixel_direction(i, j, h, w))
        assert float(dirs[i, j] @ d) > math.cos(math.pi / h * 1.5)


def test_downscaling_keeps_the_mean_radiance():
    rng = np.random.default_rng(7)
    image = rng.lognormal(0.0, 1.0, size=(64, 128, 3)) * np.linspace(0.2, 3.0, 64)[:, None, None]
    for factor in (2, 4, 8):
        small = downscale(image, factor)
        assert small.shape == (64 // factor, 128 // factor, 3)
        np.testing.assert_allclose(_mean(small), _mean(image), rtol=1e-6)
    stored = prepare(image.astype(np.float32), 32, "<synthetic>")
    assert stored.dtype == np.float16 and stored.shape == (16, 32, 3)
    np.testing.assert_allclose(_mean(stored), _mean(image), rtol=2**-11)
    naive = image.reshape(8, 8, 16, 8, 3).mean(axis=(1, 3))  # unweighted: what the build must not do
    assert np.abs(_mean(naive) / _mean(image) - 1).max() > 1e-3


def test_a_planted_sun_is_found_with_its_share():
    h, w = 64, 128
    az, el = math.radians(30), math.radians(40)
    sun_dir = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    found = sun(_sky_with_sun(h, w, sun_dir, 0.5))
    assert math.degrees(math.acos(min(1.0, float(np.dot(found.direction, sun_dir))))) < 360 / w * 1.5
    cone = (1 - math.cos(math.radians(10))) / 2  # the uniform sky's share of the 10-degree cone
    assert found.share == pytest.approx(0.5 + 0.5 * cone, abs=0.02)


# ---- refusals ---------------------------------------------------------------------


def _copy(tmp_path: Path) -> Path:
    out = tmp_path / "pack"
    shutil.copytree(CURATED, out)
    return out


def _edit_meta(pack: Path, change) -> None:
    meta = json.loads((pack / "pack.json").read_text())
    change(meta["backdrops"][0])
    (pack / "pack.json").write_text(json.dumps(meta))


def test_a_corrupted_file_or_wrong_hash_is_refused_naming_it(tmp_path, curated):
    first = curated.backdrops[0]
    pack = _copy(tmp_path)
    data = bytearray((pack / first.image).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (pack / first.image).write_bytes(bytes(data))
    with pytest.raises(AssetError, match=f"{first.image}.*sha256"):
        load_backdrops(str(pack))
    pack = _copy(tmp_path / "b")
    _edit_meta(pack, lambda b: b["sha256"].update({b["image"]: "0" * 64}))
    with pytest.raises(AssetError, match=f"{first.image}.*does not match"):
        load_backdrops(str(pack))


@pytest.mark.parametrize(
    ("value", "message"), [(-0.5, "negative"), (np.inf, "not finite"), (np.nan, "not finite"), (None, "(H, 2H, 3)")]
)
def test_bad_pixels_are_refused_naming_the_file(tmp_path, curated, value, message):
    first = curated.backdrops[0]
    pack = _copy(tmp_path)
    image = curated.read_image(first).copy()
    if value is None:
        image = image[:, :128]
    else:
        image[5, 7, 1] = value
    data = encode_image(image)
    (pack / first.image).write_bytes(data)
    _edit_meta(pack, lambda b: b.update(sha256={**b["sha256"], b["image"]: hashlib.sha256(data).hexdigest()}))
    _edit_meta(pack, lambda b: b.update(bytes=len(data)))
    with pytest.raises(AssetError, match=f"{first.image}.*{message}" if value is not None else first.image):
        load_backdrops(str(pack))


@pytest.mark.parametrize(("spdx", "message"), [("LicenseRef-mine", "unknown"), ("WTFPL", "not an SPDX id")])
def test_a_bad_licence_is_refused_naming_pack_json(tmp_path, spdx, message):
    pack = _copy(tmp_path)
    _edit_meta(pack, lambda b: b.update(licence=spdx))
    with pytest.raises(AssetError, match=f"pack.json.*{message}"):
        load_backdrops(str(pack))


# ---- importers, from tiny sources made here ----------------------------------------


def _write_exr(path: Path, rgb: np.ndarray) -> None:
    openexr = pytest.importorskip("OpenEXR")
    header = {"compression": openexr.ZIP_COMPRESSION, "type": openexr.scanlineimage}
    with openexr.File(header, {"RGB": np.ascontiguousarray(rgb, dtype=np.float32)}) as f:
        f.write(str(path))


def _sky(h: int = 16, w: int = 32) -> np.ndarray:
    rng = np.random.default_rng(11)
    return (rng.uniform(0.1, 2.0, size=(h, w, 3)) * np.linspace(2, 0.2, h)[:, None, None]).astype(np.float32)


def test_a_folder_of_hdr_and_exr_goes_through_the_cli(tmp_path, capsys):
    import cv2

    src = tmp_path / "src"
    src.mkdir()
    sky = _sky()
    assert cv2.imwrite(str(src / "a.hdr"), sky[:, :, ::-1])
    with_negative = sky.copy()
    with_negative[3, 4] = -70.0
    _write_exr(src / "b.exr", with_negative)
    (src / "licence.txt").write_text("CC0 1.0, by me\n")
    rows = ["file,id,category,licence,creator,title,source,notice"]
    rows += [f"{n},{n[0]}-sky,outdoor,CC0-1.0,Me,Sky {n[0]},made in a test,licence.txt" for n in ("a.hdr", "b.exr")]
    (src / "licences.csv").write_text("\n".join(rows) + "\n")
    assert (
        main(["backdrops", "build", "--from", "folder", str(src), "--out", str(tmp_path / "out"), "--width", "16"]) == 0
    )
    err = capsys.readouterr().err
    assert f"{src / 'b.exr'}: 3 negative values" in err  # one pixel's three channels
    pack = load_backdrops(str(tmp_path / "out"))
    assert [b.id for b in pack.backdrops] == ["a-sky", "b-sky"]
    a, b = (pack.read_image(r).astype(np.float64) for r in pack.backdrops)
    assert a.shape == b.shape == (8, 16, 3)
    np.testing.assert_allclose(_mean(a), _mean(sky), rtol=0.01)  # Radiance RGBE keeps ~1%
    expected = np.maximum(downscale(with_negative, 2), 0)  # downscaled, then clamped
    assert (expected == 0).any()  # the negative pixel outweighs its block
    np.testing.assert_allclose(_mean(b), _mean(expected), rtol=2**-10)
    np.testing.assert_allclose(b, expected, rtol=2**-10, atol=1e-7)
    assert main(["backdrops", "check", str(tmp_path / "out")]) == 0
    assert "2 backdrops" in capsys.readouterr().out
    assert main(["backdrops", "check", "curated"]) == 0
    assert "backdrop pack curated" in capsys.readouterr().out


def test_refused_sources_leave_nothing_behind(tmp_path):
    import cv2

    src = tmp_path / "src"
    src.mkdir()
    assert cv2.imwrite(str(src / "square.hdr"), np.ones((16, 16, 3), np.float32))
    assert cv2.imwrite(str(src / "ok.hdr"), np.ones((16, 32, 3), np.float32))
    header = "file,id,category,licence,creator,title,source\n"
    for rows, message in (
        ("ok.hdr,ok,outdoor,CC0-1.0,Me,Ok,test\nsquare.hdr,sq,outdoor,CC0-1.0,Me,Sq,test\n", "square.hdr.*(H, 2H, 3)"),
        ("ok.hdr,ok,outdoor,LicenseRef-x,Me,Ok,test\n", "ok.hdr.*unknown"),
        ("ok.hdr,ok,outside,CC0-1.0,Me,Ok,test\n", "licences.csv line 2.*category"),
    ):
        (src / "licences.csv").write_text(header + rows)
        with pytest.raises(AssetError, match=message):
            build_backdrops(import_folder(src, tmp_path / "work"), str(tmp_path / "out"), "t", width=16)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_a_sun_of_one_channel_is_logged(tmp_path):
    import cv2

    src = tmp_path / "src"
    src.mkdir()
    sky = _sky()
    sky[4, 9] = (0.0, 0.0, 5000.0)  # blue alone: a source that lost red and green there
    assert cv2.imwrite(str(src / "blue.hdr"), sky[:, :, ::-1])
    (src / "licences.csv").write_text(
        "file,id,category,licence,creator,title,source\nblue.hdr,blue,outdoor,CC0-1.0,Me,B,t\n"
    )
    lines = []
    build_backdrops(import_folder(src, tmp_path / "work"), str(tmp_path / "out"), "t", width=32, log=lines.append)
    assert any("blue.hdr: the brightest pixel's colour is far from white" in line for line in lines)


def test_blender_and_pmndrs_layouts_import(tmp_path):
    world = tmp_path / "blender" / "usr/share/blender/datafiles/studiolights/world"
    world.mkdir(parents=True)
    _write_exr(world / "forest.exr", _sky())
    (world / "license.txt").write_text(
        "All HDRIs are licenses as CC0.\n\nThese were created by Greg Zaal (HDRI Haven).\n"
    )
    (found,) = import_blender(tmp_path / "blender", tmp_path / "w1")
    assert (found.id, found.licence, found.category) == ("blender-forest", "CC0-1.0", "outdoor")
    assert found.creator == "Greg Zaal (HDRI Haven)"
    (world / "license.txt").write_text("All rights reserved.\n")
    with pytest.raises(AssetError, match="license.txt.*CC0"):
        import_blender(tmp_path / "blender", tmp_path / "w2")

    package = tmp_path / "npm" / "package"
    (package / "hdri").mkdir(parents=True)
    _write_exr(tmp_path / "city.exr", _sky())
    b64 = base64.b64encode((tmp_path / "city.exr").read_bytes()).decode()
    (package / "hdri" / "city.exr.js").write_text(f"export default 'data:application/exr;base64,{b64}'\n")
    (package / "LICENSE").write_text("CC0 1.0 Universal\n")
    meta = {"name": "@pmndrs/assets", "version": "1.7.0", "license": "CC0-1.0"}
    (package / "package.json").write_text(json.dumps(meta))
    (found,) = import_pmndrs(package, tmp_path / "w3")
    assert found.id == "pmndrs-city" and found.source == "npm:@pmndrs/assets@1.7.0:hdri/city.exr.js"
    pack = build_backdrops([found], str(tmp_path / "out"), "npm", width=32)
    np.testing.assert_allclose(pack.read_image(pack.backdrops[0]), _sky(), rtol=2**-10)
    (package / "package.json").write_text(json.dumps({**meta, "license": "MIT"}))
    with pytest.raises(AssetError, match="package.json.*CC0-1.0"):
        import_pmndrs(package, tmp_path / "w4")
