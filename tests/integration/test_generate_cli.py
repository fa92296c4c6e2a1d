"""``factory generate`` and ``python -m jobs.generate``: arguments, errors, summary, and
a real ``ray job submit`` against a cluster started with ``ray start --head`` here."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from factory.cli import main
from factory.dataset import manifest as mf
from tests.helpers import CONFIGS
from tests.helpers.datasets import reference_shards
from tests.helpers.servers import free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TINY = CONFIGS / "tiny.yaml"


def cli(*args, cwd=REPO, env=None, timeout=300):
    script = BIN / "factory"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "factory.cli"]
    return subprocess.run(
        [*command, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout
    )


def job(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "jobs.generate", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
    )


@pytest.mark.ray
def test_factory_generate_writes_a_dataset_and_prints_a_summary(tmp_path, ray_local, tiny_config, capsys):
    out = tmp_path / "ds"
    assert (
        main(
            [
                "generate",
                str(TINY),
                "--out",
                str(out),
                "--samples",
                "6",
                "--shard-size",
                "4",
                "--max-workers",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in out.glob("*.tar")} == reference_shards(tiny_config, 6, 4)
    assert json.loads((out / mf.MANIFEST).read_text())["samples_written"] == 6
    for words in ("6 samples", "2 shards", "bytes", "samples/s", "MB/s", "wall time", str(out / mf.MANIFEST)):
        assert words in text


@pytest.mark.parametrize(
    "args, words",
    [
        (["--out", "nosuchproto://b/x", "--samples", "2"], ["unknown protocol 'nosuchproto'"]),
        (["--out", "s3://", "--samples", "2"], ["no bucket"]),
        (["--out", "{tmp}/x", "--samples", "2", "--storage-option", "novalue"], ["key=value"]),
    ],
)
def test_errors_exit_2_with_one_clear_line(tmp_path, args, words):
    result = cli("generate", TINY, *[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("factory generate: error:")
    for w in words:
        assert w in result.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["--out", "x", "--samples", "0"], ["--samples", "must be >= 1"]),
        (["--out", "x", "--samples", "2", "--resume", "--overwrite"], ["not allowed with"]),
        (["--out", "x", "--samples", "2", "--gpus-per-worker", "-1"], ["--gpus-per-worker"]),
        (["--samples", "2"], ["--out"]),
    ],
)
def test_bad_arguments_exit_2(args, words):
    result = cli("generate", TINY, *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for w in words:
        assert w in result.stderr


def test_the_job_entrypoint_shares_the_cli_arguments_and_errors():
    options = lambda text: sorted(set(re.findall(r"--[a-z][a-z-]+", text)))  # noqa: E731
    assert options(job("--help").stdout) == options(cli("generate", "--help").stdout)
    result = job(TINY, "--out", "nosuchproto://b/x", "--samples", "2")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "python -m jobs.generate: error:" in result.stderr and "unknown protocol" in result.stderr


def _wait_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (401 when Ray's token authentication is on)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.ray
def test_ray_job_submit_against_a_local_head(tmp_path, tiny_config):
    """``ray start --head`` on free ports, ``ray job submit --working-dir . -- python -m
    jobs.generate ...``, and the shards are exactly the reference ones."""
    ray_bin = BIN / "ray"
    if not ray_bin.exists():
        pytest.skip("the ray command is not installed next to this Python")
    gcs, dashboard = free_port(), free_port()
    temp_dir = tempfile.mkdtemp(prefix="rayt", dir="/tmp")  # short: Ray puts unix sockets in it
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # the job's `python` is this one
    token = Path(temp_dir) / "auth_token"  # Ray's token authentication, with a token of our own
    token.write_text(secrets.token_hex(32))
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    head = subprocess.Popen(
        [
            str(ray_bin),
            "start",
            "--head",
            f"--port={gcs}",
            "--num-cpus=2",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
            f"--temp-dir={temp_dir}",
            # fixed defaults (52365, 10001) would collide with another Ray on this machine
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--ray-client-server-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            "--disable-usage-stats",
            "--block",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    out = tmp_path / "ds"
    try:
        address = f"http://127.0.0.1:{dashboard}"
        _wait_http(f"{address}/api/version", 120)
        submit = [
            str(ray_bin),
            "job",
            "submit",
            "--address",
            address,
            "--working-dir",
            str(REPO),
            "--",
            "python",
            "-m",
            "jobs.generate",
            "tests/configs/tiny.yaml",
            "--out",
            str(out),
            "--samples",
            "6",
            "--shard-size",
            "3",
            "--no-progress",
        ]
        deadline = time.monotonic() + 120
        while True:  # the head's job agent comes up a little after its dashboard
            result = subprocess.run(submit, capture_output=True, text=True, env=env, timeout=600)
            if "No available agent" not in result.stderr or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        assert "joining the Ray cluster" in result.stdout and "samples/s" in result.stdout
        assert {p.name: p.read_bytes() for p in out.glob("*.tar")} == reference_shards(tiny_config, 6, 3)
        assert json.loads((out / mf.MANIFEST).read_text())["samples_written"] == 6
    finally:
        head.terminate()  # `ray start --block` stops the processes it started; not `ray stop`,
        try:  # which would stop every Ray on this machine
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, 9)
            head.wait(10)
        shutil.rmtree(temp_dir, ignore_errors=True)
