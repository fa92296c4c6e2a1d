"""Same config and index -> same bytes, in any process and any order."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from factory.sample.generate import generate_members
from factory.scene.config import load_config

ROOT = Path(__file__).parents[2]


CONFIG = ROOT / "configs" / "edge_cases.yaml"  # noise, blur and handheld shake included


INDICES = [0, 1, 4, 7]


_DIGESTS = """
import hashlib, json, sys
from factory.scene.config import load_config
from factory.sample.generate import generate_members
cfg = load_config(sys.argv[1])
out = {}
for i in map(int, sys.argv[2:]):
    m = generate_members(cfg, i)
    out[i] = {k: hashlib.sha256(v).hexdigest() for k, v in m.items() if k != "__key__"}
print(json.dumps(out))
"""


def _digests(indices) -> dict:
    cfg = load_config(CONFIG)
    return {i: {k: hashlib.sha256(v).hexdigest() for k, v in generate_members(cfg, i).items() if k != "__key__"}
            for i in indices}


def test_sample_bytes_identical_across_processes_and_order():
    here = _digests(list(reversed(INDICES)))  # reverse order, this process
    proc = subprocess.run([sys.executable, "-c", _DIGESTS, str(CONFIG), *map(str, INDICES)],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    there = {int(k): v for k, v in json.loads(proc.stdout).items()}
    assert there == here
    # Different indices really are different samples.
    assert len({d["rgb.png"] for d in here.values()}) == len(INDICES)
