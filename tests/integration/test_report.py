"""``factory report`` with real services: the Ray engine writes the same files as the
local one, and a dataset on S3 (the moto server). The numbers it shows, checked against
the shards read by hand: tests/unit/test_report.py.

Every expected value is computed here from the tar files with ``tarfile``, ``json``,
Pillow and numpy, not through factory's reader, decoder or the report's own code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from factory.cli import main
from tests.helpers.datasets import write_dataset
from tests.helpers.report import SAMPLES, report


@pytest.mark.ray
def test_the_ray_engine_writes_the_same_files(dataset, ray_local, tmp_path, capsys):
    """One Ray Data task per shard, merged in dataset order: every file is the local
    engine's, byte for byte; five previews span the first two shards of four samples."""
    folder, manifest = dataset
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    report(folder, local, "--previews", "5")
    report(folder, on_ray, "--previews", "5", "--engine", "ray", "--workers", "2")
    files = sorted(p.name for p in local.iterdir())
    assert files == sorted(p.name for p in on_ray.iterdir()) and "report.html" in files
    for name in files:
        assert (local / name).read_bytes() == (on_ray / name).read_bytes(), name
    stats = json.loads((on_ray / "stats.json").read_text())
    assert stats["dataset"]["samples_read"] == SAMPLES
    assert stats["dataset"]["shards_read"] == [r["name"] for r in manifest["shards"]]
    assert "read 3/3 shards" in capsys.readouterr().out

    # A truncated shard fails the report on a worker, and the error names it.
    broken = Path(shutil.copytree(folder, tmp_path / "broken"))
    name = manifest["shards"][1]["name"]
    (broken / name).write_bytes((broken / name).read_bytes()[:1000])
    assert main(["report", str(broken), "--out", str(tmp_path / "out"), "--engine", "ray"]) == 2
    err = capsys.readouterr().err
    assert name in err and "cut short" in err
    assert not (tmp_path / "out" / "report.html").exists()


def test_max_samples_is_refused_with_the_ray_engine(dataset, tmp_path, capsys):
    assert (
        main(["report", str(dataset[0]), "--out", str(tmp_path / "out"), "--engine", "ray", "--max-samples", "3"]) == 2
    )
    err = capsys.readouterr().err
    assert "max_samples: 3 reads the first samples in order" in err and "engine 'local'" in err
    assert not (tmp_path / "out").exists()


def test_reads_from_s3(tiny_config, s3, tmp_path):
    write_dataset(tiny_config, s3.url, 4, 2)
    stats = report(s3.url, tmp_path / "out")
    assert stats["dataset"]["samples_read"] == 4 and stats["dataset"]["url"] == s3.url
    assert stats["depth_m"]["count"] > 0
