"""The one way a dataset is written: intent first, each shard then its record, manifest last.

Every writer of a dataset folder goes through :class:`DatasetWriter` (the Ray job's shard
writer and its datasink, ``factory mix``, the tests' helper), so the order that the
records of :mod:`factory.dataset.manifest` rely on holds everywhere::

    writer = DatasetWriter(location)
    writer.start(intent)              .factory/intent.json, unless the folder has one
    writer.put_shard(record, data)    the tar atomically, then .factory/shards/<shard>.json
    writer.commit(manifest)           manifest.json: the commit marker, last
    writer.abort()                    after a failure: no temporary file left behind

Every put is atomic (:meth:`factory.dataset.storage.Location.put_atomic`), so a folder
holds whole files or none. :meth:`DatasetWriter.abort` leaves what is committed (a
generate run is resumed from its shards and records) unless asked to take back what
this writer put (a mix leaves nothing of a failed run). Nothing here imports Ray.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from factory.dataset import manifest as mf
from factory.dataset.licensing import tally_tar
from factory.dataset.shards import sha256_hex
from factory.dataset.storage import Location
from factory.errors import StorageError


def record_of(
    shard: int, name: str, indices: range, data: bytes, failures: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The record of shard ``shard`` whose tar is ``data``: it is for the samples
    ``indices`` and holds all of them but ``failures`` (those skipped under the budget);
    the tally of its samples' asset licences is counted from ``data`` itself."""
    failures = list(failures)
    return mf.shard_record(
        shard=shard,
        name=name,
        indices=indices,
        written=len(indices) - len(failures),
        failures=failures,
        nbytes=len(data),
        sha256=sha256_hex(data),
        assets=tally_tar(data),
    )


def remove_temp_files(location: Location, listing: Iterable[str]) -> None:
    """Temporary files left by an interrupted local atomic put (``.<name>.tmp-<id>``)."""
    if location.is_local:
        location.delete([n for n in listing if n.rsplit("/", 1)[-1].startswith(".") and ".tmp-" in n])


class DatasetWriter:
    """Writes one dataset folder in the order of the module docstring. ``written`` lists
    what this writer put, in order (for :meth:`abort`). Picklable: a Ray actor holds one."""

    def __init__(self, location: Location):
        self.location = location
        self.written: list[str] = []

    def start(self, intent: Mapping[str, Any]) -> None:
        """Put the intent record before any shard, unless the folder already holds one
        (a resumed run keeps its own; :func:`factory.dataset.resume.prepare` has refused
        a different one)."""
        if self.location.read_or_none(mf.INTENT) is None:
            self._put(mf.INTENT, mf.dumps(intent))

    def put_shard(self, record: Mapping[str, Any], data: bytes) -> Mapping[str, Any]:
        """Put the shard ``data`` under ``record["name"]``, then its record; returns the record."""
        self._put(record["name"], data)
        self._put(mf.record_name(record["name"]), mf.dumps(record))
        return record

    def commit(self, manifest: Mapping[str, Any]) -> Mapping[str, Any]:
        """Put ``manifest.json``, the commit marker; returns the manifest."""
        self._put(mf.MANIFEST, mf.dumps(manifest))
        return manifest

    def abort(self, *, remove_written: bool = False) -> None:
        """After a failure, best effort (a storage error here would hide the failure):
        remove the temporary files of interrupted local puts and, with
        ``remove_written``, every file this writer put (newest first)."""
        loc = self.location
        try:
            if remove_written:
                loc.delete(reversed(self.written))
            if loc.is_local:
                remove_temp_files(loc, [*loc.list(), *loc.list(mf.META_DIR), *loc.list(mf.RECORDS_DIR)])
        except StorageError:
            pass

    def _put(self, name: str, data: bytes) -> None:
        self.written.append(name)  # before the put: a failed put may still have left an object
        self.location.put_atomic(name, data)
