"""``factory validate``: a clean dataset passes with the right counts; each kind of
planted damage is caught and named (check, shard, key), with exit status 1 from the
real CLI; local worker processes find what one process finds; bad arguments exit 2. The
Ray engine and a dataset on S3: tests/integration/test_validate.py.

The damage is planted with ``tarfile``, ``PIL`` and ``json`` directly, and where the
test wants only the per-sample checks to see it, the manifest's sha256 and bytes are
fixed up (with ``hashlib``) so that the shard-level checks cannot.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from factory.cli import main
from factory.commands.engines import map_shards_for
from factory.errors import ConfigError, StorageError
from factory.trust.validate import validate_dataset
from tests.helpers.validate import (
    SAMPLES,
    SHARD,
    edit_json,
    found,
    key,
    load_manifest,
    read_tar,
    rewrite_shard,
    save_manifest,
    shard,
)

REPO = Path(__file__).resolve().parents[2]


BIN = Path(sys.executable).parent


def cli(*args, timeout=120):
    return subprocess.run(
        [str(BIN / "factory"), "validate", *map(str, args)], capture_output=True, text=True, cwd=REPO, timeout=timeout
    )


def visible_object(members: dict[str, bytes], frame: int = 0, wide: bool = False) -> dict:
    """An object of the sample visible in ``frame`` (with a box wider than 1 px if ``wide``)."""
    for o in json.loads(members["json"])["objects"]:
        box = o["bbox_visible"][frame]
        if box is not None and (not wide or box[2] - box[0] > 1):
            return o
    raise AssertionError("no visible object in this sample")


def test_a_clean_dataset_passes_with_exact_counts(clean, tmp_path):
    result = validate_dataset(clean)
    assert result.ok, result.lines()
    assert result.failures == [] and result.counts == {}
    names = [shard(n) for n in range(3)]
    metas = [json.loads(m["json"]) for n in names for _, m in read_tar(clean / n)]
    s = result.summary
    assert (s["shards_listed"], s["shards_checked"], s["samples"]) == (3, 3, SAMPLES) == (3, 3, len(metas))
    assert s["bytes"] == sum((clean / n).stat().st_size for n in names)
    assert s["samples_by_scenario"] == dict(Counter(m["scenario"] for m in metas))
    assert s["samples_by_scenario"] == load_manifest(clean)["scenarios"]["achieved"]
    assert result.kind == "factory" and result.skipped == []

    # The real command: exit 0, the JSON result says the same.
    out = tmp_path / "result.json"
    run = cli(clean, "--result", out)
    assert run.returncode == 0, run.stderr
    assert "OK: no failures" in run.stdout
    doc = json.loads(out.read_text())
    assert doc["ok"] is True and doc["failures"] == [] and doc["summary"]["samples"] == SAMPLES
    assert doc["format"] == "factory-validation/1" and doc["kind"] == "factory"


def test_a_truncated_shard_is_named_with_the_byte_offset(ds, tmp_path):
    path = ds / shard(1)
    data = path.read_bytes()
    with tarfile.open(path) as tar:  # cut through the middle of the member that spans the middle
        cut_member = next(m for m in tar.getmembers() if m.offset_data + m.size > len(data) // 2)
    cut = cut_member.offset_data + cut_member.size // 2
    path.write_bytes(data[:cut])

    result = validate_dataset(ds)
    assert not result.ok
    assert {("tar.format", shard(1), None), ("shard.bytes", shard(1), None), ("shard.sha256", shard(1), None)} == found(
        result
    )
    (tar_failure,) = [f for f in result.failures if f["check"] == "tar.format"]
    assert f"at byte {cut_member.offset}:" in tar_failure["message"]
    assert cut_member.name in tar_failure["message"]

    out = tmp_path / "r.json"
    run = cli(ds, "--result", out)
    assert run.returncode == 1
    assert f"{shard(1)} - tar.format: at byte {cut_member.offset}:" in run.stdout
    doc = json.loads(out.read_text())
    assert doc["ok"] is False and doc["summary"]["failures"] == 3
    assert {(f["check"], f["shard"]) for f in doc["failures"]} == {(c, shard(1)) for c, _, _ in found(result)}


def test_a_flipped_byte_in_a_png_is_a_sha256_mismatch_and_a_decode_failure(ds):
    path = ds / shard(0)
    data = bytearray(path.read_bytes())
    with tarfile.open(path) as tar:
        member = tar.getmember(f"{key(2)}.depth.png")
    pos = member.offset_data + 16  # first byte of the IHDR width (PNG signature 8, length 4, type 4)
    data[pos] ^= 0xFF
    path.write_bytes(bytes(data))

    result = validate_dataset(ds)
    assert found(result) == {("shard.sha256", shard(0), None), ("decode.image", shard(0), key(2))}
    (f,) = [f for f in result.failures if f["check"] == "decode.image"]
    assert f["message"].startswith("depth.png: does not decode")
    assert main(["validate", str(ds), "--result", str(ds.parent / "r.json"), "--no-progress"]) == 1


def test_a_missing_shard_and_extra_shards_are_named(ds, capsys):
    (ds / shard(1)).unlink()
    shutil.copy(ds / shard(2), ds / shard(3))  # looks like ours, not in the manifest
    (ds / "stray.tar").write_bytes((ds / shard(0)).read_bytes())

    result = validate_dataset(ds)
    assert found(result) == {
        ("shard.missing", shard(1), None),
        ("shard.extra", shard(3), None),
        ("shard.extra", "stray.tar", None),
    }
    extra = {f["shard"]: f["message"] for f in result.failures if f["check"] == "shard.extra"}
    assert "like shard 3 of this dataset" in extra[shard(3)]
    assert "does not list" in extra["stray.tar"]
    assert result.summary["shards_checked"] == 2 and result.summary["samples"] == SAMPLES - SHARD

    # Every failure is counted, only the first N listed.
    capped = validate_dataset(ds, max_failures_listed=1)
    assert capped.failures == result.failures[:1]
    assert capped.summary["failures"] == 3 and capped.summary["failures_listed"] == 1

    assert main(["validate", str(ds), "--result", "-", "--no-progress"]) == 1
    out, err = capsys.readouterr()
    doc = json.loads(out)  # stdout holds only the JSON; the summary went to stderr
    assert {(f["check"], f["shard"]) for f in doc["failures"]} == {(c, s) for c, s, _ in found(result)}
    assert f"{shard(1)} - shard.missing:" in err


def test_an_instance_id_not_in_the_metadata_is_named(ds):
    i = 6
    samples = read_tar(ds / shard(1))
    members = dict(samples)[key(i)]
    obj = visible_object(members)
    inst = np.asarray(Image.open(io.BytesIO(members["instance.png"])))
    assert inst.dtype == np.uint16 and (inst == obj["id"]).any()
    bad_id = 99
    assert bad_id not in {o["id"] for o in json.loads(members["json"])["objects"]}
    inst = np.where(inst == obj["id"], bad_id, inst).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(inst).save(buf, format="PNG")
    members["instance.png"] = buf.getvalue()
    rewrite_shard(ds, 1, samples)  # sha256 and bytes fixed: only the sample checks can tell

    result = validate_dataset(ds)
    assert ("instance.ids", shard(1), key(i)) in found(result)
    # The object's pixels now carry another id, so its box and pixel count disagree too;
    # nothing else in the dataset is reported.
    assert found(result) == {
        ("instance.ids", shard(1), key(i)),
        ("bbox.segmentation", shard(1), key(i)),
        ("bbox.pixels", shard(1), key(i)),
    }
    (f,) = [f for f in result.failures if f["check"] == "instance.ids"]
    assert f"[{bad_id}]" in f["message"]
    assert main(["validate", str(ds), "--result", str(ds.parent / "r.json"), "--no-progress"]) == 1


def test_a_clip_that_shows_no_moving_object_is_flagged(ds):
    i = 7
    samples = read_tar(ds / shard(1))
    members = dict(samples)[key(i)]
    moving = [o["id"] for o in json.loads(members["json"])["objects"] if not o["static"]]
    inst = np.asarray(Image.open(io.BytesIO(members["instance.png"])))
    assert np.isin(inst, moving).any()  # the clean clip shows one
    buf = io.BytesIO()
    Image.fromarray(np.where(np.isin(inst, moving), 0, inst).astype(np.uint16)).save(buf, format="PNG")
    members["instance.png"] = buf.getvalue()
    rewrite_shard(ds, 1, samples)

    result = validate_dataset(ds)
    assert ("clip.empty", shard(1), key(i)) in found(result)
    assert {k for c, _, k in found(result) if c == "clip.empty"} == {key(i)}  # the other clips show theirs


def test_keys_out_of_order_in_a_shard(ds):
    samples = read_tar(ds / shard(0))
    samples[0], samples[1] = samples[1], samples[0]
    rewrite_shard(ds, 0, samples)
    result = validate_dataset(ds)
    assert found(result) == {("keys.order", shard(0), key(0)), ("shard.first_key", shard(0), key(1))}
    assert main(["validate", str(ds), "--result", str(ds.parent / "r.json"), "--no-progress"]) == 1


def test_a_key_duplicated_across_shards(ds):
    first_of_1 = read_tar(ds / shard(1))[0]
    rewrite_shard(ds, 0, read_tar(ds / shard(0)) + [first_of_1])
    result = validate_dataset(ds)
    dup = [f for f in result.failures if f["check"] == "keys.unique"]
    assert [(f["shard"], f["key"]) for f in dup] == [(shard(1), key(5))]
    assert shard(0) in dup[0]["message"]
    assert found(result) == {
        ("keys.unique", shard(1), key(5)),
        ("keys.indices", shard(0), key(5)),
        ("shard.samples", shard(0), None),
        ("shard.last_key", shard(0), key(5)),
    }
    assert main(["validate", str(ds), "--result", str(ds.parent / "r.json"), "--no-progress"]) == 1


def test_a_bbox_or_pixel_count_that_disagrees_with_the_mask(ds, clean):
    def shrink_box(meta):
        o = next(
            o for o in meta["objects"] if o["bbox_visible"][0] and o["bbox_visible"][0][2] - o["bbox_visible"][0][0] > 1
        )
        o["bbox_visible"][0][2] -= 1  # still inside the image and the amodal box

    def more_pixels(meta):
        o = next(o for o in meta["objects"] if o["visible_pixels"][1])
        o["visible_pixels"][1] += 1

    edit_json(ds, 7, shrink_box)
    edit_json(ds, 3, more_pixels)
    result = validate_dataset(ds)
    # visible_fraction was visible / amodal for the old count: the amodal check sees it too.
    assert found(result) == {
        ("bbox.segmentation", shard(1), key(7)),
        ("bbox.pixels", shard(0), key(3)),
        ("bbox.amodal", shard(0), key(3)),
    }
    msg = {f["check"]: f["message"] for f in result.failures}
    assert "frame 0" in msg["bbox.segmentation"] and "frame 1" in msg["bbox.pixels"]
    assert main(["validate", str(ds), "--result", str(ds.parent / "r.json"), "--no-progress"]) == 1


def test_a_scenario_that_is_not_the_allocation(ds):
    man = load_manifest(ds)
    names = list(man["scenarios"]["requested"])
    meta = edit_json(ds, 4, lambda m: m.update(scenario=names[1 - names.index(m["scenario"])]))
    result = validate_dataset(ds)
    assert found(result) == {("scenario.allocation", shard(0), key(4)), ("scenario.totals", "manifest.json", None)}
    (f,) = [f for f in result.failures if f["check"] == "scenario.allocation"]
    assert repr(meta["scenario"]) in f["message"]


def test_failed_samples_listed_in_the_manifest_are_not_missing(ds):
    i = 7
    samples = read_tar(ds / shard(1))
    scenario = json.loads(dict(samples)[key(i)]["json"])["scenario"]
    rewrite_shard(ds, 1, [s for s in samples if s[0] != key(i)])
    assert not validate_dataset(ds).ok  # not listed as failed: it is missing
    assert ("keys.indices", shard(1), key(i)) in found(validate_dataset(ds))

    man = load_manifest(ds)
    fail = {"index": i, "scenario": scenario, "seed": man["seed"], "error": "planted"}
    man["shards"][1]["samples"] -= 1
    man["shards"][1]["failures"] = [fail]
    man.update(failures=[fail], samples_written=SAMPLES - 1, max_failures=1)
    man["scenarios"]["achieved"][scenario] -= 1
    save_manifest(ds, man)
    result = validate_dataset(ds)
    assert result.ok, result.lines()
    assert result.summary["samples"] == SAMPLES - 1


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_ground_truth_that_breaks_the_invariants(ds):
    """Depth 0 (sky) on an object, flow valid in the last frame, a wrong semantic class,
    a flow vector that leaves the image."""
    samples = read_tar(ds / shard(0))
    members = dict(samples)
    T, H, W = (json.loads(members[key(0)]["json"])[k] for k in ("frames", "height", "width"))

    m = members[key(0)]
    depth = np.asarray(Image.open(io.BytesIO(m["depth.png"]))).copy()
    inst = np.asarray(Image.open(io.BytesIO(m["instance.png"])))
    v, u = np.argwhere(inst[:H] > 0)[0]  # an object pixel of frame 0
    depth[v, u] = 0
    m["depth.png"] = png(depth)
    flow = np.asarray(Image.open(io.BytesIO(m["flow.png"])))
    flow_was_valid = flow[v, u] != 0 and flow[v, W + u] != 0
    albedo_lit = np.asarray(Image.open(io.BytesIO(m["albedo.png"])))[v, u].any()

    m = members[key(1)]
    flow = np.asarray(Image.open(io.BytesIO(m["flow.png"]))).copy()
    flow[(T - 1) * H + 3, [5, W + 5]] = 32768  # zero flow, valid, in the last frame
    m["flow.png"] = png(flow)

    m = members[key(2)]
    sem = np.asarray(Image.open(io.BytesIO(m["semantic.png"]))).copy()
    inst = np.asarray(Image.open(io.BytesIO(m["instance.png"])))
    v2, u2 = np.argwhere(inst > 0)[0]
    sem[v2, u2] = 2  # wall, on an object
    m["semantic.png"] = png(sem)

    m = members[key(3)]
    flow = np.asarray(Image.open(io.BytesIO(m["flow.png"]))).copy()
    v3, u3 = np.argwhere((flow[:H, :W] != 0) & (flow[:H, W:] != 0))[0]  # valid in frame 0
    flow[v3, u3] = 32768 + 64 * (W + 5)  # du = W + 5 px: the target leaves the image
    m["flow.png"] = png(flow)
    rewrite_shard(ds, 0, samples)

    result = validate_dataset(ds)
    expected = {
        ("depth.object", shard(0), key(0)),
        ("flow.last_frame", shard(0), key(1)),
        ("semantic.class", shard(0), key(2)),
        ("flow.target", shard(0), key(3)),
    }
    if flow_was_valid:
        expected.add(("flow.sky", shard(0), key(0)))
    # The object's family and albedo are now on a "sky" pixel too.
    expected.add(("material.sky", shard(0), key(0)))
    if albedo_lit:
        expected.add(("albedo.sky", shard(0), key(0)))
    assert found(result) == expected
    msg = {f["check"]: f["message"] for f in result.failures}
    assert f"frame 0 at (u={u}, v={v})" in msg["depth.object"]
    assert f"frame 0 at (u={u3}, v={v3})" in msg["flow.target"]


def canonical_hash(config: dict) -> str:
    """The config hash as DESIGN.md defines it (sha256 of sorted, compact JSON; the
    execution-only ``render.batch_views`` left out), computed here without factory."""
    render = {k: v for k, v in config["render"].items() if k != "batch_views"}
    text = json.dumps({**config, "render": render}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_config_block_edited_after_the_fact_is_named(ds):
    man = load_manifest(ds)
    assert canonical_hash(man["config"]) == man["config_hash"]
    man["config"]["render"]["fps"] = man["config"]["render"]["fps"] * 2
    save_manifest(ds, man)
    result = validate_dataset(ds)
    assert found(result) == {("manifest.config", "manifest.json", None)}
    assert canonical_hash(man["config"]) in result.failures[0]["message"]


def test_a_dataset_recorded_before_a_config_field_existed_is_intact(ds):
    """A generator older than ``render.device`` recorded no such field and hashed the
    config without it: the dataset is intact, and validate says what this version adds."""
    man = load_manifest(ds)
    for f in ("device", "batch_views"):
        del man["config"]["render"][f]
    old_hash = canonical_hash(man["config"])
    assert old_hash != man["config_hash"]
    for i in range(SAMPLES):  # every sample carries the hash of the config it was made with
        edit_json(ds, i, lambda meta: meta.update(config_hash=old_hash))
    man = {**load_manifest(ds), "config": man["config"], "config_hash": old_hash}
    save_manifest(ds, man)

    result = validate_dataset(ds)
    assert result.ok, result.lines()
    (note,) = result.notes
    assert "render.device='cpu'" in note and "batch_views" not in note
    assert f"note: {note}" in result.lines() and result.to_dict()["notes"] == [note]


def test_a_folder_of_tars_without_manifest(ds):
    (ds / "manifest.json").unlink()
    shutil.copy(ds / shard(0), ds / "copy.tar")  # sorts first: the originals are the duplicates
    path = ds / shard(2)
    path.write_bytes(path.read_bytes()[:1000])
    result = validate_dataset(ds)
    assert result.kind == "plain"
    assert found(result) == {
        ("manifest.missing", "manifest.json", None),
        ("tar.format", shard(2), None),
        *{("keys.unique", shard(0), key(i)) for i in range(SHARD)},
    }


def test_a_mixed_dataset(clean, tmp_path):
    import webdataset as wds

    from factory.dataset.mix import mix

    real = tmp_path / "real"
    real.mkdir()
    rng = np.random.default_rng(0)
    for s in range(2):
        with wds.TarWriter(str(real / f"photos-{s:06d}.tar")) as w:
            for k in range(4):
                buf = io.BytesIO()
                Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(buf, format="JPEG")
                w.write({"__key__": f"photo{s}{k}", "jpg": buf.getvalue(), "cls": b"3"})
    out = tmp_path / "mix"
    mix(str(clean), str(real), ratio="0.25", out=str(out), samples=12, shard_size=5, real_licence="CC0-1.0")
    result = validate_dataset(out)
    assert result.ok, result.lines()
    tags = [
        (n, k, json.loads(m["source.json"]))
        for n in sorted(p.name for p in out.glob("*.tar"))
        for k, m in read_tar(out / n)
    ]
    assert result.summary["samples_by_source"] == dict(Counter(t["source"] for _, _, t in tags))
    assert result.kind == "mix"

    # A real photo that does not decode, a synthetic sample whose source key is wrong.
    (rn, rk, _), (sn, sk, stag) = (next(t for t in tags if t[2]["source"] == role) for role in ("real", "synthetic"))
    wrong = key(int(stag["key"]) + 1)
    for name in {rn, sn}:
        samples = read_tar(out / name)
        for k, members in samples:
            if k == rk:
                members["jpg"] = members["jpg"][:40]
            if k == sk:
                members["source.json"] = json.dumps({**stag, "key": wrong}, sort_keys=True).encode()
        rewrite_shard(out, name, samples)
    result = validate_dataset(out)
    assert found(result) == {("real.image", rn, rk), ("meta.key", sn, sk), ("meta.index", sn, sk)}
    assert main(["validate", str(out), "--result", str(tmp_path / "r.json"), "--no-progress"]) == 1


def test_local_worker_processes_find_what_one_process_finds(ds):
    path = ds / shard(2)
    path.write_bytes(path.read_bytes()[:3000])
    edit_json(ds, 1, lambda m: m.update(seed=m["seed"] + 1))
    one, two = validate_dataset(ds), validate_dataset(ds, workers=2)
    assert found(one) == {
        ("tar.format", shard(2), None),
        ("shard.bytes", shard(2), None),
        ("shard.sha256", shard(2), None),
        ("meta.seed", shard(0), key(1)),
    }
    assert two.failures == one.failures and two.summary == one.summary


def test_bad_arguments_exit_2_with_a_clear_error(tmp_path, clean, capsys):
    missing = tmp_path / "no-such-dataset"
    assert main(["validate", str(missing), "--result", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "no such folder" in err
    assert not (tmp_path / "r.json").exists()

    with pytest.raises(SystemExit) as e:
        main(["validate", str(clean), "--engine", "spark"])
    assert e.value.code == 2
    assert "invalid choice: 'spark'" in capsys.readouterr().err

    with pytest.raises(ValueError, match=r"engine: 'spark' is not one of local, ray"):
        map_shards_for("spark")
    with pytest.raises(ConfigError, match=r"map_shards: must be a map_shards function .* got 'spark'"):
        validate_dataset(clean, map_shards="spark")
    with pytest.raises(ConfigError, match=r"workers: .* got 0[\s\S]*max_failures_listed: .* got -1"):
        validate_dataset(clean, workers=0, max_failures_listed=-1)
    with pytest.raises(StorageError, match="one shard"):
        validate_dataset(clean / shard(0))

    run = subprocess.run(
        [sys.executable, "-m", "jobs.validate", str(missing), "--engine", "local"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [f"python -m jobs.validate: error: {missing}: no such folder"]
