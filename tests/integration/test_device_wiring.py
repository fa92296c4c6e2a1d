"""The render device and batching, wired into the pipeline's render stage, its block
sizes and the commands' options (no Ray here; the Ray runs are in test_pipeline.py).

A sample that fails inside a batched render is made real by a config whose scenario
``one`` asks for a shape this renderer does not know: the config is a copy of the tiny
one, changed past validation (as a config written by a newer factory would read), so
sampling and physics succeed and the renderer fails on that scenario's samples only,
inside ``generate_samples``' batched launch.
"""

from __future__ import annotations

import json
import math
import pickle

import pyarrow as pa
import pytest

from factory.commands import preflight
from factory.errors import ConfigError, RenderError
from factory.onray.pipeline import GPU_BATCH_VIEWS, MAX_INPUT_BLOCKS, RenderStage, block_size
from factory.render.device import cuda_available
from factory.sample.encode import encode_sample
from factory.sample.generate import generate_sample, scenario_of
from factory.scene.config import Config, parse_config
from tests.helpers.datasets import UNKNOWN_SHAPE_ERROR, with_unknown_shape


def on(config: Config, **render) -> Config:
    data = config.resolved()
    data["render"].update(render)
    return parse_config(data)


def block(indices) -> pa.Table:
    return pa.table({"index": pa.array(indices, pa.int64()), "shard": pa.array([0] * len(indices), pa.int64())})


def rendered(table: pa.Table) -> list[tuple[int, dict | None, bytes]]:
    """(index, failure row or None, pickled sample) of each row of a render stage's output."""
    return [
        (i, json.loads(e) if e else None, p)
        for i, e, p in zip(*(table[c].to_pylist() for c in ("index", "error", "sample")))
    ]


def test_the_config_of_a_command_carries_its_render_flags(tmp_path, tiny_config):
    from tests.helpers import CONFIGS

    path = CONFIGS / "tiny.yaml"
    assert preflight.load_config_with(path, {}) == tiny_config
    # (parsing only: a cuda config is valid on any machine; rendering it needs CUDA)
    config = preflight.load_config_with(path, {"device": "cuda", "batch_views": 7})
    assert (config.render.device, config.render.batch_views) == ("cuda", 7)
    assert config == on(tiny_config, device="cuda", batch_views=7)
    assert config.config_hash() != tiny_config.config_hash()  # the device is part of the config
    assert on(tiny_config, batch_views=7).config_hash() == tiny_config.config_hash()  # the batch size is not


@pytest.mark.skipif(cuda_available(), reason="this machine has CUDA")
def test_check_device_refuses_cuda_here_naming_render_device_and_trusts_a_cluster():
    with pytest.raises(ConfigError) as info:
        preflight.check_device("cuda", "x.yaml with --device cuda")
    assert "x.yaml with --device cuda" in str(info.value) and "render.device: 'cuda'" in str(info.value)
    preflight.check_device("cuda", "x.yaml", here=False)  # rendering happens on the cluster's nodes
    preflight.check_device("cpu", "x.yaml")
    with pytest.raises(ConfigError, match="render.device: 'gpu' is not one of cpu, cuda"):
        preflight.check_device("gpu", "x.yaml")  # the old PyTorch device name is no device now


ON_CUDA = pytest.mark.cuda


# batch_views 3: launches of 3 views cut across the block's clips of 2 frames each
@pytest.mark.parametrize("device, batch_views", [("cpu", 0), ("cpu", 3), pytest.param("cuda", 3, marks=ON_CUDA)])
def test_the_render_stage_renders_a_block_as_generate_sample_does(tiny_config, device, batch_views):
    config = on(tiny_config, device=device, batch_views=batch_views)
    out = RenderStage(config, 6, None, fail_fast=True)(block([5, 0, 3]))
    assert out["index"].to_pylist() == [5, 0, 3] and out["error"].to_pylist() == ["", "", ""]
    for index, payload in zip([5, 0, 3], out["sample"].to_pylist()):
        got = pickle.loads(payload)
        want = generate_sample(config, index, samples=6)
        assert encode_sample(got, mp4=False) == encode_sample(want, mp4=False)


def test_a_sample_failing_inside_a_batched_block_is_reported_with_its_own_index(tiny_config):
    config = with_unknown_shape(tiny_config)
    indices = list(range(6))
    bad = [i for i in indices if scenario_of(config, i, 6) == "one"]
    assert bad and len(bad) < len(indices)  # the block mixes good and failing samples

    out = RenderStage(config, 6, None, fail_fast=False)(block(indices))
    rows = rendered(out)
    assert [i for i, error, _ in rows if error] == bad
    for index, error, payload in rows:
        if index in bad:
            assert (
                error == {"index": index, "scenario": "one", "seed": tiny_config.seed, "error": UNKNOWN_SHAPE_ERROR}
                and payload == b""
            )
        else:  # its neighbours in the block are made as if alone
            want = generate_sample(config, index, samples=6)
            assert encode_sample(pickle.loads(payload), mp4=False) == encode_sample(want, mp4=False)

    with pytest.raises(RenderError) as info:  # failing fast: the first bad sample of the block, by name
        RenderStage(config, 6, None, fail_fast=True)(block(indices))
    err = info.value
    assert (err.index, err.scenario, err.seed) == (bad[0], "one", tiny_config.seed)
    assert f"sample {bad[0]} (scenario 'one'" in str(err) and isinstance(err.__cause__, ValueError)


@pytest.mark.skipif(cuda_available(), reason="this machine has CUDA")
def test_a_device_that_cannot_be_used_fails_every_sample_of_the_block_by_name(tiny_config):
    config = on(tiny_config, device="cuda")
    rows = rendered(RenderStage(config, 6, None, fail_fast=False)(block([1, 2])))
    assert [(i, e["index"], e["scenario"]) for i, e, _ in rows] == [(i, i, scenario_of(config, i, 6)) for i in (1, 2)]
    assert all("render.device: 'cuda' needs a CUDA device" in e["error"] for _, e, _ in rows)
    with pytest.raises(RenderError, match=r"(?s)sample 1 .*render.device"):
        RenderStage(config, 6, None, fail_fast=True)(block([1, 2]))


def test_a_custom_generate_fn_is_still_called_once_per_index(tiny_config):
    calls = []

    def gen(config, index, samples):
        calls.append(index)
        return generate_sample(config, index, samples=samples)

    out = RenderStage(tiny_config, 6, gen, fail_fast=True)(block([4, 1]))
    assert calls == [4, 1] and out["error"].to_pylist() == ["", ""]


def test_block_sizes_fill_a_gpu_launch_and_leave_cpu_blocks_as_they_were(tiny_config):
    r = tiny_config.render  # 32 x 32, 2 frames
    # CPU: at most 8, a quarter of each worker's share, a shard; whatever batch_views says
    for batch_views in (0, 64):
        cpu = r.model_copy(update={"device": "cpu", "batch_views": batch_views})
        assert block_size(cpu, rows=10, shard_size=4, workers=1) == 3
        assert block_size(cpu, rows=10_000, shard_size=500, workers=2) == 8
        assert block_size(cpu, rows=10_000, shard_size=2, workers=2) == 2
    gpu = r.model_copy(update={"device": "cuda"})
    fill = math.ceil(GPU_BATCH_VIEWS / r.frames)  # 128 clips of 2 frames fill a launch of 256 views
    assert block_size(gpu, rows=100_000, shard_size=500, workers=4) == fill
    assert block_size(gpu.model_copy(update={"batch_views": 64}), rows=100_000, shard_size=500, workers=4) == 32
    assert block_size(gpu.model_copy(update={"batch_views": 1}), rows=10_000, shard_size=500, workers=4) == 1
    assert block_size(gpu, rows=100_000, shard_size=50, workers=4) == 50  # never more than a shard
    assert block_size(gpu, rows=200, shard_size=500, workers=4) == 50  # every actor gets work
    big = gpu.model_copy(update={"width": 1024, "height": 1024, "frames": 24})  # 780 MB of frames a clip
    assert block_size(big, rows=10_000, shard_size=500, workers=4) == 1  # 11 would fill a launch
    assert block_size(gpu, rows=10**6, shard_size=10**6, workers=1) == 128
    assert block_size(gpu, rows=10**8, shard_size=10**6, workers=1) == 10**8 // MAX_INPUT_BLOCKS  # bigger


@pytest.mark.skipif(cuda_available(), reason="this machine has CUDA")
def test_generate_dataset_refuses_cuda_before_starting_a_local_ray(tmp_path):
    """In a fresh process (this one may hold the session's Ray, which skips the check)."""
    import os
    import subprocess
    import sys

    from tests.helpers import CONFIGS

    code = f"""
import ray
from factory.commands.preflight import load_config_with
from factory.errors import ConfigError
from factory.onray.pipeline import generate_dataset
config = load_config_with({str(CONFIGS / "tiny.yaml")!r}, {{"device": "cuda"}})
try:
    generate_dataset(config, {str(tmp_path / "ds")!r}, samples=2, shard_size=2, log=print)
except ConfigError as e:
    print("refused:", e, "| ray started:", ray.is_initialized())
"""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert "refused: invalid config render settings" in result.stdout, result.stdout + result.stderr
    assert "render.device: 'cuda' needs a CUDA device" in result.stdout
    assert "ray started: False" in result.stdout and not (tmp_path / "ds").exists()


def test_the_manifest_records_the_libraries_that_render_on_every_device(tiny_config):
    """Library versions that can change a sample's bytes are provenance: Warp (the render
    kernels) and trimesh (the mesh assets) on every device, cpu and cuda alike."""
    import importlib.metadata

    from factory.dataset import manifest

    def libraries(config):
        return manifest.build(config, samples=0, shard_size=1, prefix="p", shards=[], max_failures=0)["generator"][
            "libraries"
        ]

    on_cpu = libraries(tiny_config)
    for name in ("warp-lang", "trimesh", "numpy", "mujoco-core"):
        assert on_cpu[name] == importlib.metadata.version(name)
    assert not {"torch", "array-api-compat"} & set(on_cpu)  # the renderer no longer uses them
    assert libraries(on(tiny_config, device="cuda")) == on_cpu  # a manifest is written on any machine
