"""What tests/unit/test_diversity.py and tests/integration/test_diversity.py share: a
local dataset of the tiny config (fixture ``tiny_ds``), read by hand with tarfile there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.datasets import write_dataset

TINY_SAMPLES, TINY_SHARD = 12, 5  # shards of 5, 5, 2


@pytest.fixture(scope="module")
def tiny_ds(tiny_config, tmp_path_factory) -> Path:
    """TINY_SAMPLES samples of the tiny config in shards of TINY_SHARD, in a local folder."""
    folder = tmp_path_factory.mktemp("tiny") / "ds"
    write_dataset(tiny_config, str(folder), TINY_SAMPLES, TINY_SHARD)
    return folder
