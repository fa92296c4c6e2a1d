"""How much of the cluster each stage holds, and how many samples a render task makes.

* :func:`resources`: logical CPUs and GPUs of the render actors, the encode pool's size
  and CPUs, sized to the cluster as it is now; :func:`capacity_warnings` says when the
  smallest pool does not fit yet (the job then waits for the cluster to grow).
* :func:`block_size`: samples per render task, one ``generate_samples`` call: about
  :data:`TASK_BYTES` of frames on the CPU (``render.device`` cpu), a full launch of
  ``render.batch_views`` views on the GPU (cuda).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ray

ROWS_PER_TASK = 8  # samples per render task at most on the CPU; fewer for big samples or little work
TASK_BYTES = 32 * 2**20  # about this much frame data per render task on the CPU
GPU_BATCH_VIEWS = 256  # views per launch a GPU block is sized to fill when render.batch_views is 0
GPU_TASK_BYTES = 2**30  # at most this much frame data per GPU render task (the actor holds it twice)
FRAME_BYTES_PER_PIXEL = 31  # rgb 3 + depth 4 + instance 2 + semantic 1 + normals 12 + flow 8 + valid 1
MAX_INPUT_BLOCKS = 20_000  # more samples than ROWS_PER_TASK x this: larger render tasks
SMALL_CPU = 0.01  # logical CPU of the shard writer actor
CPU_WORKER_CPUS = 0.95  # logical CPU of a CPU render actor (it encodes too)


@dataclass
class Resources:
    max_workers: int
    cpus_per_worker: float
    encode_cpus: float
    encode_workers: int
    cluster_cpus: float
    cluster_gpus: float


def resources(
    min_workers: int,
    max_workers: int | None,
    gpus_per_worker: float,
    cpus_per_worker: float | None,
    encode_cpus: float | None,
) -> Resources:
    """Logical resources of each stage, sized to the cluster as it is now.

    CPU rendering: a render actor renders and encodes its samples itself, so frames
    never cross the object store (with the compiled renderer, shipping them to a
    separate encode pool cost a quarter of the throughput); it holds 0.95 CPU, so C
    of them fit on C cores beside the shard writer, and there is no encode pool
    (``encode_workers`` 0). GPU rendering: a render actor holds 1 CPU and its GPUs;
    encode actors hold 1 CPU each out of what the render actors leave.
    """
    total = ray.cluster_resources()
    cpus, gpus = float(total.get("CPU", 1.0)), float(total.get("GPU", 0.0))
    on_gpu = gpus_per_worker > 0
    if cpus_per_worker is None:
        cpus_per_worker = 1.0 if on_gpu else CPU_WORKER_CPUS
    if not on_gpu:
        if max_workers is None:
            max_workers = max(int((cpus - SMALL_CPU) // cpus_per_worker), min_workers, 1)
        return Resources(max_workers, cpus_per_worker, 0.0, 0, cpus, gpus)
    if encode_cpus is None:
        encode_cpus = 1.0
    if max_workers is None:
        max_workers = max(int(gpus // gpus_per_worker), min_workers, 1)
    left = cpus - max_workers * cpus_per_worker - SMALL_CPU
    encode_workers = max(1, int(left // encode_cpus))
    return Resources(max_workers, cpus_per_worker, encode_cpus, encode_workers, cpus, gpus)


def capacity_warnings(res: Resources, min_workers: int, gpus_per_worker: float) -> list[str]:
    """What the cluster lacks for the smallest pools (the job waits until it grows)."""
    out = []
    need = min_workers * res.cpus_per_worker + (res.encode_cpus if res.encode_workers else 0.0) + SMALL_CPU
    if need > res.cluster_cpus:
        out.append(
            f"warning: {min_workers} render actors ({res.cpus_per_worker:g} CPU each) with the encode and "
            f"writer actors need {need:g} CPUs and the cluster has {res.cluster_cpus:g}; the job waits "
            "until the cluster grows (lower --min-workers or --cpus-per-worker to start now)"
        )
    if gpus_per_worker > res.cluster_gpus:
        out.append(
            f"warning: render actors hold {gpus_per_worker:g} GPU each and the cluster has "
            f"{res.cluster_gpus:g} GPUs; the job waits until GPU nodes join"
        )
    return out


def block_size(render, rows: int, shard_size: int, workers: int) -> int:
    """Samples per render task (one block, one ``generate_samples`` call).

    CPU (``render.device`` cpu): at most :data:`ROWS_PER_TASK` and about
    :data:`TASK_BYTES` of frames, and a quarter of each worker's share of the rows,
    so that the pool balances. GPU (cuda): enough clips to fill one launch,
    ``ceil(batch_views / frames)`` with ``render.batch_views`` (or
    :data:`GPU_BATCH_VIEWS` when it is 0, sized from memory on the device), at most
    :data:`GPU_TASK_BYTES` of frames and each worker's share of the rows, so that every
    actor gets work. Never more than a shard; never so few that there are more than
    :data:`MAX_INPUT_BLOCKS` blocks.
    """
    sample_bytes = render.width * render.height * render.frames * FRAME_BYTES_PER_PIXEL
    if render.device == "cuda":
        fill = math.ceil((render.batch_views or GPU_BATCH_VIEWS) / render.frames)
        per_task = min(fill, GPU_TASK_BYTES // sample_bytes, math.ceil(rows / workers))
    else:
        per_task = min(ROWS_PER_TASK, TASK_BYTES // sample_bytes, math.ceil(rows / (4 * workers)))
    per_task = max(1, min(per_task, shard_size))
    return max(per_task, math.ceil(rows / MAX_INPUT_BLOCKS))
