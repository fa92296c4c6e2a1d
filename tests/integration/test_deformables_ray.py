"""Cloth, soft bodies and liquids through ``ray.data.read_webdataset``: its default
decoder and Arrow blocks hand the ``deform_*.npy`` and ``liquid_*.npy`` members over
as arrays (samples of different vertex and particle counts, and empty ones, in one
block), and they decode to the arrays encoded."""

from __future__ import annotations

import glob

import numpy as np
import pytest
import yaml

from factory.sample.deform_members import decode_deform
from factory.sample.liquid_members import decode_liquids
from factory.scene.config import parse_config
from tests.helpers import TESTS
from tests.helpers.datasets import write_dataset
from tests.helpers.validate import read_tar


@pytest.mark.ray
def test_ray_read_webdataset_decodes_deformables_and_liquids(ray_local, tmp_path):
    data = yaml.safe_load((TESTS.parent / "configs" / "deformables.yaml").read_text())
    data["render"].update(width=48, height=32, frames=3)
    data["output"]["tracks"] = 8
    write_dataset(parse_config(data), tmp_path, 6, 3)  # drape, flag, curtain, towel_drop, soft_drop, dam_break
    shards = sorted(glob.glob(str(tmp_path / "*.tar")))
    written = {key: m for s in shards for key, m in read_tar(tmp_path / s.rsplit("/", 1)[1])}
    rows = ray_local.data.read_webdataset(shards).take_all()
    assert sorted(r["__key__"] for r in rows) == sorted(written)
    kinds = set()
    for row in rows:
        want_d, want_l = decode_deform(written[row["__key__"]]), decode_liquids(written[row["__key__"]])
        got_d, got_l = decode_deform(row), decode_liquids(row)
        for want, got in ((want_d, got_d), (want_l, got_l)):
            for name in want:
                assert got[name].dtype == want[name].dtype and np.array_equal(got[name], want[name]), name
        kinds |= {"deformable"} if want_d["vertices"].shape[1] else set()
        kinds |= {"liquid"} if want_l["particles"].shape[1] else set()
    assert kinds == {"deformable", "liquid"}
