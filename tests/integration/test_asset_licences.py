"""Asset licences through the Ray Data job: the shard-writer actor records each shard's
tally and the datasink's manifest sums them, exactly as the writer without Ray does
(tests/unit/test_asset_licences.py checks those totals against a recount of the samples),
and validate passes the result."""

from __future__ import annotations

import json

import pytest

from factory.dataset import manifest as mf
from factory.onray.pipeline import generate_dataset
from factory.trust.validate import validate_dataset
from tests.helpers.assets import licensed_config, make_pack
from tests.helpers.datasets import write_dataset


@pytest.mark.ray
def test_the_ray_job_records_the_same_asset_licences_as_the_plain_writer(tmp_path, ray_local):
    config = licensed_config(make_pack(tmp_path / "pack"))
    generate_dataset(config, str(tmp_path / "ray"), samples=5, shard_size=2, progress=False, log=lambda s: None)
    plain = write_dataset(config, tmp_path / "plain", 5, 2)
    got = json.loads((tmp_path / "ray" / mf.MANIFEST).read_text())
    assert got["assets"] == plain["assets"] and got["assets"]["samples"] > 0 and got["assets"]["attribution"]
    assert validate_dataset(tmp_path / "ray").ok


@pytest.mark.ray
def test_the_ray_job_counts_hdri_backdrops_as_the_plain_writer_does(tmp_path, ray_local):
    from factory.scene.config import parse_config

    render = {"width": 32, "height": 32, "frames": 2, "fps": 12, "substeps": 2, "motion_blur_samples": 1}
    config = parse_config(
        {
            "name": "bd",
            "seed": 11,
            "render": render,
            "output": {"mp4": False},
            "scenarios": {"hdri": {"objects": {"count": 1, "shape": "sphere"}, "backdrop": {"kind": "hdri"}}},
        }
    )
    generate_dataset(config, str(tmp_path / "ray"), samples=4, shard_size=2, progress=False, log=lambda s: None)
    plain = write_dataset(config, tmp_path / "plain", 4, 2)
    got = json.loads((tmp_path / "ray" / mf.MANIFEST).read_text())
    assert got["assets"] == plain["assets"] and got["assets"]["samples"] == 4 and got["assets"]["backdrops"]
    assert sum(row["backdrops"] for row in got["assets"]["licences"].values()) == 4
    assert validate_dataset(tmp_path / "ray").ok
