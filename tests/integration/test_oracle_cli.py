"""``factory validate`` runs the independent oracle by default and reports its figures;
``--oracle 0`` turns it off; a depth shift a renderer bug would write (the shard's and
the manifest's checksums rewritten to match) fails it, naming shard, key, frame, pixel
and layer. Both WebDataset readers (webdataset's and Ray's) hand geometry.glb over as
bytes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from factory.cli import main
from factory.sample.decode import png_array
from factory.sample.png import png
from factory.scene.config import parse_config
from tests.helpers.datasets import write_dataset
from tests.helpers.validate import read_tar, rewrite_shard

CONFIG = {
    "name": "meshy",
    "seed": 11,
    "render": {"width": 48, "height": 40, "frames": 2, "fps": 12, "substeps": 2, "motion_blur_samples": 1},
    "output": {"mp4": False},
    "scenarios": {
        "m": {
            "objects": {
                "count": 4,
                "shape": {"dist": "choice", "values": ["torus", "rock", "box", "sphere"]},
                "size": {"dist": "uniform", "low": 0.25, "high": 0.4},
            }
        }
    },
}


def _validate(folder, tmp_path, *flags) -> tuple[int, dict]:
    out = tmp_path / "result.json"
    code = main(["validate", str(folder), "--result", str(out), "--no-progress", *flags])
    return code, json.loads(out.read_text())


def test_validate_runs_the_oracle_by_default_and_catches_a_depth_shift(tmp_path, capsys):
    folder = tmp_path / "ds"
    write_dataset(parse_config(CONFIG, "meshy"), folder, 4, 2)

    code, doc = _validate(folder, tmp_path)
    assert code == 0, doc["failures"]
    assert {"depth", "instance", "normals", "flow", "boxes", "corners"} <= set(doc["oracle"])
    assert doc["oracle"]["depth"]["sampled"] > 0 and doc["oracle"]["corners"]["compared"] > 0
    assert "oracle (independent ray caster" in capsys.readouterr().out

    code, doc = _validate(folder, tmp_path, "--oracle", "0")
    assert code == 0 and doc["oracle"] == {}

    # The reviewer's renderer bug: one sample's depth +2 mm on its largest object.
    name = "meshy-000001.tar"
    samples = read_tar(folder / name)
    key, members = samples[0]
    meta = json.loads(members["json"])
    T, H, W = meta["frames"], meta["height"], meta["width"]
    codes = png_array(members["depth.png"]).reshape(T, H, W).copy()
    inst = png_array(members["instance.png"]).reshape(T, H, W)
    obj = max((o["id"] for o in meta["objects"]), key=lambda i: (inst == i).sum())
    codes[inst == obj] += 2
    members["depth.png"] = png(codes.reshape(T * H, W), "up")
    rewrite_shard(folder, name, samples)

    code, doc = _validate(folder, tmp_path, "--oracle", "1")
    assert code == 1
    checks = {(f["check"], f["shard"], f["key"]) for f in doc["failures"]}
    assert checks == {("oracle.depth", name, key)}, doc["failures"]
    (failure,) = doc["failures"]
    assert "frame" in failure["message"] and "pixel (row" in failure["message"]
    row = int(failure["message"].split("row ")[1].split(",")[0])
    col = int(failure["message"].split("col ")[1].split(")")[0])
    frame = int(failure["message"].split("frame ")[1].split(" ")[0])
    assert inst[frame, row, col] == obj
    assert doc["oracle"]["depth"]["failures"] == int(np.sum(inst == obj)) - doc["oracle"]["depth"]["edges"]


@pytest.mark.ray
def test_both_readers_hand_the_geometry_member_over_as_bytes(tmp_path, ray_local):
    """geometry.glb in every sample (an empty scene without meshes), so Ray's reader
    makes one bytes column of it; webdataset's default decoder leaves it bytes too."""
    import webdataset as wds

    from factory.trust.oracle import read_geometry

    folder = tmp_path / "ds"
    write_dataset(
        parse_config({**CONFIG, "scenarios": {**CONFIG["scenarios"], "plain": {"objects": {"shape": "box"}}}}, "meshy"),
        folder,
        4,
        4,
    )
    rows = ray_local.data.read_webdataset(str(folder), file_extensions=["tar"]).take_all()
    plain = list(wds.WebDataset(str(folder / "meshy-000000.tar"), shardshuffle=False).decode())
    assert len(rows) == len(plain) == 4
    for row, other in zip(sorted(rows, key=lambda r: r["__key__"]), plain):
        assert isinstance(row["geometry.glb"], bytes) and row["geometry.glb"] == other["geometry.glb"]
        meta = other["json"]
        ids = {o["mesh"]["id"] for o in meta["objects"] if "mesh" in o}
        assert set(read_geometry(row["geometry.glb"])) == ids
    assert any(not set(read_geometry(r["geometry.glb"])) for r in rows)  # a box-only sample: an empty scene
