"""The Ray Data job end to end, on a real local Ray (2 CPUs) and a real S3 server.

Every dataset written here is compared byte for byte with shards built without Ray
(``tests.helpers.datasets.reference_shards``: ``generate_members`` + the reference tar writer), and
read back with the ``webdataset`` package and with ``ray.data.read_webdataset``.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import webdataset as wds

from factory.dataset import manifest as mf
from factory.dataset.shards import build_shard, sha256_hex
from factory.dataset.storage import resolve
from factory.errors import DatasetConflictError, FailureBudgetError, RenderError, StorageError
from factory.onray.pipeline import generate_dataset
from factory.sample.decode import decode_sample
from factory.sample.generate import generate_members, generate_sample, scenario_of
from factory.scene.config import parse_config
from tests.helpers.datasets import UNKNOWN_SHAPE_ERROR, reference_shards, with_unknown_shape

ray_group = pytest.mark.ray


def run(config, out, samples, shard_size, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("log", lambda s: None)
    return generate_dataset(config, out, samples=samples, shard_size=shard_size, **kw)


def local_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.tar"))}


def members_without_key(members: dict) -> dict:
    return {k: v for k, v in members.items() if not k.startswith("__")}


def check_against_generate_sample(rows, config, samples):
    """Rows decoded by ray.data.read_webdataset equal generate_sample, per modality."""
    for row in rows:
        index = int(row["__key__"])
        frames, meta = decode_sample(row)
        sample = generate_sample(config, index, samples=samples)
        assert meta["index"] == index and meta["scenario"] == sample.scenario
        np.testing.assert_array_equal(frames.rgb, sample.frames.rgb)
        np.testing.assert_array_equal(frames.instance, sample.frames.instance)
        np.testing.assert_array_equal(frames.semantic, sample.frames.semantic)
        np.testing.assert_allclose(frames.depth, sample.frames.depth, atol=0.0005 + 1e-6)


@ray_group
@pytest.mark.parametrize("workers", [1, 2])
def test_local_dataset_is_exact_for_any_number_of_workers(tmp_path, ray_local, tiny_config, workers):
    out = tmp_path / "ds"
    summary = run(tiny_config, str(out), 10, 4, min_workers=workers, max_workers=workers)
    expected = reference_shards(tiny_config, 10, 4)
    assert local_files(out) == expected  # same bytes as without Ray, for 1 and 2 workers
    manifest = json.loads((out / mf.MANIFEST).read_text())
    assert manifest == summary.manifest and mf.verify(resolve(str(out)), manifest) == []
    assert [(r["name"], r["sha256"]) for r in manifest["shards"]] == [(n, sha256_hex(b)) for n, b in expected.items()]
    assert (summary.samples_rendered, summary.shards_written, summary.shards) == (10, 3, 3)
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]  # no temporaries left

    # read back with the webdataset package: every member is generate_members' bytes
    got = list(wds.WebDataset([str(out / r["name"]) for r in manifest["shards"]], shardshuffle=False))
    assert [g["__key__"] for g in got] == [f"{i:010d}" for i in range(10)]
    for g in got:
        assert members_without_key(g) == members_without_key(
            generate_members(tiny_config, int(g["__key__"]), samples=10)
        )

    # and with Ray Data's reader, decoded, against generate_sample
    import ray.data

    rows = ray.data.read_webdataset([str(out / r["name"]) for r in manifest["shards"]]).take_all()
    assert sorted(r["__key__"] for r in rows) == [f"{i:010d}" for i in range(10)]
    check_against_generate_sample(rows, tiny_config, 10)


@ray_group
def test_memory_url(ray_local, tiny_config):
    url = f"memory://factory-tests/pipeline-{time.time_ns()}"
    run(tiny_config, url, 7, 3)
    loc = resolve(url)
    expected = reference_shards(tiny_config, 7, 3)
    assert {n: loc.read(n) for n in expected} == expected
    assert mf.verify(loc, json.loads(loc.read(mf.MANIFEST))) == []
    assert sorted(loc.list(mf.RECORDS_DIR)) == [mf.record_name(n) for n in expected]


@ray_group
def test_s3_dataset_read_back_with_webdataset_and_ray_data(ray_local, s3, tiny_config, capsys):
    summary = run(tiny_config, s3.url, 9, 4, log=print)
    prefix = s3.url.split("/", 3)[3]
    expected = reference_shards(tiny_config, 9, 4)
    stored = {
        k["Key"].rsplit("/", 1)[1]: k["Key"]
        for k in s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix + "/")["Contents"]
    }
    assert {n: s3.client.get_object(Bucket=s3.bucket, Key=stored[n])["Body"].read() for n in expected} == expected
    manifest_text = s3.client.get_object(Bucket=s3.bucket, Key=f"{prefix}/{mf.MANIFEST}")["Body"].read().decode()
    manifest = json.loads(manifest_text)
    assert [r["name"] for r in manifest["shards"]] == list(expected) and summary.manifest == manifest
    printed = capsys.readouterr()
    for secret in (s3.env["AWS_ACCESS_KEY_ID"], s3.env["AWS_SECRET_ACCESS_KEY"]):
        assert secret not in manifest_text and secret not in printed.out + printed.err

    # webdataset over HTTP from the S3 endpoint (its curl handler), with presigned URLs
    urls = [
        s3.client.generate_presigned_url("get_object", Params={"Bucket": s3.bucket, "Key": f"{prefix}/{r['name']}"})
        for r in manifest["shards"]
    ]
    got = list(wds.WebDataset(urls, shardshuffle=False))
    assert [g["__key__"] for g in got] == [f"{i:010d}" for i in range(9)]
    for g in got:
        assert members_without_key(g) == members_without_key(
            generate_members(tiny_config, int(g["__key__"]), samples=9)
        )

    # Ray Data reading s3:// through pyarrow's own S3 client
    import pyarrow.fs
    import ray.data

    fs = pyarrow.fs.S3FileSystem(
        access_key=s3.env["AWS_ACCESS_KEY_ID"],
        secret_key=s3.env["AWS_SECRET_ACCESS_KEY"],
        endpoint_override=s3.endpoint,
        region="us-east-1",
        scheme="http",
    )
    rows = ray.data.read_webdataset(
        [f"{s3.bucket}/{prefix}/{r['name']}" for r in manifest["shards"]], filesystem=fs
    ).take_all()
    assert sorted(r["__key__"] for r in rows) == [f"{i:010d}" for i in range(9)]
    check_against_generate_sample(rows, tiny_config, 9)


@ray_group
def test_a_killed_render_actor_loses_and_duplicates_nothing(tmp_path, ray_local, tiny_config):
    pids = tmp_path / "pids"
    pids.mkdir()

    def slow_generate(config, index, samples):
        from factory.sample.generate import generate_sample as gen

        with open(pids / str(os.getpid()), "a") as f:
            f.write(f"{index}\n")
        time.sleep(0.15)
        return gen(config, index, samples=samples)

    killed = []

    def killer():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for p in pids.iterdir():
                if len(p.read_text().split()) >= 2:  # an actor mid-job, samples already done
                    os.kill(int(p.name), signal.SIGKILL)
                    killed.append(int(p.name))
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    out = tmp_path / "ds"
    summary = run(tiny_config, str(out), 24, 4, min_workers=2, max_workers=2, generate_fn=slow_generate)
    thread.join(5)
    assert killed, "no render actor was killed"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    assert len(list(pids.iterdir())) >= 3  # a replacement actor did the rest of the work
    assert local_files(out) == reference_shards(tiny_config, 24, 4)
    assert summary.manifest["samples_written"] == 24


@ray_group
def test_a_failing_sample_stops_the_job_naming_index_scenario_seed(tmp_path, ray_local, tiny_config):
    def failing(config, index, samples):
        from factory.sample.generate import generate_sample as gen

        if index == 6:
            raise ValueError("boom at six")
        return gen(config, index, samples=samples)

    out = tmp_path / "ds"
    with pytest.raises(RenderError) as err:
        run(tiny_config, str(out), 12, 4, generate_fn=failing)
    e = err.value
    assert (e.index, e.scenario, e.seed) == (6, scenario_of(tiny_config, 6, 12), tiny_config.seed)
    assert "sample 6" in str(e) and f"scenario {e.scenario!r}" in str(e) and "seed 3" in str(e)
    assert "ValueError: boom at six" in str(e)
    assert not (out / mf.MANIFEST).exists()
    assert "tiny-000001.tar" not in local_files(out)  # the failed sample's shard was never written


@ray_group
def test_max_failures_skips_and_records_or_stops_when_exceeded(tmp_path, ray_local, tiny_config):
    bad = {2, 7}

    def failing(config, index, samples):
        from factory.sample.generate import generate_sample as gen

        if index in bad:
            raise ValueError(f"bad index {index}")
        return gen(config, index, samples=samples)

    with pytest.raises(FailureBudgetError) as err:
        run(tiny_config, str(tmp_path / "strict"), 10, 4, generate_fn=failing, max_failures=1)
    assert "2 samples failed" in str(err.value) and "--max-failures 1" in str(err.value)
    assert not (tmp_path / "strict" / mf.MANIFEST).exists()

    out = tmp_path / "ds"
    summary = run(tiny_config, str(out), 10, 4, generate_fn=failing, max_failures=2)
    manifest = summary.manifest
    assert manifest["max_failures"] == 2 and manifest["samples_written"] == 8
    assert [(f["index"], f["scenario"], f["seed"], f["error"]) for f in manifest["failures"]] == [
        (i, scenario_of(tiny_config, i, 10), 3, f"ValueError: bad index {i}") for i in sorted(bad)
    ]
    # the scenario counts: requested by the allocation, achieved = what the shards hold
    block = manifest["scenarios"]
    assert sum(block["requested"].values()) == 10
    lost = {s: [scenario_of(tiny_config, i, 10) for i in bad].count(s) for s in block["requested"]}
    assert block["achieved"] == {s: n - lost[s] for s, n in block["requested"].items()}
    assert json.loads((out / mf.MANIFEST).read_text()) == manifest
    expected = {
        "tiny-000000.tar": build_shard(
            [(f"{i:010d}", generate_members(tiny_config, i, samples=10)) for i in (0, 1, 3)]
        ),
        "tiny-000001.tar": build_shard(
            [(f"{i:010d}", generate_members(tiny_config, i, samples=10)) for i in (4, 5, 6)]
        ),
        "tiny-000002.tar": reference_shards(tiny_config, 10, 4)["tiny-000002.tar"],
    }
    assert local_files(out) == expected
    assert [r["samples"] for r in manifest["shards"]] == [3, 3, 2]


@ray_group
def test_an_interrupted_run_is_resumed_touching_only_what_is_missing_or_corrupt(tmp_path, ray_local, tiny_config):
    out = tmp_path / "ds"

    def dies_late(config, index, samples):
        from factory.sample.generate import generate_sample as gen

        if index == 22:  # the job dies once the first four shards are on disk
            deadline = time.monotonic() + 60
            while len(list(out.glob("*.tar"))) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            raise RuntimeError("node lost")
        return gen(config, index, samples=samples)

    with pytest.raises(RenderError):
        run(tiny_config, str(out), 24, 4, generate_fn=dies_late)
    assert not (out / mf.MANIFEST).exists()
    survivors = sorted(local_files(out))
    assert len(survivors) >= 4 and "tiny-000005.tar" not in survivors
    # lose one more and corrupt another, as a crashed disk or a bad copy would
    (out / survivors[0]).unlink()
    data = bytearray((out / survivors[1]).read_bytes())
    data[600] ^= 0xFF
    (out / survivors[1]).write_bytes(bytes(data))
    untouched = {n: (out / n).stat() for n in survivors[2:]}

    summary = run(tiny_config, str(out), 24, 4)
    assert local_files(out) == reference_shards(tiny_config, 24, 4)
    for name, st in untouched.items():
        now = (out / name).stat()
        assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns), f"{name} was rewritten"
    assert summary.shards_kept == len(untouched) and summary.shards_written == 6 - len(untouched)
    assert mf.verify(resolve(str(out)), summary.manifest) == []

    # the same command once more: nothing to do, nothing rewritten
    again = run(tiny_config, str(out), 24, 4)
    assert again.shards_written == 0 and again.shards_kept == 6


@ray_group
def test_a_different_config_is_refused_unless_overwrite(tmp_path, ray_local, tiny_config):
    out = tmp_path / "ds"
    run(tiny_config, str(out), 4, 2)
    other = parse_config({**tiny_config.resolved(), "seed": 11})
    before = local_files(out)
    with pytest.raises(DatasetConflictError, match="config_hash"):
        run(other, str(out), 4, 2)
    assert local_files(out) == before
    run(other, str(out), 4, 2, mode="overwrite")
    assert local_files(out) == reference_shards(other, 4, 2)
    assert json.loads((out / mf.MANIFEST).read_text())["seed"] == 11


@pytest.mark.parametrize(
    "url, words",
    [("nosuchproto://x/y", ["unknown protocol"]), ("s3://", ["no bucket"]), ("{tmp}/a-file/ds", ["a-file"])],
)
def test_bad_locations_fail_before_anything_renders(tmp_path, tiny_config, url, words):
    (tmp_path / "a-file").write_text("not a folder")
    marker = tmp_path / "rendered"

    def should_not_run(config, index):
        marker.write_text("rendered")
        raise AssertionError

    with pytest.raises(StorageError) as err:
        run(tiny_config, url.format(tmp=tmp_path), 4, 2, generate_fn=should_not_run)
    for w in words:
        assert w in str(err.value)
    assert not marker.exists()


def test_a_missing_bucket_fails_before_anything_renders(s3, tmp_path, tiny_config):
    marker = tmp_path / "rendered"

    def should_not_run(config, index):
        marker.write_text("rendered")
        raise AssertionError

    with pytest.raises(StorageError, match="'no-such-bucket-x' does not exist"):
        run(tiny_config, "s3://no-such-bucket-x/ds", 4, 2, generate_fn=should_not_run)
    assert not marker.exists()


def _descendants_titled(title: str) -> list[int]:
    """PIDs of this process's descendants (Ray workers of the session's embedded Ray)
    whose command line starts with ``title``; nobody else's processes."""
    parents, titles = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                titles[int(entry)] = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parents[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    me, out = os.getpid(), []
    for pid, cmd in titles.items():
        if not cmd.startswith(title):
            continue
        p = pid
        while p > 1 and p != me:
            p = parents.get(p, 1)
        if p == me:
            out.append(pid)
    return out


@ray_group
def test_a_killed_shard_writer_costs_a_second_pass_not_a_sample(tmp_path, ray_local, tiny_config):
    """Usually blocks hold 3 samples here ([6, 7, 8] is one), so when shard 1 (4-7) is
    on disk the writer also holds sample 8 of shard 2. Sample 9 waits until the writer
    is killed: shard 2 can then not complete in this pass, and a second pass makes it."""
    out, killed_marker = tmp_path / "ds", tmp_path / "killed"

    def gated_generate(config, index, samples):
        from factory.sample.generate import generate_sample as gen

        if index == 9:
            deadline = time.monotonic() + 60
            while not killed_marker.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        return gen(config, index, samples=samples)

    killed = []

    def killer():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if {"tiny-000000.tar", "tiny-000001.tar"} <= {p.name for p in out.glob("*.tar")}:
                for pid in _descendants_titled("ray::MapWorker(MapBatches(ShardWriter))"):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                break
            time.sleep(0.02)
        killed_marker.write_text("done")

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    summary = run(tiny_config, str(out), 24, 4, min_workers=2, max_workers=2, generate_fn=gated_generate)
    thread.join(5)
    assert killed, "the shard writer was not found"
    assert local_files(out) == reference_shards(tiny_config, 24, 4)
    # Whether the killed writer held part of a shard depends on how Ray Data cut the
    # blocks (it varies with load): then a second pass makes that shard. Either way no
    # sample is lost or duplicated, which is what the shard bytes above prove.
    assert summary.passes in (1, 2) and summary.manifest["samples_written"] == 24
    assert mf.verify(resolve(str(out)), summary.manifest) == []


def _on(config, **render):
    data = config.resolved()
    data["render"].update(render)
    return parse_config(data)


@ray_group
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_a_dataset_in_launches_of_batch_views_validates_and_holds_that_devices_samples(
    tmp_path, ray_local, tiny_config, device
):
    """The render settings travel in the config to the render actors: ``batch_views`` 3
    cuts launches across the 2-frame clips of a block and changes no byte (the batch is
    not in the config hash, so the reference is the config's own default batch); the
    device is in the hash, and a device renders the same bytes in the actors as here."""
    from factory.trust.validate import validate_dataset

    config = _on(tiny_config, device=device, batch_views=3)
    out = tmp_path / "ds"
    summary = run(config, str(out), 8, 4, min_workers=1, max_workers=1)
    result = validate_dataset(str(out))
    assert result.ok, result.lines()
    assert summary.manifest["config"]["render"]["device"] == device
    assert summary.manifest["config"]["render"]["batch_views"] == 3
    assert summary.manifest["config_hash"] == config.config_hash()
    # tiny_config renders on cpu: the device is in the hash, the batch is not
    assert (config.config_hash() == tiny_config.config_hash()) == (device == "cpu")
    assert local_files(out) == reference_shards(_on(tiny_config, device=device), 8, 4)


@ray_group
def test_a_sample_failing_inside_a_batched_render_is_skipped_under_its_own_index(tmp_path, ray_local, tiny_config):
    """Scenario ``one`` asks for a shape this renderer does not know (a config changed
    past validation, as a newer factory might write one): its samples fail inside
    generate_samples' batched block (when their scene is sampled: no mesh asset has that
    name), their neighbours in the block do not."""
    config = with_unknown_shape(tiny_config)
    bad = [i for i in range(8) if scenario_of(config, i, 8) == "one"]
    assert 0 < len(bad) < 4
    out = tmp_path / "ds"
    summary = run(config, str(out), 8, 4, min_workers=1, max_workers=1, max_failures=len(bad))
    assert [(f["index"], f["scenario"], f["seed"], f["error"]) for f in summary.manifest["failures"]] == [
        (i, "one", 3, UNKNOWN_SHAPE_ERROR) for i in bad
    ]
    assert local_files(out) == {
        f"tiny-{s:06d}.tar": build_shard(
            [(f"{i:010d}", generate_members(config, i, samples=8)) for i in range(4 * s, 4 * s + 4) if i not in bad]
        )
        for s in (0, 1)
    }
    with pytest.raises(RenderError) as err:
        run(config, str(tmp_path / "strict"), 8, 4, min_workers=1, max_workers=1)
    assert err.value.index in bad and err.value.scenario == "one" and "shape kind 'blob'" in str(err.value)
