"""The driver of ``factory generate``: plan, run passes of the Ray Data job, commit.

:func:`generate_dataset` checks storage and plans the run (:mod:`factory.dataset.resume`)
before Ray starts, then runs the job (:func:`_run_pass`) over the shards still to make.
If the shard-writer actor dies, the samples it held are lost and their shards never
complete: the driver then finds which shards reached storage (record present, sha256
right) and runs another pass for the others, at most :data:`MAX_PASSES` in all, exactly
as a resumed run would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import ray
from ray.data import ActorPoolStrategy, DataContext

from factory.dataset import manifest as mf
from factory.dataset import shards as sh
from factory.dataset.resume import Plan, prepare, verified_shards
from factory.dataset.storage import Location, resolve
from factory.errors import ConfigError, FactoryError, FailureBudgetError
from factory.onray.pipeline.resources import SMALL_CPU, Resources, block_size, capacity_warnings, resources
from factory.onray.pipeline.stages import EncodeFn, EncodeStage, GenerateFn, RenderStage
from factory.onray.pipeline.writer import ManifestSink, ShardWriter
from factory.onray.session import ensure_ray
from factory.render.device import get_device
from factory.scene.config import Config

DEFAULT_SHARD_SIZE = sh.DEFAULT_SHARD_SIZE
MAX_PASSES = 3  # passes over the shards still missing when a shard writer was lost


@dataclass
class RunSummary:
    """What a run did, for the final summary line and for tests."""

    url: str
    samples: int
    shards: int
    shards_written: int
    shards_kept: int
    samples_rendered: int
    bytes_written: int
    dataset_bytes: int
    wall_s: float
    passes: int
    failures: list[dict] = field(default_factory=list)
    manifest: dict | None = None

    def count(self, record: dict) -> None:
        """One more shard written by this run."""
        self.shards_written += 1
        self.samples_rendered += record["samples"]
        self.bytes_written += record["bytes"]

    def lines(self) -> list[str]:
        rate = self.samples_rendered / self.wall_s if self.wall_s > 0 else 0.0
        mbs = self.bytes_written / 1e6 / self.wall_s if self.wall_s > 0 else 0.0
        out = [
            f"dataset   {self.url}/{mf.MANIFEST}",
            f"samples   {self.samples} in {self.shards} shards ({self.dataset_bytes:,} bytes); "
            f"this run rendered {self.samples_rendered} samples into {self.shards_written} shards, "
            f"kept {self.shards_kept}",
            f"speed     {rate:.2f} samples/s, {mbs:.2f} MB/s, wall time {self.wall_s:.1f} s",
        ]
        if self.failures:
            out.append(f"skipped   {len(self.failures)} failed samples (see 'failures' in the manifest)")
        return out


@dataclass(frozen=True)
class _Job:
    """How every pass of one run is made (the arguments of :func:`generate_dataset`)."""

    min_workers: int
    max_workers: int | None
    gpus_per_worker: float
    cpus_per_worker: float | None
    encode_cpus: float | None
    generate_fn: GenerateFn | None
    encode_fn: EncodeFn | None
    progress: bool
    log: Callable[[str], None]


def generate_dataset(
    config: Config,
    out: str | Location,
    *,
    samples: int,
    shard_size: int = DEFAULT_SHARD_SIZE,
    prefix: str | None = None,
    min_workers: int = 1,
    max_workers: int | None = None,
    gpus_per_worker: float = 0.0,
    cpus_per_worker: float | None = None,
    encode_cpus: float | None = None,
    mode: str = "auto",
    max_failures: int = 0,
    storage_options: dict | None = None,
    generate_fn: GenerateFn | None = None,
    encode_fn: EncodeFn | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> RunSummary:
    """Generate samples ``[0, samples)`` of ``config`` into shards at ``out``.

    Storage is checked, and the run planned (resume / refuse / overwrite, see
    :mod:`factory.dataset.resume`), before Ray starts or anything renders; so is the render
    device when the run starts an embedded Ray (on a cluster, RAY_ADDRESS, the render
    actors' nodes may have the GPUs that this machine lacks).

    Args:
        out: dataset URL (any fsspec URL, see :mod:`factory.dataset.storage`) or a Location.
        min_workers, max_workers: the render actor pool autoscales between these;
            ``max_workers`` defaults to the cluster's CPUs (or GPUs / gpus_per_worker).
        gpus_per_worker: GPUs each render actor holds. 0 (the default) means 0 for
            ``render.device`` cpu and 1 for cuda: a GPU render actor must
            hold a GPU, or Ray would not place it on a GPU node (nor give it one there).
            The render device is the config's ``render.device``; encoding always runs
            on CPUs: in the render actor itself on CPU runs (the frames never cross the
            object store), on a pool of CPU actors beside GPU render actors.
        cpus_per_worker: logical CPUs each render actor holds; default 1 with GPUs,
            0.95 without (a CPU render actor also encodes what it renders).
        encode_cpus: logical CPUs per encode actor on GPU runs (default 1); the
            encode pool autoscales from 1 to what the render pool leaves free. CPU
            runs have no encode pool.
        generate_fn, encode_fn: replace the renderer / the encoder (tests and
            experiments; the defaults make what ``generate_members`` does, the
            renderer one ``generate_samples`` call per block). A ``generate_fn`` is
            called once per sample, as ``(config, index, samples)``.

    Raises:
        StorageError, DatasetConflictError, ConfigError: before rendering starts.
        RenderError: a sample failed (``max_failures=0``); FailureBudgetError: more
            than ``max_failures`` did. No manifest is written in either case.
    """
    t0 = time.perf_counter()
    if config.render.device == "cuda" and not gpus_per_worker:
        gpus_per_worker = 1.0
    job = _Job(
        min_workers, max_workers, gpus_per_worker, cpus_per_worker, encode_cpus, generate_fn, encode_fn, progress, log
    )
    location = out if isinstance(out, Location) else resolve(out, storage_options)
    _check_before_ray(config, job)
    plan = prepare(
        location,
        config,
        samples=samples,
        shard_size=shard_size,
        prefix=prefix,
        mode=mode,
        max_failures=max_failures,
        log=log,
    )
    records: dict[int, dict] = dict(plan.kept)
    if plan.kept:
        log(f"resuming: {len(plan.kept)} of {plan.num_shards} shards already intact, {len(plan.todo)} to make")
    summary = RunSummary(location.url, samples, plan.num_shards, 0, len(plan.kept), 0, 0, 0, 0.0, 0)
    manifest = _make(plan, records, job, summary) if plan.todo else _nothing_to_do(plan, records, log)
    if manifest is None:
        failures = [f for r in records.values() for f in r.get("failures", [])]
        raise FailureBudgetError(failures[:5], len(failures), max_failures)
    return _finished(summary, manifest, t0)


def _finished(summary: RunSummary, manifest: dict, t0: float) -> RunSummary:
    """``summary`` completed from the committed ``manifest`` (failures, bytes) and the
    wall time since ``t0`` (``time.perf_counter()``, seconds)."""
    summary.manifest = manifest
    summary.failures = manifest["failures"]
    summary.dataset_bytes = manifest["bytes"]
    summary.wall_s = time.perf_counter() - t0
    return summary


def _check_before_ray(config: Config, job: _Job) -> None:
    """ConfigError for bad pool sizes, or (when the run starts an embedded Ray, which
    renders on this machine only) for a ``render.device`` this machine cannot use:
    ``cuda`` where Warp sees no CUDA device."""
    if job.min_workers < 1 or (job.max_workers is not None and job.max_workers < job.min_workers):
        raise ConfigError(
            "generate arguments",
            [
                "min_workers/max_workers: need 1 <= min_workers <= max_workers "
                f"(got {job.min_workers}, {job.max_workers})"
            ],
        )
    if not ray.is_initialized() and not os.environ.get("RAY_ADDRESS"):
        get_device(config.render.device, "render settings")


def _nothing_to_do(plan: Plan, records: dict[int, dict], log: Callable[[str], None]) -> dict | None:
    """Every shard is intact: keep the manifest if it lists them, else commit it again."""
    old = plan.location.read_or_none(mf.MANIFEST)
    manifest = mf.loads(old, mf.MANIFEST) if old is not None else None
    if manifest is None or manifest.get("shards") != [records[s] for s in sorted(records)]:
        manifest = plan.commit(records)
    log("nothing to do: every shard is already intact")
    return manifest


def _make(plan: Plan, records: dict[int, dict], job: _Job, summary: RunSummary) -> dict | None:
    """Run passes until every shard of ``plan.todo`` is in ``records`` (adding them);
    the manifest, or None when the failure budget withheld it.

    Raises:
        FactoryError: shards still missing after :data:`MAX_PASSES` passes.
    """
    started = ensure_ray(job.log)
    try:
        todo = list(plan.todo)
        for attempt in range(1, MAX_PASSES + 1):
            summary.passes = attempt
            sink = _run_pass(plan, todo, records, job)
            new = dict(sink.records)
            missing = [s for s in todo if s not in new]
            if missing:  # written, but their records were lost with a failed writer?
                new.update(verified_shards(plan, missing))
            for s, rec in new.items():
                records[s] = rec
                summary.count(rec)
            todo = [s for s in todo if s not in records]
            manifest = sink.manifest if sink.manifest is not None else plan.commit(records)
            if not todo:
                return manifest
            job.log(f"{len(todo)} shards were lost with a failed writer; pass {attempt + 1} remakes them")
        raise FactoryError(
            f"{len(todo)} shards could not be written after {MAX_PASSES} passes: "
            f"{', '.join(plan.name(s) for s in todo[:5])}; run the same command again to resume"
        )
    finally:
        if started:
            ray.shutdown()


def _run_pass(plan: Plan, todo: list[int], records: dict[int, dict], job: _Job) -> ManifestSink:
    """One Ray Data job over the shards ``todo``: render, encode, write, commit."""
    res = resources(job.min_workers, job.max_workers, job.gpus_per_worker, job.cpus_per_worker, job.encode_cpus)
    for line in capacity_warnings(res, job.min_workers, job.gpus_per_worker):
        job.log(line)
    commit_on_driver = plan.location.process_local
    with _data_context(job.progress):
        ds = _encoded(plan, todo, res, job)
        ds = ds.map_batches(
            ShardWriter,
            batch_size=None,
            batch_format="pyarrow",
            fn_constructor_kwargs={
                "plan": replace(plan, kept={}),  # its shape and writer, not every kept shard's record
                "todo": todo,
                "commit_on_driver": commit_on_driver,
                "failures_before": sum(len(rec.get("failures", [])) for rec in records.values()),
            },
            compute=ActorPoolStrategy(size=1),
            num_cpus=SMALL_CPU,
        )
        sink = ManifestSink(plan, dict(records), commit_on_driver)
        try:
            # Write tasks only pass records on: no CPU, so that Ray Data's resource
            # budget never holds them back behind the actor pools.
            ds.write_datasink(sink, ray_remote_args={"num_cpus": 0})
        except Exception as e:
            err = _factory_error(e)
            if err is not None:
                raise err from None
            raise
    return sink


def _encoded(plan: Plan, todo: list[int], res: Resources, job: _Job) -> ray.data.Dataset:
    """The work list of ``todo``, through the render and encode actor pools."""
    counts = [len(plan.indices(s)) for s in todo]
    rows = sum(counts)
    per_task = block_size(plan.config.render, rows, plan.shard_size, res.max_workers)
    encode_per_task = block_size(
        plan.config.render.model_copy(update={"device": "cpu"}), rows, plan.shard_size, res.max_workers
    )
    fail_fast = plan.max_failures == 0
    # The work list is built here, not read: (index, shard) rows in blocks of
    # per_task samples, put in the object store by the driver (no read tasks,
    # which would each want a whole CPU next to a busy actor pool).
    index = np.concatenate([np.arange(plan.indices(s).start, plan.indices(s).stop) for s in todo])
    shard = np.repeat(np.array(todo, dtype=np.int64), counts)
    ds = ray.data.from_arrow(
        [
            pa.table({"index": index[i : i + per_task], "shard": shard[i : i + per_task]})
            for i in range(0, rows, per_task)
        ]
    )
    fused = res.encode_workers == 0  # CPU workers: render and encode in one actor
    ds = ds.map_batches(
        RenderStage,
        batch_size=per_task,
        batch_format="pyarrow",
        zero_copy_batch=True,
        fn_constructor_kwargs={
            "config": plan.config,
            "samples": plan.samples,
            "generate_fn": job.generate_fn,
            "fail_fast": fail_fast,
            "encode_fn": job.encode_fn,
            "encode": fused,
        },
        compute=ActorPoolStrategy(min_size=job.min_workers, max_size=res.max_workers),
        num_cpus=res.cpus_per_worker,
        num_gpus=job.gpus_per_worker or None,
    )
    if fused:
        return ds
    return ds.map_batches(
        EncodeStage,
        batch_size=encode_per_task,
        batch_format="pyarrow",
        fn_constructor_kwargs={
            "config": plan.config,
            "samples": plan.samples,
            "encode_fn": job.encode_fn,
            "fail_fast": fail_fast,
        },
        compute=ActorPoolStrategy(min_size=1, max_size=res.encode_workers),
        num_cpus=res.encode_cpus,
    )


@contextmanager
def _data_context(progress: bool) -> Iterator[None]:
    """Ray Data's settings for the job, restored after it."""
    ctx = DataContext.get_current()
    memory_detector = ctx.issue_detectors_config.high_memory_detector_config
    saved = (
        ctx.enable_progress_bars,
        ctx.max_errored_blocks,
        ctx.raise_original_map_exception,
        memory_detector.detection_time_interval_s,
    )
    ctx.enable_progress_bars = progress
    ctx.max_errored_blocks = 0
    ctx.raise_original_map_exception = True  # our RenderError, not a UserCodeException around it
    memory_detector.detection_time_interval_s = -1  # its advice is about the writer's ~120 MB baseline
    try:
        yield
    finally:
        (
            ctx.enable_progress_bars,
            ctx.max_errored_blocks,
            ctx.raise_original_map_exception,
            memory_detector.detection_time_interval_s,
        ) = saved


def _factory_error(err: BaseException) -> FactoryError | None:
    """The FactoryError a Ray task raised, found through Ray's wrapping exceptions."""
    seen = set()
    stack = [err]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, FactoryError) and not isinstance(e, ray.exceptions.RayError):
            return e  # the original, not Ray's RayTaskError(RenderError) wrapper around it
        stack.extend([getattr(e, "cause", None), e.__cause__, e.__context__])
    return None
