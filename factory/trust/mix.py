"""Mix a factory dataset with a real WebDataset into a new dataset, every sample tagged.

``mix(synthetic_url, real_url, ratio=R, out=URL)`` writes N samples of which exactly
``n_real`` come from the real dataset and ``n_syn = N - n_real`` from the synthetic one:

* **Counts** (:func:`split_counts`): ``n_real = round(R * N)``, with R taken exactly as
  written in decimal (``0.29`` is 29/100, never 0.28999...) and halves rounded to the
  even count. For two sources this is the largest-remainder apportionment of N (each
  source gets the floor of its quota, the leftover sample goes to the larger remainder),
  ties going to the even real count. Both counts must be at least 1.
* **Default N** (:func:`default_samples`): the largest N for which both sources have
  enough samples (``n_real <= real available``, ``n_syn <= synthetic available``).
* **Interleave** (:func:`layout`): jittered strata over the minority source (the one
  with fewer samples; real when equal). Output positions are cut into ``m`` strata
  ``[floor(j*N/m), floor((j+1)*N/m))`` and the minority sample of stratum ``j`` sits at
  a position drawn uniformly in it by ``numpy.random.default_rng([seed, N, n_real])``.
  So every window of L consecutive output samples holds within 2 of ``L * n_real / N``
  real samples (every shard is close to R real), the counts are exact, and the seed
  really changes the interleave.
* **Order**: the real samples are the first ``n_real`` of the real dataset and the
  synthetic ones the first ``n_syn`` of the synthetic dataset, each in dataset order,
  read one shard at a time (the next shard is read ahead in a thread; at most two
  shards per source and one output shard are in memory).
* **Samples**: output keys are new and sequential (``factory.sample.types.sample_key(i)``);
  every original member is copied unchanged and a ``source.json`` member is added:
  ``{"dataset", "key", "licence", "shard", "source": "real"|"synthetic", "url"}``
  (canonical JSON: sorted keys, compact, UTF-8). A source sample that already has a
  ``source.json`` member is refused (it is probably a mix already).
* **Shards and manifest**: as factory's own (:mod:`factory.dataset.shards`,
  :mod:`factory.dataset.manifest`): deterministic tar bytes, each shard put atomically and
  followed by its record in ``.factory/shards/``, ``manifest.json`` (``kind: "mix"``)
  written last. Same seed and sources give byte-identical shards and a manifest that
  differs only in ``created``.

Safety: ``--out`` may not be either input; an ``--out`` that holds a dataset
(a manifest, factory records, or shards named like ours) is refused unless
``overwrite``, checked before anything is written. Pre-flight (sources opened, counts
checked, the real samples needed counted and checked when the real dataset has no
manifest) runs before the first write. If writing fails, the shards and records this
run wrote are deleted again (best effort) and no manifest is written. Synthetic (and
real) shards listed in a manifest are checked against its sha256 as they are read.
Nothing here imports Ray.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from factory.dataset import manifest as mf
from factory.errors import ConfigError, DatasetConflictError, ShardFormatError, StorageError
from factory.sample.provenance import generator_info
from factory.dataset.reader import Dataset, iter_tar, open_dataset
from factory.sample.types import sample_key
from factory.dataset.shards import (
    DEFAULT_SHARD_SIZE, assemble, sample_segment, sha256_hex, shard_count, shard_indices, shard_name, shard_pattern,
)
from factory.dataset.storage import Location, resolve

# Private helpers of factory.dataset.resume that mix needs as they are (see the report: they
# belong in a public "dataset folder" module): the prefix rule of shard names, deleting
# a previous dataset's files for --overwrite, and leftovers of interrupted local puts.
from factory.dataset.resume import PREFIX, remove_dataset, remove_temp_files

KIND = "mix"
DEFAULT_PREFIX = "mix"
SOURCE_MEMBER = "source.json"
ROLES = ("synthetic", "real")
_WHAT = "mix arguments"  # ConfigError source: the message reads "invalid config mix arguments"


def _arg_error(message: str) -> ConfigError:
    return ConfigError(_WHAT, [message])


# -- counts and interleave (pure) -------------------------------------------------------


def parse_ratio(value: Any) -> Fraction:
    """The fraction of real samples as an exact rational, 0 < R < 1.

    Accepts a string (``"0.25"``, ``"1/4"``), a float (read through its shortest
    decimal form, so ``0.29`` is 29/100), an int or a :class:`~fractions.Fraction`.

    Raises:
        ConfigError: not a number, not finite, or not strictly between 0 and 1.
    """
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, float):
            value = repr(value)  # shortest decimal that round-trips: 0.29, not 0.2899999...
        ratio = Fraction(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError):
        raise _arg_error(f"--ratio {value!r} is not a number; give the fraction of real samples, "
                         "0 < R < 1 (e.g. 0.25 or 1/4)") from None
    if not 0 < ratio < 1:
        raise _arg_error(f"--ratio {value} is out of range; it is the fraction of real samples and must be "
                         "strictly between 0 and 1")
    return ratio


def split_counts(ratio: Fraction | float | str, samples: int) -> tuple[int, int]:
    """``(n_real, n_syn)`` for ``samples`` output samples: ``n_real = round(R * N)``
    exactly, halves to even (see the module docstring), ``n_syn = N - n_real``."""
    n_real = round(parse_ratio(ratio) * samples)
    return n_real, samples - n_real


def default_samples(ratio: Fraction | float | str, real_available: int, synthetic_available: int) -> int:
    """The largest N whose split fits the sources (0 if none does). Both counts grow by
    0 or 1 with N, so the feasible N are exactly ``0..answer``."""
    r = parse_ratio(ratio)
    n = min(real_available + synthetic_available,
            int((real_available + Fraction(1, 2)) / r), int((synthetic_available + Fraction(1, 2)) / (1 - r)))
    while n > 0:
        n_real, n_syn = split_counts(r, n)
        if n_real <= real_available and n_syn <= synthetic_available:
            return n
        n -= 1
    return 0


def layout(seed: int, samples: int, n_real: int) -> np.ndarray:
    """Which output positions are real: bool array of shape ``(samples,)`` holding
    exactly ``n_real`` True values, spread by jittered strata (module docstring).
    Requires ``1 <= n_real < samples``."""
    if not 0 < n_real < samples:
        raise ValueError(f"need 0 < n_real < samples, got n_real={n_real}, samples={samples}")
    minority_is_real = n_real <= samples - n_real
    m = n_real if minority_is_real else samples - n_real
    starts = (np.arange(m + 1, dtype=np.int64) * samples) // m  # strata, each >= 2 long
    rng = np.random.default_rng([seed, samples, n_real])
    positions = starts[:-1] + rng.integers(0, np.diff(starts))
    mask = np.zeros(samples, dtype=bool)
    mask[positions] = True
    return mask if minority_is_real else ~mask


def source_member(*, source: str, dataset: str, url: str, shard: str, key: str, licence: str) -> bytes:
    """The ``source.json`` member: canonical JSON (sorted keys, compact, UTF-8)."""
    doc = {"source": source, "dataset": dataset, "url": url, "shard": shard, "key": key, "licence": licence}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- sources ----------------------------------------------------------------------------


@dataclass
class Source:
    """One input of a mix. ``available`` is the sample count when known without reading
    the shards (from a manifest), else None; ``records`` the manifest's shard records by
    name (empty without a manifest), checked as shards are read."""

    role: str
    url: str  # without credentials; local paths absolute
    dataset: Dataset
    name: str
    licence: str | None
    available: int | None
    config_hash: str | None = None

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
            raise StorageError(f"{self.what()}: shard {name} does not match its manifest record "
                               f"({len(data)} bytes, expected {rec.get('bytes')}, or another sha256); "
                               "the dataset is damaged")
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


def _open(role: str, url: str, options: Mapping[str, Any] | None) -> tuple[Source, Location]:
    try:
        location = resolve(url, options)
        ds = open_dataset(location)
    except StorageError as e:
        raise StorageError(f"--{role}: {e}") from None
    manifest = ds.manifest
    plain = _plain_url(location)
    if manifest is not None:
        if manifest.get("format") != mf.FORMAT:
            raise StorageError(f"the {role} dataset {plain}: manifest format is {manifest.get('format')!r}, "
                               f"expected {mf.FORMAT!r}")
        if manifest.get("kind") == KIND:
            raise StorageError(f"the {role} dataset {plain} is itself a mix (manifest kind {KIND!r}); "
                               "mix from its original sources instead")
        problems = mf.check(manifest)
        if problems:
            raise StorageError(f"the {role} dataset {plain} has an inconsistent manifest: {'; '.join(problems)}")
        available = sum(int(r.get("samples", 0)) for r in manifest.get("shards", []))
        licence = manifest.get("licence") if isinstance(manifest.get("licence"), str) else None
        src = Source(role, plain, ds, str(manifest.get("name") or ""), licence or None, available,
                     manifest.get("config_hash"))
    else:
        src = Source(role, plain, ds, "", None, None)
    return src, location


def _default_name(location: Location) -> str:
    last = location.path.rstrip("/").rsplit("/", 1)[-1]
    return last.removesuffix(".tar") or location.protocol


# -- the mix ----------------------------------------------------------------------------


@dataclass
class MixSummary:
    """What :func:`mix` did: the manifest written, where, and how long it took."""

    manifest: dict
    url: str
    wall_s: float

    def lines(self) -> list[str]:
        m = self.manifest
        used = {s["role"]: s for s in m["sources"]}
        rate = m["samples"] / self.wall_s if self.wall_s > 0 else 0.0
        mbs = m["bytes"] / 1e6 / self.wall_s if self.wall_s > 0 else 0.0
        return [
            f"dataset   {self.url}/{mf.MANIFEST}",
            f"samples   {m['samples']}: {used['real']['samples_used']} real from {used['real']['name']} "
            f"({used['real']['url']}), {used['synthetic']['samples_used']} synthetic from "
            f"{used['synthetic']['name']} ({used['synthetic']['url']})",
            f"shards    {len(m['shards'])} of up to {m['shard_size']} samples, {m['bytes']:,} bytes",
            f"licence   {m['licence']}",
            f"speed     {rate:.1f} samples/s, {mbs:.2f} MB/s, wall time {self.wall_s:.1f} s",
        ]


def _same_place(a: Location, b: Location) -> bool:
    return a.protocol == b.protocol and a.path.rstrip("/") == b.path.rstrip("/")


def _existing_dataset(out: Location, prefix: str, listing: Mapping[str, int]) -> list[str]:
    """Files at ``out`` that say it holds a dataset (finished or not) this run would clash with."""
    ours = shard_pattern(prefix)
    found = sorted(n for n in listing if n == mf.MANIFEST or ours.match(n))
    found += sorted(out.list(mf.META_DIR)) + sorted(out.list(mf.RECORDS_DIR))
    return [n for n in found if not n.startswith(f"{mf.META_DIR}/probe-")]


def mix(
    synthetic: str, real: str, *, ratio: Fraction | float | str, out: str, seed: int = 0,
    samples: int | None = None, shard_size: int = DEFAULT_SHARD_SIZE, prefix: str = DEFAULT_PREFIX,
    real_licence: str | None = None, real_name: str | None = None, overwrite: bool = False,
    options: Mapping[str, Any] | None = None, log: Callable[[str], None] = lambda s: None,
    created: str | None = None,
) -> MixSummary:
    """Write the mix of ``synthetic`` (a factory dataset) and ``real`` (any WebDataset)
    to ``out`` (module docstring for the rules). ``options`` are storage options for all
    three URLs; ``created`` overrides the manifest's timestamp (ISO 8601, UTC).

    Raises:
        ConfigError: a bad argument, or one the sources cannot satisfy; names it.
        DatasetConflictError: ``out`` is an input, or holds a dataset and not ``overwrite``.
        StorageError: a source or ``out`` cannot be read or written, or a source sample
            cannot be copied (a ``source.json`` member, an upper-case member name, a
            damaged shard).
    """
    t0 = time.perf_counter()
    r = parse_ratio(ratio)
    problems = []
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 2):
        problems.append(f"--samples {samples!r} is not allowed; a mix needs an integer >= 2 (one of each source)")
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        problems.append(f"--shard-size {shard_size!r} is not allowed; it must be an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(f"--seed {seed!r} is not allowed; it must be an integer >= 0")
    if not isinstance(prefix, str) or not PREFIX.match(prefix):
        problems.append(f"--prefix {prefix!r} is not allowed; use letters, digits, '_', '.', '-', starting "
                        "with a letter or digit")
    for arg, value in (("--real-licence", real_licence), ("--real-name", real_name)):
        if value is not None and (not isinstance(value, str) or not value.strip() or "\n" in value):
            problems.append(f"{arg} {value!r} is not allowed; give one non-empty line of text")
    if problems:
        raise ConfigError(_WHAT, problems)

    out_loc = resolve(out, options)
    syn, syn_loc = _open("synthetic", synthetic, options)
    if syn.dataset.manifest is None:
        raise StorageError(f"--synthetic {syn.url} has no {mf.MANIFEST}; it must be a complete factory dataset "
                           "(made by factory generate)")
    if not syn.licence:
        raise StorageError(f"--synthetic {syn.url}: its manifest names no licence; a mixed dataset must name "
                           "every licence (set 'licence' in the config and regenerate)")
    rea, real_loc = _open("real", real, options)
    rea.name = real_name.strip() if real_name else _default_name(real_loc)
    rea.licence = real_licence.strip() if real_licence else rea.licence
    if not rea.licence:
        raise _arg_error(f"--real-licence is missing; the real dataset {rea.url} has no factory manifest naming "
                         "its licence, and a mixed dataset must name every licence (e.g. --real-licence "
                         "CC-BY-4.0)")
    for arg, src, loc in (("--synthetic", syn, syn_loc), ("--real", rea, real_loc)):
        if _same_place(out_loc, loc) or _same_place(out_loc, src.dataset.location):
            raise DatasetConflictError(
                f"--out {out_loc.url_of()} is where {arg} {src.url} lives; mix writes a new dataset next to "
                "its sources, never over one: choose another --out"
            )

    listing = out_loc.list()
    existing = _existing_dataset(out_loc, prefix, listing)
    if existing and not overwrite:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise DatasetConflictError(f"--out {out_loc.url_of()} already holds a dataset ({shown}); pass "
                                   "--overwrite to replace it, or choose another --out")

    n, n_real, n_syn = _sizes(r, samples, syn, rea)
    log(f"mix: {n} samples ({n_real} real, {n_syn} synthetic) -> {out_loc.describe()}")

    out_loc.check_writable()
    if overwrite:
        old = out_loc.read_or_none(mf.MANIFEST)
        try:
            old_doc = mf.loads(old, mf.MANIFEST) if old is not None else None
        except StorageError:
            old_doc = None
        ours = shard_pattern(prefix)
        removed = remove_dataset(out_loc, old_doc, listing, ours)
        if removed:
            log(f"--overwrite: removed {removed} files of the previous dataset at {out_loc.url_of()}")
    remove_temp_files(out_loc, listing)

    mask = layout(seed, n, n_real)
    written: list[str] = []
    try:
        shards = _write(out_loc, mask, syn, rea, shard_size, prefix, written, log)
        doc = {
            "format": mf.FORMAT, "kind": KIND, "name": prefix, "created": created or mf.created_now(),
            "generator": generator_info(), "seed": seed, "ratio": float(r), "samples": n,
            "samples_written": sum(rec["samples"] for rec in shards), "shard_size": shard_size, "prefix": prefix,
            "bytes": sum(rec["bytes"] for rec in shards), "max_failures": 0, "failures": [], "shards": shards,
            "sources": [
                {"role": "synthetic", "url": syn.url, "name": syn.name, "licence": syn.licence,
                 "config_hash": syn.config_hash, "samples_used": n_syn},
                {"role": "real", "url": rea.url, "name": rea.name, "licence": rea.licence, "samples_used": n_real},
            ],
            "licence": f"synthetic samples ({syn.name}): {syn.licence}; real samples ({rea.name}): {rea.licence}",
        }
        out_loc.put_atomic(mf.MANIFEST, mf.dumps(doc))
    except BaseException:
        try:  # no half-made dataset left behind: put_atomic never leaves a partial file
            out_loc.delete(reversed(written))
        except StorageError:
            pass
        raise
    return MixSummary(doc, out_loc.url_of(), time.perf_counter() - t0)


def _sizes(r: Fraction, samples: int | None, syn: Source, rea: Source) -> tuple[int, int, int]:
    """``(N, n_real, n_syn)`` checked against what the sources hold; counts the real
    samples (reading, and checking, only as many shards as needed) when the real dataset
    has no manifest."""
    if samples is None:
        real_avail = rea.available if rea.available is not None else rea.count()
        n = default_samples(r, real_avail, syn.available)
        n_real, n_syn = split_counts(r, n)
        if n_real < 1 or n_syn < 1:
            raise _arg_error(
                f"--ratio {float(r):g} cannot be met: the real dataset {rea.url} has {real_avail} samples and the "
                f"synthetic dataset {syn.url} has {syn.available}, which makes no mix with at least one sample of "
                "each; give --samples, or more data"
            )
        return n, n_real, n_syn
    n_real, n_syn = split_counts(r, samples)
    if n_real < 1 or n_syn < 1:
        raise _arg_error(
            f"--samples {samples} with --ratio {float(r):g} gives {n_real} real and {n_syn} synthetic samples; "
            f"a mix needs at least one of each: raise --samples or bring --ratio nearer 0.5"
        )
    if n_syn > syn.available:
        raise _arg_error(f"--samples {samples} needs {n_syn} synthetic samples, the synthetic dataset {syn.url} "
                         f"has {syn.available}; give at most --samples {default_samples(r, 10**18, syn.available)}"
                         " or a larger synthetic dataset")
    real_avail = rea.available if rea.available is not None else rea.count(enough=n_real)
    if n_real > real_avail:
        raise _arg_error(f"--samples {samples} needs {n_real} real samples, the real dataset {rea.url} has "
                         f"{real_avail}; lower --samples or --ratio")
    return samples, n_real, n_syn


def _write(out: Location, mask: np.ndarray, syn: Source, rea: Source, shard_size: int, prefix: str,
           written: list[str], log: Callable[[str], None]) -> list[dict]:
    """Write every output shard and its record; returns the records in shard order.
    ``written`` collects the names put so far, for clean-up on failure. Shard ``s`` is
    hashed and put in a thread while shard ``s + 1`` is built."""
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
                segments = []
                for i in indices:
                    role = "real" if mask[i] else "synthetic"
                    src = sources[role]
                    try:
                        shard, key, members = next(streams[role])
                    except StopIteration:
                        raise StorageError(f"{src.what()} ran out of samples after {_used(mask, i, role)}; "
                                           "its manifest claims more than its shards hold") from None
                    members = dict(members)
                    members[SOURCE_MEMBER] = source_member(source=role, dataset=src.name, url=src.url, shard=shard,
                                                           key=key, licence=src.licence)
                    try:
                        segments.append(sample_segment(sample_key(i), members))
                    except (ValueError, TypeError) as e:
                        raise StorageError(f"{src.what()}: sample {key!r} in {shard} cannot be copied: {e}") from None
                data = assemble(segments)
                del segments
                name = shard_name(prefix, s)
                if pending is not None:
                    records.append(pending.result())
                written.append(name)
                pending = pool.submit(_put_shard, out, s, name, indices, data, written)
                if time.monotonic() - last_log > 10:
                    last_log = time.monotonic()
                    log(f"mix: {indices[-1] + 1}/{n} samples, {s + 1} shards")
            if pending is not None:
                records.append(pending.result())
        finally:
            for stream in streams.values():
                stream.close()  # stops the read-ahead threads
    return records


def _put_shard(out: Location, shard: int, name: str, indices: range, data: bytes, written: list[str]) -> dict:
    """Hash and put one output shard, then its record (in the writer thread); the record."""
    rec = mf.shard_record(shard=shard, name=name, indices=indices, written=len(indices), failures=[],
                          nbytes=len(data), sha256=sha256_hex(data))
    out.put_atomic(name, data)
    written.append(mf.record_name(name))
    out.put_atomic(mf.record_name(name), mf.dumps(rec))
    return rec


def _used(mask: np.ndarray, i: int, role: str) -> str:
    real = int(mask[:i].sum())
    return f"{real if role == 'real' else i - real} samples"
