"""Fixtures and helpers shared by tests/unit/test_report.py and tests/integration/test_report.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_dataset

from factory.cli import main

SAMPLES, SHARD_SIZE = 12, 4


def report(url, out, *args) -> dict:
    assert main(["report", str(url), "--out", str(out), *map(str, args)]) == 0
    return json.loads((Path(out) / "stats.json").read_text())


@pytest.fixture(scope="module")
def dataset(tiny_config, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report-data") / "tiny"
    manifest = write_dataset(tiny_config, folder, SAMPLES, SHARD_SIZE)
    return folder, manifest
