"""The inputs of a mix: open them, check them, read their samples in order.

:func:`open_sources` opens the synthetic dataset (a complete factory dataset naming its
licence) and the real one (any WebDataset; its name and licence from its manifest or
the arguments). :meth:`Source.samples` yields each sample in dataset order, every shard
checked against its manifest record and every sample checked as something mix can copy
unchanged; :func:`source_member` is the ``source.json`` tag each sample gains.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from factory.dataset import manifest as mf
from factory.dataset.mix.ratio import arg_error
from factory.dataset.reader import Dataset, iter_tar, open_dataset
from factory.dataset.shards import sha256_hex
from factory.dataset.storage import Location, resolve
from factory.errors import ShardFormatError, StorageError

KIND = mf.MIX
SOURCE_MEMBER = "source.json"
ROLES = ("synthetic", "real")


def source_member(*, source: str, dataset: str, url: str, shard: str, key: str, licence: str) -> bytes:
    """The ``source.json`` member: canonical JSON (sorted keys, compact, UTF-8)."""
    doc = {"source": source, "dataset": dataset, "url": url, "shard": shard, "key": key, "licence": licence}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Source:
    """One input of a mix. ``available`` is the sample count when known without reading
    the shards (from a manifest), else None; ``records`` the manifest's shard records by
    name (empty without a manifest), checked as shards are read. ``opened`` is where
    the URL given for it resolved to (a folder, or one .tar)."""

    role: str
    url: str  # without credentials; local paths absolute
    dataset: Dataset
    name: str
    licence: str | None
    available: int | None
    config_hash: str | None = None
    opened: Location | None = None

    @property
    def records(self) -> dict[str, dict]:
        shards = (self.dataset.manifest or {}).get("shards") or []
        return {r["name"]: r for r in shards if isinstance(r, dict) and isinstance(r.get("name"), str)}

    def what(self) -> str:
        return f"the {self.role} dataset {self.url}"

    def read_shard(self, name: str, records: Mapping[str, dict]) -> bytes:
        """The bytes of shard ``name``, checked against its manifest record if it has one."""
        data = self.dataset.read_shard(name)
        rec = records.get(name)
        if rec is not None and (len(data) != rec.get("bytes") or sha256_hex(data) != rec.get("sha256")):
            raise StorageError(
                f"{self.what()}: shard {name} does not match its manifest record "
                f"({len(data)} bytes, expected {rec.get('bytes')}, or another sha256); "
                "the dataset is damaged"
            )
        return data

    def samples(self) -> Iterator[tuple[str, str, dict[str, bytes]]]:
        """``(shard, key, members)`` in dataset order, each sample checked (:meth:`check`).
        The next shard is read (and hashed) in a thread while this one is used."""
        records = self.records
        names = self.dataset.shards
        for name, data in zip(names, _read_ahead(lambda n: self.read_shard(n, records), names)):
            try:
                for key, members in iter_tar(data, name):
                    self.check(name, key, members)
                    yield name, key, members
            except ShardFormatError as e:
                raise StorageError(f"{self.what()}: {e}") from None

    def check(self, shard: str, key: str, members: Mapping[str, bytes]) -> None:
        """A sample mix can copy unchanged: no ``source.json``, lower-case member names."""
        if SOURCE_MEMBER in members:
            raise StorageError(
                f"{self.what()}: sample {key!r} in {shard} already has a member named {SOURCE_MEMBER!r}, which "
                "factory mix adds to every sample to record its origin; is this dataset a mix already? "
                "Mix from its original sources instead"
            )
        for ext in members:
            if ext != ext.lower():
                raise StorageError(
                    f"{self.what()}: sample {key!r} in {shard} has the member {ext!r}; factory shards need "
                    "lower-case member names and mix copies members unchanged, so rename it in the source"
                )

    def count(self, enough: int | None = None) -> int:
        """How many samples the source holds, reading shards until ``enough`` are seen
        (all of them when None); every sample read is checked."""
        n = 0
        stream = self.samples()
        try:
            for _ in stream:
                n += 1
                if enough is not None and n >= enough:
                    break
        finally:
            stream.close()  # stops the read-ahead thread now
        return n


def _read_ahead(read: Callable[[str], bytes], names: list[str]) -> Iterator[bytes]:
    """``read(name)`` for each name in order, the next one already being read in a thread
    (hides storage latency; at most two shards in memory)."""
    if not names:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mix-read") as pool:
        pending = pool.submit(read, names[0])
        for nxt in names[1:]:
            data = pending.result()
            pending = pool.submit(read, nxt)
            yield data
        yield pending.result()


def _plain_url(location: Location) -> str:
    """What ``source.json`` and the manifest record: the URL without credentials, with
    local paths made absolute (so the record still means something elsewhere)."""
    if location.is_local:
        return location.path
    return location.url_of()


def _open(role: str, url: str, options: Mapping[str, Any] | None) -> Source:
    try:
        location = resolve(url, options)
        ds = open_dataset(location)
    except StorageError as e:
        raise StorageError(f"--{role}: {e}") from None
    manifest = ds.manifest
    plain = _plain_url(location)
    if manifest is None:
        return Source(role, plain, ds, "", None, None, opened=location)
    if manifest.get("format") != mf.FORMAT:
        raise StorageError(
            f"the {role} dataset {plain}: manifest format is {manifest.get('format')!r}, expected {mf.FORMAT!r}"
        )
    if manifest.get("kind") == KIND:
        raise StorageError(
            f"the {role} dataset {plain} is itself a mix (manifest kind {KIND!r}); "
            "mix from its original sources instead"
        )
    problems = mf.check(manifest)
    if problems:
        raise StorageError(f"the {role} dataset {plain} has an inconsistent manifest: {'; '.join(problems)}")
    available = sum(int(r.get("samples", 0)) for r in manifest.get("shards", []))
    licence = manifest.get("licence") if isinstance(manifest.get("licence"), str) else None
    return Source(
        role,
        plain,
        ds,
        str(manifest.get("name") or ""),
        licence or None,
        available,
        manifest.get("config_hash"),
        opened=location,
    )


def _default_name(location: Location) -> str:
    last = location.path.rstrip("/").rsplit("/", 1)[-1]
    return last.removesuffix(".tar") or location.protocol


def open_sources(
    synthetic: str, real: str, options: Mapping[str, Any] | None, *, real_name: str | None, real_licence: str | None
) -> tuple[Source, Source]:
    """``(synthetic, real)``, opened and checked; the real one's name and licence are
    the arguments when given, else its manifest's (or the last part of its URL).

    Raises:
        StorageError: a source cannot be read, is a mix itself, or the synthetic one is
            not a complete factory dataset naming its licence.
        ConfigError: the real dataset's licence is known from neither.
    """
    syn = _open("synthetic", synthetic, options)
    if syn.dataset.manifest is None:
        raise StorageError(
            f"--synthetic {syn.url} has no {mf.MANIFEST}; it must be a complete factory dataset "
            "(made by factory generate)"
        )
    if not syn.licence:
        raise StorageError(
            f"--synthetic {syn.url}: its manifest names no licence; a mixed dataset must name "
            "every licence (set 'licence' in the config and regenerate)"
        )
    rea = _open("real", real, options)
    rea.name = real_name.strip() if real_name else _default_name(rea.opened)
    rea.licence = real_licence.strip() if real_licence else rea.licence
    if not rea.licence:
        raise arg_error(
            f"--real-licence is missing; the real dataset {rea.url} has no factory manifest naming "
            "its licence, and a mixed dataset must name every licence (e.g. --real-licence "
            "CC-BY-4.0)"
        )
    return syn, rea
