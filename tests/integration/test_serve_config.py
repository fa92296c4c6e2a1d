"""The Serve config file in the repository, and ``factory serve``'s own checks (no cluster)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from factory.commands.serve import DEFAULT_CONFIG, load_serve_config
from factory.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
FACTORY = Path(sys.executable).parent / "factory"


def test_the_shipped_serve_config_is_valid_for_serve_and_for_build_app():
    from factory.service.app import DEPLOYMENT, build_app
    from factory.service.settings import Settings

    assert DEFAULT_CONFIG == REPO / "k8s" / "base" / "serve.yaml"
    config = load_serve_config(DEFAULT_CONFIG)
    (app,) = config.applications
    assert app.import_path == "factory.service.app:build_app" and app.route_prefix == "/"
    Settings.model_validate(app.args)
    build_app(app.args)  # builds without Ray running
    (dep,) = app.deployments
    assert dep.name == DEPLOYMENT
    scaling = dep.autoscaling_config
    assert scaling["min_replicas"] >= 1 and scaling["max_replicas"] >= scaling["min_replicas"]
    assert scaling["target_ongoing_requests"] > 0 and dep.ray_actor_options.num_gpus == 0


def test_command_line_overrides_reach_the_deployment():
    config = load_serve_config(
        DEFAULT_CONFIG, host="127.0.0.1", port=9123, min_replicas=2, max_replicas=3, gpus_per_replica=1
    )
    assert (config.http_options.host, config.http_options.port) == ("127.0.0.1", 9123)
    (dep,) = config.applications[0].deployments
    assert dep.autoscaling_config["min_replicas"] == 2 and dep.autoscaling_config["max_replicas"] == 3
    assert dep.ray_actor_options.num_gpus == 1


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda d: d["applications"][0].update(import_path="nocolon"), "applications.0.import_path"),
        (lambda d: d["http_options"].update(port="http"), "http_options.port"),
        (
            lambda d: d["applications"][0]["deployments"][0]["autoscaling_config"].update(min_replicas=9),
            "min_replicas 9 > max_replicas 4",
        ),
    ],
)
def test_a_bad_serve_config_names_the_field(tmp_path, edit, words):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    edit(data)
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_serve_config(path)
    assert words in str(info.value)


def test_bad_app_args_fail_before_ray_starts(tmp_path):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["applications"][0]["args"]["max_count"] = 0
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(data))
    result = subprocess.run([str(FACTORY), "serve", "--config", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "max_count: Input should be greater than or equal to 1" in result.stderr
    missing = subprocess.run(
        [str(FACTORY), "serve", "--config", str(tmp_path / "none.yaml")], capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 2 and "cannot read the Serve config" in missing.stderr


def test_the_device_setting_defaults_to_each_configs_own_and_sizes_batches_and_gpus():
    from factory.service.app import build_app
    from factory.service.settings import GPU_MAX_BATCH_SIZE, Settings

    plain = Settings()
    assert plain.device is None and plain.render == {} and (plain.batch_size, plain.gpus) == (1, 0.0)
    gpu = Settings(device="cuda", batch_views=64)
    assert gpu.render == {"device": "cuda", "batch_views": 64}
    assert (gpu.batch_size, gpu.gpus) == (GPU_MAX_BATCH_SIZE, 1.0) and GPU_MAX_BATCH_SIZE > 1
    assert (
        Settings(device="cuda", max_batch_size=2, num_gpus=0.5).batch_size,
        Settings(device="cuda", max_batch_size=2, num_gpus=0.5).gpus,
    ) == (2, 0.5)  # given values win
    cpu = Settings(device="cpu", batch_views=8)  # a device set to cpu: replaces each config's, no GPU
    assert cpu.render == {"device": "cpu", "batch_views": 8} and (cpu.batch_size, cpu.gpus) == (1, 0.0)
    app = build_app({"device": "cuda"})  # builds without a GPU here: the replicas check their own device
    assert app._bound_deployment.ray_actor_options["num_gpus"] == 1.0
    for args, words in (
        ({"device": "tpu"}, "device: Input should be 'cpu' or 'cuda'"),
        ({"device": "gpu"}, "device: Input should be 'cpu' or 'cuda'"),
        ({"batch_views": -1}, "batch_views: Input should be greater than or equal to 0"),
    ):
        with pytest.raises(ConfigError) as info:
            build_app(args)
        assert words in str(info.value)


def test_command_line_render_options_reach_every_factory_application():
    config = load_serve_config(DEFAULT_CONFIG, render={"device": "cpu", "batch_views": 8})
    (app,) = config.applications
    assert app.args["device"] == "cpu" and app.args["batch_views"] == 8
    assert app.deployments[0].ray_actor_options.num_gpus == 0
    gpu = load_serve_config(DEFAULT_CONFIG, render={"device": "cuda"})
    assert gpu.applications[0].args["device"] == "cuda"
    assert gpu.applications[0].deployments[0].ray_actor_options.num_gpus == 1  # the file's 0 would not do
    held = load_serve_config(DEFAULT_CONFIG, gpus_per_replica=0.25, render={"device": "cuda"})
    assert held.applications[0].deployments[0].ray_actor_options.num_gpus == 0.25
    assert "device" not in load_serve_config(DEFAULT_CONFIG).applications[0].args


def test_serve_refuses_a_device_it_cannot_use_before_ray_starts(tmp_path):
    from factory.render.device import cuda_available

    bogus = subprocess.run([str(FACTORY), "serve", "--device", "bogus"], capture_output=True, text=True, timeout=120)
    assert bogus.returncode == 2 and "argument --device: invalid choice: 'bogus'" in bogus.stderr
    if cuda_available():
        return
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = subprocess.run(
        [str(FACTORY), "serve", "--device", "cuda", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "render.device: 'cuda' needs a CUDA device" in result.stderr
    assert "starting an embedded local Ray" not in result.stdout + result.stderr
