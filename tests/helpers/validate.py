"""What tests/unit/test_validate.py and tests/integration/test_validate.py share: a clean
local dataset (fixture ``clean``), a copy of it to damage (fixture ``ds``) and the
helpers that damage it by hand (tarfile, json) and keep the manifest in step."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from factory.dataset.shards import build_shard
from tests.helpers.datasets import write_dataset

SAMPLES, SHARD = 12, 5  # shards of 5, 5 and 2 samples


@pytest.fixture(scope="module")
def clean(tmp_path_factory, tiny_config):
    """SAMPLES samples of the tiny config in shards of SHARD (not to be changed)."""
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
