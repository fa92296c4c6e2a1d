"""``factory compare`` on a dataset in S3 (the moto server), through the storage options.
The rest of diversity and drift is tested without servers in tests/unit/test_diversity.py.
"""

from __future__ import annotations

from factory.cli import main
from tests.helpers.datasets import write_dataset
from tests.helpers.diversity import TINY_SAMPLES, TINY_SHARD


def test_compare_command_reads_s3_with_storage_options(s3, tiny_config, tiny_ds, capsys, monkeypatch):
    write_dataset(tiny_config, s3.url, TINY_SAMPLES, TINY_SHARD)
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # so only --storage-option can point at the server
    assert main(["compare", str(tiny_ds), s3.url, "--storage-option", f"endpoint_url={s3.endpoint}"]) == 0
    text = capsys.readouterr().out
    assert f"B: {s3.url}: {TINY_SAMPLES} pictures" in text
    assert "Fréchet distance (standardised features): 0\n" in text  # the same samples
