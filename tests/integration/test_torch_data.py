"""The PyTorch dataset over shards on s3:// (moto's real S3 server through the production
s3fs path), read by two DataLoader workers. Everything else about the PyTorch datasets
is tested on local shards in tests/unit/test_torch_data.py."""

from __future__ import annotations

from torch.utils.data import DataLoader

from factory.client.torch_data import ShardDataset, collate
from tests.helpers.datasets import write_dataset


def test_a_dataset_on_s3(s3, tiny_config):
    write_dataset(tiny_config, s3.url, 5, 2)
    loader = DataLoader(ShardDataset(s3.url, rank=0, world_size=1), batch_size=3, num_workers=2, collate_fn=collate)
    seen = [i for batch in loader for i in batch["index"].tolist()]
    assert sorted(seen) == list(range(5))
