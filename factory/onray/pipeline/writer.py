"""The end of the Ray Data job: the shard-writer actor and the datasink that commits.

* :class:`ShardWriter`: one stateful actor. It files each sample's tar records under its
  index and, once every index of a shard is accounted for (a sample or a counted
  failure), assembles the shard in index order and puts it, then its record, through
  the plan's :class:`~factory.dataset.writer.DatasetWriter`.
* :class:`ManifestSink`: the Ray Datasink, in its lifecycle: ``on_write_start`` finds
  the plan in place (the intent, put before Ray started), ``write`` passes the records
  on, ``on_write_complete`` commits the manifest if every shard is there,
  ``on_write_failed`` cleans up temporary files and leaves what is committed for a
  resumed run.

``memory://`` datasets live in one process: for them the actor hands the shard bytes to
the datasink and the driver puts them in ``on_write_complete``.
"""

from __future__ import annotations

import json
import time

import pyarrow as pa
from ray.data.block import BlockAccessor
from ray.data.datasource import Datasink

from factory.dataset import shards as sh
from factory.dataset.resume import Plan
from factory.dataset.writer import record_of
from factory.errors import FailureBudgetError
from factory.onray.pipeline.stages import binary_column

EMIT_EVERY_S = 60.0  # the shard writer hands records to the datasink this often, and at the end

WRITTEN = pa.schema([("record", pa.string()), ("data", pa.large_binary())])


class ShardWriter:
    """One stateful actor: gathers samples by index and writes each complete shard of
    ``todo``; ``failures_before`` counts against the budget (those of kept shards)."""

    def __init__(self, plan: Plan, todo: list[int], failures_before: int, commit_on_driver: bool):
        self.plan = plan
        self.expected = {s: plan.indices(s) for s in todo}
        self.parts: dict[int, dict[int, bytes]] = {}
        self.failed: dict[int, dict[int, dict]] = {}
        self.done: set[int] = set()
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
                self._count_failure(failed, index, error)
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
        return pa.table({"record": [r for r, _ in out], "data": binary_column([d for _, d in out])}, schema=WRITTEN)

    def _count_failure(self, failed: dict[int, dict], index: int, error: str) -> None:
        if index in failed:
            return
        failed[index] = json.loads(error)
        self.failures += 1
        self.first_failures.append(failed[index])
        if self.failures > self.plan.max_failures:
            raise FailureBudgetError(self.first_failures[:5], self.failures, self.plan.max_failures)

    def _finish(self, shard: int) -> tuple[dict, bytes]:
        parts, failed = self.parts.pop(shard), self.failed.pop(shard)
        data = sh.assemble(parts[i] for i in sorted(parts))
        self.done.add(shard)
        if self.commit_on_driver:
            return record_of(shard, self.plan.name(shard), self.expected[shard], data, failed.values()), data
        return self.plan.put_shard(shard, data, failed.values()), b""


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

    def on_write_start(self, schema=None) -> None:
        """The plan is in place: its intent was put before Ray started
        (:func:`factory.dataset.resume.prepare`); put again only if it has gone since."""
        self.plan.writer.start(self.plan.intent())

    def write(self, blocks, ctx) -> list[tuple[str, bytes]]:
        out = []
        for block in blocks:
            table = BlockAccessor.for_block(block).to_arrow()
            out.extend(zip(table["record"].to_pylist(), table["data"].to_pylist()))
        return out

    def on_write_complete(self, write_result) -> None:
        for ret in write_result.write_returns:
            for text, data in ret or []:
                record = json.loads(text)
                if self.commit_on_driver:
                    self.plan.writer.put_shard(record, data)
                self.records[record["shard"]] = record
        self.manifest = self.plan.commit({**self.records_before, **self.records})

    def on_write_failed(self, error: Exception) -> None:
        """Temporary files go; the shards and records already put stay for a resume."""
        self.plan.writer.abort()
