"""The ``factory`` command, run as a user runs it: a subprocess of the installed script."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import factory
from factory.decode import decode_sample

SCRIPT = Path(sys.executable).parent / "factory"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "factory.cli"]
HAS_GENERATE = importlib.util.find_spec("factory.generate") is not None


def factory_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_version():
    result = factory_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"factory {factory.__version__}"


@pytest.mark.parametrize(
    "text, names",
    [
        ("render: {width: 3}\nscenarios: {a: {}}\n", ["render.width", "3"]),
        ("scenarios: {a: {objetcs: {count: 2}}}\n", ["scenarios.a", "objetcs", "objects"]),
        ("seed: -1\nscenarios: {a: {}}\n", ["seed", "-1"]),
        ("scenarios: [\n", ["not valid YAML"]),
    ],
)
def test_bad_config_exits_2_naming_the_field(tmp_path, text, names):
    result = factory_cli("render", write_config(tmp_path, text), "--index", 0, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for name in names:
        assert name in result.stderr
    assert not (tmp_path / "out").exists()  # nothing written


def test_missing_config_file(tmp_path):
    result = factory_cli("render", tmp_path / "nope.yaml", "--index", 0, "--out", tmp_path / "out")
    assert result.returncode == 2 and "nope.yaml" in result.stderr and "Traceback" not in result.stderr


def test_bad_arguments(tmp_path):
    config = write_config(tmp_path, "scenarios: {a: {}}\n")
    result = factory_cli("render", config, "--index", -1, "--out", tmp_path)
    assert result.returncode == 2 and "--index" in result.stderr and ">= 0" in result.stderr
    result = factory_cli("render", config, "--index", 0)
    assert result.returncode == 2 and "--out" in result.stderr
    a_file = tmp_path / "file"
    a_file.write_text("")
    result = factory_cli("render", config, "--index", 0, "--out", a_file)
    assert result.returncode == 2 and str(a_file) in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(not HAS_GENERATE, reason="factory.generate has not landed yet")
def test_render_writes_members_and_previews(tmp_path):
    config = write_config(
        tmp_path,
        "name: cli_test\nseed: 3\nrender: {width: 32, height: 24, frames: 3}\nscenarios: {a: {}}\n",
    )
    out = tmp_path / "out"
    result = factory_cli("render", config, "--index", 0, "--index", 5, "--out", out)
    assert result.returncode == 0, result.stderr
    for key in ("0000000000", "0000000005"):
        names = {p.name for p in out.glob(f"{key}.*")}
        members = {f"{key}.{ext}" for ext in ("json", "rgb.png", "depth.png", "instance.png", "semantic.png",
                                               "normals.png", "flow.png", "mp4")}
        assert names == members | {f"{key}.contact.png", f"{key}.preview.gif"}
        frames, meta = decode_sample({n.split(".", 1)[1]: (out / n).read_bytes() for n in members})
        assert frames.rgb.shape == (3, 24, 32, 3)
        assert key in result.stdout and "bytes" in result.stdout
    assert not list(out.glob(".*"))  # no temporary files left behind
