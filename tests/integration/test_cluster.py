"""``cluster/``: the AWS launcher config against Ray's own cluster-config schema, and the
local multi-node dev cluster (``make cluster-up`` / ``make cluster-down``) running a real
``ray job submit`` on its worker nodes."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from factory.cli import main as factory_main
from factory.dataset import manifest as mf
from tests.helpers.datasets import reference_shards

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AWS = REPO / "cluster" / "aws.yaml"
LOCAL = REPO / "cluster" / "local.py"

ray = pytest.importorskip("ray")


# --- cluster/aws.yaml -------------------------------------------------------------------


def prepared(config: dict) -> dict:
    """What ``ray up`` does to a config before it talks to the cloud
    (``ray.autoscaler._private.commands._bootstrap_config``): fill in the provider's
    defaults, merge the setup commands, check the docker section, set each node type's
    min/max workers, then validate against ``ray/autoscaler/ray-schema.json`` and the
    cross-field rules of ``validate_config``."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(copy.deepcopy(config))
    validate_config(config)
    return config


@pytest.fixture(scope="module")
def aws() -> dict:
    return yaml.safe_load(AWS.read_text())  # as `ray up` reads it


def test_aws_config_passes_ray_own_validation(aws):
    from ray.autoscaler._private.providers import _NODE_PROVIDERS

    config = prepared(aws)
    assert config["provider"]["type"] in _NODE_PROVIDERS
    assert set(config["available_node_types"]) == {"head", "gpu_worker", "cpu_worker"}
    # every node gets the project installed
    assert any("pip install" in c and "~/factory" in c for c in config["head_setup_commands"])
    assert any("pip install" in c and "~/factory" in c for c in config["worker_setup_commands"])
    assert config["file_mounts"]["~/factory"] == "."


def _typo(c):
    c["max_worker"] = c.pop("max_workers")


def _negative_max_workers(c):
    c["max_workers"] = -1


def _unknown_head_type(c):
    c["head_node_type"] = "ray.head.default"


def _too_many_min_workers(c):
    c["available_node_types"]["gpu_worker"]["min_workers"] = c["max_workers"] + 1


def _fractional_gpu_resource(c):
    c["available_node_types"]["gpu_worker"]["resources"]["GPU"] = 0.5


def _unknown_docker_key(c):
    c["available_node_types"]["gpu_worker"]["docker"]["image"] = "rayproject/ray:2.60.0-py311-gpu"


def _node_type_without_resources(c):
    del c["available_node_types"]["cpu_worker"]["resources"]


@pytest.mark.parametrize(
    "plant, words",
    [
        (_typo, "'max_worker' was unexpected"),
        (_negative_max_workers, "-1 is less than the minimum of 0"),
        (_unknown_head_type, "`head_node_type` must be one of `available_node_types`"),
        (_too_many_min_workers, "smaller than the sum of `min_workers`"),
        (_fractional_gpu_resource, "0.5 is not of type 'integer'"),
        (_unknown_docker_key, "'image' was unexpected"),
        (_node_type_without_resources, "'resources' is a required property"),
    ],
)
def test_the_validation_catches_a_planted_error(aws, plant, words):
    import jsonschema

    bad = copy.deepcopy(aws)
    plant(bad)
    with pytest.raises((jsonschema.ValidationError, ValueError)) as err:
        prepared(bad)
    assert words in str(err.value)


def test_aws_config_has_the_shape_the_issue_asks_for(aws):
    config = prepared(aws)
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"] == {"CPU": 0}  # nothing renders on the head
    assert head["max_workers"] == 0
    assert "InstanceMarketOptions" not in head["node_config"]  # the head is on-demand

    gpu = types["gpu_worker"]
    assert gpu["min_workers"] == 0 and gpu["max_workers"] >= 1
    assert gpu["resources"]["GPU"] >= 1 and gpu["resources"]["CPU"] >= 1
    assert gpu["node_config"]["InstanceMarketOptions"]["MarketType"] == "spot"
    assert gpu["node_config"]["InstanceType"].startswith(("g", "p"))  # an NVIDIA GPU instance family

    cpu = types["cpu_worker"]
    assert cpu["min_workers"] == 0 and cpu["resources"].get("GPU", 0) == 0 and cpu["resources"]["CPU"] >= 4
    assert cpu["max_workers"] + gpu["max_workers"] <= config["max_workers"]

    for name, node_type in types.items():  # S3 through instance profiles, no keys in the file
        arn = node_type["node_config"]["IamInstanceProfile"]["Arn"]
        assert re.fullmatch(r"arn:aws:iam::\d{12}:instance-profile/[\w+=,.@-]+", arn), (name, arn)
    assert not re.search(r"AKIA[0-9A-Z]{16}|aws_secret_access_key|AWS_SECRET_ACCESS_KEY", AWS.read_text())


def test_image_tags_match_the_installed_ray(aws):
    docker = aws["docker"]
    images = [docker["image"], aws["available_node_types"]["gpu_worker"]["docker"]["worker_image"]]
    requires = re.search(r'requires-python = ">=(\d+)\.(\d+)"', (REPO / "pyproject.toml").read_text())
    for image in images:
        repo, tag = image.split(":")
        assert repo == "rayproject/ray"
        assert tag.split("-")[0] == ray.__version__, image
        py = re.search(r"-py(\d)(\d+)", tag)  # the image's Python must satisfy requires-python
        assert py and (int(py[1]), int(py[2])) >= (int(requires[1]), int(requires[2])), image
    assert images[1].endswith("-gpu") or re.search(r"-cu\d+$", images[1])  # CUDA image for the GPU type
    pin = re.search(r'"ray\[[^\]]*\]==([^"]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    assert pin == ray.__version__


# --- the local dev cluster --------------------------------------------------------------


def _local_module():
    spec = importlib.util.spec_from_file_location("cluster_local", LOCAL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_targets_call_the_local_cluster_script(tmp_path):
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    for target, words in (("cluster-up", "up"), ("cluster-down", "down")):
        result = subprocess.run(
            ["make", "-n", target, f"CLUSTER_STATE={tmp_path}"], cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        line = [x for x in result.stdout.splitlines() if "cluster/local.py" in x]
        assert line and f" {words} " in f"{line[-1]} " and f"--state {tmp_path}" in line[-1], result.stdout


def test_cluster_down_without_a_cluster_is_a_no_op(tmp_path):
    result = subprocess.run(
        [sys.executable, str(LOCAL), "down", "--state", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "nothing to stop" in result.stdout


def _env_file(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(.*)$", path.read_text(), re.MULTILINE))


def _ray(*args, env, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ray"), *map(str, args)], capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout
    )


@pytest.mark.ray
@pytest.mark.slow
def test_local_cluster_runs_a_job_on_its_worker_nodes(tmp_path, tiny_config):
    """``cluster/local.py up`` (what ``make cluster-up`` runs): a head with 0 CPUs and
    two 1-CPU worker nodes; ``ray job submit --working-dir .`` of ``jobs.generate`` gives
    the reference shards, rendered by actors on both workers; ``down`` leaves no
    process of the cluster behind."""
    if not (BIN / "ray").exists():
        pytest.skip("the ray command is not installed next to this Python")
    local = _local_module()
    state = tmp_path / "cluster"
    out = tmp_path / "ds"
    started = time.monotonic()
    try:
        up = subprocess.run(
            [
                sys.executable,
                str(LOCAL),
                "up",
                "--state",
                str(state),
                "--workers",
                "2",
                "--cpus-per-worker",
                "1",
                "--timeout",
                "150",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
        )
        assert up.returncode == 0, up.stdout + up.stderr
        info = json.loads((state / "cluster.json").read_text())
        up_s = time.monotonic() - started
        dashboard = info["dashboard"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", dashboard)
        assert f"RAY_ADDRESS:  {dashboard}" in up.stdout and f"dashboard:    {dashboard}" in up.stdout

        # a shell that sources the env file `up` wrote, as the printed instructions say
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        env.update(_env_file(state / "env"))
        assert env["RAY_ADDRESS"] == dashboard and env["RAY_AUTH_MODE"] == "token"

        nodes = json.loads(_ray("list", "nodes", "--format", "json", "--filter", "state=ALIVE", env=env).stdout)
        assert len(nodes) == 3
        heads = [n for n in nodes if n["is_head_node"]]
        workers = [n for n in nodes if not n["is_head_node"]]
        assert len(heads) == 1 and heads[0]["resources_total"].get("CPU", 0) == 0
        assert [n["resources_total"]["CPU"] for n in workers] == [1, 1]

        submit = [
            str(BIN / "ray"),
            "job",
            "submit",
            "--working-dir",
            ".",
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
        job_started = time.monotonic()
        while True:  # `up` waits for the head's job agent; a retry only in case it is slow to register
            result = subprocess.run(submit, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
            if "No available agent" not in result.stderr or time.monotonic() > job_started + 60:
                break
            time.sleep(2)
        job_s = time.monotonic() - job_started
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        assert "joining the Ray cluster" in result.stdout and "samples/s" in result.stdout
        assert {p.name: p.read_bytes() for p in out.glob("*.tar")} == reference_shards(tiny_config, 6, 3)
        assert json.loads((out / mf.MANIFEST).read_text())["samples_written"] == 6

        # where the work ran: every pipeline actor on a worker node, both workers used, none
        # on the head (which has no CPU to give them). Actors whose node the state API did
        # not record (node_id None, seen for short-lived ones) are left out.
        actors = json.loads(_ray("list", "actors", "--format", "json", "--detail", "--limit", "1000", env=env).stdout)
        stages = [a for a in actors if a["class_name"].startswith("MapWorker(") and a["node_id"]]
        render = [a for a in stages if "RenderStage" in a["class_name"]]
        assert render, sorted({a["class_name"] for a in actors})
        worker_ids = {n["node_id"] for n in workers}
        assert {a["node_id"] for a in render} <= worker_ids
        assert {a["node_id"] for a in stages} == worker_ids

        # `python -m jobs.validate` on the same cluster: Ray Data checks each shard on a
        # worker; the intact dataset passes, then a flipped byte fails the job, named.
        validate = [
            str(BIN / "ray"),
            "job",
            "submit",
            "--working-dir",
            ".",
            "--",
            "python",
            "-m",
            "jobs.validate",
            str(out),
            "--result",
            "-",
            "--no-progress",
        ]
        result = subprocess.run(validate, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        assert "OK: no failures" in result.stdout and '"engine": "ray"' in result.stdout
        tasks = json.loads(
            _ray(
                "list",
                "tasks",
                "--format",
                "json",
                "--detail",
                "--limit",
                "1000",
                "--filter",
                "state=FINISHED",
                env=env,
            ).stdout
        )
        checks = [t for t in tasks if "check" in t["name"] and t.get("node_id")]
        assert checks and {t["node_id"] for t in checks} <= worker_ids, sorted({t["name"] for t in tasks})
        # `python -m jobs.report`: the shards read by tasks on the workers, the files the
        # same as the local engine's.
        report = [
            str(BIN / "ray"),
            "job",
            "submit",
            "--working-dir",
            ".",
            "--",
            "python",
            "-m",
            "jobs.report",
            str(out),
            "--out",
            str(tmp_path / "report"),
        ]
        result = subprocess.run(report, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        assert "read 2/2 shards" in result.stdout
        assert factory_main(["report", str(out), "--out", str(tmp_path / "local-report")]) == 0
        for name in ("stats.json", "DATASET_CARD.md", "report.html"):
            assert (tmp_path / "report" / name).read_bytes() == (tmp_path / "local-report" / name).read_bytes()

        damaged = out / "tiny-000001.tar"
        data = bytearray(damaged.read_bytes())
        data[len(data) // 2] ^= 0xFF
        damaged.write_bytes(bytes(data))
        result = subprocess.run(validate, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
        assert result.returncode != 0
        assert "tiny-000001.tar - shard.sha256" in result.stdout, result.stdout[-4000:]
    finally:
        path = state / "cluster.json"
        info = json.loads(path.read_text()) if path.exists() else {}  # read before `down` removes it
        down_started = time.monotonic()
        down = subprocess.run(
            [sys.executable, str(LOCAL), "down", "--state", str(state)], capture_output=True, text=True, timeout=180
        )
        down_s = time.monotonic() - down_started
        left = local.processes_of(info) if info else []
        for pid in left:  # never leave a cluster behind, even when the test failed
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
    assert down.returncode == 0, down.stdout + down.stderr
    assert left == [], f"processes of the cluster still running after `down`: {left}"
    assert "killed" not in down.stderr  # every node stopped on SIGTERM
    pids = [info["head"]["pid"], *(w["pid"] for w in info["workers"])]
    assert not [p for p in pids if local.alive(p)]
    assert not Path(info["temp_dir"]).exists() and not (state / "cluster.json").exists()
    print(f"cluster up {up_s:.1f} s, job {job_s:.1f} s, down {down_s:.1f} s")
