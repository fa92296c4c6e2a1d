"""The Serve config file in the repository, and ``factory serve``'s own checks (no cluster)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from factory.commands.serve import DEFAULT_CONFIG, load_serve_config
from factory.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
FACTORY = Path(sys.executable).parent / "factory"


def test_the_shipped_serve_config_is_valid_for_serve_and_for_build_app():
    from factory.service.app import DEPLOYMENT, Settings, build_app

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
    config = load_serve_config(DEFAULT_CONFIG, host="127.0.0.1", port=9123, min_replicas=2, max_replicas=3,
                               gpus_per_replica=1)
    assert (config.http_options.host, config.http_options.port) == ("127.0.0.1", 9123)
    (dep,) = config.applications[0].deployments
    assert dep.autoscaling_config["min_replicas"] == 2 and dep.autoscaling_config["max_replicas"] == 3
    assert dep.ray_actor_options.num_gpus == 1


@pytest.mark.parametrize("edit, words", [
    (lambda d: d["applications"][0].update(import_path="nocolon"), "applications.0.import_path"),
    (lambda d: d["http_options"].update(port="http"), "http_options.port"),
    (lambda d: d["applications"][0]["deployments"][0]["autoscaling_config"].update(min_replicas=9),
     "min_replicas 9 > max_replicas 4"),
])
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
    result = subprocess.run([str(FACTORY), "serve", "--config", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "max_count: Input should be greater than or equal to 1" in result.stderr
    missing = subprocess.run([str(FACTORY), "serve", "--config", str(tmp_path / "none.yaml")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "cannot read the Serve config" in missing.stderr
