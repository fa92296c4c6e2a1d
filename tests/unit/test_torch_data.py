"""The PyTorch datasets over shards: every sample exactly once per epoch across
DataLoader workers and ranks, tensors equal to decode_sample's arrays (local shards).
A dataset on S3 (moto's server): tests/integration/test_torch_data.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from factory.client.torch_data import ShardDataset, collate, to_tensors
from factory.dataset.reader import open_dataset
from factory.sample.decode import decode_sample
from tests.helpers.datasets import write_dataset

SAMPLES = 11


@pytest.fixture(scope="module")
def shards(tmp_path_factory, tiny_config):
    """11 samples in shards of 2 (6 shards) and of 6 (2 shards)."""
    out = {}
    for size in (2, 6):
        folder = tmp_path_factory.mktemp(f"shards{size}")
        write_dataset(tiny_config, folder, SAMPLES, size)
        out[size] = str(folder)
    return out


def _indices(url: str, rank: int, world_size: int, workers: int, **kw) -> list[int]:
    loader = DataLoader(
        ShardDataset(url, rank=rank, world_size=world_size, **kw), batch_size=3, num_workers=workers, collate_fn=collate
    )
    return [i for batch in loader for i in batch["index"].tolist()]


@pytest.mark.parametrize("size", [2, 6], ids=["whole shards per slot", "samples split within shards"])
def test_two_ranks_of_two_workers_see_every_sample_exactly_once(shards, size):
    seen = _indices(shards[size], 0, 2, 2) + _indices(shards[size], 1, 2, 2)
    assert sorted(seen) == list(range(SAMPLES))  # none lost, none twice
    # And each rank reads a part, not everything.
    assert 0 < len(_indices(shards[size], 0, 2, 2)) < SAMPLES


def test_shuffled_epochs_differ_in_order_not_in_samples(shards):
    ds = ShardDataset(shards[2], rank=0, world_size=1, shuffle=True, seed=5)
    orders = []
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        orders.append([s["index"] for s in ds])
    assert orders[0] != orders[1] and sorted(orders[0]) == sorted(orders[1]) == list(range(SAMPLES))


def test_the_tensors_are_decode_samples_arrays(shards):
    got = {s["key"]: s for s in ShardDataset(shards[6], rank=0, world_size=1)}
    for _, key, members in open_dataset(shards[6]).samples():
        frames, meta = decode_sample(members)
        t = got[key]
        assert torch.equal(t["frames"], torch.from_numpy(frames.rgb).permute(0, 3, 1, 2))
        assert torch.equal(t["depth"], torch.from_numpy(frames.depth))
        assert torch.equal(t["instance"], torch.from_numpy(frames.instance.astype(np.int32)))
        assert torch.equal(t["semantic"], torch.from_numpy(frames.semantic))
        assert torch.equal(t["normals"], torch.from_numpy(frames.normals).permute(0, 3, 1, 2))
        assert torch.equal(t["flow"], torch.from_numpy(frames.flow).permute(0, 3, 1, 2))
        assert torch.equal(t["flow_valid"], torch.from_numpy(frames.flow_valid))
        assert t["meta"] == meta and t["index"] == meta["index"]
        # Boxes: each object's visible box per frame, NaN where it is not visible.
        for n, o in enumerate(meta["objects"]):
            assert t["box_ids"][n] == o["id"]
            for f, box in enumerate(o["bbox_visible"]):
                assert torch.isnan(t["boxes"][f, n]).all() if box is None else t["boxes"][f, n].tolist() == box


def test_modalities_decode_only_what_is_asked(shards):
    s = next(iter(ShardDataset(shards[2], modalities=["rgb", "depth"], rank=0, world_size=1)))
    assert {"frames", "depth"} <= set(s) and not {"normals", "flow", "instance"} & set(s)


def test_collate_pads_boxes_to_the_batchs_most_objects(shards):
    samples = list(ShardDataset(shards[2], rank=0, world_size=1))
    counts = [s["box_ids"].shape[0] for s in samples]
    assert len(set(counts)) > 1  # the tiny config draws 1-3 objects
    batch = collate(samples)
    assert batch["boxes"].shape[:3] == (SAMPLES, samples[0]["boxes"].shape[0], max(counts))
    few = counts.index(min(counts))
    assert (batch["box_ids"][few, min(counts) :] == -1).all()
    assert torch.isnan(batch["boxes"][few, :, min(counts) :]).all()


def test_to_tensors_without_images_keeps_boxes_and_meta(shards):
    _, _, members = next(open_dataset(shards[2]).samples())
    _, meta = decode_sample(members)
    t = to_tensors({}, meta, "k")
    assert set(t) == {"key", "index", "meta", "boxes", "box_ids", "box_classes"}


def test_a_bad_rank_is_refused(shards):
    with pytest.raises(ValueError, match="rank 2 with world_size 2"):
        list(ShardDataset(shards[2], rank=2, world_size=2))
