"""The output shards of a mix: each sample copied from its source, tagged, written.

Output sample ``i`` is the next sample of the real source where the layout says real,
else the next of the synthetic one, under the new key ``sample_key(i)``, every member
copied unchanged plus its ``source.json`` tag. Each shard and its record go through the
one dataset writer (:class:`factory.dataset.writer.DatasetWriter`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from factory.dataset.mix.sources import SOURCE_MEMBER, Source, source_member
from factory.dataset.shards import assemble, sample_segment, shard_count, shard_indices, shard_name
from factory.dataset.writer import DatasetWriter, record_of
from factory.errors import StorageError
from factory.sample.types import sample_key

LOG_EVERY_S = 10.0  # progress lines at most this often


def write_shards(
    writer: DatasetWriter,
    mask: np.ndarray,
    syn: Source,
    rea: Source,
    shard_size: int,
    prefix: str,
    log: Callable[[str], None],
) -> list[dict]:
    """Write every output shard and its record; returns the records in shard order.
    Shard ``s`` is hashed and put in a thread while shard ``s + 1`` is built."""
    n = len(mask)
    streams = {"synthetic": syn.samples(), "real": rea.samples()}
    sources = {"synthetic": syn, "real": rea}
    records: list[dict] = []
    last_log = time.monotonic()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mix-write") as pool:
        pending: Future | None = None
        try:
            for s in range(shard_count(n, shard_size)):
                indices = shard_indices(s, n, shard_size)
                data = assemble(_segment(i, mask, sources, streams) for i in indices)
                if pending is not None:
                    records.append(pending.result())
                pending = pool.submit(_put, writer, s, shard_name(prefix, s), indices, data)
                if time.monotonic() - last_log > LOG_EVERY_S:
                    last_log = time.monotonic()
                    log(f"mix: {indices[-1] + 1}/{n} samples, {s + 1} shards")
            if pending is not None:
                records.append(pending.result())
        finally:
            for stream in streams.values():
                stream.close()  # stops the read-ahead threads
    return records


def _put(writer: DatasetWriter, shard: int, name: str, indices: range, data: bytes) -> dict:
    """Hash and put one output shard, then its record (in the writer thread); the record."""
    return writer.put_shard(record_of(shard, name, indices, data), data)


def _segment(
    i: int,
    mask: np.ndarray,
    sources: dict[str, Source],
    streams: dict[str, Iterator[tuple[str, str, dict[str, bytes]]]],
) -> bytes:
    """The tar records of output sample ``i``: the next sample of its source, tagged."""
    role = "real" if mask[i] else "synthetic"
    src = sources[role]
    try:
        shard, key, members = next(streams[role])
    except StopIteration:
        raise StorageError(
            f"{src.what()} ran out of samples after {_used(mask, i, role)}; "
            "its manifest claims more than its shards hold"
        ) from None
    members = dict(members)
    members[SOURCE_MEMBER] = source_member(
        source=role, dataset=src.name, url=src.url, shard=shard, key=key, licence=src.licence
    )
    try:
        return sample_segment(sample_key(i), members)
    except (ValueError, TypeError) as e:
        raise StorageError(f"{src.what()}: sample {key!r} in {shard} cannot be copied: {e}") from None


def _used(mask: np.ndarray, i: int, role: str) -> str:
    real = int(mask[:i].sum())
    return f"{real if role == 'real' else i - real} samples"
