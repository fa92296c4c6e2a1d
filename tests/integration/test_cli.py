"""The ``factory`` command, run as a user runs it: a subprocess of the installed script."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import factory
from factory.render.device import cuda_available
from factory.sample.decode import decode_sample
from factory.sample.encode import IMAGE_MEMBERS
from factory.scene.config import load_config

SCRIPT = Path(sys.executable).parent / "factory"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "factory.cli"]
HAS_GENERATE = importlib.util.find_spec("factory.sample.generate") is not None


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


@pytest.mark.skipif(not HAS_GENERATE, reason="factory.sample.generate has not landed yet")
def test_render_writes_members_and_previews(tmp_path):
    config = write_config(
        tmp_path, "name: cli_test\nseed: 3\nrender: {width: 32, height: 24, frames: 3}\nscenarios: {a: {}}\n"
    )
    out = tmp_path / "out"
    result = factory_cli("render", config, "--index", 0, "--index", 5, "--out", out)
    assert result.returncode == 0, result.stderr
    for key in ("0000000000", "0000000005"):
        names = {p.name for p in out.glob(f"{key}.*")}
        members = {f"{key}.{ext}" for ext in ("json", *IMAGE_MEMBERS, "geometry.glb", "mp4")}
        assert names == members | {f"{key}.contact.png", f"{key}.preview.gif"}
        frames, meta = decode_sample({n.split(".", 1)[1]: (out / n).read_bytes() for n in members})
        assert frames.rgb.shape == (3, 24, 32, 3)
        assert key in result.stdout and "bytes" in result.stdout
    assert not list(out.glob(".*"))  # no temporary files left behind


TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"


def rendered_as(tmp_path, device: str, batch_views: int) -> tuple[dict, dict]:
    """``factory render TINY --index 0`` on ``device`` in launches of ``batch_views``
    views: the members it wrote, and those generate_members makes of the same config."""
    from factory.commands.preflight import load_config_with
    from factory.sample.generate import generate_members

    out = tmp_path / "out"
    result = factory_cli(
        "render", TINY, "--device", device, "--batch-views", batch_views, "--samples", 2, "--index", 0, "--out", out
    )
    assert result.returncode == 0, result.stderr
    want = generate_members(load_config_with(TINY, {"device": device}), 0, samples=2)
    key = want.pop("__key__")
    return {ext: (out / f"{key}.{ext}").read_bytes() for ext in want}, want


def test_render_in_launches_of_batch_views_writes_the_configs_sample(tmp_path):
    """--batch-views 1 renders each of the clip's views in a launch of its own; the bytes
    are those of the config's own batch (the batch is not part of a sample, nor of its
    config hash)."""
    got, want = rendered_as(tmp_path, "cpu", 1)
    assert got == want
    assert json.loads(want["json"])["config_hash"] == load_config(TINY).config_hash()


@pytest.mark.cuda
def test_render_on_cuda_writes_that_devices_sample(tmp_path):
    got, want = rendered_as(tmp_path, "cuda", 3)
    assert got == want
    assert json.loads(want["json"])["config_hash"] != load_config(TINY).config_hash()  # the device is in the config


@pytest.mark.skipif(cuda_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", ["render", "generate"])
def test_device_cuda_without_cuda_exits_2_before_anything_renders(tmp_path, command):
    out = tmp_path / "out"
    args = ["--index", 0] if command == "render" else ["--samples", 2]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = subprocess.run(
        [*COMMAND, command, str(TINY), *map(str, args), "--out", str(out), "--device", "cuda"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"factory {command}: error: invalid config {TINY} with --device cuda")
    assert "render.device: 'cuda' needs a CUDA device" in result.stderr
    assert "Ray" not in result.stdout and not out.exists()  # before Ray started, nothing written


@pytest.mark.parametrize(
    "args, words",
    [
        (["--device", "bogus"], ["argument --device: invalid choice: 'bogus'", "'cpu', 'cuda'"]),
        (["--device", "gpu"], ["argument --device: invalid choice: 'gpu'", "'cpu', 'cuda'"]),
        (["--batch-views", "-1"], ["argument --batch-views: must be >= 0, got -1"]),
        (["--batch-views", "4097"], ["argument --batch-views: must be <= 4096, got 4097"]),
        (["--batch-views", "many"], ["argument --batch-views: not an integer: 'many'"]),
    ],
)
@pytest.mark.parametrize("command", ["render", "generate"])
def test_bad_render_options_are_argument_errors(tmp_path, command, args, words):
    result = factory_cli(
        command, TINY, "--index" if command == "render" else "--samples", 1, "--out", tmp_path / "out", *args
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for w in words:
        assert w in result.stderr
    assert not (tmp_path / "out").exists()
