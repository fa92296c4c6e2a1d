"""The Ray Data job of ``factory generate``: render on an autoscaling actor pool, encode,
shard, commit. The stages, in order::

    (index, shard) rows   the work list, built by the driver in blocks: on render.device
                          cpu 1-8 samples (about 32 MB of frames per block); with
                          render.device cuda enough clips to fill a launch of
                          render.batch_views views (resources.block_size)
      -> RenderStage      callable class on ActorPoolStrategy(min_workers, max_workers),
                          num_gpus per actor: one generate_samples call per block, which
                          renders its clips together in batched launches on
                          render.device -> the frames; on CPU workers it also encodes
                          them (the frames never cross the object store) -> tar
                          records                                              (stages)
      -> EncodeStage      GPU runs only: callable class on its own pool of CPU actors,
                          sized to the CPUs the render actors leave
                          (resources.resources): frames -> the sample's tar records
                          (a few hundred KB instead of MBs)                    (stages)
      -> ShardWriter      one stateful actor: gathers each shard's samples by index;
                          when a shard has all of them it writes the tar atomically, then
                          its record (.factory/shards/<shard>.json)            (writer)
      -> ManifestSink     datasink: collects the records; on_write_complete writes
                          manifest.json last, only if every shard is there     (writer)

``driver`` (:func:`generate_dataset`) plans the run before Ray starts and runs the job,
in passes. Every file goes through the one dataset writer
(:class:`factory.dataset.writer.DatasetWriter`).

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
the driver then finds which shards reached storage and runs another pass for the
others (:data:`~factory.onray.pipeline.driver.MAX_PASSES` at most). A failure while
generating or encoding a sample is a :class:`~factory.errors.RenderError` naming index,
scenario and seed: with ``max_failures=0`` the stage raises it and the job stops; with
a budget the sample travels on as a failure row, the writer counts it and raises
:class:`~factory.errors.FailureBudgetError` as soon as the budget is exceeded.
"""

from factory.onray.pipeline.driver import DEFAULT_SHARD_SIZE, MAX_PASSES, RunSummary, generate_dataset
from factory.onray.pipeline.resources import GPU_BATCH_VIEWS, MAX_INPUT_BLOCKS, block_size
from factory.onray.pipeline.stages import EncodeStage, RenderStage
from factory.onray.pipeline.writer import ManifestSink, ShardWriter

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "GPU_BATCH_VIEWS",
    "MAX_INPUT_BLOCKS",
    "MAX_PASSES",
    "EncodeStage",
    "ManifestSink",
    "RenderStage",
    "RunSummary",
    "ShardWriter",
    "block_size",
    "generate_dataset",
]
