"""The invariants of ``albedo.png`` and ``material.png`` (factory.trust.intrinsics), on
real rendered samples: a clean one passes; planted corruptions (a sky pixel with
material 3, an object's pixels with another family, an out-of-table id, a floor pixel
off its family, albedo off a plain object's colour or on sky) fail with messages naming
the check and the first bad pixel; a sample without the two members (a dataset made
before issue 25) skips them, in validate too.

Expectations come from the metadata and an sRGB formula written here, never from the
checking code. Samples: 40x32, 2 frames, spheres and boxes of pinned texture ``plain``
on a plain floor under a sky, and a room with walls.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from factory.dataset import manifest as mf
from factory.dataset.shards import build_shard
from factory.sample.decode import decode_sample, png_array
from factory.sample.generate import generate_members
from factory.scene.config import parse_config
from factory.trust.invariants import check_clip
from factory.trust.validate import validate_dataset
from tests.helpers.datasets import write_dataset

SAMPLES = 2


@pytest.fixture(scope="module")
def config():
    render = {"width": 40, "height": 32, "frames": 2, "fps": 12, "substeps": 2, "motion_blur_samples": 1}
    objects = {
        "count": 4,
        "shape": {"dist": "choice", "values": ["sphere", "box"]},
        "texture": "plain",
        "material": {"dist": "choice", "values": ["plastic", "rubber", "metal"]},
        "spawn_radius": 0.6,
    }
    camera = {"distance": 3.0, "elevation_deg": 8.0, "target_height": 0.3}
    return parse_config(
        {
            "name": "intr",
            "seed": 4,
            "render": render,
            "output": {"mp4": False},
            "scenarios": {
                "open": {
                    "objects": objects,
                    "floor": {"material": "stone", "texture": "plain"},
                    "backdrop": {"kind": "sky"},
                    "camera": camera,
                },
                "room": {"objects": objects, "room": {"width": 3.0, "depth": 3.0}, "camera": camera},
            },
        }
    )


@pytest.fixture(scope="module")
def members(config):
    return [generate_members(config, i, samples=SAMPLES) for i in range(SAMPLES)]


def decoded(m: dict):
    arrays = {k: np.array(png_array(v)) if k.endswith(".png") else v for k, v in m.items()}  # writable
    frames, meta = decode_sample(arrays)
    return frames, arrays["flow.png"], meta


def failures(frames, flow, meta) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    check_clip(frames, flow, meta, lambda check, message: out.setdefault(check, []).append(message))
    return out


def srgb8(c) -> np.ndarray:
    """sRGB bytes of linear colour c, IEC 61966-2-1 (written here, independently)."""
    c = np.clip(np.asarray(c, float), 0, 1)
    return np.round(255 * np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055))


def test_clean_samples_pass_and_the_checks_have_something_to_check(members):
    walls_seen = False
    for m in members:
        frames, flow, meta = decoded(m)
        assert failures(frames, flow, meta) == {}
        sky = frames.depth == 0
        assert sky.any() or meta["walls"] is not None
        assert np.array_equal(frames.material == 0, sky)
        for o in meta["objects"]:
            pix = frames.instance == o["id"]
            if pix.any():  # plain objects: albedo is the colour's sRGB byte within 1
                want = srgb8(o["material"]["color"])
                assert np.abs(frames.albedo[pix].astype(int) - want).max() <= 1
                assert (frames.material[pix] == o["material"]["family_id"]).all()
        walls_seen |= meta["walls"] is not None
    assert walls_seen and any(d["scenario"] == "open" for d in (decoded(m)[2] for m in members))


def _open_sample(members):
    for m in members:
        frames, flow, meta = decoded(m)
        if meta["walls"] is None and (frames.depth == 0).any():
            return frames, flow, meta
    raise AssertionError("no sample with sky")


def _first_pixel(mask: np.ndarray) -> tuple[int, int, int]:
    t, v, u = np.argwhere(mask)[0]
    return int(t), int(v), int(u)


def test_a_sky_pixel_with_a_material_fails_naming_it(members):
    frames, flow, meta = _open_sample(members)
    t, v, u = _first_pixel(frames.depth == 0)
    frames.material[t, v, u] = 3
    got = failures(frames, flow, meta)
    assert list(got) == ["material.sky"]
    assert f"1 pixel, first in frame {t} at (u={u}, v={v}), id 3" in got["material.sky"][0]


def test_an_object_with_another_family_fails_naming_the_object(members):
    frames, flow, meta = _open_sample(members)
    o = next(o for o in meta["objects"] if (frames.instance == o["id"]).any())
    pix = frames.instance == o["id"]
    other = 1 if o["material"]["family_id"] != 1 else 2
    frames.material[pix] = other
    t, v, u = _first_pixel(pix)
    got = failures(frames, flow, meta)
    assert list(got) == ["material.object"]
    message = got["material.object"][0]
    assert message.startswith(f"object {o['id']}: material id {other}, its family_id is {o['material']['family_id']}")
    assert f"{int(pix.sum())} pixels, first in frame {t} at (u={u}, v={v})" in message


def test_an_id_outside_the_table_fails(members):
    frames, flow, meta = _open_sample(members)
    floor = (frames.instance == 0) & (frames.depth > 0)
    t, v, u = _first_pixel(floor)
    frames.material[t, v, u] = len(meta["material_families"])
    got = failures(frames, flow, meta)
    assert set(got) == {"material.table", "material.surface"}
    assert got["material.table"][0].startswith(
        f"material id {len(meta['material_families'])} not < len(material_families) = "
        f"{len(meta['material_families'])}: 1 pixel, first in frame {t} at (u={u}, v={v})"
    )
    assert got["material.surface"][0].startswith("floor: material id")


def test_albedo_off_a_plain_objects_colour_or_on_sky_fails(members):
    frames, flow, meta = _open_sample(members)
    o = next(o for o in meta["objects"] if (frames.instance == o["id"]).any())
    t, v, u = _first_pixel(frames.instance == o["id"])
    frames.albedo[t, v, u] = (srgb8(o["material"]["color"]).astype(int) + 3) % 256  # 3 levels off
    ts, vs, us = _first_pixel(frames.depth == 0)
    frames.albedo[ts, vs, us, 1] = 9
    got = failures(frames, flow, meta)
    assert set(got) == {"albedo.color", "albedo.sky"}
    assert got["albedo.color"][0].startswith(f"object {o['id']} (texture plain): albedo")
    assert got["albedo.color"][0].endswith(f"1 pixel, first in frame {t} at (u={u}, v={v})")
    assert got["albedo.sky"][0].endswith(f"1 pixel, first in frame {ts} at (u={us}, v={vs})")


def test_a_sample_without_the_members_skips_the_checks(members):
    frames, flow, meta = _open_sample(members)
    frames.material[:] = 7  # would fail everything, but a pre-issue-25 sample has neither member
    frames.albedo, frames.material = None, None
    assert failures(frames, flow, meta) == {}


def _rewrite_members(folder: Path, edit) -> None:
    """Apply ``edit(key, members)`` to every sample of every shard; fix the manifest's
    byte counts and hashes so only the content checks see it."""
    man = json.loads((folder / mf.MANIFEST).read_text())
    for rec in man["shards"]:
        samples = []
        with tarfile.open(folder / rec["name"]) as tar:
            for info in tar.getmembers():
                k, ext = info.name.split(".", 1)
                if not samples or samples[-1][0] != k:
                    samples.append((k, {}))
                samples[-1][1][ext] = tar.extractfile(info).read()
        for k, m in samples:
            edit(k, m)
        data = build_shard(samples)
        (folder / rec["name"]).write_bytes(data)
        rec["bytes"], rec["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    man["bytes"] = sum(r["bytes"] for r in man["shards"])
    (folder / mf.MANIFEST).write_text(json.dumps(man, indent=2))


@pytest.fixture(scope="module")
def clean(tmp_path_factory, config):
    folder = tmp_path_factory.mktemp("intr") / "clean"
    write_dataset(config, folder, SAMPLES, SAMPLES)
    return folder


def test_validate_names_a_planted_sky_material_and_passes_an_older_dataset(clean, tmp_path):
    import cv2

    assert validate_dataset(clean).ok
    bad = Path(shutil.copytree(clean, tmp_path / "bad"))
    planted = {}

    def plant(key, m):
        if planted:
            return
        depth = png_array(m["depth.png"])
        if not (depth == 0).any():
            return
        mat = png_array(m["material.png"]).copy()
        v, u = np.argwhere(depth == 0)[0]
        mat[v, u] = 3
        m["material.png"] = cv2.imencode(".png", mat)[1].tobytes()
        planted[key] = (int(v), int(u))

    _rewrite_members(bad, plant)
    result = validate_dataset(bad)
    ((key, (v, u)),) = planted.items()
    assert [(f["check"], f["key"]) for f in result.failures] == [("material.sky", key)]
    assert f"first in frame 0 at (u={u}, v={v})" in result.failures[0]["message"]

    old = Path(shutil.copytree(clean, tmp_path / "old"))
    _rewrite_members(old, lambda key, m: [m.pop(n) for n in ("albedo.png", "material.png")])
    result = validate_dataset(old)
    assert result.ok, result.lines()
