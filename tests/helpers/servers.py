"""Real services for the tests: free ports, a local Ray, moto's S3 server with a fresh
bucket per test, and a real ``factory serve`` in a subprocess (session-wide: the serve
and the client tests share it).

A test that asks for ``ray_local`` or ``cli_server`` is marked ``ray`` and one that asks
for ``s3_server`` or ``s3`` is marked ``s3`` by ``tests/conftest.py``; ``ray`` tests run
in one xdist worker, so the session's Ray is started once and never twice at the same
time. Unit tests may not ask for any of these (``tests/conftest.py`` refuses).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.helpers import REPO

SERVE_TOKEN = f"test-token-{uuid.uuid4().hex}"  # the cli_server's FACTORY_SERVE_TOKEN

# AWS settings a developer's shell may carry; the S3 tests must not use them.
_AWS_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


# Ports the tests hand out: below the kernel's ephemeral range (32768-60999 on Linux),
# where Ray's own services and every other ``bind(0)`` land, and above Ray's worker
# ports (10002-19999). A port from ``bind(0)`` could be taken by one of Ray's
# random-port services before the server we meant it for binds it (CI saw that).
_TEST_PORTS = range(20000, 32768)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, outside the ranges the
    kernel and Ray pick ports from by themselves."""
    rng = random.Random()  # not the global one: a test that seeds it must not fix our ports
    for _ in range(200):
        port = rng.choice(_TEST_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_TEST_PORTS}")


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray with 2 CPUs for the whole session (embedded, no dashboard)."""
    ray = pytest.importorskip("ray")
    started = False
    if not ray.is_initialized():
        os.environ.pop("RAY_ADDRESS", None)
        ray.init(address="local", num_cpus=2, include_dashboard=False)
        started = True
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 (a free port) for the session; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch, tmp_path):
    """A fresh bucket on the moto server, with the standard AWS variables pointing at it
    (fake credentials, AWS_ENDPOINT_URL), exactly as a user would configure MinIO."""
    import boto3

    for var in _AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    env = {
        "AWS_ACCESS_KEY_ID": "factory-test-key",
        "AWS_SECRET_ACCESS_KEY": "factory-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_server,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    bucket = f"factory-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=bucket)
    return SimpleNamespace(
        endpoint=s3_server, bucket=bucket, client=client, env=env, url=f"s3://{bucket}/datasets/tiny"
    )


def wait_healthy(url: str, seconds: float, proc: subprocess.Popen | None = None, log: Path | None = None):
    """Wait until ``url``/healthz answers 200; fail with the server's log if it exits."""
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"factory serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} not healthy after {seconds} s" + (f":\n{log.read_text()[-4000:]}" if log else ""))


@pytest.fixture(scope="session")
def cli_server(tmp_path_factory):
    """``factory serve`` in a subprocess (its own embedded Ray) with the shipped
    ``k8s/base/serve.yaml``, one replica and ``FACTORY_SERVE_TOKEN`` = SERVE_TOKEN.
    Tests that use it are marked ``ray``, so one xdist worker starts it once."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["FACTORY_SERVE_TOKEN"] = SERVE_TOKEN
    started = time.time()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "factory"), "serve", "--port", str(port), "--max-replicas", "1"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, 240, proc, log)
        yield SimpleNamespace(url=url, log=log, started=started, token=SERVE_TOKEN)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
