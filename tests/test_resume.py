"""Planning a run into a folder (resume, refuse, overwrite) and the manifest (no Ray)."""

from __future__ import annotations

import json
import uuid

import pytest
from conftest import reference_shards

from factory.dataset import manifest as mf
from factory.scene.config import parse_config
from factory.errors import DatasetConflictError, StorageError
from factory.dataset.resume import prepare
from factory.dataset.shards import sha256_hex, shard_indices
from factory.dataset.storage import resolve

N, S = 10, 4  # three shards: 4 + 4 + 2


def _loc():
    return resolve(f"memory://factory-tests/{uuid.uuid4().hex}")


def _fill(plan, failures=None):
    """Write what a run writes (shards, records, manifest), without Ray."""
    ref = reference_shards(plan.config, plan.samples, plan.shard_size, plan.prefix)
    records = {}
    for s in plan.todo:
        name = plan.name(s)
        data = ref[name]
        fails = (failures or {}).get(s, [])
        rec = mf.shard_record(shard=s, name=name, indices=shard_indices(s, plan.samples, plan.shard_size),
                              written=len(plan.indices(s)) - len(fails), failures=fails,
                              nbytes=len(data), sha256=sha256_hex(data))
        plan.location.put_atomic(name, data)
        plan.location.put_atomic(mf.record_name(name), mf.dumps(rec))
        records[s] = rec
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


@pytest.mark.parametrize("change, field", [
    ({"seed": 4}, "config_hash"), ({"samples": 11}, "samples"), ({"shard_size": 5}, "shard_size"),
    ({"prefix": "other"}, "prefix"),
])
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
        ("tiny-000000.tar", 4, "0000000000", "0000000003"), ("tiny-000001.tar", 4, "0000000004", "0000000007"),
        ("tiny-000002.tar", 2, "0000000008", "0000000009")]
    assert m["bytes"] == sum(r["bytes"] for r in m["shards"])
    assert mf.check(m) == []
    assert mf.check({**m, "samples": N + 1})
    assert mf.check({**m, "shards": m["shards"][:2]})
    loc.put_atomic("tiny-000000.tar", b"broken")
    assert mf.verify(loc, m) == ["tiny-000000.tar: bytes or sha256 differ from the manifest"]


def test_bad_arguments_are_config_errors(tiny_config):
    from factory.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        prepare(_loc(), tiny_config, samples=0, shard_size=0, prefix="bad/prefix", max_failures=-1)
    for field in ("samples", "shard_size", "prefix", "max_failures"):
        assert field in str(err.value)
