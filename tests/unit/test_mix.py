"""``factory mix``: synthetic + real WebDatasets into one tagged, deterministic dataset
(local folders; inputs and output on S3: tests/integration/test_mix.py).

The real datasets are built here with ``webdataset.TarWriter`` (jpg + cls and png +
json flavours); the synthetic one with ``write_dataset``. Every check reads the tars
back with :mod:`tarfile` and :mod:`json` directly and compares against the inputs read
the same way, never against mix's own bookkeeping.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import webdataset as wds

from factory.cli import main
from factory.dataset import manifest as mf
from factory.dataset.mix import default_samples, layout, mix, split_counts
from factory.dataset.reader import open_dataset
from factory.errors import ConfigError, DatasetConflictError, StorageError
from tests.helpers.datasets import write_dataset
from tests.helpers.mix import LICENCE, folder_samples, tar_samples, write_real


def dataset_samples(folder: Path) -> list[tuple[str, str, dict[str, bytes]]]:
    """Like :func:`folder_samples`, in the order the folder's manifest lists its shards."""
    doc = json.loads((folder / "manifest.json").read_text())
    return [(r["name"], k, m) for r in doc["shards"] for k, m in tar_samples(folder / r["name"])]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_mix(data, out, *args, real="jpgcls"):
    return main(
        ["mix", "--synthetic", str(data / "syn"), "--real", str(data / real), "--out", str(out), *map(str, args)]
    )


def sources_of(out: Path) -> list[dict]:
    return [json.loads(m["source.json"]) for _, _, m in dataset_samples(out)]


@pytest.mark.parametrize(
    "ratio, n, real",
    [
        (0.25, 16, 4),
        ("1/3", 10, 3),
        (0.29, 100, 29),
        (0.5, 5, 2),
        (0.5, 7, 4),
        (0.125, 12, 2),
        (0.7, 3, 2),
        (Fraction(1, 8), 20, 2),
        ("0.9", 15, 14),
    ],
)
def test_real_count_is_round_half_even_of_the_exact_ratio(ratio, n, real):
    # 0.29 * 100 is 28.999999999999996 in floats: the rule must see 29 exactly.
    # 0.5 * 5 = 2.5 -> 2, 0.5 * 7 = 3.5 -> 4, 1/8 * 20 = 2.5 -> 2 (halves to even).
    assert split_counts(ratio, n) == (real, n - real)


@pytest.mark.parametrize("ratio", [0.25, 0.5, "1/3", 0.9, 0.07])
@pytest.mark.parametrize("real_avail, syn_avail", [(12, 12), (10, 12), (3, 40), (40, 3), (7, 7)])
def test_default_samples_is_the_largest_that_fits(ratio, real_avail, syn_avail):
    r = Fraction(str(ratio)) if not isinstance(ratio, str) else Fraction(ratio)

    def fits(n):
        k = round(r * n)
        return k <= real_avail and n - k <= syn_avail

    best = max((n for n in range(0, real_avail + syn_avail + 1) if fits(n)), default=0)
    assert default_samples(ratio, real_avail, syn_avail) == best


@pytest.mark.parametrize("n, n_real", [(16, 4), (1000, 250), (997, 331), (1000, 900), (50, 25), (37, 1), (37, 36)])
def test_layout_is_exact_and_evenly_spread_in_every_window(n, n_real):
    for seed in range(5):
        mask = layout(seed, n, n_real)
        assert mask.shape == (n,) and mask.dtype == bool and int(mask.sum()) == n_real
        cum = np.concatenate([[0], np.cumsum(mask)])
        for length in range(1, n + 1):
            counts = cum[length:] - cum[:-length]  # real samples in every window of this length
            assert np.abs(counts - length * n_real / n).max() <= 2, (seed, length)


def test_layout_depends_on_the_seed_and_only_on_it():
    a, b = layout(0, 400, 100), layout(1, 400, 100)
    assert np.array_equal(a, layout(0, 400, 100))
    assert not np.array_equal(a, b)
    assert len({layout(s, 16, 4).tobytes() for s in range(20)}) > 5


@pytest.fixture(scope="module")
def mixed(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed") / "out"
    assert run_mix(data, out, "--ratio", "0.25", "--samples", 16, "--shard-size", 4, "--real-licence", LICENCE) == 0
    return out


def test_counts_provenance_and_members_are_exact(data, mixed):
    syn_in = dataset_samples(data / "syn")
    real_in = folder_samples(data / "jpgcls")
    got = dataset_samples(mixed)
    assert [k for _, k, _ in got] == [f"{i:010d}" for i in range(16)]  # new sequential keys
    tags = [json.loads(m["source.json"]) for _, _, m in got]
    assert sum(t["source"] == "real" for t in tags) == 4
    assert sum(t["source"] == "synthetic" for t in tags) == 12

    # each source's samples are its first ones, in dataset order, members byte-identical
    expected = {"real": iter(real_in), "synthetic": iter(syn_in)}
    for (_, _, members), tag in zip(got, tags):
        shard, key, original = next(expected[tag["source"]])
        assert {k: v for k, v in members.items() if k != "source.json"} == original
        assert tag["key"] == key and tag["shard"] == shard
        if tag["source"] == "real":
            assert tag == {
                "source": "real",
                "dataset": "jpgcls",
                "url": str(data / "jpgcls"),
                "shard": shard,
                "key": key,
                "licence": LICENCE,
            }
        else:
            assert tag == {
                "source": "synthetic",
                "dataset": "tiny",
                "url": str(data / "syn"),
                "shard": shard,
                "key": key,
                "licence": "CC-BY-4.0",
            }
    # canonical JSON: sorted keys, compact
    raw = got[0][2]["source.json"]
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()


def test_every_shard_holds_its_share_of_real_samples(mixed):
    # R = 1/4 and shards of 4: the strata are the shards, so each holds exactly one real sample
    by_shard: dict[str, int] = {}
    for shard, _, members in dataset_samples(mixed):
        by_shard[shard] = by_shard.get(shard, 0) + (json.loads(members["source.json"])["source"] == "real")
    assert by_shard == {f"mix-{s:06d}.tar": 1 for s in range(4)}


def test_manifest_matches_the_files_and_passes_factory_checks(data, mixed):
    doc = json.loads((mixed / "manifest.json").read_text())
    assert doc["format"] == mf.FORMAT and doc["kind"] == "mix" and doc["name"] == "mix" and "config" not in doc
    shape = (doc["samples"], doc["samples_written"], doc["shard_size"], doc["seed"], doc["ratio"])
    assert shape == (16, 16, 4, 0, 0.25)
    tars = sorted(p.name for p in mixed.glob("*.tar"))
    assert [r["name"] for r in doc["shards"]] == tars
    for r in doc["shards"]:
        blob = (mixed / r["name"]).read_bytes()
        assert r["bytes"] == len(blob) and r["sha256"] == hashlib.sha256(blob).hexdigest()
        assert r["samples"] == len(tar_samples(mixed / r["name"]))
        record = json.loads((mixed / ".factory" / "shards" / r["name"].replace(".tar", ".json")).read_text())
        # The record also holds its samples' asset tally, which the manifest sums into "assets".
        assert {k: v for k, v in record.items() if k != "assets"} == r and record["assets"]["samples"] == 0
    assert doc["bytes"] == sum((mixed / n).stat().st_size for n in tars)
    syn_manifest = json.loads((data / "syn" / "manifest.json").read_text())
    assert doc["sources"] == [
        {
            "role": "synthetic",
            "url": str(data / "syn"),
            "name": "tiny",
            "licence": "CC-BY-4.0",
            "config_hash": syn_manifest["config_hash"],
            "samples_used": 12,
        },
        {"role": "real", "url": str(data / "jpgcls"), "name": "jpgcls", "licence": LICENCE, "samples_used": 4},
    ]
    assert "CC-BY-4.0" in doc["licence"] and LICENCE in doc["licence"] and "\n" not in doc["licence"]
    assert mf.check(doc) == []
    ds = open_dataset(str(mixed))
    assert mf.verify(ds.location, doc) == []


def test_output_reads_with_webdataset_and_factory_reader(data, mixed):
    ours = dataset_samples(mixed)
    url = str(mixed / "mix-{000000..000003}.tar")
    got = list(wds.WebDataset(url, shardshuffle=False))
    assert [g["__key__"] for g in got] == [k for _, k, _ in ours]
    for g, (_, _, members) in zip(got, ours):
        assert {k: v for k, v in g.items() if not k.startswith("__")} == members
    read = [(s, k, m) for s, k, m in open_dataset(str(mixed)).samples()]
    assert read == ours


def test_same_seed_is_byte_identical_and_another_seed_interleaves_differently(data, mixed, tmp_path):
    args = ("--ratio", "0.25", "--samples", 16, "--shard-size", 4, "--real-licence", LICENCE)
    assert run_mix(data, tmp_path / "again", *args) == 0
    assert run_mix(data, tmp_path / "seed7", *args, "--seed", 7) == 0
    a, b = snapshot(mixed), snapshot(tmp_path / "again")
    assert a.keys() == b.keys()
    for name in a:
        if name != "manifest.json":
            assert a[name] == b[name], name
    ma, mb = json.loads(a["manifest.json"]), json.loads(b["manifest.json"])
    ma.pop("created"), mb.pop("created")
    assert ma == mb
    order = [t["source"] for t in sources_of(mixed)]
    other = [t["source"] for t in sources_of(tmp_path / "seed7")]
    assert order != other and sorted(order) == sorted(other)


def test_png_json_flavour_default_samples_and_one_tar_url(data, tmp_path, capsys):
    # R = 1/2 with 10 real and 12 synthetic: N = 21 gives round(10.5) = 10 real (halves
    # to even) and 11 synthetic; N = 22 would need 11 real.
    out = tmp_path / "out"
    assert (
        run_mix(
            data,
            out,
            "--ratio",
            "0.5",
            "--real-licence",
            "CC-BY-SA-4.0",
            "--real-name",
            "toys",
            "--prefix",
            "toy-mix",
            "--seed",
            3,
            real="pngjson",
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "10 real" in printed and "11 synthetic" in printed and str(out) in printed
    tags = sources_of(out)
    assert len(tags) == 21 and sum(t["source"] == "real" for t in tags) == 10
    real_in = folder_samples(data / "pngjson")
    real_out = [(m, t) for (_, _, m), t in zip(dataset_samples(out), tags) if t["source"] == "real"]
    for (shard, key, original), (members, tag) in zip(real_in, real_out):
        assert set(members) == {"png", "json", "source.json"}
        assert members["png"] == original["png"] and members["json"] == original["json"]
        assert (tag["key"], tag["shard"], tag["dataset"], tag["licence"]) == (key, shard, "toys", "CC-BY-SA-4.0")
    assert sorted(p.name for p in out.glob("*.tar")) == ["toy-mix-000000.tar"]

    # one .tar as the real dataset: its samples only, named after the file
    single = data / "pngjson" / "pngjson-000001.tar"
    out2 = tmp_path / "single"
    assert (
        main(
            [
                "mix",
                "--synthetic",
                str(data / "syn"),
                "--real",
                str(single),
                "--out",
                str(out2),
                "--ratio",
                "0.25",
                "--samples",
                "8",
                "--real-licence",
                LICENCE,
            ]
        )
        == 0
    )
    tags = sources_of(out2)
    real_tags = [t for t in tags if t["source"] == "real"]
    assert [t["key"] for t in real_tags] == [k for k, _ in tar_samples(single)][:2]
    assert {t["dataset"] for t in real_tags} == {"pngjson-000001"}
    assert {t["url"] for t in real_tags} == {str(single)}


def test_licence_comes_from_a_real_factory_manifest(data, tmp_path, tiny_config):
    # a factory dataset on the "real" side names its licence itself: no --real-licence needed
    other = tmp_path / "other"
    write_dataset(tiny_config, other, 6, 3, prefix="other")
    out = tmp_path / "out"
    mix(str(data / "syn"), str(other), ratio=0.5, out=str(out), samples=6)
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["sources"][1] == {
        "role": "real",
        "url": str(other),
        "name": "other",
        "licence": "CC-BY-4.0",
        "samples_used": 3,
    }
    real_keys = [t["key"] for t in sources_of(out) if t["source"] == "real"]
    assert real_keys == [k for _, k, _ in dataset_samples(other)][:3]


@pytest.mark.parametrize("ratio", ["0", "1", "1.5", "-0.2", "nan", "abc"])
def test_ratio_out_of_range_is_refused_by_the_cli(data, tmp_path, capsys, ratio):
    with pytest.raises(SystemExit) as e:
        run_mix(data, tmp_path / "out", "--ratio", ratio, "--real-licence", LICENCE)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--ratio" in err and ratio in err and ("between 0 and 1" in err or "not a number" in err)
    assert not (tmp_path / "out").exists()


def test_ratio_out_of_range_is_refused_by_the_library(data, tmp_path):
    for ratio in (0.0, 1.0, 2, float("inf")):
        with pytest.raises(ConfigError, match="--ratio"):
            mix(str(data / "syn"), str(data / "jpgcls"), ratio=ratio, out=str(tmp_path / "out"), real_licence=LICENCE)
    assert not (tmp_path / "out").exists()


def test_too_few_samples_names_the_argument_and_the_counts(data, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_mix(data, out, "--ratio", "0.5", "--samples", 40, "--real-licence", LICENCE) == 2
    err = capsys.readouterr().err
    assert "--samples 40 needs 20 synthetic samples" in err and "has 12" in err
    assert run_mix(data, out, "--ratio", "0.75", "--samples", 20, "--real-licence", LICENCE) == 2
    err = capsys.readouterr().err
    assert "--samples 20 needs 15 real samples" in err and "has 12" in err and str(data / "jpgcls") in err
    assert run_mix(data, out, "--ratio", "0.1", "--samples", 4, "--real-licence", LICENCE) == 2
    assert "0 real" in capsys.readouterr().err
    assert not out.exists()


def test_missing_real_licence_is_refused(data, tmp_path, capsys):
    assert run_mix(data, tmp_path / "out", "--ratio", "0.25") == 2
    err = capsys.readouterr().err
    assert "--real-licence" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("which", ["syn", "jpgcls"])
def test_out_equal_to_an_input_is_refused_and_the_input_untouched(data, which, capsys):
    before = snapshot(data / which)
    assert run_mix(data, data / which, "--ratio", "0.25", "--real-licence", LICENCE, "--overwrite") == 2
    assert "--out" in capsys.readouterr().err
    assert snapshot(data / which) == before
    with pytest.raises(DatasetConflictError):
        mix(
            str(data / "syn"),
            str(data / "jpgcls" / "jpgcls-000000.tar"),
            ratio=0.25,
            out=str(data / "jpgcls"),
            real_licence=LICENCE,
        )
    assert snapshot(data / which) == before


def test_existing_output_is_refused_unchanged_then_replaced_with_overwrite(data, tmp_path, capsys):
    out = tmp_path / "out"
    args = ("--ratio", "0.25", "--samples", 12, "--shard-size", 4, "--real-licence", LICENCE)
    assert run_mix(data, out, *args) == 0
    (out / "notes.txt").write_text("keep me")
    before = snapshot(out)
    assert run_mix(data, out, *args, "--seed", 5, "--samples", 8) == 2
    err = capsys.readouterr().err
    assert "already holds a dataset" in err and "--overwrite" in err
    assert snapshot(out) == before
    # an unfinished dataset (shards and records, no manifest) is a dataset too
    (out / "manifest.json").unlink()
    assert run_mix(data, out, *args) == 2
    assert run_mix(data, out, *args, "--seed", 5, "--samples", 8, "--overwrite") == 0
    after = snapshot(out)
    assert after["notes.txt"] == b"keep me"
    assert sorted(n for n in after if n.endswith(".tar")) == ["mix-000000.tar", "mix-000001.tar"]
    assert sorted(n for n in after if n.startswith(".factory/shards/")) == [
        ".factory/shards/mix-000000.json",
        ".factory/shards/mix-000001.json",
    ]
    assert json.loads(after["manifest.json"])["samples"] == 8


def test_a_source_sample_with_a_source_member_is_refused(data, tmp_path, capsys):
    bad = write_real(tmp_path / "tagged", "jpgcls", [3], extra={"source.json": b'{"source": "real"}'})
    out = tmp_path / "out"
    assert run_mix(data, out, "--ratio", "0.5", "--samples", 4, "--real-licence", LICENCE, real=bad) == 2
    err = capsys.readouterr().err
    assert "source.json" in err and "img_00000" in err and "jpgcls-000000.tar" in err
    assert not out.exists()
    # a mix as a source is refused outright
    first = tmp_path / "first"
    assert run_mix(data, first, "--ratio", "0.25", "--samples", 4, "--real-licence", LICENCE) == 0
    assert (
        main(
            [
                "mix",
                "--synthetic",
                str(first),
                "--real",
                str(data / "jpgcls"),
                "--out",
                str(out),
                "--ratio",
                "0.25",
                "--real-licence",
                LICENCE,
            ]
        )
        == 2
    )
    assert "is itself a mix" in capsys.readouterr().err
    assert not out.exists()


def test_a_failure_while_writing_leaves_no_shard_record_or_manifest(data, tmp_path, capsys):
    # the synthetic dataset's last shard is damaged: mix finds out (sha256 against the
    # manifest) only after it has written output shards, and must take them back
    syn = tmp_path / "syn"
    shutil.copytree(data / "syn", syn)
    last = syn / "tiny-000002.tar"
    blob = bytearray(last.read_bytes())
    blob[600] ^= 0xFF
    last.write_bytes(bytes(blob))
    out = tmp_path / "out"
    rc = main(
        [
            "mix",
            "--synthetic",
            str(syn),
            "--real",
            str(data / "jpgcls"),
            "--out",
            str(out),
            "--ratio",
            "0.25",
            "--samples",
            "16",
            "--shard-size",
            "2",
            "--real-licence",
            LICENCE,
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "tiny-000002.tar" in err and "manifest" in err
    left = [p.relative_to(out) for p in out.rglob("*") if p.is_file()]
    assert left == []


def test_unreadable_real_url_is_a_storage_error_naming_it(data, tmp_path):
    with pytest.raises(StorageError, match="--real"):
        mix(
            str(data / "syn"),
            str(tmp_path / "nothing-here"),
            ratio=0.5,
            out=str(tmp_path / "out"),
            real_licence=LICENCE,
        )
