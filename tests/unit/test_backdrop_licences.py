"""An HDRI backdrop is a licensed asset, counted wherever objects' assets are: the
sample's ``asset_licences``, the manifest's ``assets`` section, the dataset card and
``factory validate``.

A 32x32, 2-frame dataset of 6 samples (no Ray) has scenario ``hdri`` under a curated
HDRI with a generated bottle and scenario ``sky`` under a procedural sky with spheres.
Every expectation is recounted from the samples' JSON with ``collections.Counter`` and
sets, never with the code under test; the curated HDRIs' creators are checked against
the pack's own ``pack.json``. A planted non-commercial backdrop fails validate naming the
sample, the backdrop and the licence.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from factory.cli import main
from factory.dataset import manifest as mf
from factory.scene.config import parse_config
from factory.trust.validate import validate_dataset
from tests.helpers.datasets import write_dataset
from tests.unit.test_asset_licences import _rewrite, samples_of

SAMPLES, SHARD = 6, 3
CURATED = Path(__file__).parents[2] / "factory" / "assets" / "backdrops" / "curated" / "pack.json"


@pytest.fixture(scope="module")
def config():
    render = {"width": 32, "height": 32, "frames": 2, "fps": 12, "substeps": 2, "motion_blur_samples": 1}
    return parse_config(
        {
            "name": "bd",
            "seed": 11,
            "render": render,
            "output": {"mp4": False},
            "scenarios": {
                "hdri": {"objects": {"count": 1, "shape": "gen:bottle"}, "backdrop": {"kind": "hdri"}},
                "sky": {"objects": {"count": 2, "shape": "sphere"}, "backdrop": {"kind": "sky"}},
            },
        }
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory, config):
    folder = tmp_path_factory.mktemp("bd") / "clean"
    write_dataset(config, folder, SAMPLES, SHARD)
    return folder


@pytest.fixture
def ds(clean, tmp_path):
    return Path(shutil.copytree(clean, tmp_path / "ds"))


def backdrops_of(metas: list[dict]) -> list[dict]:
    return [m["backdrop"]["asset"] for m in metas if "asset" in m.get("backdrop", {})]


def test_each_sample_counts_its_backdrop_beside_its_objects(clean):
    metas = [m for _, _, m in samples_of(clean)]
    assert {m["scenario"] for m in metas} == {"hdri", "sky"}
    for meta in metas:
        objects = Counter(o["asset"]["licence"] for o in meta["objects"] if "asset" in o)
        backdrop = meta["backdrop"].get("asset")
        assert (backdrop is not None) == (meta["backdrop"]["kind"] == "hdri")
        backdrops = Counter([backdrop["licence"]] if backdrop else [])
        want = [
            {"licence": k, "objects": objects[k], "backdrops": backdrops[k]}
            for k in sorted(set(objects) | set(backdrops))
        ]
        assert meta.get("asset_licences") == (want or None)
        if backdrop:
            assert backdrop["source"] == "backdrop" and backdrop["name"] == "curated"
            assert len(backdrop["sha256"]) == 64 and backdrop["url"]


def test_the_manifest_counts_and_credits_every_backdrop(clean):
    man = mf.loads((clean / mf.MANIFEST).read_bytes(), "manifest")
    metas = [m for _, _, m in samples_of(clean)]
    used = backdrops_of(metas)
    assert used, "the seeded draw put no sample under an HDRI"
    section = man["assets"]
    per_licence = Counter(b["licence"] for b in used)
    assert {k: v["backdrops"] for k, v in section["licences"].items() if v["backdrops"]} == dict(per_licence)
    with_assets = [m for m in metas if any("asset" in o for o in m["objects"]) or "asset" in m["backdrop"]]
    assert section["samples"] == len(with_assets)
    assert {(e["backdrop"], e["id"]) for e in section["backdrops"]} == {(b["name"], b["id"]) for b in used}
    # Creators and titles are the pack's own records (pack.json), not whatever the code wrote.
    pack = json.loads(CURATED.read_text())
    records = {b["id"]: b for b in pack["backdrops"]}
    for e in section["backdrops"]:
        assert (e["creator"], e["licence"]) == (records[e["id"]]["creator"], records[e["id"]]["licence"])
    assert "HDRI backdrop" in man["licence_note"]
    # CC0: no attribution asked, so none listed there; credited in the backdrop list anyway.
    assert all(e["licence"] == "CC0-1.0" for e in section["backdrops"]) and not section["attribution"]


def test_a_clean_hdri_dataset_passes_validate(clean):
    result = validate_dataset(clean)
    assert result.ok, result.lines()


def test_the_card_lists_the_backdrops_used_with_their_creators(clean, tmp_path):
    from factory.trust.report import make_report

    make_report(str(clean), str(tmp_path / "report"), previews=1)
    card = (tmp_path / "report" / "DATASET_CARD.md").read_text()
    section = card.split("## Asset licences", 1)[1].split("\n## ", 1)[0]
    used = backdrops_of([m for _, _, m in samples_of(clean)])
    listed = section.split("### Backdrops", 1)[1]
    rows = set(re.findall(r"^\| ([^|]+) \|.*\| backdrop pack curated, backdrop (\S+) \|$", listed, re.M))
    assert rows == {(b["creator"], b["id"]) for b in used}
    per_licence = Counter(b["licence"] for b in used)
    for spdx, n in per_licence.items():  # the table's "samples lit by a backdrop" column
        assert re.search(rf"^\| {spdx} \| [^|]+ \| \d+ \| \d+ \| \d+ \| {n} \|", section, re.M)
    html = (tmp_path / "report" / "report.html").read_text()
    table = html.split('<table id="backdrops">', 1)[1].split("</table>", 1)[0]
    assert set(re.findall(r'data-key="curated/([^"]+)"', table)) == {b["id"] for b in used}


def _first_hdri_sample(folder: Path) -> tuple[str, str, dict]:
    for shard, key, meta in samples_of(folder):
        if "asset" in meta["backdrop"]:
            return shard, key, meta
    raise AssertionError("no HDRI sample in the dataset")


def test_a_backdrop_outside_the_allowlist_fails_naming_the_sample_and_licence(ds, capsys):
    shard, key, meta = _first_hdri_sample(ds)
    bid = meta["backdrop"]["asset"]["id"]

    def plant(m):  # a non-commercial backdrop, with a sample listing that agrees with it
        m["backdrop"]["asset"]["licence"] = "CC-BY-NC-4.0"
        objects = Counter(o["asset"]["licence"] for o in m["objects"] if "asset" in o)
        backdrops = Counter(["CC-BY-NC-4.0"])
        m["asset_licences"] = [
            {"licence": k, "objects": objects[k], "backdrops": backdrops[k]}
            for k in sorted(set(objects) | set(backdrops))
        ]

    _rewrite(ds, shard, key, plant)
    result = validate_dataset(ds)
    fails = [f for f in result.failures if f["check"] == "asset.licence"]
    assert [(f["shard"], f["key"]) for f in fails] == [(shard, key)]
    message = fails[0]["message"]
    assert message.startswith(f"backdrop: backdrop pack curated, backdrop {bid}") and "CC-BY-NC-4.0" in message
    assert "asset.licences" not in result.counts
    assert result.counts["asset.totals"] >= 1  # the manifest counted the CC0 licence that was written
    assert main(["validate", str(ds)]) == 1
    assert re.search(rf"{shard} {key} asset.licence: backdrop: backdrop pack curated", capsys.readouterr().out)


def test_a_sample_that_does_not_count_its_backdrop_is_named(ds):
    shard, key, _ = _first_hdri_sample(ds)

    def drop(m):
        m["asset_licences"] = [dict(e, backdrops=0) for e in m["asset_licences"]]

    _rewrite(ds, shard, key, drop)
    result = validate_dataset(ds)
    assert {(f["check"], f["key"]) for f in result.failures} == {("asset.licences", key)}
