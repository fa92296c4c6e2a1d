"""What tests/unit/test_mix.py and tests/integration/test_mix.py share: real-style
WebDatasets (jpg + cls, png + json), tars read back by hand, and the mix inputs
(fixture ``data``: a synthetic dataset and two real ones in one folder).

webdataset is imported inside :func:`write_real`: every pytest run loads this plugin,
and importing webdataset alone takes seconds.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers.datasets import write_dataset

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
    import webdataset as wds

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(flavour))
    k = 0
    for s, count in enumerate(shards):
        with wds.TarWriter(str(folder / f"{flavour}-{s:06d}.tar")) as w:
            for _ in range(count):
                if flavour == "jpgcls":
                    sample = {"__key__": f"img_{k:05d}", "jpg": _jpeg(rng), "cls": str(k % 7).encode()}
                else:
                    sample = {
                        "__key__": f"n0144_{1000 + 3 * k}",
                        "png": _png(rng),
                        "json": json.dumps({"label": k, "caption": f"thing {k}"}).encode(),
                    }
                sample.update(extra or {})
                w.write(sample)
                k += 1
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory, tiny_config):
    """A folder holding ``syn`` (the tiny config, SYN_SAMPLES in shards of SYN_SHARD),
    ``jpgcls`` (4 + 4 + 4 samples) and ``pngjson`` (5 + 5)."""
    root = tmp_path_factory.mktemp("mix-inputs")
    write_dataset(tiny_config, root / "syn", SYN_SAMPLES, SYN_SHARD)
    write_real(root / "jpgcls", "jpgcls", [4, 4, 4])
    write_real(root / "pngjson", "pngjson", [5, 5])
    return root
