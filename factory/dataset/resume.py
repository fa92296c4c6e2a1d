"""Plan a generation run into a dataset folder: start, resume, refuse or overwrite.

:func:`prepare` runs before any rendering and decides what the run must make:

* an empty folder: write the intent record, make every shard;
* a folder holding the *same* dataset (same config hash, sample count, shard size and
  prefix, read from its intent or manifest): keep every shard whose record exists and
  whose bytes hash to the recorded sha256, and make only the others (missing, corrupt,
  half-finished). A complete, intact dataset needs nothing and is left untouched;
* a folder holding a *different* dataset, or files that would be overwritten
  (``manifest.json``, ``<prefix>-NNNNNN.tar``) without a factory record: refused with
  :class:`~factory.errors.DatasetConflictError` unless ``mode="overwrite"``, which first
  deletes the old dataset's files (its shards, manifest and records; nothing else).

``mode="resume"`` (``--resume``) is the default behaviour plus one check: the folder
must already hold a dataset to resume. When there is work to do, the old manifest is
deleted before any shard is written, so a folder never holds a manifest that claims a
shard being remade. Everything is put by the plan's :class:`~factory.dataset.writer.DatasetWriter`:
the intent here, each shard and its record by :meth:`Plan.put_shard` (or a writer of the
same folder elsewhere: the Ray job's shard-writer actor), the manifest by
:meth:`Plan.commit` at the very end. Nothing here imports Ray.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from factory.dataset import manifest as mf
from factory.dataset.shards import sha256_hex, shard_count, shard_indices, shard_name, shard_pattern
from factory.dataset.storage import Location
from factory.dataset.writer import DatasetWriter, record_of, remove_temp_files
from factory.errors import ConfigError, DatasetConflictError, StorageError
from factory.scene.allocation import allocate

MODES = ("auto", "resume", "overwrite")
PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")


@dataclass
class Plan:
    """What one run must make. ``kept`` maps shard number to the record of each shard
    kept as it is; ``todo`` lists the shard numbers to (re)make, ascending."""

    location: Location
    config: Any
    samples: int
    shard_size: int
    prefix: str
    max_failures: int
    todo: list[int]
    kept: dict[int, dict] = field(default_factory=dict)
    writer: DatasetWriter = field(init=False, repr=False)

    def __post_init__(self):
        self.writer = DatasetWriter(self.location)

    @property
    def num_shards(self) -> int:
        return shard_count(self.samples, self.shard_size)

    def indices(self, shard: int) -> range:
        return shard_indices(shard, self.samples, self.shard_size)

    def name(self, shard: int) -> str:
        return shard_name(self.prefix, shard)

    def kept_failures(self) -> int:
        return sum(len(r.get("failures", [])) for r in self.kept.values())

    def intent(self) -> dict[str, Any]:
        """The intent record of this run (:func:`factory.dataset.manifest.intent`)."""
        return mf.intent(self.config, samples=self.samples, shard_size=self.shard_size, prefix=self.prefix)

    def put_shard(self, shard: int, data: bytes, failures: Iterable[Mapping[str, Any]] = ()) -> dict:
        """Put shard number ``shard`` (its tar ``data``, all its samples but ``failures``)
        and then its record; returns the record."""
        return self.writer.put_shard(record_of(shard, self.name(shard), self.indices(shard), data, failures), data)

    def commit(self, records: Mapping[int, Mapping[str, Any]]) -> dict | None:
        """Write the manifest if ``records`` (shard number -> record, kept ones included)
        cover every shard within the failure budget; return it, or None if incomplete.
        Raises nothing for the budget: it is enforced while rendering, and here an
        excess only withholds the manifest.
        """
        if sorted(records) != list(range(self.num_shards)):
            return None
        failures = sum(len(r.get("failures", [])) for r in records.values())
        if failures > self.max_failures:
            return None
        return self.writer.commit(
            mf.build(
                self.config,
                samples=self.samples,
                shard_size=self.shard_size,
                prefix=self.prefix,
                shards=records.values(),
                max_failures=self.max_failures,
            )
        )


def validate_args(samples: int, shard_size: int, prefix: str, max_failures: int, mode: str) -> None:
    problems = []
    if not isinstance(samples, int) or samples < 1:
        problems.append(f"samples: must be an integer >= 1 (got {samples!r})")
    if not isinstance(shard_size, int) or shard_size < 1:
        problems.append(f"shard_size: must be an integer >= 1 (got {shard_size!r})")
    if not isinstance(prefix, str) or not PREFIX.match(prefix):
        problems.append(
            f"prefix: must be letters, digits, '_', '.', '-' and start with a letter or digit (got {prefix!r})"
        )
    if not isinstance(max_failures, int) or max_failures < 0:
        problems.append(f"max_failures: must be an integer >= 0 (got {max_failures!r})")
    if mode not in MODES:
        problems.append(f"mode: must be one of {', '.join(MODES)} (got {mode!r})")
    if problems:
        raise ConfigError("generate arguments", problems)


def check_target(
    location: Location,
    config,
    *,
    samples: int,
    shard_size: int,
    prefix: str | None = None,
    mode: str = "auto",
    max_failures: int = 0,
) -> None:
    """Everything :func:`prepare` refuses, checked without writing anything but a probe
    object (deleted at once): what a command runs before Ray starts.

    Raises:
        ConfigError: bad arguments, or scenario minimums that do not fit ``samples``.
        DatasetConflictError: the location holds a different dataset and ``mode`` is not
            overwrite; StorageError: it cannot be read or written, or ``mode`` is resume
            and there is nothing to resume.
    """
    _survey(location, config, samples, shard_size, prefix or config.name, max_failures, mode)


def _survey(
    location: Location, config, samples: int, shard_size: int, prefix: str, max_failures: int, mode: str
) -> tuple[dict, dict | None, dict[str, int]]:
    """``(the new intent, the existing one or None, the listing)``, once the arguments,
    the allocation, what the location holds (read first, so a refusal leaves nothing
    behind) and a write probe have passed (see :func:`check_target`)."""
    validate_args(samples, shard_size, prefix, max_failures, mode)
    # Minimums over the sample count are refused here, before any worker asks which
    # scenario its sample belongs to (there the question has no answer).
    allocate(config, samples)
    new = mf.intent(config, samples=samples, shard_size=shard_size, prefix=prefix)
    old = _existing_intent(location)
    listing = location.list()
    if mode != "overwrite":
        _refuse_to_replace(location, old, new, listing, shard_pattern(prefix), mode)
    location.check_writable()
    return new, old, listing


def _refuse_to_replace(
    location: Location, old: dict | None, new: dict, listing: dict[str, int], ours: re.Pattern, mode: str
) -> None:
    """DatasetConflictError for another dataset or unrecorded files a run would replace;
    StorageError for ``--resume`` where there is nothing to resume."""
    if old is not None:
        diffs = mf.intent_differences(old, new)
        if diffs:
            raise DatasetConflictError(
                f"{location.url} already holds a different dataset ({'; '.join(diffs)}); "
                "pass --overwrite to replace it, or choose another --out"
            )
        return
    clash = sorted(n for n in listing if n == mf.MANIFEST or ours.match(n))
    if clash:
        shown = ", ".join(clash[:3]) + (f" and {len(clash) - 3} more" if len(clash) > 3 else "")
        raise DatasetConflictError(
            f"{location.url} holds files that a run would replace but no factory dataset record "
            f"({shown}); pass --overwrite to replace them, or choose another --out"
        )
    if mode == "resume":
        raise StorageError(
            f"{location.url}: --resume given but there is no dataset here to resume; run without --resume"
        )


def prepare(
    location: Location,
    config,
    *,
    samples: int,
    shard_size: int,
    prefix: str | None = None,
    mode: str = "auto",
    max_failures: int = 0,
    log: Callable[[str], None] = lambda s: None,
) -> Plan:
    """Check the location, compare with what it holds, and plan the run (module docs).

    Raises:
        StorageError: the location cannot be read or written (a probe), or ``mode`` is
            resume and there is nothing to resume.
        DatasetConflictError: it holds a different dataset and ``mode`` is not overwrite.
        ConfigError: bad arguments, or scenario minimums that do not fit ``samples``.
    """
    prefix = prefix or config.name
    new, old, listing = _survey(location, config, samples, shard_size, prefix, max_failures, mode)
    if mode == "overwrite":
        removed = remove_dataset(location, old, listing, shard_pattern(prefix))
        if removed:
            log(f"--overwrite: removed {removed} files of the previous dataset at {location.url}")
        old, listing = None, location.list()

    plan = Plan(location, config, samples, shard_size, prefix, max_failures, todo=[])
    plan.writer.start(new)  # a new dataset, or one known from its manifest only
    remove_temp_files(location, listing)

    if old is not None:
        plan.kept = verified_shards(plan, range(plan.num_shards), listing)
        if plan.kept_failures() > max_failures:  # a smaller budget than last time: retry them
            plan.kept = {s: r for s, r in plan.kept.items() if not r.get("failures")}
    plan.todo = [s for s in range(plan.num_shards) if s not in plan.kept]
    if plan.todo:
        stale = _records_present(location)
        location.delete([mf.MANIFEST] + [mf.record_name(plan.name(s)) for s in plan.todo if s in stale])
    return plan


def _existing_intent(location: Location) -> dict | None:
    data = location.read_or_none(mf.INTENT)
    if data is not None:
        return mf.loads(data, location.url_of(mf.INTENT))
    data = location.read_or_none(mf.MANIFEST)
    if data is None:
        return None
    doc = mf.loads(data, location.url_of(mf.MANIFEST))
    if doc.get("format") != mf.FORMAT:
        raise DatasetConflictError(
            f"{location.url_of(mf.MANIFEST)} is not a factory manifest (format {doc.get('format')!r}); "
            "pass --overwrite to replace it, or choose another --out"
        )
    return {k: doc.get(k) for k in ("config_hash", "samples", "shard_size", "prefix")}


def _records_present(location: Location) -> set[int]:
    out = set()
    for name in location.list(mf.RECORDS_DIR):
        m = re.search(r"-(\d{6})\.json$", name)
        if m:
            out.add(int(m.group(1)))
    return out


def verified_shards(plan: Plan, shards: Iterable[int], listing: Mapping[str, int] | None = None) -> dict[int, dict]:
    """Records of those of ``shards`` that exist and hash to their recorded sha256."""
    loc = plan.location
    listing = loc.list() if listing is None else listing
    present = set(loc.list(mf.RECORDS_DIR))
    candidates = {}
    for s in shards:
        name, rec_name = plan.name(s), mf.record_name(plan.name(s))
        if rec_name not in present or name not in listing:
            continue
        try:
            rec = mf.loads(loc.read(rec_name), loc.url_of(rec_name))
        except StorageError:
            continue
        idx = plan.indices(s)
        expected = {"shard": s, "name": name, "bytes": listing[name]}
        if any(rec.get(k) != v for k, v in expected.items()):
            continue
        if rec.get("samples", -1) + len(rec.get("failures", [])) != len(idx):
            continue
        candidates[s] = rec

    def intact(item):
        s, rec = item
        data = loc.read_or_none(rec["name"])
        return s, data is not None and sha256_hex(data) == rec["sha256"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ok = dict(pool.map(intact, candidates.items()))
    return {s: candidates[s] for s in sorted(candidates) if ok[s]}


def remove_dataset(location: Location, old: Mapping | None, listing: Mapping[str, int], ours: re.Pattern) -> int:
    """Delete a previous dataset: its manifest, records, intent and shards (those named by
    its manifest or matching its prefix or ours). Returns how many files went."""
    patterns = [ours]
    if old and old.get("prefix"):
        patterns.append(shard_pattern(old["prefix"]))
    names = {n for n in listing if n == mf.MANIFEST or any(p.match(n) for p in patterns)}
    data = location.read_or_none(mf.MANIFEST)
    if data is not None:
        try:
            named = {r["name"] for r in mf.loads(data, mf.MANIFEST).get("shards", [])}
            names |= {n for n in named if isinstance(n, str) and n in listing}
        except (StorageError, TypeError, KeyError):
            pass
    names |= set(location.list(mf.RECORDS_DIR)) | set(location.list(mf.META_DIR))
    location.delete(sorted(names))
    return len(names)
