"""What tests/unit/test_report.py and tests/integration/test_report.py share: ``report()``
(the command, its stats.json) and a local dataset of the tiny config (fixture ``dataset``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.cli import main
from tests.helpers.datasets import write_dataset

SAMPLES, SHARD_SIZE = 12, 4


def report(url, out, *args) -> dict:
    """``factory report URL --out OUT ARGS...`` (it must succeed); its stats.json."""
    assert main(["report", str(url), "--out", str(out), *map(str, args)]) == 0
    return json.loads((Path(out) / "stats.json").read_text())


@pytest.fixture(scope="module")
def dataset(tiny_config, tmp_path_factory):
    """``(folder, manifest)``: SAMPLES samples of the tiny config in shards of SHARD_SIZE."""
    folder = tmp_path_factory.mktemp("report-data") / "tiny"
    manifest = write_dataset(tiny_config, folder, SAMPLES, SHARD_SIZE)
    return folder, manifest
