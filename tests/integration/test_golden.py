"""No shard byte moved: the golden dataset is made again by ``factory generate`` on
embedded Ray and each shard's sha256 compared with the one ``tests/golden/record.py``
recorded (the samples of every shipped config: ``tests/unit/test_golden.py``).
"""

from __future__ import annotations

import pytest

from tests.golden import record  # tests/golden/record.py: the recorder and its choices

GOLDEN = record.golden()


@pytest.mark.ray
def test_generated_dataset_shards_match_the_golden_hashes(tmp_path):
    assert record.dataset_hashes(tmp_path / "golden") == GOLDEN["dataset"]["shards"]
