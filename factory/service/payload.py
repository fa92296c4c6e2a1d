"""Making a request's samples, and the bytes that carry them to the client.

* :class:`Work` is one sample to make (config, index, which members); :func:`make_batch`
  makes a list of them, each distinct one once, the samples of one config rendered
  together (one :func:`~factory.sample.generate.generate_samples` call: batched launches on
  the config's render device), and returns per item the members or the exception, so
  one bad item never fails its neighbours in a batch.
* :class:`TarStream` turns members into tar records one sample at a time, and ends the
  archive exactly as :func:`factory.dataset.shards.assemble` does: a request for the samples
  of one shard gets that shard's bytes.
* :class:`JsonStream` writes ``{"samples": [...], "count": n}`` one sample at a time,
  each member base64-encoded.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from factory.dataset.shards import end_of_archive, sample_segment
from factory.errors import Stopped
from factory.heap import settle
from factory.sample.generate import batch_or_each, generate_sample, generate_samples
from factory.scene.config import Config

TAR_TYPE = "application/x-tar"
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Work:
    """One sample to make. ``only``: the image members to encode (None: all)."""

    config: Config
    config_hash: str
    index: int
    only: tuple[str, ...] | None
    mp4: bool
    samples: int | None = None  # the dataset size that fixes the scenario (None: the stream)
    # Set when its request no longer wants it (time limit, client gone): the work stops
    # at its next step instead of holding the replica's thread to the end.
    cancel: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    heavy: bool = field(default=False, compare=False)  # made on the replica's heavy lane (service.app)

    @property
    def key(self) -> tuple:
        return self.config_hash, self.index, self.samples, self.only, self.mp4


def make_batch(works: list[Work]) -> list[dict | BaseException]:
    """Members (or the exception raised) for each of ``works``, each the same as
    :func:`~factory.sample.generate.generate_members` gives (or raises) for it alone.

    Duplicates are made once. The distinct indices of each (config, dataset size) are
    rendered by one :func:`~factory.sample.generate.generate_samples` call, then each work is
    encoded with its own members. A failure belongs to the works it concerns: a sample
    that fails is its RenderError; if the whole call fails (a bad index), each of its
    samples is made alone, so that only the bad ones get the error.

    Raises:
        Stopped: every work's ``cancel`` is set; checked between samples, physics
            steps, render launches and encodings.
    """
    from factory.sample.encode import encode_sample

    stop = stopper(works)
    groups: dict[tuple, list[Work]] = {}
    for w in {w.key: w for w in works}.values():
        groups.setdefault((w.config_hash, w.samples), []).append(w)
    done: dict[tuple, dict | BaseException] = {}
    for group in groups.values():
        config, samples = group[0].config, group[0].samples
        indices = list(dict.fromkeys(w.index for w in group))
        made = dict(zip(indices, _samples(config, indices, samples, stop)))
        for w in group:
            stop()
            sample = made[w.index]
            if isinstance(sample, BaseException):
                done[w.key] = sample
                continue
            try:
                mp4 = config.output.mp4 if w.mp4 is None else w.mp4
                done[w.key] = encode_sample(sample, mp4=mp4, only=w.only, png=config.output.png)
            except Exception as e:  # noqa: BLE001 - handed back to the one request it belongs to
                done[w.key] = e
    settle()  # the replica's first batch loaded what it keeps: out of the collector's way
    return [done[w.key] for w in works]


def stopper(works: list[Work]) -> Callable[[], None]:
    """A ``stop`` for :func:`~factory.sample.generate.generate_samples`: raises Stopped
    once every one of ``works`` is cancelled (a batch goes on while anyone wants it)."""

    def stop() -> None:
        if all(w.cancel.is_set() for w in works):
            raise Stopped(f"{len(works)} sample(s) no longer wanted: the time limit ran out or the client left")

    return stop


def _samples(config: Config, indices: list, samples: int | None, stop: Callable[[], None]) -> list:
    """``generate_samples``, with an error raised by the whole call given to each index
    it concerns: the indices are then made one by one (:func:`batch_or_each`)."""
    return batch_or_each(
        lambda batch: generate_samples(config, batch, samples=samples, stop=stop), indices, lambda index, e: e
    )


class TarStream:
    """Tar records for one sample at a time; :meth:`end` closes the archive."""

    def __init__(self):
        self.bytes = 0

    def sample(self, members: dict) -> bytes:
        segment = sample_segment(members["__key__"], members)
        self.bytes += len(segment)
        return segment

    def end(self) -> bytes:
        return end_of_archive(self.bytes)


class JsonStream:
    """``{"samples": [{"key", "meta", "members": {ext: base64}}, ...], "count": n}``,
    written one sample at a time (``meta`` is the ``json`` member, parsed)."""

    def __init__(self):
        self.count = 0

    def sample(self, members: dict) -> bytes:
        item = {
            "key": members["__key__"],
            "meta": json.loads(members["json"]),
            "members": {
                ext: base64.b64encode(data).decode() for ext, data in members.items() if ext not in ("__key__", "json")
            },
        }
        head = b'{"samples":[' if self.count == 0 else b","
        self.count += 1
        return head + json.dumps(item, separators=(",", ":")).encode()

    def end(self) -> bytes:
        head = b'{"samples":[' if self.count == 0 else b""
        return head + f'],"count":{self.count}}}'.encode()


def preview_png(
    config: Config, index: int, frame: int | None, samples: int | None = None, stop: Callable[[], None] | None = None
) -> bytes:
    """The contact sheet (PNG bytes) of frame ``frame`` (default: the middle one) of
    sample ``index`` (of a dataset of ``samples``; None: the open-ended stream).

    Raises:
        IndexError: ``frame`` is not below the clip's frame count.
    """
    from factory.sample.preview import contact_sheet, png_bytes

    sample = generate_sample(config, index, samples=samples, stop=stop)
    T = sample.frames.depth.shape[0]
    t = T // 2 if frame is None else frame
    if not 0 <= t < T:
        raise IndexError(f"frame {t} is not in [0, {T})")
    return png_bytes(contact_sheet(sample.frames, sample.meta, t))
