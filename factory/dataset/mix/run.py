""":func:`mix`: check the arguments, open the sources, clear ``--out``, write the mix.

Everything that can refuse the run (arguments, sources, counts, an ``--out`` that is an
input or holds a dataset) is checked before the first write. The intent, the shards
with their records and the manifest then go through one
:class:`~factory.dataset.writer.DatasetWriter`, which takes back all it wrote if
anything fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from factory.dataset import manifest as mf
from factory.dataset.mix.ratio import ARGS, arg_error, default_samples, layout, parse_ratio, split_counts
from factory.dataset.mix.sources import Source, open_sources
from factory.dataset.mix.write import write_shards
from factory.dataset.resume import PREFIX, remove_dataset
from factory.dataset.shards import DEFAULT_SHARD_SIZE, shard_pattern
from factory.dataset.storage import Location, resolve
from factory.dataset.writer import DatasetWriter, remove_temp_files
from factory.errors import ConfigError, DatasetConflictError, StorageError

DEFAULT_PREFIX = "mix"


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


def mix(
    synthetic: str,
    real: str,
    *,
    ratio: Fraction | float | str,
    out: str,
    seed: int = 0,
    samples: int | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    prefix: str = DEFAULT_PREFIX,
    real_licence: str | None = None,
    real_name: str | None = None,
    overwrite: bool = False,
    options: Mapping[str, Any] | None = None,
    log: Callable[[str], None] = lambda s: None,
    created: str | None = None,
) -> MixSummary:
    """Write the mix of ``synthetic`` (a factory dataset) and ``real`` (any WebDataset)
    to ``out`` (package docstring for the rules). ``options`` are storage options for
    all three URLs; ``created`` overrides the manifest's timestamp (ISO 8601, UTC).

    Raises:
        ConfigError: a bad argument, or one the sources cannot satisfy; names it.
        DatasetConflictError: ``out`` is an input, or holds a dataset and not ``overwrite``.
        StorageError: a source or ``out`` cannot be read or written, or a source sample
            cannot be copied (a ``source.json`` member, an upper-case member name, a
            damaged shard).
    """
    t0 = time.perf_counter()
    r = parse_ratio(ratio)
    _check_args(samples, shard_size, seed, prefix, real_licence, real_name)
    out_loc = resolve(out, options)
    syn, rea = open_sources(synthetic, real, options, real_name=real_name, real_licence=real_licence)
    _refuse_inputs(out_loc, syn, rea)
    listing = out_loc.list()
    _refuse_a_dataset(out_loc, prefix, listing, overwrite)
    n, n_real, n_syn = _sizes(r, samples, syn, rea)
    log(f"mix: {n} samples ({n_real} real, {n_syn} synthetic) -> {out_loc.describe()}")
    _clear(out_loc, prefix, listing, overwrite, log)

    mask = layout(seed, n, n_real)
    mixed = mf.Mixed(
        seed,
        float(r),
        [
            {
                "role": "synthetic",
                "url": syn.url,
                "name": syn.name,
                "licence": syn.licence,
                "config_hash": syn.config_hash,
                "samples_used": n_syn,
            },
            {"role": "real", "url": rea.url, "name": rea.name, "licence": rea.licence, "samples_used": n_real},
        ],
        f"synthetic samples ({syn.name}): {syn.licence}; real samples ({rea.name}): {rea.licence}",
    )
    writer = DatasetWriter(out_loc)
    try:  # no half-made dataset left behind: every put is atomic, and abort takes them back
        writer.start(mf.intent(samples=n, shard_size=shard_size, prefix=prefix, mixed=mixed))
        shards = write_shards(writer, mask, syn, rea, shard_size, prefix, log)
        doc = writer.commit(
            mf.build(
                samples=n,
                shard_size=shard_size,
                prefix=prefix,
                shards=shards,
                max_failures=0,
                created=created,
                mixed=mixed,
            )
        )
    except BaseException:
        writer.abort(remove_written=True)
        raise
    return MixSummary(doc, out_loc.url_of(), time.perf_counter() - t0)


def _check_args(
    samples: int | None, shard_size: int, seed: int, prefix: str, real_licence: str | None, real_name: str | None
) -> None:
    problems = []
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 2):
        problems.append(f"--samples {samples!r} is not allowed; a mix needs an integer >= 2 (one of each source)")
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        problems.append(f"--shard-size {shard_size!r} is not allowed; it must be an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(f"--seed {seed!r} is not allowed; it must be an integer >= 0")
    if not isinstance(prefix, str) or not PREFIX.match(prefix):
        problems.append(
            f"--prefix {prefix!r} is not allowed; use letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    for arg, value in (("--real-licence", real_licence), ("--real-name", real_name)):
        if value is not None and (not isinstance(value, str) or not value.strip() or "\n" in value):
            problems.append(f"{arg} {value!r} is not allowed; give one non-empty line of text")
    if problems:
        raise ConfigError(ARGS, problems)


def _same_place(a: Location, b: Location) -> bool:
    return a.protocol == b.protocol and a.path.rstrip("/") == b.path.rstrip("/")


def _refuse_inputs(out: Location, syn: Source, rea: Source) -> None:
    """DatasetConflictError if ``out`` is where an input lives."""
    for arg, src in (("--synthetic", syn), ("--real", rea)):
        if _same_place(out, src.opened) or _same_place(out, src.dataset.location):
            raise DatasetConflictError(
                f"--out {out.url_of()} is where {arg} {src.url} lives; mix writes a new dataset next to "
                "its sources, never over one: choose another --out"
            )


def _existing_dataset(out: Location, prefix: str, listing: Mapping[str, int]) -> list[str]:
    """Files at ``out`` that say it holds a dataset (finished or not) this run would clash with."""
    ours = shard_pattern(prefix)
    found = sorted(n for n in listing if n == mf.MANIFEST or ours.match(n))
    found += sorted(out.list(mf.META_DIR)) + sorted(out.list(mf.RECORDS_DIR))
    return [n for n in found if not n.startswith(f"{mf.META_DIR}/probe-")]


def _refuse_a_dataset(out: Location, prefix: str, listing: Mapping[str, int], overwrite: bool) -> None:
    """DatasetConflictError if ``out`` holds a dataset and not ``overwrite``."""
    existing = _existing_dataset(out, prefix, listing)
    if existing and not overwrite:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise DatasetConflictError(
            f"--out {out.url_of()} already holds a dataset ({shown}); pass "
            "--overwrite to replace it, or choose another --out"
        )


def _clear(out: Location, prefix: str, listing: Mapping[str, int], overwrite: bool, log: Callable[[str], None]) -> None:
    """Check ``out`` can be written, remove a previous dataset there (``overwrite``) and
    the temporary files of interrupted puts."""
    out.check_writable()
    if overwrite:
        old = out.read_or_none(mf.MANIFEST)
        try:
            old_doc = mf.loads(old, mf.MANIFEST) if old is not None else None
        except StorageError:
            old_doc = None
        removed = remove_dataset(out, old_doc, listing, shard_pattern(prefix))
        if removed:
            log(f"--overwrite: removed {removed} files of the previous dataset at {out.url_of()}")
    remove_temp_files(out, listing)


def _sizes(r: Fraction, samples: int | None, syn: Source, rea: Source) -> tuple[int, int, int]:
    """``(N, n_real, n_syn)`` checked against what the sources hold; counts the real
    samples (reading, and checking, only as many shards as needed) when the real dataset
    has no manifest."""
    if samples is None:
        real_avail = rea.available if rea.available is not None else rea.count()
        n = default_samples(r, real_avail, syn.available)
        n_real, n_syn = split_counts(r, n)
        if n_real < 1 or n_syn < 1:
            raise arg_error(
                f"--ratio {float(r):g} cannot be met: the real dataset {rea.url} has {real_avail} samples and the "
                f"synthetic dataset {syn.url} has {syn.available}, which makes no mix with at least one sample of "
                "each; give --samples, or more data"
            )
        return n, n_real, n_syn
    n_real, n_syn = split_counts(r, samples)
    if n_real < 1 or n_syn < 1:
        raise arg_error(
            f"--samples {samples} with --ratio {float(r):g} gives {n_real} real and {n_syn} synthetic samples; "
            f"a mix needs at least one of each: raise --samples or bring --ratio nearer 0.5"
        )
    if n_syn > syn.available:
        raise arg_error(
            f"--samples {samples} needs {n_syn} synthetic samples, the synthetic dataset {syn.url} "
            f"has {syn.available}; give at most --samples {default_samples(r, 10**18, syn.available)}"
            " or a larger synthetic dataset"
        )
    real_avail = rea.available if rea.available is not None else rea.count(enough=n_real)
    if n_real > real_avail:
        raise arg_error(
            f"--samples {samples} needs {n_real} real samples, the real dataset {rea.url} has "
            f"{real_avail}; lower --samples or --ratio"
        )
    return samples, n_real, n_syn
