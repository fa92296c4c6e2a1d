"""Asset licences flow from the samples into the manifest, the dataset card and validate.

A tiny pack is built here (``factory.assets.build.build_pack`` from a folder with a
licence CSV) with CC-BY-4.0, CC-BY-SA-4.0 and CC0 assets; a 32x32, 2-frame dataset draws
from it and from a generator, written without Ray through the one dataset writer. Every
expectation is recounted from the samples' JSON with ``collections.Counter`` and sets,
never with the code under test; a resumed dataset must get the same totals; a planted
object outside the allowlist fails validate naming the sample and the asset.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from factory.cli import main
from factory.dataset import manifest as mf
from factory.dataset.licensing import Tally, tally_tar
from factory.dataset.resume import prepare
from factory.dataset.shards import build_shard
from factory.dataset.storage import resolve
from factory.scene.config import parse_config
from factory.trust.validate import validate_dataset
from tests.helpers.assets import ALLOWED, ASSETS, licensed_config, make_pack
from tests.helpers.datasets import reference_shards, write_dataset

SAMPLES, SHARD = 8, 3  # shards of 3, 3 and 2 samples


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return licensed_config(make_pack(tmp_path_factory.mktemp("pack")))


@pytest.fixture(scope="module")
def clean(tmp_path_factory, config):
    folder = tmp_path_factory.mktemp("lic") / "clean"
    write_dataset(config, folder, SAMPLES, SHARD)
    return folder


@pytest.fixture
def ds(clean, tmp_path):
    return Path(shutil.copytree(clean, tmp_path / "ds"))


def samples_of(folder: Path) -> list[tuple[str, str, dict]]:
    """``(shard, key, meta)`` of every sample, read with tarfile."""
    out = []
    for tar_path in sorted(folder.glob("*.tar")):
        with tarfile.open(tar_path) as tar:
            for info in tar.getmembers():
                if info.name.endswith(".json"):
                    out.append((tar_path.name, info.name.split(".")[0], json.loads(tar.extractfile(info).read())))
    return out


def recount(metas: list[dict]) -> tuple[dict, set]:
    """Objects, generated objects and samples per licence, and the (pack, id) of every
    CC-BY asset (the attribution licences here), counted independently of factory."""
    objects, generated, samples, cc_by = Counter(), Counter(), Counter(), set()
    for meta in metas:
        assets = [o["asset"] for o in meta["objects"] if "asset" in o]
        objects.update(a["licence"] for a in assets)
        generated.update(a["licence"] for a in assets if a["source"] == "generator")
        samples.update({a["licence"] for a in assets})
        cc_by |= {(a["name"], a["id"]) for a in assets if a["licence"].startswith("CC-BY-")}
    counts = {k: {"objects": objects[k], "generated": generated[k], "samples": samples[k]} for k in objects}
    return counts, cc_by


def test_the_manifest_counts_every_licence_and_attributes_every_cc_by_asset(clean, config):
    man = mf.loads((clean / mf.MANIFEST).read_bytes(), "manifest")
    metas = [m for _, _, m in samples_of(clean)]
    counts, cc_by = recount(metas)
    section = man["assets"]
    assert {k: {c: v[c] for c in ("objects", "generated", "samples")} for k, v in section["licences"].items()} == counts
    assert set(counts) >= {"CC-BY-4.0", "CC0-1.0"}  # the draw reached both kinds (seeded)
    assert section["samples"] == sum(1 for m in metas if any("asset" in o for o in m["objects"]))
    assert {(e["pack"], e["id"]) for e in section["attribution"]} == cc_by and cc_by
    by_id = {a[0]: a for a in ASSETS}
    for e in section["attribution"]:
        n = [a[0] for a in ASSETS].index(e["id"])
        assert (e["licence"], e["creator"], e["title"], e["url"]) == (
            by_id[e["id"]][1],
            f"Creator {n}",
            f"Title {n}",
            f"https://example.org/{e['id']}",
        )
    assert (
        section["licences"]["CC-BY-4.0"]["attribution"] is True
        and section["licences"]["CC0-1.0"]["attribution"] is False
    )
    assert (section["split"], section["allowed_licences"]) == ("all", ALLOWED)
    assert section["packs"] == {"toys": {"url": config.assets.packs["toys"], "name": "tinypack", "version": "1"}}
    assert all(m["classes"] == section["classes"] for m in metas)
    assert "own asset licence" in man["licence_note"] and man["licence"] == "CC-BY-4.0"
    # The shard list stays lean; each record keeps its own tally.
    assert all("assets" not in r for r in man["shards"])
    tallies = [json.loads((clean / mf.record_name(r["name"])).read_text())["assets"] for r in man["shards"]]
    assert sum(t["samples"] for t in tallies) == section["samples"]


def test_a_resumed_dataset_gets_the_same_totals(clean, config, tmp_path):
    folder = Path(shutil.copytree(clean, tmp_path / "resumed"))
    whole = json.loads((folder / mf.MANIFEST).read_text())["assets"]
    (folder / "lic-000001.tar").unlink()
    (folder / mf.MANIFEST).unlink()
    plan = prepare(resolve(str(folder)), config, samples=SAMPLES, shard_size=SHARD)
    assert plan.todo == [1] and sorted(plan.kept) == [0, 2]
    data = reference_shards(config, SAMPLES, SHARD)["lic-000001.tar"]
    man = plan.commit({**plan.kept, 1: plan.put_shard(1, data)})
    assert man["assets"] == whole


def test_tallies_of_parts_add_up_to_the_tally_of_the_whole(clean):
    metas = [m for _, _, m in samples_of(clean)]
    whole = Tally()
    for m in metas:
        whole.add(m)
    halves = [Tally(), Tally()]
    for n, m in enumerate(metas):
        halves[n % 2].add(m)
    assert Tally.of([halves[1].record(), halves[0].record()]).record() == whole.record()
    shards = {p.name: p.read_bytes() for p in clean.glob("*.tar")}
    assert Tally.of(tally_tar(b) for b in shards.values()).record() == whole.record()


def test_a_clean_dataset_passes_validate_with_its_licences_counted(clean):
    result = validate_dataset(clean)
    assert result.ok, result.lines()
    counts, _ = recount([m for _, _, m in samples_of(clean)])
    assert result.summary["objects_by_asset_licence"] == {k: v["objects"] for k, v in counts.items()}


def _rewrite(folder: Path, shard: str, key: str, edit) -> None:
    """Apply ``edit(meta)`` to sample ``key``'s JSON in ``shard``, rebuild the shard and
    fix its size and sha256 in the manifest (only the content checks may see it)."""
    samples = []
    with tarfile.open(folder / shard) as tar:
        for info in tar.getmembers():
            k, ext = info.name.split(".", 1)
            if not samples or samples[-1][0] != k:
                samples.append((k, {}))
            samples[-1][1][ext] = tar.extractfile(info).read()
    members = dict(samples)[key]
    meta = json.loads(members["json"])
    edit(meta)
    members["json"] = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    data = build_shard(samples)
    (folder / shard).write_bytes(data)
    man = json.loads((folder / mf.MANIFEST).read_text())
    (rec,) = [r for r in man["shards"] if r["name"] == shard]
    rec["bytes"], rec["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    man["bytes"] = sum(r["bytes"] for r in man["shards"])
    (folder / mf.MANIFEST).write_text(json.dumps(man, indent=2))


def _first_pack_object(folder: Path) -> tuple[str, str, dict]:
    for shard, key, meta in samples_of(folder):
        for o in meta["objects"]:
            if o.get("asset", {}).get("source") == "pack":
                return shard, key, o
    raise AssertionError("no pack object in the dataset")


def test_a_planted_object_outside_the_allowlist_fails_naming_the_sample_and_asset(ds, capsys):
    shard, key, obj = _first_pack_object(ds)

    def plant(meta):  # a non-commercial asset, with a sample listing that agrees with it
        (o,) = [o for o in meta["objects"] if o["id"] == obj["id"]]
        o["asset"]["licence"] = "CC-BY-NC-4.0"
        counts = Counter(x["asset"]["licence"] for x in meta["objects"] if "asset" in x)
        meta["asset_licences"] = [{"licence": k, "objects": n} for k, n in sorted(counts.items())]

    _rewrite(ds, shard, key, plant)
    result = validate_dataset(ds)
    fails = [f for f in result.failures if f["check"] == "asset.licence"]
    assert [(f["shard"], f["key"]) for f in fails] == [(shard, key)]
    message = fails[0]["message"]
    assert f"pack tinypack, asset {obj['asset']['id']}" in message and "CC-BY-NC-4.0" in message
    assert "non-commercial" in message and "asset.licences" not in result.counts
    assert result.counts["asset.totals"] >= 1  # the manifest counted what was written
    assert main(["validate", str(ds)]) == 1
    assert re.search(rf"{shard} {key} asset.licence: object {obj['id']}: pack tinypack", capsys.readouterr().out)


def test_a_sample_whose_licence_list_disagrees_with_its_objects_is_named(ds):
    shard, key, _ = _first_pack_object(ds)
    _rewrite(ds, shard, key, lambda meta: meta.pop("asset_licences"))
    result = validate_dataset(ds)
    assert {(f["check"], f["key"]) for f in result.failures} == {("asset.licences", key)}


def test_the_card_lists_every_licence_and_attributes_every_cc_by_asset(clean, tmp_path):
    from factory.trust.report import make_report

    make_report(str(clean), str(tmp_path / "report"), previews=2)
    card = (tmp_path / "report" / "DATASET_CARD.md").read_text()
    section = card.split("## Asset licences", 1)[1].split("\n## ", 1)[0]
    counts, cc_by = recount([m for _, _, m in samples_of(clean)])
    for spdx, c in counts.items():
        assert re.search(
            rf"^\| {spdx} \| [^|]+ \| {c['objects']} \| {c['generated']} \| {c['samples']} \|", section, re.M
        )
    listed = set(re.findall(r"\| pack (\S+), asset (\S+) \|$", section.split("### Attribution", 1)[1], re.M))
    assert listed == cc_by and cc_by
    assert "Generated objects are factory's own" in section
    assert "own asset licence" in card.split("## Licences", 1)[1].split("\n## ", 1)[0]
    html = (tmp_path / "report" / "report.html").read_text()
    assert 'id="attribution"' in html


def test_the_default_allowlist_is_factorys_permissive_one_and_refusals_say_why(config):
    from factory.assets.licences import DEFAULT_ALLOWLIST
    from factory.trust.validate.assets import allowlist, refusal

    plain = parse_config({"scenarios": {"a": {"objects": {"count": 1}}}})
    assert allowlist(plain) == DEFAULT_ALLOWLIST and allowlist(config) == frozenset(ALLOWED)
    assert refusal("CC-BY-4.0", DEFAULT_ALLOWLIST) is None
    assert "share-alike" in refusal("CC-BY-SA-4.0", DEFAULT_ALLOWLIST)
    assert "not an SPDX id" in refusal("Proprietary", DEFAULT_ALLOWLIST)
    assert "no licence given" in refusal(None, DEFAULT_ALLOWLIST)


def test_a_pack_gone_before_the_commit_does_not_keep_the_manifest_from_being_written(config, tmp_path):
    gone = config.model_copy(update={"assets": config.assets.model_copy(update={"packs": {"toys": str(tmp_path)}})})
    data = reference_shards(config, SAMPLES, SHARD)["lic-000000.tar"]
    from factory.dataset.writer import record_of

    record = record_of(0, "lic-000000.tar", range(SHARD), data)
    man = mf.build(gone, samples=SHARD, shard_size=SHARD, prefix="lic", shards=[record], max_failures=0)
    assert "pack.json" in man["assets"]["catalog_error"] and man["assets"]["classes"] is None
    assert man["assets"]["samples"] == record["assets"]["samples"] > 0
