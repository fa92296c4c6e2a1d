"""Planning a run into a folder (resume, refuse, overwrite) and the manifest (no Ray)."""

from __future__ import annotations

import json
import uuid

import pytest

from factory.dataset import manifest as mf
from factory.dataset.resume import prepare
from factory.dataset.storage import resolve
from factory.dataset.writer import DatasetWriter, record_of
from factory.errors import DatasetConflictError, StorageError
from factory.scene.config import parse_config
from tests.helpers.datasets import reference_shards

N, S = 10, 4  # three shards: 4 + 4 + 2


def _loc():
    return resolve(f"memory://factory-tests/{uuid.uuid4().hex}")


def _fill(plan, failures=None):
    """Write what a run writes (shards, records, manifest), without Ray."""
    ref = reference_shards(plan.config, plan.samples, plan.shard_size, plan.prefix)
    records = {s: plan.put_shard(s, ref[plan.name(s)], (failures or {}).get(s, [])) for s in plan.todo}
    return plan.commit({**plan.kept, **records})


def test_fresh_folder_writes_the_intent_and_plans_every_shard(tiny_config):
    loc = _loc()
    plan = prepare(loc, tiny_config, samples=N, shard_size=S)
    assert plan.todo == [0, 1, 2] and plan.kept == {} and plan.prefix == "tiny"
    intent = json.loads(loc.read(mf.INTENT))
    assert intent["config_hash"] == tiny_config.config_hash() and intent["samples"] == N
    assert set(loc.list()) == set()  # no shard, no manifest yet


def test_complete_dataset_needs_nothing_and_keeps_its_manifest(tiny_config):
    loc = _loc()
    manifest = _fill(prepare(loc, tiny_config, samples=N, shard_size=S))
    assert manifest is not None and mf.verify(loc, manifest) == []
    before = loc.read(mf.MANIFEST)
    plan = prepare(loc, tiny_config, samples=N, shard_size=S, mode="resume")
    assert plan.todo == [] and sorted(plan.kept) == [0, 1, 2]
    assert loc.read(mf.MANIFEST) == before


def test_missing_and_corrupt_shards_are_redone_and_the_manifest_withdrawn(tiny_config):
    loc = _loc()
    _fill(prepare(loc, tiny_config, samples=N, shard_size=S))
    loc.delete(["tiny-000001.tar"])
    data = bytearray(loc.read("tiny-000002.tar"))
    data[700] ^= 0xFF  # same size, different bytes
    loc.put_atomic("tiny-000002.tar", bytes(data))
    plan = prepare(loc, tiny_config, samples=N, shard_size=S)
    assert plan.todo == [1, 2] and sorted(plan.kept) == [0]
    assert loc.read_or_none(mf.MANIFEST) is None  # never claims shards being remade
    manifest = _fill(plan)
    assert mf.verify(loc, manifest) == [] and [r["shard"] for r in manifest["shards"]] == [0, 1, 2]


def test_a_shard_without_its_record_is_redone(tiny_config):
    loc = _loc()
    _fill(prepare(loc, tiny_config, samples=N, shard_size=S))
    loc.delete([mf.record_name("tiny-000000.tar"), mf.MANIFEST])  # interrupted between shard and record
    assert prepare(loc, tiny_config, samples=N, shard_size=S).todo == [0]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"seed": 4}, "config_hash"),
        ({"samples": 11}, "samples"),
        ({"shard_size": 5}, "shard_size"),
        ({"prefix": "other"}, "prefix"),
    ],
)
def test_a_different_dataset_is_refused_without_overwrite(tiny_config, change, field):
    loc = _loc()
    _fill(prepare(loc, tiny_config, samples=N, shard_size=S))
    before = {name: loc.read(name) for name in loc.list()}
    config = tiny_config
    if "seed" in change:
        config = parse_config({**tiny_config.resolved(), "seed": change["seed"]})
    kwargs = {"samples": N, "shard_size": S, "prefix": None} | {k: v for k, v in change.items() if k != "seed"}
    with pytest.raises(DatasetConflictError) as err:
        prepare(loc, config, **kwargs)
    assert field in str(err.value) and "--overwrite" in str(err.value)
    assert {name: loc.read(name) for name in loc.list()} == before  # nothing touched


def test_overwrite_removes_the_old_dataset_and_nothing_else(tiny_config):
    loc = _loc()
    _fill(prepare(loc, tiny_config, samples=N, shard_size=S, prefix="old"))
    loc.put_atomic("notes.txt", b"mine")
    plan = prepare(loc, tiny_config, samples=6, shard_size=3, mode="overwrite")
    assert plan.todo == [0, 1]
    assert set(loc.list()) == {"notes.txt"}
    assert loc.list(mf.RECORDS_DIR) == {}
    assert json.loads(loc.read(mf.INTENT))["samples"] == 6


def test_foreign_files_that_would_be_replaced_are_refused(tiny_config):
    loc = _loc()
    loc.put_atomic("tiny-000000.tar", b"somebody else's")
    with pytest.raises(DatasetConflictError, match="tiny-000000.tar"):
        prepare(loc, tiny_config, samples=N, shard_size=S)
    other = _loc()
    other.put_atomic("README", b"unrelated files are fine")
    assert prepare(other, tiny_config, samples=N, shard_size=S).todo == [0, 1, 2]


def test_resume_needs_something_to_resume(tiny_config):
    with pytest.raises(StorageError, match="nothing|no dataset"):
        prepare(_loc(), tiny_config, samples=N, shard_size=S, mode="resume")


def test_a_manifest_without_intent_still_identifies_the_dataset(tiny_config):
    loc = _loc()
    _fill(prepare(loc, tiny_config, samples=N, shard_size=S))
    loc.delete([mf.INTENT])
    assert prepare(loc, tiny_config, samples=N, shard_size=S).todo == []
    with pytest.raises(DatasetConflictError):
        prepare(loc, tiny_config, samples=N + 1, shard_size=S)


def test_kept_failures_count_against_the_new_budget(tiny_config):
    loc = _loc()
    failure = {"index": 5, "scenario": "few", "seed": 3, "error": "ValueError: boom"}
    manifest = _fill(prepare(loc, tiny_config, samples=N, shard_size=S, max_failures=1), failures={1: [failure]})
    assert manifest["failures"] == [failure] and manifest["samples_written"] == N - 1
    assert prepare(loc, tiny_config, samples=N, shard_size=S, max_failures=1).todo == []
    assert prepare(loc, tiny_config, samples=N, shard_size=S, max_failures=0).todo == [1]


def test_manifest_fields_and_checks(tiny_config):
    loc = _loc()
    m = _fill(prepare(loc, tiny_config, samples=N, shard_size=S))
    assert m["format"] == mf.FORMAT and m["licence"] == tiny_config.licence and m["seed"] == tiny_config.seed
    assert m["config"] == tiny_config.resolved() and m["config_hash"] == tiny_config.config_hash()
    assert m["generator"]["name"] == "factory" and "git_commit" in m["generator"]
    assert m["created"].endswith("Z") and m["samples"] == N and m["shard_size"] == S
    assert [(r["name"], r["samples"], r["first_key"], r["last_key"]) for r in m["shards"]] == [
        ("tiny-000000.tar", 4, "0000000000", "0000000003"),
        ("tiny-000001.tar", 4, "0000000004", "0000000007"),
        ("tiny-000002.tar", 2, "0000000008", "0000000009"),
    ]
    assert m["bytes"] == sum(r["bytes"] for r in m["shards"])
    assert mf.check(m) == []
    assert mf.check({**m, "samples": N + 1})
    assert mf.check({**m, "shards": m["shards"][:2]})
    loc.put_atomic("tiny-000000.tar", b"broken")
    assert mf.verify(loc, m) == ["tiny-000000.tar: bytes or sha256 differ from the manifest"]


def test_one_builder_keeps_the_fields_of_each_kind_of_manifest_and_intent_in_order(tiny_config):
    m = _fill(prepare(_loc(), tiny_config, samples=N, shard_size=S))
    assert list(m) == [
        "format",
        "name",
        "created",
        "licence",
        "generator",
        "seed",
        "config_hash",
        "samples",
        "samples_written",
        "shard_size",
        "prefix",
        "bytes",
        "max_failures",
        "failures",
        "scenarios",
        "assets",
        "shards",
        "config",
    ]
    mixed = mf.Mixed(seed=3, ratio=0.5, sources=[{"role": "real"}], licence="real: CC0-1.0")
    doc = mf.build(samples=N, shard_size=S, prefix="mix", shards=m["shards"], max_failures=0, mixed=mixed)
    assert list(doc) == [
        "format",
        "kind",
        "name",
        "created",
        "generator",
        "seed",
        "ratio",
        "samples",
        "samples_written",
        "shard_size",
        "prefix",
        "bytes",
        "max_failures",
        "failures",
        "assets",
        "shards",
        "sources",
        "licence",
    ]
    assert (doc["kind"], doc["name"], doc["sources"], doc["licence"]) == ("mix", "mix", mixed.sources, mixed.licence)
    assert (doc["shards"], doc["bytes"], doc["samples_written"]) == (m["shards"], m["bytes"], N)
    intent = mf.intent(samples=N, shard_size=S, prefix="mix", mixed=mixed)
    assert list(intent) == ["format", "kind", "name", "seed", "ratio", "samples", "shard_size", "prefix", "sources"]


def test_the_writer_puts_the_intent_first_and_takes_back_only_what_it_is_asked_to(tmp_path, tiny_config):
    loc = resolve(str(tmp_path / "ds"))
    writer = DatasetWriter(loc)
    writer.start({"format": mf.FORMAT, "samples": 1})
    writer.start({"format": mf.FORMAT, "samples": 2})  # a resumed run keeps the intent it finds
    assert json.loads(loc.read(mf.INTENT))["samples"] == 1
    name = "tiny-000000.tar"
    data = reference_shards(tiny_config, 2, 2)[name]
    record = writer.put_shard(record_of(0, name, range(2), data), data)
    assert json.loads(loc.read(mf.record_name(name))) == record and loc.read(name) == data
    assert writer.written == [mf.INTENT, name, mf.record_name(name)]
    (tmp_path / "ds" / ".tiny-000001.tar.tmp-0123456789ab").write_bytes(b"half")  # an interrupted put
    writer.abort()  # a failed generate run: temporaries go, what is committed stays for a resume
    assert set(loc.list()) == {name} and set(loc.list(mf.RECORDS_DIR)) == {mf.record_name(name)}
    writer.abort(remove_written=True)  # a failed mix: nothing of it stays
    assert (loc.list(), loc.list(mf.META_DIR), loc.list(mf.RECORDS_DIR)) == ({}, {}, {})


def test_bad_arguments_are_config_errors(tiny_config):
    from factory.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        prepare(_loc(), tiny_config, samples=0, shard_size=0, prefix="bad/prefix", max_failures=-1)
    for field in ("samples", "shard_size", "prefix", "max_failures"):
        assert field in str(err.value)
