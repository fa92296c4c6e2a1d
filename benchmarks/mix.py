"""``factory mix`` against copying the same shards' bytes, in one run.

    python benchmarks/mix.py [--samples 1000] [--shard-size 100] [--ratio 0.5]
                             [--where file|memory] [--repeats 3]

Inputs, built before any clock starts: a synthetic factory dataset of ``--samples``
quickstart clips (a few distinct clips rendered with ``configs/quickstart.yaml`` and
repeated under new keys, so the bytes per sample are real: ~125 kB with the MP4) and a
real-style WebDataset of ``--samples`` JPEG + cls samples (~110 kB each, noise images
written with ``webdataset.TarWriter``), both in shards of ``--shard-size``.

Arms, each on the same storage (``--where``: a temporary local folder, or memory://):

* **copy** (the baseline): every shard of both inputs read with ``Location.read`` and
  written with ``Location.put_atomic``: the storage layer's own cost for these bytes.
* **mix**: ``factory.dataset.mix.mix`` of all of both inputs at ``--ratio``: pre-flight (the
  real samples counted, which reads the real shards once more), parsing, a
  ``source.json`` per sample, new tar records, sha256, shards, records and manifest.
* **parse**: reading both inputs and splitting them into samples with
  ``factory.dataset.reader.iter_tar`` and nothing else;
* **rebuild**: parse, plus what mix does to each sample in memory (a ``source.json``
  member, new tar records with ``factory.dataset.shards.sample_segment``, shards assembled), no
  hashing and no writing. Parse and rebuild show where mix's time goes.

The page cache is warmed first; the three arms take turns ``--repeats`` times and each
arm's best run counts. It prints samples/s and MB/s (of shard bytes written) and the ratios
mix / copy. Figures depend on the machine; nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_synthetic(url: str, samples: int, shard_size: int, distinct: int) -> None:
    """A complete factory dataset of ``samples`` quickstart clips (``distinct`` rendered,
    then repeated under new keys), written the way the pipeline writes one."""
    from factory.dataset.resume import prepare
    from factory.dataset.shards import assemble, sample_segment
    from factory.dataset.storage import resolve
    from factory.sample.generate import generate_members
    from factory.sample.types import sample_key
    from factory.scene.config import load_config

    config = load_config(ROOT / "configs/quickstart.yaml")
    clips = [{k: v for k, v in generate_members(config, i).items() if k != "__key__"} for i in range(distinct)]
    plan = prepare(resolve(url), config, samples=samples, shard_size=shard_size, prefix="quickstart", mode="overwrite")
    records = {}
    for s in range(plan.num_shards):  # through the plan's dataset writer: shard, then its record
        data = assemble(sample_segment(sample_key(i), clips[i % distinct]) for i in plan.indices(s))
        records[s] = plan.put_shard(s, data)
    assert plan.commit(records) is not None


def build_real(url: str, samples: int, shard_size: int) -> None:
    """A real-style WebDataset: ``imagenet-like-NNNNNN.tar`` of JPEG (~110 kB) + cls."""
    import numpy as np
    import webdataset as wds
    from PIL import Image

    from factory.dataset.storage import resolve

    rng = np.random.default_rng(0)
    images = []
    for _ in range(8):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=90)
        images.append(buf.getvalue())
    location = resolve(url)
    location.ensure_folder()
    for s in range(-(-samples // shard_size)):
        buf = io.BytesIO()
        with wds.TarWriter(buf) as w:
            for i in range(s * shard_size, min((s + 1) * shard_size, samples)):
                w.write(
                    {"__key__": f"n{i % 1000:08d}_{i}", "jpg": images[i % len(images)], "cls": str(i % 1000).encode()}
                )
        location.put_atomic(f"imagenet-like-{s:06d}.tar", buf.getvalue())


def arm_copy(urls: list[str], out_url: str) -> tuple[float, int]:
    from factory.dataset.reader import open_dataset
    from factory.dataset.storage import resolve

    out = resolve(out_url)
    t0 = time.perf_counter()
    nbytes = 0
    for url in urls:
        ds = open_dataset(url)
        for name in ds.shards:
            data = ds.read_shard(name)
            out.put_atomic(name, data)
            nbytes += len(data)
    return time.perf_counter() - t0, nbytes


def arm_parse(urls: list[str]) -> tuple[float, int]:
    from factory.dataset.reader import iter_tar, open_dataset

    t0 = time.perf_counter()
    n = 0
    for url in urls:
        ds = open_dataset(url)
        for name in ds.shards:
            n += sum(1 for _ in iter_tar(ds.read_shard(name), name))
    return time.perf_counter() - t0, n


def arm_rebuild(urls: list[str]) -> tuple[float, int]:
    """parse + what mix does to every sample in memory: a source.json member, new tar
    records, shards assembled; no hashing, no writing."""
    from factory.dataset.reader import iter_tar, open_dataset
    from factory.dataset.shards import assemble, sample_segment
    from factory.sample.types import sample_key

    t0 = time.perf_counter()
    n = 0
    for url in urls:
        ds = open_dataset(url)
        for name in ds.shards:
            segments = []
            for key, members in iter_tar(ds.read_shard(name), name):
                members["source.json"] = b'{"key":"%s"}' % key.encode()
                segments.append(sample_segment(sample_key(n), members))
                n += 1
            assemble(segments)
    return time.perf_counter() - t0, n


def arm_mix(syn: str, real: str, out_url: str, ratio: str, samples: int, shard_size: int) -> tuple[float, int]:
    from factory.dataset.mix import mix

    t0 = time.perf_counter()
    summary = mix(
        syn,
        real,
        ratio=ratio,
        out=out_url,
        samples=samples,
        shard_size=shard_size,
        real_licence="CC-BY-4.0",
        overwrite=True,
    )
    return time.perf_counter() - t0, summary.manifest["bytes"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=1000, help="samples in EACH input (default 1000)")
    ap.add_argument("--shard-size", type=int, default=100)
    ap.add_argument("--ratio", default="0.5", help="fraction of real samples (default 0.5: all of both inputs)")
    ap.add_argument("--where", choices=("file", "memory"), default="file")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--distinct", type=int, default=8, help="quickstart clips actually rendered (default 8)")
    args = ap.parse_args(argv)

    from fractions import Fraction

    from factory.dataset.mix import default_samples, split_counts

    with tempfile.TemporaryDirectory(prefix="factory-bench-mix-") as tmp:
        base = tmp if args.where == "file" else f"memory://bench-{uuid.uuid4().hex[:8]}"
        syn, real = f"{base}/syn", f"{base}/real"
        build_synthetic(syn, args.samples, args.shard_size, args.distinct)
        build_real(real, args.samples, args.shard_size)
        n = default_samples(Fraction(args.ratio), args.samples, args.samples)
        n_real, n_syn = split_counts(args.ratio, n)
        print(
            f"workload: mix {n} samples ({n_real} real JPEG+cls, {n_syn} synthetic quickstart clips) at ratio "
            f"{args.ratio}, shards of {args.shard_size}, storage {args.where}, best of {args.repeats}, "
            f"{os.cpu_count()} cores"
        )
        arm_parse([syn, real])  # warm the page cache and the imports

        runs = []  # the arms take turns, so a busy spell on a shared machine hits all of them
        for r in range(args.repeats):
            runs.append(
                (
                    arm_copy([syn, real], f"{base}/copy-{r}"),
                    arm_parse([syn, real]),
                    arm_rebuild([syn, real]),
                    arm_mix(syn, real, f"{base}/mix", args.ratio, n, args.shard_size),
                )
            )
        copy, parse, rebuild, mixed = (min(arm) for arm in zip(*runs))

    copy_samples = 2 * args.samples
    rows = [
        ("copy", copy, copy_samples, copy[1]),
        ("parse", parse, parse[1], None),
        ("rebuild", rebuild, rebuild[1], None),
        ("mix", mixed, n, mixed[1]),
    ]
    for label, (wall, _), count, nbytes in rows:
        mbs = f"{nbytes / 1e6 / wall:8.1f} MB/s written" if nbytes else " " * 22
        print(f"{label:8s}{wall:7.2f} s  {count / wall:9.0f} samples/s  {mbs}")
    print(
        f"ratio     mix / copy: {(n / mixed[0]) / (copy_samples / copy[0]):.2f} in samples/s, "
        f"{(mixed[1] / mixed[0]) / (copy[1] / copy[0]):.2f} in MB/s; in samples/s, parse / copy "
        f"{(parse[1] / parse[0]) / (copy_samples / copy[0]):.2f}, rebuild / copy "
        f"{(rebuild[1] / rebuild[0]) / (copy_samples / copy[0]):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
