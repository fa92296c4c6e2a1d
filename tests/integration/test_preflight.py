"""Every command refuses bad input before Ray starts: one ``PROG: error: ...`` line on
stderr, exit status 2, nothing written (:mod:`factory.commands.preflight`).

Each case runs the real entry point (the ``factory`` script, ``python -m jobs.NAME``) in
a subprocess whose ``ray`` package is a stand-in that fails on import: had the command
imported Ray before refusing, it would end in that ImportError's traceback (exit 1), not
in the one line. No Ray runs here; the Ray runs of the same commands are in
test_generate_cli.py, test_serve.py, test_validate.py and test_report.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from factory.dataset.resume import check_target, prepare
from factory.dataset.storage import resolve
from factory.errors import ConfigError
from factory.scene.config import load_config
from tests.helpers import CONFIGS, REPO

TINY = CONFIGS / "tiny.yaml"
EDGE = REPO / "configs" / "edge_cases.yaml"  # its edge cases each have min_count 1
SERVE = REPO / "k8s" / "base" / "serve.yaml"
SCRIPT = Path(sys.executable).parent / "factory"
FACTORY = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "factory.cli"]
MINIMUMS = (
    f"the minimums add up to {sum(sc.min_count for sc in load_config(EDGE).scenarios.values())}, "
    "more than the 6 samples asked for"
)


@pytest.fixture(scope="module")
def no_ray(tmp_path_factory) -> dict:
    """The environment of a process in which ``import ray`` fails (and Ray cannot start):
    a ``ray`` package first on PYTHONPATH that raises ImportError."""
    shim = tmp_path_factory.mktemp("no_ray")
    (shim / "ray").mkdir()
    (shim / "ray" / "__init__.py").write_text('raise ImportError("Ray imported before the preflight refused")\n')
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # Ray would run here: devices checked
    env["PYTHONPATH"] = os.pathsep.join([str(shim), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def refused(env: dict, prog: str, *args) -> str:
    """Run ``prog`` (``factory CMD`` or ``jobs.NAME``) with ``args``; assert it refused
    with one line and exit 2, and return the message after ``PROG: error: ``."""
    if prog.startswith("jobs."):
        command, shown = [sys.executable, "-m", prog], f"python -m {prog}"
    else:
        command, shown = [*FACTORY, prog], f"factory {prog}"
    result = subprocess.run([*command, *map(str, args)], capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{shown}: error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    return lines[0][len(f"{shown}: error: ") :]


def test_plan_and_generate_refuse_the_same_allocation_at_once(no_ray, tmp_path):
    """The report that started this: generate with minimums over --samples used to start
    Ray and its actor pools and fail in a render worker, naming the scenario '?'."""
    out = tmp_path / "ds"
    plan = refused(no_ray, "plan", EDGE, "--samples", 6)
    assert MINIMUMS in plan and "scenarios.*.min_count" in plan
    assert refused(no_ray, "generate", EDGE, "--samples", 6, "--out", out) == plan
    assert refused(no_ray, "jobs.generate", EDGE, "--samples", 6, "--out", out) == plan
    assert MINIMUMS in refused(no_ray, "render", EDGE, "--samples", 6, "--index", 0, "--out", out)
    assert not out.exists()


def test_generate_refuses_its_arguments_and_storage_before_ray(no_ray, tmp_path):
    out = tmp_path / "ds"
    assert (
        refused(no_ray, "generate", TINY, "--samples", 2, "--out", out, "--min-workers", 3, "--max-workers", 2)
        == "invalid config generate arguments: --max-workers 2: must be >= --min-workers 3"
    )
    assert "'a' is not a valid bucket name" in refused(no_ray, "generate", TINY, "--samples", 2, "--out", "s3://a/x")
    assert "--resume given but there is no dataset here to resume" in refused(
        no_ray, "jobs.generate", TINY, "--samples", 2, "--out", out, "--resume"
    )
    assert not out.exists()  # what it holds is read before the write probe: nothing made

    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text('{"format": "somebody-else"}')
    message = refused(no_ray, "generate", TINY, "--samples", 2, "--out", other)
    assert "is not a factory manifest" in message and "--overwrite" in message
    assert sorted(p.name for p in other.iterdir()) == ["manifest.json"]


def test_generate_refuses_a_device_it_cannot_render_on_here(no_ray, tmp_path):
    from factory.render.device import cuda_available

    if cuda_available():
        pytest.skip("this machine has CUDA")
    message = refused(no_ray, "generate", TINY, "--samples", 2, "--out", tmp_path / "ds", "--device", "cuda")
    assert message.startswith(f"invalid config {TINY} with --device cuda: render.device: 'cuda' needs a CUDA device")
    assert not (tmp_path / "ds").exists()


def test_serve_refuses_its_file_and_application_args_before_ray(no_ray, tmp_path):
    assert refused(no_ray, "serve", "--min-replicas", 5, "--max-replicas", 2).endswith(
        "autoscaling_config: min_replicas 5 > max_replicas 2"
    )
    data = yaml.safe_load(SERVE.read_text())
    data["applications"][0]["args"].update(max_count=0)
    bad = tmp_path / "serve.yaml"
    bad.write_text(yaml.safe_dump(data))
    assert refused(no_ray, "serve", "--config", bad) == (
        "invalid config serve application args: max_count: Input should be greater than or equal to 1 (got 0)"
    )
    data["applications"][0]["args"].update(max_count=1, configs_dir=str(tmp_path / "none"))
    bad.write_text(yaml.safe_dump(data))
    assert "configs_dir: " in refused(no_ray, "serve", "--config", bad)
    assert "cannot read the Serve config" in refused(no_ray, "serve", "--config", tmp_path / "missing.yaml")


def test_validate_refuses_a_missing_dataset_and_an_unwritable_result_before_ray(no_ray, tmp_path):
    missing = tmp_path / "missing"
    assert refused(no_ray, "jobs.validate", missing) == f"{missing}: no such folder"  # the Ray engine by default
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a-000000.tar").write_bytes(b"")  # a dataset to the URL check; the shards are read later
    result = tmp_path / "no" / "result.json"
    assert refused(no_ray, "validate", shards, "--result", result, "--engine", "ray") == (
        f"--result {str(result)!r}: no folder {str(result.parent)!r}; create it first"
    )
    assert not result.parent.exists()


def test_report_refuses_its_arguments_and_datasets_before_ray(no_ray, tmp_path):
    out = tmp_path / "report"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no manifest.json and no .tar shards" in refused(no_ray, "jobs.report", empty, "--out", out)
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a-000000.tar").write_bytes(b"")
    assert "use it with engine 'local'" in refused(
        no_ray, "report", shards, "--out", out, "--engine", "ray", "--max-samples", 3
    )
    assert str(tmp_path / "ref") in refused(no_ray, "report", shards, "--out", out, "--reference", tmp_path / "ref")
    assert not out.exists()


def test_a_dataset_run_refuses_minimums_over_its_samples_before_it_writes(tmp_path):
    """The library path too (``generate_dataset`` plans with ``prepare``): no worker is
    ever asked for the scenario of a sample that has none."""
    config = load_config(EDGE)
    location = resolve(str(tmp_path / "ds"))
    for check in (check_target, prepare):
        with pytest.raises(ConfigError, match=MINIMUMS):
            check(location, config, samples=6, shard_size=2)
    assert not (tmp_path / "ds").exists()
    minimums = sum(sc.min_count for sc in config.scenarios.values())
    check_target(location, config, samples=minimums, shard_size=2)  # fits: passes, leaves only the empty folder
    assert [p.name for p in (tmp_path / "ds").iterdir()] in ([], [".factory"])
