"""The Ray Data job: render on an autoscaling actor pool, encode, shard, commit.

This is the only module that uses Ray Data. The stages, in order::

    (index, shard) rows   the work list, built by the driver in blocks: on the CPU
                          backends 1-8 samples (about 32 MB of frames per block); with
                          render.device gpu enough clips to fill a launch of
                          render.batch_views views (see :func:`_block_size`)
      -> RenderStage      callable class on ActorPoolStrategy(min_workers, max_workers),
                          num_gpus per actor: one generate_samples call per block, which
                          renders its clips together in batched launches on
                          render.device -> the frames
      -> EncodeStage      callable class on its own pool of CPU actors, sized to the CPUs
                          the render actors leave (see :func:`_resources`), whatever the
                          render device: frames -> the sample's tar records (a few
                          hundred KB instead of MBs)
      -> ShardWriter      one stateful actor: gathers each shard's samples by index;
                          when a shard has all of them it writes the tar atomically, then
                          its record (.factory/shards/<shard>.json)
      -> ManifestSink     datasink: collects the records; on_write_complete writes
                          manifest.json last, only if every shard is there

Why the shards are exact whatever the workers do: every row carries its sample index
and shard number; the writer files each sample's bytes under its index and builds a
shard only once every index of ``[i*S, (i+1)*S)`` is accounted for, in index order
(:func:`factory.dataset.shards.assemble`). So neither block boundaries, nor the order in which
actors finish, nor a task redone after an actor was killed (a duplicate is the same
bytes under the same index) can change a shard. Shards are written as soon as they are
complete, so an interrupted job leaves every finished shard behind for a resume; the
writer holds only encoded bytes of shards still in flight.

Fault tolerance: Ray Data starts pool actors with ``max_restarts=-1,
max_task_retries=-1`` (its defaults in 2.60, where passing them is deprecated), so a
killed render or encode actor is replaced and its task redone; a test kills one. If
the writer itself dies, the samples it held are lost and their shards never complete:
the driver then finds which shards reached storage (record present, sha256 right) and
runs another pass for the others (at most :data:`MAX_PASSES`), exactly as a resumed run
would. A failure while generating or encoding a sample is a
:class:`~factory.errors.RenderError` naming index, scenario and seed: with
``max_failures=0`` the stage raises it and the job stops; with a budget the sample
travels on as a failure row, the writer counts it and raises
:class:`~factory.errors.FailureBudgetError` as soon as the budget is exceeded.

``memory://`` datasets live in one process: for them the writer hands the shard bytes
to the datasink and the driver stores them in ``on_write_complete``.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import ray
from ray.data import ActorPoolStrategy, DataContext
from ray.data.block import BlockAccessor
from ray.data.datasource import Datasink

from factory.dataset import manifest as mf
from factory.dataset import shards as sh
from factory.scene.config import Config
from factory.errors import ConfigError, FactoryError, FailureBudgetError, RenderError
from factory.onray.session import ensure_ray
from factory.render.backend import get_backend
from factory.dataset.resume import Plan, prepare, verified_shards
from factory.sample.types import sample_key
from factory.dataset.storage import Location, resolve

DEFAULT_SHARD_SIZE = sh.DEFAULT_SHARD_SIZE
MAX_PASSES = 3  # passes over the shards still missing when a shard writer was lost
ROWS_PER_TASK = 8  # samples per render task at most on the CPU; fewer for big samples or little work
TASK_BYTES = 32 * 2**20  # about this much frame data per render task on the CPU
GPU_BATCH_VIEWS = 256  # views per launch a GPU block is sized to fill when render.batch_views is 0
GPU_TASK_BYTES = 2**30  # at most this much frame data per GPU render task (the actor holds it twice)
FRAME_BYTES_PER_PIXEL = 31  # rgb 3 + depth 4 + instance 2 + semantic 1 + normals 12 + flow 8 + valid 1
MAX_INPUT_BLOCKS = 20_000  # more samples than ROWS_PER_TASK x this: larger render tasks
EMIT_EVERY_S = 60.0  # the shard writer hands records to the datasink this often, and at the end
SMALL_CPU = 0.01  # logical CPU of the shard writer actor

GenerateFn = Callable[[Config, int, int], Any]  # (config, index, samples) -> Sample
EncodeFn = Callable[[Config, Any], dict]  # (config, sample) -> {"__key__": key, ext: bytes}

_RENDERED = pa.schema([("index", pa.int64()), ("shard", pa.int64()), ("error", pa.string()),
                       ("sample", pa.large_binary())])
_ENCODED = pa.schema([("index", pa.int64()), ("shard", pa.int64()), ("error", pa.string()),
                      ("segment", pa.large_binary())])
_WRITTEN = pa.schema([("record", pa.string()), ("data", pa.large_binary())])


# -- per-sample functions (run on workers) ------------------------------------------------

def _default_encode(config: Config, sample) -> dict:
    """Exactly what :func:`factory.sample.generate.generate_members` does after generating."""
    from factory.sample.encode import encode_sample

    return encode_sample(sample, mp4=config.output.mp4)


def _binary_column(payloads: list[bytes]) -> pa.Array:
    """A large_binary array over ``payloads`` (one copy into one buffer, none after)."""
    offsets = np.zeros(len(payloads) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in payloads], out=offsets[1:])
    data = payloads[0] if len(payloads) == 1 else b"".join(payloads)
    return pa.Array.from_buffers(pa.large_binary(), len(payloads), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _binary_values(column: pa.ChunkedArray) -> list[memoryview]:
    """The values of a large_binary column as memoryviews into Arrow's buffers (no copy)."""
    out = []
    for chunk in column.chunks:
        _, offsets, data = chunk.buffers()
        offs = np.frombuffer(offsets, dtype=np.int64)[chunk.offset: chunk.offset + len(chunk) + 1]
        view = memoryview(data) if data is not None else memoryview(b"")
        out.extend(view[int(a):int(b)] for a, b in zip(offs[:-1], offs[1:]))
    return out


def _render_error(config: Config, samples: int, index: int, err: BaseException) -> RenderError:
    if isinstance(err, RenderError):
        return err
    try:
        from factory.sample.generate import scenario_of

        scenario = scenario_of(config, index, samples)
    except Exception:  # noqa: BLE001 - best effort, the error itself matters more
        scenario = "?"
    rerr = RenderError(index, scenario, config.seed, err)
    rerr.__cause__ = err
    return rerr


def _failure_row(config: Config, samples: int, index: int, err: BaseException) -> str:
    rerr = _render_error(config, samples, index, err)
    cause = rerr.__cause__
    text = f"{type(cause).__name__}: {cause}" if cause is not None else str(rerr)
    return json.dumps({"index": index, "scenario": rerr.scenario, "seed": rerr.seed, "error": text})


def _guarded(config: Config, samples: int, index: int, fail_fast: bool,
             work: Callable[[], bytes]) -> tuple[bytes, str]:
    """``(work(), "")``, or on failure: raise a RenderError naming index, scenario and
    seed when failing fast, else ``(b"", failure row)`` for the budget to count."""
    try:
        return work(), ""
    except Exception as e:  # noqa: BLE001 - reported with index, scenario, seed
        if fail_fast:
            rerr = _render_error(config, samples, index, e)
            if rerr is e:
                raise  # already a RenderError naming this sample, with its own cause
            raise rerr from e
        return b"", _failure_row(config, samples, index, e)


class RenderStage:
    """Callable class on the render actor pool: indices -> the generated samples, pickled
    for the trip to the encode stage through Ray's object store (never stored).

    Without a ``generate_fn`` a block is one :func:`~factory.sample.generate.generate_samples`
    call: its clips are rendered together, in launches as large as the device allows.
    A ``generate_fn`` is called once per index, as ``(config, index, samples)``."""

    def __init__(self, config: Config, samples: int, generate_fn: GenerateFn | None, fail_fast: bool):
        self.config, self.samples = config, samples
        self.generate = generate_fn
        self.fail_fast = fail_fast

    def __call__(self, batch: pa.Table) -> pa.Table:
        indices = batch["index"].to_pylist()
        if self.generate is None:
            made = self._generate_block(indices)
            works = [lambda r=r: _pickled(r) for r in made]
        else:
            works = [lambda i=i: pickle.dumps(self.generate(self.config, i, self.samples), protocol=5)
                     for i in indices]
        out = {"index": indices, "shard": batch["shard"].to_pylist(), "error": [], "sample": []}
        for index, work in zip(indices, works):
            payload, error = _guarded(self.config, self.samples, index, self.fail_fast, work)
            out["error"].append(error)
            out["sample"].append(payload)
        out["sample"] = _binary_column(out["sample"])
        return pa.table(out, schema=_RENDERED)

    def _generate_block(self, indices: list[int]) -> list:
        """Each index's Sample, or the exception that stands for it: its own RenderError,
        or, when the whole call failed (the device cannot be used here), that error for
        every index of the block, as calling once per index would have given."""
        from factory.sample.generate import generate_samples

        try:
            return generate_samples(self.config, indices, samples=self.samples)
        except Exception as e:  # noqa: BLE001 - reported per index by _guarded
            return [e] * len(indices)


def _pickled(result) -> bytes:
    """A generated sample, pickled; an exception in its place is raised (for _guarded)."""
    if isinstance(result, BaseException):
        raise result
    return pickle.dumps(result, protocol=5)


class EncodeStage:
    """Callable class on a small CPU actor pool: sample -> its tar records
    (:func:`factory.dataset.shards.sample_segment`), a few hundred KB instead of the frames."""

    def __init__(self, config: Config, samples: int, encode_fn: EncodeFn | None, fail_fast: bool):
        self.config, self.samples = config, samples
        self.encode = encode_fn or _default_encode
        self.fail_fast = fail_fast

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = {"index": [], "shard": [], "error": [], "segment": []}
        cols = [batch[c].to_pylist() for c in ("index", "shard", "error")] + [_binary_values(batch["sample"])]
        for index, shard, error, payload in zip(*cols):
            segment = b""
            if not error:
                segment, error = _guarded(self.config, self.samples, index, self.fail_fast,
                                          lambda: self._segment(index, payload))
            out["index"].append(index)
            out["shard"].append(shard)
            out["error"].append(error)
            out["segment"].append(segment)
        return pa.table(out, schema=_ENCODED)

    def _segment(self, index: int, payload: bytes) -> bytes:
        members = dict(self.encode(self.config, pickle.loads(payload)))
        key = members.pop("__key__", sample_key(index))
        if key != sample_key(index):
            raise ValueError(f"encoded key {key!r} is not the key of index {index}")
        return sh.sample_segment(key, members)


class ShardWriter:
    """One stateful actor: gathers samples by index and writes each complete shard."""

    def __init__(self, location: Location, prefix: str, samples: int, shard_size: int, todo: list[int],
                 max_failures: int, failures_before: int, commit_on_driver: bool):
        self.location = location
        self.prefix = prefix
        self.expected = {s: sh.shard_indices(s, samples, shard_size) for s in todo}
        self.parts: dict[int, dict[int, bytes]] = {}
        self.failed: dict[int, dict[int, dict]] = {}
        self.done: set[int] = set()
        self.max_failures = max_failures
        self.failures = failures_before
        self.first_failures: list[dict] = []
        self.commit_on_driver = commit_on_driver
        self.pending: list[tuple[str, bytes]] = []
        self.last_emit = time.monotonic()

    def __call__(self, batch: pa.Table) -> pa.Table:
        cols = (batch[c].to_pylist() for c in ("index", "shard", "error", "segment"))
        for index, shard, error, segment in zip(*cols):
            if shard in self.done or shard not in self.expected:
                continue  # a duplicate from a retried task: same bytes, already written
            parts = self.parts.setdefault(shard, {})
            failed = self.failed.setdefault(shard, {})
            if error:
                if index not in failed:
                    failed[index] = json.loads(error)
                    self.failures += 1
                    self.first_failures.append(failed[index])
                    if self.failures > self.max_failures:
                        raise FailureBudgetError(self.first_failures[:5], self.failures, self.max_failures)
            else:
                parts[index] = segment
            if len(parts) + len(failed) == len(self.expected[shard]):
                record, data = self._finish(shard)
                self.pending.append((json.dumps(record), data))
        # Records go downstream in batches: every datasink write task may need a fresh
        # worker process (seconds of CPU), so not one per shard.
        out = []
        finished = len(self.done) == len(self.expected)
        if self.pending and (finished or time.monotonic() - self.last_emit > EMIT_EVERY_S):
            out, self.pending, self.last_emit = self.pending, [], time.monotonic()
        return pa.table({"record": [r for r, _ in out], "data": _binary_column([d for _, d in out])},
                        schema=_WRITTEN)

    def _finish(self, shard: int) -> tuple[dict, bytes]:
        parts, failed = self.parts.pop(shard), self.failed.pop(shard)
        data = sh.assemble(parts[i] for i in sorted(parts))
        name = sh.shard_name(self.prefix, shard)
        record = mf.shard_record(
            shard=shard, name=name, indices=self.expected[shard], written=len(parts),
            failures=failed.values(), nbytes=len(data), sha256=sh.sha256_hex(data),
        )
        self.done.add(shard)
        if self.commit_on_driver:
            return record, data
        self.location.put_atomic(name, data)
        self.location.put_atomic(mf.record_name(name), mf.dumps(record))
        return record, b""


class ManifestSink(Datasink):
    """Collects the shard records; ``on_write_complete`` writes the manifest last."""

    def __init__(self, plan: Plan, records_before: dict[int, dict], commit_on_driver: bool):
        self.plan = plan
        self.records_before = records_before
        self.commit_on_driver = commit_on_driver
        self.records: dict[int, dict] = {}
        self.manifest: dict | None = None

    @property
    def supports_distributed_writes(self) -> bool:
        return not self.commit_on_driver

    def write(self, blocks, ctx) -> list[tuple[str, bytes]]:
        out = []
        for block in blocks:
            table = BlockAccessor.for_block(block).to_arrow()
            out.extend(zip(table["record"].to_pylist(), table["data"].to_pylist()))
        return out

    def on_write_complete(self, write_result) -> None:
        loc = self.plan.location
        for ret in write_result.write_returns:
            for text, data in ret or []:
                record = json.loads(text)
                if self.commit_on_driver:
                    loc.put_atomic(record["name"], data)
                    loc.put_atomic(mf.record_name(record["name"]), mf.dumps(record))
                self.records[record["shard"]] = record
        self.manifest = self.plan.commit({**self.records_before, **self.records})


# -- the driver ---------------------------------------------------------------------------


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


@dataclass
class _Resources:
    max_workers: int
    cpus_per_worker: float
    encode_cpus: float
    encode_workers: int
    cluster_cpus: float
    cluster_gpus: float


def _resources(min_workers: int, max_workers: int | None, gpus_per_worker: float,
               cpus_per_worker: float | None, encode_cpus: float | None) -> _Resources:
    """Logical resources of each stage, sized to the cluster as it is now.

    CPU rendering: render actors hold 0.75 CPU and encode actors 0.2, so that on C
    cores, C render actors and up to C encode actors fit (0.95 C) and the OS shares the
    cores between rendering and the lighter encoding. A render actor holding a whole
    CPU would leave nothing for the encode stage and the pipeline would stall. GPU
    rendering: a render actor holds 1 CPU and its GPUs; encode actors hold 1 CPU each
    out of what the render actors leave.
    """
    total = ray.cluster_resources()
    cpus, gpus = float(total.get("CPU", 1.0)), float(total.get("GPU", 0.0))
    on_gpu = gpus_per_worker > 0
    if cpus_per_worker is None:
        cpus_per_worker = 1.0 if on_gpu else 0.75
    if encode_cpus is None:
        encode_cpus = 1.0 if on_gpu else 0.2
    if max_workers is None:
        if on_gpu:
            max_workers = int(gpus // gpus_per_worker)
        else:
            max_workers = int((cpus - SMALL_CPU) // (cpus_per_worker + encode_cpus))
        max_workers = max(max_workers, min_workers, 1)
    left = cpus - max_workers * cpus_per_worker - SMALL_CPU
    encode_workers = max(1, int(left // encode_cpus))
    if not on_gpu:
        encode_workers = min(encode_workers, max_workers)
    return _Resources(max_workers, cpus_per_worker, encode_cpus, encode_workers, cpus, gpus)


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
            ``render.device`` cpu / torch-cpu and 1 for gpu: a GPU render actor must
            hold a GPU, or Ray would not place it on a GPU node (nor give it one there).
            The render device is the config's ``render.device``; encoding always runs
            on CPU actors.
        cpus_per_worker: logical CPUs each render actor holds; default 1 with GPUs,
            0.75 without (CPU rendering and encoding then share the cores).
        encode_cpus: logical CPUs per encode actor; default 1 with GPUs, 0.2 without.
            The encode pool autoscales from 1 to what the render pool leaves free.
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
    if config.render.device == "gpu" and not gpus_per_worker:
        gpus_per_worker = 1.0
    location = out if isinstance(out, Location) else resolve(out, storage_options)
    if min_workers < 1 or (max_workers is not None and max_workers < min_workers):
        raise ConfigError("generate arguments", [
            f"min_workers/max_workers: need 1 <= min_workers <= max_workers (got {min_workers}, {max_workers})"])
    if not ray.is_initialized() and not os.environ.get("RAY_ADDRESS"):
        _check_device_here(config)  # the embedded Ray to come renders on this machine only
    plan = prepare(location, config, samples=samples, shard_size=shard_size, prefix=prefix, mode=mode,
                   max_failures=max_failures, log=log)
    records: dict[int, dict] = dict(plan.kept)
    if plan.kept:
        log(f"resuming: {len(plan.kept)} of {plan.num_shards} shards already intact, {len(plan.todo)} to make")
    summary = RunSummary(location.url, samples, plan.num_shards, 0, len(plan.kept), 0, 0, 0, 0.0, 0)

    started = False
    try:
        todo = list(plan.todo)
        manifest = None
        if todo:
            started = ensure_ray(log)
            for attempt in range(1, MAX_PASSES + 1):
                summary.passes = attempt
                sink = _run_pass(plan, todo, records, min_workers=min_workers, max_workers=max_workers,
                                 gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker,
                                 encode_cpus=encode_cpus, generate_fn=generate_fn, encode_fn=encode_fn,
                                 progress=progress, log=log)
                new = dict(sink.records)
                missing = [s for s in todo if s not in new]
                if missing:  # written, but their records were lost with a failed writer?
                    new.update(verified_shards(plan, missing))
                for s, rec in new.items():
                    records[s] = rec
                    summary.shards_written += 1
                    summary.samples_rendered += rec["samples"]
                    summary.bytes_written += rec["bytes"]
                todo = [s for s in todo if s not in records]
                manifest = sink.manifest if sink.manifest is not None else plan.commit(records)
                if not todo:
                    break
                log(f"{len(todo)} shards were lost with a failed writer; pass {attempt + 1} remakes them")
            if todo:
                raise FactoryError(
                    f"{len(todo)} shards could not be written after {MAX_PASSES} passes: "
                    f"{', '.join(plan.name(s) for s in todo[:5])}; run the same command again to resume")
        else:
            old = location.read_or_none(mf.MANIFEST)
            manifest = mf.loads(old, mf.MANIFEST) if old is not None else None
            if manifest is None or manifest.get("shards") != [records[s] for s in sorted(records)]:
                manifest = plan.commit(records)
            log("nothing to do: every shard is already intact")
        if manifest is None:
            raise FailureBudgetError(
                [f for r in records.values() for f in r.get("failures", [])][:5],
                sum(len(r.get("failures", [])) for r in records.values()), max_failures)
    finally:
        if started:
            ray.shutdown()
    summary.manifest = manifest
    summary.failures = manifest["failures"]
    summary.dataset_bytes = manifest["bytes"]
    summary.wall_s = time.perf_counter() - t0
    return summary


def _block_size(render, rows: int, shard_size: int, workers: int) -> int:
    """Samples per render task (one block, one ``generate_samples`` call).

    CPU backends (cpu, torch-cpu): at most :data:`ROWS_PER_TASK` and about
    :data:`TASK_BYTES` of frames, and a quarter of each worker's share of the rows,
    so that the pool balances. GPU: enough clips to fill one launch,
    ``ceil(batch_views / frames)`` with ``render.batch_views`` (or
    :data:`GPU_BATCH_VIEWS` when it is 0, sized from memory on the device), at most
    :data:`GPU_TASK_BYTES` of frames and each worker's share of the rows, so that every
    actor gets work. Never more than a shard; never so few that there are more than
    :data:`MAX_INPUT_BLOCKS` blocks.
    """
    sample_bytes = render.width * render.height * render.frames * FRAME_BYTES_PER_PIXEL
    if render.device == "gpu":
        fill = math.ceil((render.batch_views or GPU_BATCH_VIEWS) / render.frames)
        per_task = min(fill, GPU_TASK_BYTES // sample_bytes, math.ceil(rows / workers))
    else:
        per_task = min(ROWS_PER_TASK, TASK_BYTES // sample_bytes, math.ceil(rows / (4 * workers)))
    per_task = max(1, min(per_task, shard_size))
    return max(per_task, math.ceil(rows / MAX_INPUT_BLOCKS))


def _check_device_here(config: Config) -> None:
    """ConfigError (naming ``render.device``) if this machine cannot render on the
    config's device: ``gpu`` without CUDA, or PyTorch missing."""
    get_backend(config.render.device, "render settings")


def _run_pass(plan: Plan, todo: list[int], records: dict[int, dict], *, min_workers: int, max_workers: int | None,
              gpus_per_worker: float, cpus_per_worker: float | None, encode_cpus: float | None,
              generate_fn: GenerateFn | None, encode_fn: EncodeFn | None, progress: bool,
              log: Callable[[str], None]) -> ManifestSink:
    location = plan.location
    counts = [len(plan.indices(s)) for s in todo]
    rows = sum(counts)
    res = _resources(min_workers, max_workers, gpus_per_worker, cpus_per_worker, encode_cpus)
    max_workers = res.max_workers
    need = min_workers * res.cpus_per_worker + res.encode_cpus + SMALL_CPU
    if need > res.cluster_cpus:
        log(f"warning: {min_workers} render actors ({res.cpus_per_worker:g} CPU each) with the encode and "
            f"writer actors need {need:g} CPUs and the cluster has {res.cluster_cpus:g}; the job waits "
            "until the cluster grows (lower --min-workers or --cpus-per-worker to start now)")
    if gpus_per_worker > res.cluster_gpus:
        log(f"warning: render actors hold {gpus_per_worker:g} GPU each and the cluster has "
            f"{res.cluster_gpus:g} GPUs; the job waits until GPU nodes join")
    per_task = _block_size(plan.config.render, rows, plan.shard_size, max_workers)
    encode_per_task = _block_size(plan.config.render.model_copy(update={"device": "cpu"}), rows,
                                  plan.shard_size, max_workers)
    fail_fast = plan.max_failures == 0
    commit_on_driver = location.process_local

    ctx = DataContext.get_current()
    memory_detector = ctx.issue_detectors_config.high_memory_detector_config
    saved = (ctx.enable_progress_bars, ctx.max_errored_blocks, ctx.raise_original_map_exception,
             memory_detector.detection_time_interval_s)
    ctx.enable_progress_bars = progress
    ctx.max_errored_blocks = 0
    ctx.raise_original_map_exception = True  # our RenderError, not a UserCodeException around it
    memory_detector.detection_time_interval_s = -1  # its advice is about the writer's ~120 MB baseline
    try:
        # The work list is built here, not read: (index, shard) rows in blocks of
        # per_task samples, put in the object store by the driver (no read tasks,
        # which would each want a whole CPU next to a busy actor pool).
        index = np.concatenate([np.arange(plan.indices(s).start, plan.indices(s).stop) for s in todo])
        shard = np.repeat(np.array(todo, dtype=np.int64), counts)
        ds = ray.data.from_arrow([
            pa.table({"index": index[i:i + per_task], "shard": shard[i:i + per_task]})
            for i in range(0, rows, per_task)
        ])
        ds = ds.map_batches(
            RenderStage, batch_size=per_task, batch_format="pyarrow", zero_copy_batch=True,
            fn_constructor_kwargs={"config": plan.config, "samples": plan.samples, "generate_fn": generate_fn,
                                   "fail_fast": fail_fast},
            compute=ActorPoolStrategy(min_size=min_workers, max_size=max_workers),
            num_cpus=res.cpus_per_worker, num_gpus=gpus_per_worker or None,
        )
        ds = ds.map_batches(
            EncodeStage, batch_size=encode_per_task, batch_format="pyarrow",
            fn_constructor_kwargs={"config": plan.config, "samples": plan.samples, "encode_fn": encode_fn,
                                   "fail_fast": fail_fast},
            compute=ActorPoolStrategy(min_size=1, max_size=res.encode_workers), num_cpus=res.encode_cpus,
        )
        ds = ds.map_batches(
            ShardWriter, batch_size=None, batch_format="pyarrow",
            fn_constructor_kwargs={
                "location": location, "prefix": plan.prefix, "samples": plan.samples,
                "shard_size": plan.shard_size, "todo": todo, "max_failures": plan.max_failures,
                "failures_before": sum(len(rec.get("failures", [])) for rec in records.values()),
                "commit_on_driver": commit_on_driver,
            },
            compute=ActorPoolStrategy(size=1), num_cpus=SMALL_CPU,
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
    finally:
        (ctx.enable_progress_bars, ctx.max_errored_blocks, ctx.raise_original_map_exception,
         memory_detector.detection_time_interval_s) = saved
