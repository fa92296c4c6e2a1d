"""``factory validate``: a clean dataset passes with the right counts; each kind of
planted damage is caught and named (check, shard, key), with exit status 1 from the
real CLI; the Ray engine finds exactly what the local one does; S3 through the moto
server; bad arguments exit 2.

The damage is planted with ``tarfile``, ``PIL`` and ``json`` directly, and where the
test wants only the per-sample checks to see it, the manifest's sha256 and bytes are
fixed up (with ``hashlib``) so that the shard-level checks cannot.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from conftest import write_dataset

from factory.cli import main
from factory.dataset.shards import build_shard
from factory.trust.validate import validate_dataset

SAMPLES, SHARD = 12, 5  # shards of 5, 5 and 2 samples


@pytest.fixture(scope="module")
def clean(tmp_path_factory, tiny_config):
    folder = tmp_path_factory.mktemp("validate") / "clean"
    write_dataset(tiny_config, folder, SAMPLES, SHARD)
    return folder


@pytest.fixture
def ds(clean, tmp_path):
    """A copy of the clean dataset, to damage."""
    return Path(shutil.copytree(clean, tmp_path / "ds"))


def shard(n: int) -> str:
    return f"tiny-{n:06d}.tar"


def key(i: int) -> str:
    return f"{i:010d}"


def read_tar(path: Path) -> list[tuple[str, dict[str, bytes]]]:
    """``(key, {member: bytes})`` of a tar, read with tarfile."""
    out: list[tuple[str, dict[str, bytes]]] = []
    with tarfile.open(path) as tar:
        for info in tar.getmembers():
            k, ext = info.name.split(".", 1)
            if not out or out[-1][0] != k:
                out.append((k, {}))
            out[-1][1][ext] = tar.extractfile(info).read()
    return out


def load_manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def save_manifest(folder: Path, man: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(man, indent=2))


def rewrite_shard(folder: Path, n: int | str, samples, fix_manifest: bool = True) -> None:
    """Write shard ``n`` (number or file name) from ``samples``; with ``fix_manifest``
    make its recorded size and sha256 (and the total) agree, so only the content checks
    can see the change."""
    name = shard(n) if isinstance(n, int) else n
    data = build_shard(samples)
    (folder / name).write_bytes(data)
    if fix_manifest:
        man = load_manifest(folder)
        (rec,) = [r for r in man["shards"] if r["name"] == name]
        rec["bytes"], rec["sha256"] = len(data), hashlib.sha256(data).hexdigest()
        man["bytes"] = sum(r["bytes"] for r in man["shards"])
        save_manifest(folder, man)


def edit_json(folder: Path, i: int, edit) -> dict:
    """Apply ``edit(meta)`` to sample ``i``'s JSON, rebuild its shard, fix the manifest."""
    n = i // SHARD
    samples = read_tar(folder / shard(n))
    members = dict(samples)[key(i)]
    meta = json.loads(members["json"])
    edit(meta)
    members["json"] = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    rewrite_shard(folder, n, samples)
    return meta


def found(result) -> set[tuple[str, str | None, str | None]]:
    return {(f["check"], f["shard"], f["key"]) for f in result.failures}


@pytest.mark.xdist_group("ray")
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
