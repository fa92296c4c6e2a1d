"""The render and encode stages of the Ray Data job, and the Arrow columns between them.

Both are callable classes that Ray Data runs on actor pools (:mod:`.driver` wires them):

* :class:`RenderStage`: a block of ``(index, shard)`` rows -> each sample generated,
  pickled for the trip through Ray's object store (never stored); or, on CPU workers
  (``encode=True``), generated and encoded in the same actor, straight to its tar
  records, so no frame crosses the object store;
* :class:`EncodeStage`: pickled samples -> each one's tar records
  (:func:`factory.dataset.shards.sample_segment`), a few hundred KB instead of the frames.

A sample that fails is a :class:`~factory.errors.RenderError` naming index, scenario
and seed: raised when failing fast (``max_failures=0``), else carried on as a failure
row (an ``error`` column holding ``{index, scenario, seed, error}``) for the shard
writer to count against the budget.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa

from factory.dataset import shards as sh
from factory.errors import RenderError
from factory.heap import settle
from factory.sample.encode import encode_sample
from factory.sample.generate import generate_samples, scenario_of
from factory.sample.types import sample_key
from factory.scene.config import Config

GenerateFn = Callable[[Config, int, int], Any]  # (config, index, samples) -> Sample
EncodeFn = Callable[[Config, Any], dict]  # (config, sample) -> {"__key__": key, ext: bytes}

RENDERED = pa.schema(
    [("index", pa.int64()), ("shard", pa.int64()), ("error", pa.string()), ("sample", pa.large_binary())]
)
ENCODED = pa.schema(
    [("index", pa.int64()), ("shard", pa.int64()), ("error", pa.string()), ("segment", pa.large_binary())]
)


def binary_column(payloads: list[bytes]) -> pa.Array:
    """A large_binary array over ``payloads`` (one copy into one buffer, none after)."""
    offsets = np.zeros(len(payloads) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in payloads], out=offsets[1:])
    data = payloads[0] if len(payloads) == 1 else b"".join(payloads)
    return pa.Array.from_buffers(pa.large_binary(), len(payloads), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def binary_values(column: pa.ChunkedArray) -> list[memoryview]:
    """The values of a large_binary column as memoryviews into Arrow's buffers (no copy)."""
    out = []
    for chunk in column.chunks:
        _, offsets, data = chunk.buffers()
        offs = np.frombuffer(offsets, dtype=np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
        view = memoryview(data) if data is not None else memoryview(b"")
        out.extend(view[int(a) : int(b)] for a, b in zip(offs[:-1], offs[1:]))
    return out


def _default_encode(config: Config, sample) -> dict:
    """Exactly what :func:`factory.sample.generate.generate_members` does after generating."""
    return encode_sample(sample, mp4=config.output.mp4, png=config.output.png)


def _render_error(config: Config, samples: int, index: int, err: BaseException) -> RenderError:
    if isinstance(err, RenderError):
        return err
    try:
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


def _guarded(config: Config, samples: int, index: int, fail_fast: bool, work: Callable[[], bytes]) -> tuple[bytes, str]:
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
    for the trip to the encode stage through Ray's object store (never stored), the
    :data:`RENDERED` columns; with ``encode=True``, their tar records instead (the
    :data:`ENCODED` columns of :class:`EncodeStage`, made by ``encode_fn``), which is
    how CPU workers run: render and encode in one actor, so the frames never leave it.

    Without a ``generate_fn`` a block is one :func:`~factory.sample.generate.generate_samples`
    call: its clips are rendered together, in launches as large as the device allows.
    A ``generate_fn`` is called once per index, as ``(config, index, samples)``."""

    def __init__(
        self,
        config: Config,
        samples: int,
        generate_fn: GenerateFn | None,
        fail_fast: bool,
        encode_fn: EncodeFn | None = None,
        encode: bool = False,
    ):
        self.config, self.samples = config, samples
        self.generate = generate_fn
        self.fail_fast = fail_fast
        self.encode = (encode_fn or _default_encode) if encode else None

    def __call__(self, batch: pa.Table) -> pa.Table:
        indices = batch["index"].to_pylist()
        finish = _pickled if self.encode is None else self._segment
        if self.generate is None:
            made = self._generate_block(indices)
        else:
            made = [_Deferred(lambda i=i: self.generate(self.config, i, self.samples)) for i in indices]
        column = "sample" if self.encode is None else "segment"
        out = {"index": indices, "shard": batch["shard"].to_pylist(), "error": [], column: []}
        for index, result in zip(indices, made):
            payload, error = _guarded(
                self.config, self.samples, index, self.fail_fast, lambda i=index, r=result: finish(i, r)
            )
            out["error"].append(error)
            out[column].append(payload)
        out[column] = binary_column(out[column])
        settle()  # the actor's first block loaded what it keeps: out of the collector's way
        return pa.table(out, schema=RENDERED if self.encode is None else ENCODED)

    def _segment(self, index: int, result) -> bytes:
        return segment_of(self.config, self.encode, index, _made(result))

    def _generate_block(self, indices: list[int]) -> list:
        """Each index's Sample, or the exception that stands for it: its own RenderError,
        or, when the whole call failed (the device cannot be used here), that error for
        every index of the block, as calling once per index would have given."""
        try:
            return generate_samples(self.config, indices, samples=self.samples)
        except Exception as e:  # noqa: BLE001 - reported per index by _guarded
            return [e] * len(indices)


class _Deferred:
    """A ``generate_fn`` call, made when its result is asked for (inside _guarded)."""

    def __init__(self, call: Callable[[], Any]):
        self.call = call


def _made(result):
    """A generated sample: an exception in its place is raised, a deferred call made."""
    if isinstance(result, BaseException):
        raise result
    return result.call() if isinstance(result, _Deferred) else result


def _pickled(index: int, result) -> bytes:
    """A generated sample, pickled (for the trip to the encode stage)."""
    return pickle.dumps(_made(result), protocol=5)


def segment_of(config: Config, encode: EncodeFn, index: int, sample) -> bytes:
    """The tar records of ``sample`` (index ``index``) as ``encode`` encodes it.

    Raises:
        ValueError: the encoded key is not the key of ``index``.
    """
    members = dict(encode(config, sample))
    key = members.pop("__key__", sample_key(index))
    if key != sample_key(index):
        raise ValueError(f"encoded key {key!r} is not the key of index {index}")
    return sh.sample_segment(key, members)


class EncodeStage:
    """Callable class on a small CPU actor pool: sample -> its tar records
    (:func:`factory.dataset.shards.sample_segment`), a few hundred KB instead of the frames."""

    def __init__(self, config: Config, samples: int, encode_fn: EncodeFn | None, fail_fast: bool):
        self.config, self.samples = config, samples
        self.encode = encode_fn or _default_encode
        self.fail_fast = fail_fast

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = {"index": [], "shard": [], "error": [], "segment": []}
        cols = [batch[c].to_pylist() for c in ("index", "shard", "error")] + [binary_values(batch["sample"])]
        for index, shard, error, payload in zip(*cols):
            segment = b""
            if not error:
                segment, error = _guarded(
                    self.config, self.samples, index, self.fail_fast, partial(self._segment, index, payload)
                )
            out["index"].append(index)
            out["shard"].append(shard)
            out["error"].append(error)
            out["segment"].append(segment)
        return pa.table(out, schema=ENCODED)

    def _segment(self, index: int, payload: bytes) -> bytes:
        return segment_of(self.config, self.encode, index, pickle.loads(payload))
