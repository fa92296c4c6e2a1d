"""Fixtures and helpers shared by tests/unit/test_diversity.py and tests/integration/test_diversity.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_dataset

TINY_SAMPLES, TINY_SHARD = 12, 5  # shards of 5, 5, 2


@pytest.fixture(scope="module")
def tiny_ds(tiny_config, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny") / "ds"
    write_dataset(tiny_config, str(folder), TINY_SAMPLES, TINY_SHARD)
    return folder
