"""``factory validate`` with real services: the Ray engine finds exactly what the local
one does (a folder and a ``memory://`` dataset), and a dataset on S3 (the moto server).
The planted-damage checks are in tests/unit/test_validate.py.
"""

from __future__ import annotations

import json
import shutil

import pytest

from factory.cli import main
from factory.trust.validate import validate_dataset
from tests.helpers.datasets import write_dataset
from tests.helpers.validate import edit_json, found, shard


@pytest.mark.ray
def test_the_ray_engine_finds_what_the_local_engine_finds(ds, ray_local, tiny_config):
    from factory.onray.map import map_in_order

    path = ds / shard(1)
    path.write_bytes(path.read_bytes()[:20000])
    shutil.copy(ds / shard(2), ds / shard(3))
    edit_json(ds, 2, lambda m: m["objects"][0]["visible_pixels"].__setitem__(0, -1))
    local = validate_dataset(ds)
    remote = validate_dataset(ds, map_shards=map_in_order, workers=2)
    assert not local.ok and remote.engine == "ray"
    assert remote.failures == local.failures and remote.summary == local.summary
    assert {c for c, _, _ in found(local)} >= {"tar.format", "shard.extra", "bbox.pixels"}

    # memory:// lives in the driver's process: its bytes travel with the work list.
    url = "memory://validate-ray/tiny"
    write_dataset(tiny_config, url, 6, 3)
    from factory.dataset.storage import resolve

    resolve(url).delete([shard(1)])
    local, remote = validate_dataset(url), validate_dataset(url, map_shards=map_in_order)
    assert found(remote) == found(local) == {("shard.missing", shard(1), None)}
    assert remote.summary == local.summary


def test_a_dataset_on_s3(s3, tiny_config, tmp_path):
    write_dataset(tiny_config, s3.url, 6, 3)
    prefix = s3.url.split("/", 3)[3]
    objects = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix + "/")["Contents"]
    sizes = {o["Key"].rsplit("/", 1)[1]: o["Size"] for o in objects}
    result = validate_dataset(s3.url)
    assert result.ok, result.lines()
    assert result.summary["samples"] == 6
    assert result.summary["bytes"] == sizes[shard(0)] + sizes[shard(1)]

    s3.client.delete_object(Bucket=s3.bucket, Key=f"{prefix}/{shard(1)}")
    out = tmp_path / "r.json"
    assert main(["validate", s3.url, "--result", str(out), "--no-progress"]) == 1
    doc = json.loads(out.read_text())
    assert [(f["check"], f["shard"]) for f in doc["failures"]] == [("shard.missing", shard(1))]
