"""Diversity and drift (``factory.trust.diversity``, ``factory compare``) on real data.

Datasets are real tars: factory ones written by ``write_dataset`` (the tiny config, and
a dark variant of it), real-style ones by ``webdataset.TarWriter``. The checks are
independent of the code under test: hashes against a perceptual hash written here with
a matrix DCT and block means, pictures decoded here with tarfile + PIL + json, features
against hand-computed values on constructed images, near-duplicates against a Python
double loop, distances against closed forms.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_dataset

from factory.cli import main

TINY_SAMPLES, TINY_SHARD = 12, 5  # shards of 5, 5, 2


@pytest.fixture(scope="module")
def tiny_ds(tiny_config, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny") / "ds"
    write_dataset(tiny_config, str(folder), TINY_SAMPLES, TINY_SHARD)
    return folder


def test_compare_command_reads_s3_with_storage_options(s3, tiny_config, tiny_ds, capsys, monkeypatch):
    write_dataset(tiny_config, s3.url, TINY_SAMPLES, TINY_SHARD)
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # so only --storage-option can point at the server
    assert main(["compare", str(tiny_ds), s3.url, "--storage-option", f"endpoint_url={s3.endpoint}"]) == 0
    text = capsys.readouterr().out
    assert f"B: {s3.url}: {TINY_SAMPLES} pictures" in text
    assert "Fréchet distance (standardised features): 0\n" in text  # the same samples
