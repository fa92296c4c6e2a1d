"""Run what the cpu overlay describes, on this machine: a local Ray cluster made from
the rendered RayCluster, the RayJob's entrypoint submitted to it, the RayService's
serveConfigV2 deployed to it.

What KubeRay would do in a pod, done here with processes:

* the head: ``ray start --head`` with the head group's rayStartParams as flags, plus
  what KubeRay derives from the container's limits (--memory) and the local-only flags
  (free ports, a short --temp-dir, the dashboard on 127.0.0.1 instead of 0.0.0.0);
* one worker of the CPU group: ``ray start --address`` with the group's rayStartParams
  and --num-cpus / --memory from the container's limits, as KubeRay does (the head has
  num-cpus 0, so without a worker nothing could run);
* in each node's environment what its container gets: Ray's token authentication
  (authOptions), FACTORY_SERVE_TOKEN (secretKeyRef factory-serve), and on the head only
  the S3 settings (envFrom factory-s3), here pointing at the moto S3 server; the working
  directory is the repository, as the image's /home/ray/factory is a copy of it;
* the job: ``ray job submit`` of the RayJob's entrypoint with its runtime env (none),
  with --out pointing at a bucket on the moto server and --samples 8 --shard-size 4
  instead of 1000 / 100, to stay quick; every other argument is the manifest's;
* Serve: ``serve deploy`` of the RayService's serveConfigV2 with http_options moved to
  127.0.0.1 and a free port.

Every process started here is stopped in a finally block (``ray start --block`` stops
its node when terminated; anything left that names this cluster's temp dir is killed by
pid). Never ``ray stop``, which would stop every Ray on the machine.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import yaml

from tests.helpers.datasets import reference_shards
from tests.helpers.k8s_manifests import REPO, cluster_specs, cpu_groups, one, quantity, render
from tests.helpers.servers import free_port

pytestmark = [pytest.mark.ray, pytest.mark.slow]

BIN = Path(sys.executable).parent
OVERLAY = "overlays/cpu"  # the overlay whose pods fit this machine (no GPUs)
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "factory-test-key",
    "AWS_SECRET_ACCESS_KEY": "factory-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
SAMPLES, SHARD_SIZE = 8, 4


def start_params(group: dict) -> dict[str, str]:
    """A group's ``ray start`` parameters as KubeRay makes them: its rayStartParams, and
    --num-cpus / --memory / --num-gpus from the Ray container's limits where not given."""
    params = dict(group["rayStartParams"])
    limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
    params.setdefault("num-cpus", str(math.ceil(quantity(limits["cpu"]))))
    params.setdefault("memory", str(int(quantity(limits["memory"]))))
    if "nvidia.com/gpu" in limits:
        params.setdefault("num-gpus", str(limits["nvidia.com/gpu"]))
    return params


def flags(params: dict[str, str]) -> list[str]:
    return [f"--{key}={value}" for key, value in params.items()]


def node_env(container: dict, values: dict[str, str]) -> dict[str, str]:
    """The environment a Ray container of the manifest gets, with this test's values for
    the Secrets it references (an optional reference to a missing key stays unset)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "AWS_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `python` is this one, as in the image
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        if ref["key"] in values.get(ref["name"], {}):
            env[item["name"]] = values[ref["name"]][ref["key"]]
    for source in container.get("envFrom", []):
        env.update(values.get(source["secretRef"]["name"], {}))
    return env


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()  # `ray start --block` stops the processes it started
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _kill_leftovers(temp_dir: str) -> None:
    """SIGKILL, by pid, any process of this cluster still alive (its command line names
    this cluster's temp dir)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if temp_dir.encode() in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def _wait(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (requests.RequestException, OSError) as e:
            last = e
        time.sleep(1)
    pytest.fail(f"{what} not ready after {seconds:.0f} s ({last})")


@pytest.fixture(scope="module")
def cluster(s3_server, tmp_path_factory):
    ray_bin = BIN / "ray"
    if not ray_bin.exists():
        pytest.skip("the ray command is not installed next to this Python")
    objects = render(OVERLAY)
    spec = cluster_specs(objects)["RayCluster"]
    head_group = spec["headGroupSpec"]
    (cpu_group,) = cpu_groups(spec)
    assert start_params(head_group)["num-cpus"] == "0" and start_params(cpu_group)["num-cpus"] == "2"

    temp_dir = tempfile.mkdtemp(prefix="rayk", dir="/tmp")  # short: Ray puts unix sockets in it
    token = Path(temp_dir) / "auth_token"  # authOptions: token, in the Secret factory-ray-auth
    token.write_text(secrets.token_hex(32))
    serve_token = secrets.token_hex(16)
    values = {"factory-serve": {"token": serve_token}, "factory-s3": {**S3_ENV, "AWS_ENDPOINT_URL": s3_server}}
    no_aws = tmp_path_factory.mktemp("aws")
    auth = {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
        "AWS_CONFIG_FILE": str(no_aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(no_aws / "credentials"),
    }
    # Stop at once when terminated: a node drains for up to 30 s first (Ray's graceful
    # shutdown, for Serve during a RayService upgrade), which only slows a test down.
    nodes_only = {"RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
    gcs, dashboard = free_port(), free_port()
    local = {  # what a local test must change: free ports, a short temp dir, 127.0.0.1
        "port": gcs,
        "dashboard-host": "127.0.0.1",
        "dashboard-port": dashboard,
        "temp-dir": temp_dir,
        "dashboard-agent-listen-port": free_port(),
        "dashboard-agent-grpc-port": free_port(),
        "ray-client-server-port": free_port(),
        "metrics-export-port": free_port(),
    }
    head_env = {**node_env(head_group["template"]["spec"]["containers"][0], values), **auth, **nodes_only}
    worker_env = {**node_env(cpu_group["template"]["spec"]["containers"][0], values), **auth, **nodes_only}
    assert "AWS_SECRET_ACCESS_KEY" in head_env and "AWS_SECRET_ACCESS_KEY" not in worker_env
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                [
                    str(ray_bin),
                    "start",
                    "--head",
                    *flags({**start_params(head_group), **local}),
                    "--include-dashboard=true",
                    "--disable-usage-stats",
                    "--block",
                ],
                cwd=REPO,
                env=head_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        address = f"http://127.0.0.1:{dashboard}"
        _wait(lambda: requests.get(f"{address}/api/version", timeout=2).status_code in (200, 401), 120, "dashboard")
        client_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "AWS_"))}, **auth}
        procs.append(_start_worker(ray_bin, cpu_group, gcs, worker_env, client_env))
        yield SimpleNamespace(
            objects=objects,
            address=address,
            env=client_env,
            serve_token=serve_token,
            s3_endpoint=s3_server,
            temp_dir=temp_dir,
        )
    finally:
        for proc in reversed(procs):
            _stop(proc)
        _kill_leftovers(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _start_worker(
    ray_bin: Path, group: dict, gcs: int, env: dict, client_env: dict, tries: int = 3
) -> subprocess.Popen:
    """Start the CPU group's worker node and wait until its CPUs are in the cluster. A
    node that exits, or has not joined in 90 s (its free ports taken meanwhile, a loaded
    machine), is started again on fresh ports: the jobs below would otherwise wait for
    CPUs that never come."""
    cpus = start_params(group)["num-cpus"]
    for _ in range(tries):
        ports = {
            "address": f"127.0.0.1:{gcs}",
            "dashboard-agent-listen-port": free_port(),
            "dashboard-agent-grpc-port": free_port(),
            "metrics-export-port": free_port(),
        }
        proc = subprocess.Popen(
            [str(ray_bin), "start", *flags({**start_params(group), **ports}), "--disable-usage-stats", "--block"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while proc.poll() is None and time.monotonic() < deadline:
            status = subprocess.run(
                [str(ray_bin), "status", "--address", f"127.0.0.1:{gcs}"],
                capture_output=True,
                text=True,
                env=client_env,
                timeout=60,
            )
            if f"/{float(cpus)} CPU" in status.stdout:
                return proc
            time.sleep(2)
        _stop(proc)
    pytest.fail(f"the worker node did not join the cluster in {tries} tries")


def _cli(cluster, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        env=cluster.env,
        cwd=cluster.temp_dir,
        timeout=timeout,
    )  # not the repository: nothing local helps


def test_the_rayjob_entrypoint_writes_the_dataset_on_the_cluster(cluster):
    import boto3

    from factory.scene.config import load_config

    job = one(cluster.objects, "RayJob")["spec"]
    words = shlex.split(job["entrypoint"])
    bucket = f"k8s-{secrets.token_hex(6)}"
    changes = {
        "--out": f"s3://{bucket}/datasets/quickstart",
        "--samples": str(SAMPLES),
        "--shard-size": str(SHARD_SIZE),
    }
    for i, word in enumerate(words[:-1]):
        if word in changes:
            words[i + 1] = changes.pop(word)
    assert not changes, f"the entrypoint has no {sorted(changes)}"
    runtime_env = yaml.safe_load(job.get("runtimeEnvYAML") or "{}") or {}
    s3 = boto3.client(
        "s3",
        endpoint_url=cluster.s3_endpoint,
        region_name=S3_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket=bucket)

    submit = [
        "ray",
        "job",
        "submit",
        "--address",
        cluster.address,
        *(["--runtime-env-json", json.dumps(runtime_env)] if runtime_env else []),
        "--",
        *words,
    ]
    deadline = time.monotonic() + 120
    while True:  # the worker joins, and the head's job agent comes up, a little after the dashboard
        result = _cli(cluster, *submit)
        if "No available agent" not in result.stderr or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "joining the Ray cluster" in result.stdout and "samples/s" in result.stdout

    def get(key: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=f"datasets/quickstart/{key}")["Body"].read()

    manifest = json.loads(get("manifest.json"))
    assert manifest["samples_written"] == SAMPLES and len(manifest["shards"]) == SAMPLES // SHARD_SIZE
    shards = {s["name"]: get(s["name"]) for s in manifest["shards"]}
    for entry in manifest["shards"]:
        assert hashlib.sha256(shards[entry["name"]]).hexdigest() == entry["sha256"]
    config = load_config(REPO / shlex.split(job["entrypoint"])[3])
    assert shards == reference_shards(config, SAMPLES, SHARD_SIZE)


def test_the_rayservice_serve_config_deploys_and_answers(cluster, tmp_path):
    config = yaml.safe_load(one(cluster.objects, "RayService")["spec"]["serveConfigV2"])
    port = free_port()
    config["http_options"].update(host="127.0.0.1", port=port)
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(config))
    result = _cli(cluster, "serve", "deploy", str(path), "-a", cluster.address, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    _check_the_endpoint(cluster, port)


def _check_the_endpoint(cluster, port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    health = _wait(
        lambda: (r := requests.get(f"{url}/healthz", timeout=5)).status_code == 200 and r, 150, "the Serve application"
    )
    assert health.status_code == 200
    body = {"overrides": {"render": {"width": 32, "height": 32, "frames": 1}}}
    assert requests.post(f"{url}/v1/samples", json=body, timeout=60).status_code == 401  # FACTORY_SERVE_TOKEN is set
    answer = requests.post(
        f"{url}/v1/samples", json=body, timeout=120, headers={"Authorization": f"Bearer {cluster.serve_token}"}
    )
    assert answer.status_code == 200, answer.text[:2000]
    assert answer.headers["X-Factory-Count"] == "1"
    with tarfile.open(fileobj=io.BytesIO(answer.content)) as tar:
        names = tar.getnames()
    assert "0000000000.json" in names and "0000000000.rgb.png" in names
