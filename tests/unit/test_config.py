"""Scenario configs: distributions, the bad-config table, and the shipped configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from factory.errors import ConfigError
from factory.sample.generate import generate_sample, scenario_of
from factory.scene.config import load_config, parse_config
from factory.scene.distributions import parse_choice, parse_number

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))


def _s(**scenario) -> dict:
    return {"scenarios": {"night": scenario}}


# (config data, field path named in the error, words that say what is allowed)
BAD = [
    (_s(lighting={"intensity": -1}), "scenarios.night.lighting.intensity", ">= 0.0"),
    (_s(lighting={"intensty": 1}), "scenarios.night.lighting.intensty", "allowed keys: count, kind, intensity"),
    (_s(objects={"count": {"dist": "uniform", "low": 1, "high": 3}}), "scenarios.night.objects.count", "randint"),
    (_s(objects={"count": 2.5}), "scenarios.night.objects.count", "integer"),
    (
        _s(objects={"shape": "teapot"}),
        "scenarios.night.objects.shape",
        "sphere, box, cylinder, capsule, ell, torus, rock",
    ),
    (_s(objects={"shape": {"dist": "choice", "values": ["box", "cube"]}}), "scenarios.night.objects.shape", "'cube'"),
    (_s(objects={"size": {"dist": "normal", "mean": 1, "std": 1}}), "scenarios.night.objects.size", "> 0.0"),
    (_s(objects={"size": {"dist": "uniform", "low": 0.5, "high": 0.1}}), "scenarios.night.objects.size", "above high"),
    (_s(objects={"size": {"dist": "loguniform", "low": 0, "high": 1}}), "scenarios.night.objects.size", "> 0"),
    (
        _s(objects={"restitution": {"dist": "uniform", "low": 0.5, "high": 1.5}}),
        "scenarios.night.objects.restitution",
        "<= 1.0",
    ),
    (_s(objects={"speed": {"dist": "gamma", "k": 1}}), "scenarios.night.objects.speed", "uniform, normal, loguniform"),
    (_s(objects={"speed": {"dist": "uniform", "low": 0}}), "scenarios.night.objects.speed", "needs 'high'"),
    (
        _s(objects={"texture": {"dist": "choice", "values": ["plain"], "weights": [1, 2]}}),
        "scenarios.night.objects.texture",
        "weights",
    ),
    (_s(camera={"fov_deg": 170}), "scenarios.night.camera.fov_deg", "<= 150.0"),
    (_s(camera={"trajectory": "spiral"}), "scenarios.night.camera.trajectory", "static, orbit, dolly, handheld"),
    (_s(room={"widht": 4}), "scenarios.night.room.widht", "allowed keys: width, depth, height"),
    (_s(weight=0), "scenarios.night.weight", "greater than 0"),
    ({"render": {"width": 3}, **_s()}, "render.width", "greater than or equal to 8"),
    ({"render": {"frames": 0}, **_s()}, "render.frames", "greater than or equal to 1"),
    ({"seed": -1, **_s()}, "seed", "greater than or equal to 0"),
    ({"output": {"png": "pillow"}, **_s()}, "output.png", "'libdeflate' or 'opencv' (got 'pillow')"),
    ({"sed": 1, **_s()}, "sed", "allowed keys: name, seed, licence"),
    ({"scenarios": {}}, "scenarios", "at least 1"),
    ({"scenarios": {"Bad.Name": {}}}, "scenarios.Bad.Name", "lower-case letters"),
    ({"name": "my dataset", **_s()}, "name", "pattern"),
]


@pytest.mark.parametrize("data,path,allowed", BAD, ids=[b[1] + ":" + b[2][:12] for b in BAD])
def test_bad_config_names_field_value_and_what_is_allowed(data, path, allowed):
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    problems = info.value.problems
    line = next((p for p in problems if p.startswith(path + ":")), None)
    assert line is not None, problems
    assert allowed in line, line


def test_config_errors_list_every_problem():
    with pytest.raises(ConfigError) as info:
        parse_config(_s(lighting={"intensity": -1, "ambient": 2}, camera={"fov_deg": 1}))
    paths = sorted(p.split(":")[0] for p in info.value.problems)
    assert paths == [
        "scenarios.night.camera.fov_deg",
        "scenarios.night.lighting.ambient",
        "scenarios.night.lighting.intensity",
    ]


def test_load_config_reports_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios: {a: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    top = tmp_path / "list.yaml"
    top.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(top)


def test_distributions_stay_in_their_support():
    rng = np.random.default_rng(0)
    u = parse_number({"dist": "uniform", "low": 2, "high": 3})
    n = parse_number({"dist": "normal", "mean": 0, "std": 5}, ge=-1, le=1)  # clipped to the field
    lu = parse_number({"dist": "loguniform", "low": 0.01, "high": 10})
    ri = parse_number({"dist": "randint", "low": 3, "high": 5}, integer=True)
    ch = parse_choice({"dist": "choice", "values": ["a", "b"], "weights": [3, 1]}, ["a", "b", "c"])
    us = [u.sample(rng) for _ in range(2000)]
    ns = [n.sample(rng) for _ in range(2000)]
    ls = np.array([lu.sample(rng) for _ in range(4000)])
    rs = [ri.sample(rng) for _ in range(2000)]
    cs = [ch.sample(rng) for _ in range(4000)]
    assert 2 <= min(us) and max(us) < 3
    assert min(ns) == -1 and max(ns) == 1  # std 5 is clipped at both ends
    assert 0.01 <= ls.min() and ls.max() <= 10
    # Log-uniform over three decades: each holds about a third of the draws.
    assert 0.3 < np.mean(ls < 0.1) < 0.37 and 0.3 < np.mean(ls > 1.0) < 0.37
    assert set(rs) == {3, 4, 5}
    assert 0.7 < cs.count("a") / len(cs) < 0.8
    assert parse_number(4).sample(rng) == 4
    # The accessors readers use: no one reaches into Param.args.
    assert [u.upper(), n.upper(), lu.upper(), ri.upper(), parse_number(4).upper()] == [3, 1, 10, 5, 4]
    assert parse_number({"dist": "choice", "values": [2, 7, 5]}).upper() == 7
    assert ch.values() == ("a", "b") and parse_choice("c", ["c"]).values() == ("c",)
    assert all(max(draws) <= p.upper() for p, draws in ((u, us), (n, ns), (lu, ls), (ri, rs)))
    with pytest.raises(ValueError, match="range"):
        u.values()


def test_png_writer_defaults_to_libdeflate_and_is_in_the_hash():
    cfg = parse_config(_s())
    assert cfg.output.png == "libdeflate" and cfg.resolved()["output"]["png"] == "libdeflate"
    opencv = parse_config({"output": {"png": "opencv"}, **_s()})
    assert opencv.output.png == "opencv"
    assert opencv.config_hash() != cfg.config_hash()  # other PNG bytes: another dataset


def test_resolved_config_round_trips_and_hash_is_stable():
    cfg = load_config(CONFIGS[0])
    again = parse_config(cfg.resolved())
    assert again.resolved() == cfg.resolved()
    assert again.config_hash() == cfg.config_hash()
    other = parse_config({**cfg.resolved(), "seed": cfg.seed + 1})
    assert other.config_hash() != cfg.config_hash()


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_config_loads_and_every_scenario_renders(path):
    cfg = load_config(path)
    todo = set(cfg.scenarios)
    assert path.stem != "edge_cases" or len(todo) >= 6
    for index in range(200):
        name = scenario_of(cfg, index)
        if name not in todo:
            continue
        todo.discard(name)
        s = generate_sample(cfg, index)
        assert s.scenario == name
        T, H, W = cfg.render.frames, cfg.render.height, cfg.render.width
        assert s.frames.rgb.shape == (T, H, W, 3)
        assert s.frames.rgb.std() > 5  # a picture, not a flat fill
        if not todo:
            break
    assert not todo
