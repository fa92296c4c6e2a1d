"""``examples/train_depth.py``, short: a few dozen steps on samples streamed from the
session's ``factory serve`` into a two-worker DataLoader; the held-out loss must fall."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_depth.py"


def test_the_example_learns_depth_from_the_endpoint(cli_server, capsys):
    spec = importlib.util.spec_from_file_location("train_depth", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    start, end = example.main(["--url", cli_server.url, "--token", cli_server.token, "--steps", "40", "--size", "48"])
    out = capsys.readouterr().out
    assert "held-out loss at the start" in out and "after 40 steps" in out
    assert end < 0.5 * start  # from an untrained network's guesses to the scenes' depth range
