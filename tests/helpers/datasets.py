"""Datasets for the tests, made without Ray: the tiny config, the shards a dataset must
hold (``generate_members`` for every index, assembled by the reference tar writer) and
whole datasets written through the one dataset writer.

factory is imported inside the functions: every pytest run loads this plugin, and a
test that needs no dataset should not pay for importing the renderer and the physics.
"""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import CONFIGS


@pytest.fixture(scope="session")
def tiny_config():
    """The tiny test config (32 x 32 px, 2 frames, 1-3 objects, no MP4)."""
    from factory.scene.config import load_config

    return load_config(CONFIGS / "tiny.yaml")


# What a sample of a scenario changed past validation to draw a shape no one knows
# fails with (see :func:`with_unknown_shape`): the registry's own message.
UNKNOWN_SHAPE_ERROR = (
    "ValueError: shape kind 'blob' is not one of sphere, box, cylinder, capsule, ell, torus, "
    "rock, cone, tube, icosahedron, gen:<generator> or pack:<pack>"
)


def with_unknown_shape(config, scenario: str = "one"):
    """``config`` with ``scenario`` asking for the shape ``blob``, changed past validation
    (as a config written by a newer factory would read): its samples fail when their
    scene is drawn, inside ``generate_samples``' batched block; the other scenarios' do not."""
    from factory.scene.distributions import Param

    sc = config.scenarios[scenario]
    bad = sc.model_copy(update={"objects": sc.objects.model_copy(update={"shape": Param("constant", ("blob",))})})
    return config.model_copy(update={"scenarios": {**config.scenarios, scenario: bad}})


def memory_url(name: str) -> str:
    """A fresh ``memory://`` dataset URL (fsspec's in-process filesystem): for a test of
    logic that reads or writes a dataset through storage, where local files add nothing."""
    return f"memory://factory-tests/{name}-{uuid.uuid4().hex[:12]}"


_REFERENCE: dict = {}


def reference_shards(config, samples: int, shard_size: int, prefix: str | None = None) -> dict[str, bytes]:
    """The shards a dataset must hold, built here without Ray: ``generate_members`` for
    every index, assembled by the reference tar writer. Name -> bytes (cached)."""
    from factory.dataset.shards import build_shard, shard_count, shard_indices, shard_name
    from factory.sample.generate import generate_members

    key = (config.config_hash(), samples, shard_size, prefix)
    if key not in _REFERENCE:
        out = {}
        for s in range(shard_count(samples, shard_size)):
            members = [generate_members(config, i, samples=samples) for i in shard_indices(s, samples, shard_size)]
            out[shard_name(prefix or config.name, s)] = build_shard([(m["__key__"], m) for m in members])
        _REFERENCE[key] = out
    return _REFERENCE[key]


def write_dataset(config, url, samples: int, shard_size: int, prefix: str | None = None) -> dict:
    """Write a complete dataset (intent, shards, records, manifest) to ``url`` without Ray,
    through the one dataset writer (the plan's), from :func:`reference_shards`; returns
    the manifest. For tests of what reads datasets (validate, report, mix) that need no
    pipeline."""
    from factory.dataset.resume import prepare
    from factory.dataset.storage import resolve

    plan = prepare(resolve(str(url)), config, samples=samples, shard_size=shard_size, prefix=prefix, mode="overwrite")
    shards = reference_shards(config, samples, shard_size, prefix)
    return plan.commit({s: plan.put_shard(s, data) for s, data in enumerate(shards.values())})
