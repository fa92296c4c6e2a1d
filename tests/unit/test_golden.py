"""No sample byte moved: the hashes recorded by ``tests/golden/record.py`` still hold.

The samples of every shipped config (and the tiny test config) are remade here without
Ray and each member's sha256 compared with the recorded one (the golden dataset's shards:
``tests/integration/test_golden.py``). A change that is meant to move bytes (a new
renderer) reruns the recorder and says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from factory import load_config
from tests.golden import record  # tests/golden/record.py: the recorder and its choices

GOLDEN = record.golden()

CASES = [(cfg, int(i)) for cfg, samples in sorted(GOLDEN["configs"].items()) for i in samples]


def test_the_golden_record_covers_every_shipped_config():
    shipped = {str(p.relative_to(record.ROOT)) for p in record.config_paths()}
    assert shipped == set(GOLDEN["configs"]), "a shipped config has no golden hashes: rerun tests/golden/record.py"
    for cfg, samples in GOLDEN["configs"].items():
        config = load_config(record.ROOT / cfg)
        assert sorted(map(int, samples)) == record.chosen_indices(config, GOLDEN["samples"]), cfg


@pytest.mark.parametrize(("cfg", "index"), CASES, ids=[f"{Path(c).stem}-{i}" for c, i in CASES])
def test_sample_bytes_match_the_golden_hashes(cfg, index):
    config = load_config(record.ROOT / cfg)
    got = record.sample_hashes(config, index, GOLDEN["samples"])
    assert got == GOLDEN["configs"][cfg][str(index)]
