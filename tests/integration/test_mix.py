"""``factory mix``: synthetic + real WebDatasets into one tagged, deterministic dataset.

The real datasets are built here with ``webdataset.TarWriter`` (jpg + cls and png +
json flavours); the synthetic one with ``write_dataset``. Every check reads the tars
back with :mod:`tarfile` and :mod:`json` directly and compares against the inputs read
the same way, never against mix's own bookkeeping.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import webdataset as wds
from conftest import write_dataset
from PIL import Image

from factory.dataset import manifest as mf
from factory.dataset.reader import open_dataset
from factory.errors import DatasetConflictError
from factory.trust.mix import mix

SYN_SAMPLES, SYN_SHARD = 12, 5  # shards of 5, 5, 2


LICENCE = "CC0-1.0"


def tar_samples(path: Path) -> list[tuple[str, dict[str, bytes]]]:
    """``(key, {member: bytes})`` of a tar in order, grouped by the part before the first dot."""
    out: list[tuple[str, dict[str, bytes]]] = []
    with tarfile.open(path) as tar:
        for info in tar:
            if not info.isfile():
                continue
            key, _, ext = info.name.partition(".")
            if not out or out[-1][0] != key:
                out.append((key, {}))
            out[-1][1][ext] = tar.extractfile(info).read()
    return out


def folder_samples(folder: Path) -> list[tuple[str, str, dict[str, bytes]]]:
    """``(shard, key, members)`` of every ``*.tar`` in the folder, in name order."""
    return [(p.name, k, m) for p in sorted(folder.glob("*.tar")) for k, m in tar_samples(p)]


def _jpeg(rng) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def _png(rng) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (6, 5), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def write_real(folder: Path, flavour: str, shards: list[int], extra: dict | None = None) -> Path:
    """A real-style WebDataset: ``shards[i]`` samples in ``<flavour>-00000i.tar``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(flavour))
    k = 0
    for s, count in enumerate(shards):
        with wds.TarWriter(str(folder / f"{flavour}-{s:06d}.tar")) as w:
            for _ in range(count):
                if flavour == "jpgcls":
                    sample = {"__key__": f"img_{k:05d}", "jpg": _jpeg(rng), "cls": str(k % 7).encode()}
                else:
                    sample = {"__key__": f"n0144_{1000 + 3 * k}", "png": _png(rng),
                              "json": json.dumps({"label": k, "caption": f"thing {k}"}).encode()}
                sample.update(extra or {})
                w.write(sample)
                k += 1
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory, tiny_config):
    root = tmp_path_factory.mktemp("mix-inputs")
    write_dataset(tiny_config, root / "syn", SYN_SAMPLES, SYN_SHARD)
    write_real(root / "jpgcls", "jpgcls", [4, 4, 4])
    write_real(root / "pngjson", "pngjson", [5, 5])
    return root


def test_real_on_s3_and_output_to_s3(data, s3, tmp_path):
    import s3fs

    real_url = f"s3://{s3.bucket}/real/jpgcls"
    for p in sorted((data / "jpgcls").glob("*.tar")):
        s3.client.put_object(Bucket=s3.bucket, Key=f"real/jpgcls/{p.name}", Body=p.read_bytes())
    summary = mix(str(data / "syn"), real_url, ratio="1/3", out=s3.url, samples=9, shard_size=4,
                  real_licence=LICENCE)
    assert summary.manifest["samples"] == 9
    fs = s3fs.S3FileSystem(key=s3.env["AWS_ACCESS_KEY_ID"], secret=s3.env["AWS_SECRET_ACCESS_KEY"],
                           endpoint_url=s3.endpoint)
    prefix = s3.url.removeprefix("s3://")
    doc = json.loads(fs.cat_file(f"{prefix}/manifest.json"))
    assert [r["name"] for r in doc["shards"]] == ["mix-000000.tar", "mix-000001.tar", "mix-000002.tar"]
    real_in = iter(folder_samples(data / "jpgcls"))
    n_real = 0
    for r in doc["shards"]:
        blob = fs.cat_file(f"{prefix}/{r['name']}")
        assert hashlib.sha256(blob).hexdigest() == r["sha256"] and len(blob) == r["bytes"]
        local = tmp_path / r["name"]  # a local copy to read with tarfile
        local.write_bytes(blob)
        for _, members in tar_samples(local):
            tag = json.loads(members["source.json"])
            if tag["source"] == "real":
                n_real += 1
                shard, key, original = next(real_in)
                assert (tag["url"], tag["shard"], tag["key"]) == (real_url, shard, key)
                assert {k: v for k, v in members.items() if k != "source.json"} == original
    assert n_real == 3
    ds = open_dataset(s3.url)
    assert mf.verify(ds.location, ds.manifest) == []
    # the same --out again is refused without --overwrite
    with pytest.raises(DatasetConflictError):
        mix(str(data / "syn"), real_url, ratio="1/3", out=s3.url, samples=9, real_licence=LICENCE)
