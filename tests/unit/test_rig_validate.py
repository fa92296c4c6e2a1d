"""``factory validate`` (with the oracle) on a rig's dataset: every camera's members,
invariants and oracle checks pass on unmodified data; depth moved 5 mm on camera 1's
object pixels is caught by the oracle and named with the camera."""

from __future__ import annotations

import shutil

import pytest

from factory.sample.decode import png_array
from factory.sample.png import png
from factory.scene.config import parse_config
from factory.trust.validate import validate_dataset
from tests.helpers.datasets import write_dataset
from tests.helpers.validate import read_tar, rewrite_shard

SAMPLES = 2


@pytest.fixture(scope="module")
def rig_dataset(tmp_path_factory):
    config = parse_config(
        {
            "name": "rig",
            "seed": 9,
            "licence": "CC-BY-4.0",
            "render": {"width": 48, "height": 32, "frames": 2, "fps": 12, "substeps": 2, "cameras": 3},
            "output": {"mp4": False, "tracks": 32},
            "scenarios": {
                "stereo": {"objects": {"count": 3}, "camera": {"rig": "stereo", "baseline": 0.15}},
                "ring": {"objects": {"count": 3}, "camera": {"rig": "ring", "ring_spread_deg": 360.0}},
            },
        }
    )
    folder = tmp_path_factory.mktemp("rig") / "ds"
    write_dataset(config, folder, SAMPLES, SAMPLES)
    return folder


def test_a_rig_dataset_passes_validate_with_the_oracle_on_every_camera(rig_dataset):
    ((_, members), *_) = read_tar(rig_dataset / "rig-000000.tar")
    assert {f"cam{c}.{m}" for c in (1, 2) for m in ("depth.png", "flow.png", "track_world.npy")} <= set(members)
    result = validate_dataset(rig_dataset, oracle=0.2)
    assert result.ok, result.lines()
    # The oracle sampled a fifth of every frame of all three cameras (samples x cameras x frames x pixels).
    assert result.oracle["depth"]["sampled"] >= 0.95 * 0.2 * SAMPLES * 3 * 2 * 48 * 32


def test_camera_one_depth_moved_five_millimetres_is_caught_and_named(rig_dataset, tmp_path):
    ds = shutil.copytree(rig_dataset, tmp_path / "ds")
    samples = read_tar(ds / "rig-000000.tar")
    key, members = samples[0]
    codes = png_array(members["cam1.depth.png"]).copy()
    inst = png_array(members["cam1.instance.png"])
    codes[(inst > 0) & (codes > 0)] += 5  # millimetres
    members["cam1.depth.png"] = png(codes, "up")
    rewrite_shard(ds, "rig-000000.tar", samples)
    result = validate_dataset(ds, oracle=1.0)
    assert not result.ok
    named = [f for f in result.failures if f["key"] == key and f["check"].startswith("oracle")]
    assert named and all(f["message"].startswith("camera 1: depth") for f in named), result.lines()
    assert not [f for f in result.failures if not f["message"].startswith("camera 1:")], result.lines()
