"""Same config and index -> same bytes, in any process and any order: digests from fresh
processes, kernels built for this CPU and for the generic target, the kernel cache
filled once, MuJoCo trajectories across processes (subprocesses and kernel builds from
scratch: no Ray, but too slow for tests/unit). In-process stream independence:
tests/unit/test_determinism.py."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from factory.render.device import KERNEL_MODULES
from factory.render.warp_setup import CPU_FLAGS
from factory.sample.generate import generate_members
from factory.scene.config import load_config

ROOT = Path(__file__).parents[2]


CONFIG = ROOT / "configs" / "edge_cases.yaml"  # noise, blur and handheld shake included


INDICES = [0, 1, 4, 7]


_DIGESTS = """
import hashlib, json, sys
from factory.scene.config import load_config
from factory.render.warp_setup import CPU_FLAGS
from factory.sample.generate import generate_members
cfg = load_config(sys.argv[1])
out = {}
for i in map(int, sys.argv[2:]):
    m = generate_members(cfg, i)
    out[i] = {k: hashlib.sha256(v).hexdigest() for k, v in m.items() if k != "__key__"}
print(json.dumps(out))
"""


def _digests(indices, config: Path = CONFIG) -> dict:
    cfg = load_config(config)
    return {
        i: {k: hashlib.sha256(v).hexdigest() for k, v in generate_members(cfg, i).items() if k != "__key__"}
        for i in indices
    }


@pytest.mark.parametrize("config", [CONFIG, ROOT / "configs" / "shapes.yaml"], ids=["edge_cases", "shapes"])
def test_sample_bytes_identical_across_processes_and_order(config):
    here = _digests(list(reversed(INDICES)), config)  # reverse order, this process
    proc = subprocess.run(
        [sys.executable, "-c", _DIGESTS, str(config), *map(str, INDICES)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    there = {int(k): v for k, v in json.loads(proc.stdout).items()}
    assert there == here
    # Different indices really are different samples.
    assert len({d["rgb.png"] for d in here.values()}) == len(INDICES)


SHAPES = ROOT / "configs" / "shapes.yaml"  # meshes, soft shadows, ambient occlusion


def _digests_in_subprocess(config: Path, indices, env: dict) -> dict:
    import os

    proc = subprocess.run(
        [sys.executable, "-c", _DIGESTS, str(config), *map(str, indices)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, **env},
    )
    return {int(k): v for k, v in json.loads(proc.stdout).items()}


@pytest.mark.slow
def test_bytes_do_not_depend_on_how_the_cpu_kernels_were_built(tmp_path):
    """The kernels built for this CPU's own instruction set (-march=native, with the
    vector units and FMA of this model) give the bytes of the generic build that
    factory ships: the CPU model a worker runs on cannot change a sample. Both builds
    compile from scratch into an empty cache."""
    native = _digests_in_subprocess(
        SHAPES,
        [0, 3],
        {"FACTORY_KERNEL_CACHE": str(tmp_path / "native"), "FACTORY_WARP_CPU_FLAGS": "-march=native " + CPU_FLAGS},
    )
    generic = _digests_in_subprocess(SHAPES, [0, 3], {"FACTORY_KERNEL_CACHE": str(tmp_path / "generic")})
    assert native == generic
    assert any((tmp_path / "native").rglob("*.o")) and any((tmp_path / "generic").rglob("*.o"))


@pytest.mark.slow
def test_warmup_fills_the_cache_once(tmp_path):
    env = {"FACTORY_KERNEL_CACHE": str(tmp_path / "cache")}
    factory = [sys.executable, "-m", "factory.cli", "warmup", "--device", "cpu"]
    import os

    first = subprocess.run(factory, capture_output=True, text=True, check=True, env={**os.environ, **env})
    second = subprocess.run(factory, capture_output=True, text=True, check=True, env={**os.environ, **env})
    assert f"kernel cache: {tmp_path / 'cache'}" in first.stdout
    assert "factory.render.kernels" in first.stdout and "(compiled)" in first.stdout
    assert "factory.physics.liquid_kernels" in first.stdout
    assert "(compiled)" not in second.stdout and second.stdout.count("(cached)") == len(KERNEL_MODULES)


_TRAJECTORIES = """
import dataclasses, hashlib, json, sys
import numpy as np
from factory.physics.dynamics import simulate
from factory.sample.generate import scenario_of
from factory.sample.scenes import sample_scene
from factory.scene.config import load_config
out = {}
for case in sys.argv[1:]:
    path, scenario = case.split(":")
    cfg = load_config(path)
    index = next(i for i in range(400) if scenario_of(cfg, i, 400) == scenario)
    m = simulate(sample_scene(cfg, scenario, index))
    h = hashlib.sha256()
    for a in (m.positions, m.quats, m.velocities, m.angular, m.masses, m.inertia):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(json.dumps([dataclasses.asdict(e) for e in m.events], sort_keys=True).encode())
    out[case] = h.hexdigest()
print(json.dumps(out))
"""


def test_trajectories_are_bitwise_equal_across_processes_and_order():
    # Stacks that fall, objects pushed off furniture, rolling, and tori and tubes in a pile
    # (convex pieces), in two fresh processes, one in reverse order.
    cases = [
        f"{ROOT / 'configs' / c}.yaml:{s}"
        for c, s in (
            ("edge_cases", "falling_stack"),
            ("edge_cases", "rolling"),
            ("edge_cases", "pile_up"),
            ("rooms", "shelf_spill"),
            ("shapes", "pile"),
        )
    ]
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", _TRAJECTORIES, *order], capture_output=True, text=True, check=True, cwd=ROOT
            ).stdout
        )
        for order in (cases, list(reversed(cases)))
    ]
    assert runs[0] == runs[1]
    assert len(set(runs[0].values())) == len(cases)
