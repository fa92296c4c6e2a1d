"""``factory mix`` with a real dataset and the output on S3 (the moto server). Everything
else about mix is tested on local folders in tests/unit/test_mix.py.

The real datasets are built here with ``webdataset.TarWriter`` (jpg + cls and png +
json flavours); the synthetic one with ``write_dataset``. Every check reads the tars
back with :mod:`tarfile` and :mod:`json` directly and compares against the inputs read
the same way, never against mix's own bookkeeping.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from factory.dataset import manifest as mf
from factory.dataset.mix import mix
from factory.dataset.reader import open_dataset
from factory.errors import DatasetConflictError
from tests.helpers.mix import LICENCE, folder_samples, tar_samples


def test_real_on_s3_and_output_to_s3(data, s3, tmp_path):
    import s3fs

    real_url = f"s3://{s3.bucket}/real/jpgcls"
    for p in sorted((data / "jpgcls").glob("*.tar")):
        s3.client.put_object(Bucket=s3.bucket, Key=f"real/jpgcls/{p.name}", Body=p.read_bytes())
    summary = mix(str(data / "syn"), real_url, ratio="1/3", out=s3.url, samples=9, shard_size=4, real_licence=LICENCE)
    assert summary.manifest["samples"] == 9
    fs = s3fs.S3FileSystem(
        key=s3.env["AWS_ACCESS_KEY_ID"], secret=s3.env["AWS_SECRET_ACCESS_KEY"], endpoint_url=s3.endpoint
    )
    prefix = s3.url.removeprefix("s3://")
    doc = json.loads(fs.cat_file(f"{prefix}/manifest.json"))
    assert [r["name"] for r in doc["shards"]] == ["mix-000000.tar", "mix-000001.tar", "mix-000002.tar"]
    real_in = iter(folder_samples(data / "jpgcls"))
    n_real = 0
    for r in doc["shards"]:
        blob = fs.cat_file(f"{prefix}/{r['name']}")
        assert hashlib.sha256(blob).hexdigest() == r["sha256"] and len(blob) == r["bytes"]
        local = tmp_path / r["name"]  # a local copy to read with tarfile
        local.write_bytes(blob)
        for _, members in tar_samples(local):
            tag = json.loads(members["source.json"])
            if tag["source"] == "real":
                n_real += 1
                shard, key, original = next(real_in)
                assert (tag["url"], tag["shard"], tag["key"]) == (real_url, shard, key)
                assert {k: v for k, v in members.items() if k != "source.json"} == original
    assert n_real == 3
    ds = open_dataset(s3.url)
    assert mf.verify(ds.location, ds.manifest) == []
    # the same --out again is refused without --overwrite
    with pytest.raises(DatasetConflictError):
        mix(str(data / "syn"), real_url, ratio="1/3", out=s3.url, samples=9, real_licence=LICENCE)
