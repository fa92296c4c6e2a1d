"""Read a WebDataset back: its manifest, its shards in order, and the samples of a tar.

What validate, report, compare and mix read through. It works on any WebDataset, made
by factory or not:

* a folder or object-store prefix holding factory's ``manifest.json``: the shards are
  the ones the manifest lists, in its order;
* a folder or prefix of ``*.tar`` files without a manifest (a real dataset): every
  ``.tar`` directly in it, sorted by name;
* one ``.tar`` URL: just that shard.

Samples follow the webdataset convention: consecutive tar members whose names share
the part before the first ``.`` of the file name form one sample, keyed by that part
(``0000000042.rgb.png`` -> key ``0000000042``, member ``rgb.png``). Parsing is strict,
because :mod:`factory.trust.validate` must see damage that readers built for training skip
over: :func:`iter_tar` raises :class:`ShardFormatError` for a truncated tar, a member
whose bytes are cut short, a corrupt header, or anything after the end-of-archive
marker that is not zero padding. Nothing here imports Ray.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from factory.dataset import manifest as mf
from factory.dataset.storage import Location, resolve
from factory.errors import ShardFormatError, StorageError


@dataclass
class Dataset:
    """A dataset opened for reading.

    ``shards`` are names relative to ``location``, in dataset order; ``manifest`` is the
    parsed ``manifest.json`` (None for a dataset without one, e.g. a real WebDataset).
    """

    location: Location
    manifest: dict | None
    shards: list[str]

    @property
    def url(self) -> str:
        return self.location.url_of()

    def read_shard(self, name: str) -> bytes:
        """The bytes of shard ``name`` (StorageError if it cannot be read)."""
        return self.location.read(name)

    def samples(self) -> Iterator[tuple[str, str, dict[str, bytes]]]:
        """``(shard name, key, {member: bytes})`` for every sample, shard by shard."""
        for name in self.shards:
            for key, members in iter_tar(self.read_shard(name), name):
                yield name, key, members


def open_dataset(url: str | Location, options: Mapping[str, Any] | None = None) -> Dataset:
    """Open the dataset at ``url`` (see the module docstring for what it may be).

    Raises:
        StorageError: the URL cannot be reached, its manifest is not valid JSON, or it
            holds neither a manifest nor any ``.tar`` file.
    """
    location = url if isinstance(url, Location) else resolve(url, options)
    if location.path.endswith(".tar"):
        folder, _, name = location.path.rpartition("/")
        parent = Location(location.protocol, folder, location._options, location.url.rpartition("/")[0])
        return Dataset(parent, None, [name])
    raw = location.read_or_none(mf.MANIFEST)
    if raw is not None:
        manifest = mf.loads(raw, f"{location.url_of(mf.MANIFEST)}")
        shards = [r.get("name") for r in manifest.get("shards") or [] if isinstance(r, dict)]
        return Dataset(location, manifest, [s for s in shards if isinstance(s, str)])
    shards = sorted(n for n in location.list() if n.endswith(".tar"))
    if not shards:
        raise StorageError(f"{location.url_of()}: no {mf.MANIFEST} and no .tar shards; is this a WebDataset folder?")
    return Dataset(location, None, shards)


def split_name(name: str) -> tuple[str, str]:
    """``(key, member)`` of a tar member name, the webdataset way: the key is everything
    up to the first ``.`` of the file name (directories included), the member the rest."""
    folder, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext if dot else ""


def iter_tar(data: bytes, shard: str = "<tar>") -> Iterator[tuple[str, dict[str, bytes]]]:
    """The samples of one tar, in order: ``(key, {member: bytes})``.

    A key that comes back after other keys is yielded again as a separate sample (the
    caller decides whether that is an error); a member repeated within one sample is a
    :class:`ShardFormatError`, as are the failures listed in the module docstring.
    Only regular files count; directories and links are skipped.
    """
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    except tarfile.TarError as e:
        raise ShardFormatError(shard, 0, f"not a tar archive ({e})") from None
    key, members = None, {}
    end = 0
    with tar:
        while True:
            offset = tar.offset
            try:
                info = tar.next()
            except tarfile.TarError as e:
                raise ShardFormatError(shard, offset, f"unreadable tar header ({e})") from None
            if info is None:
                break
            if not info.isfile():
                continue
            end = info.offset_data + info.size
            if end > len(data):
                raise ShardFormatError(
                    shard,
                    info.offset,
                    f"member {info.name!r} is cut short: "
                    f"{info.size} bytes declared, {max(0, len(data) - info.offset_data)} present",
                )
            k, ext = split_name(info.name)
            if not ext:
                raise ShardFormatError(
                    shard,
                    info.offset,
                    f"member {info.name!r} has no extension; WebDataset members are named <key>.<member>",
                )
            if k != key:
                if key is not None:
                    yield key, members
                key, members = k, {}
            if ext in members:
                raise ShardFormatError(shard, info.offset, f"member {info.name!r} appears twice in sample {k!r}")
            members[ext] = data[info.offset_data : end]
        # tarfile stops quietly at a header it cannot parse after the first one; a tar
        # that ended properly has nothing but zero blocks after its last member.
        stopped = max(tar.offset, end)
    tail = data[stopped:]
    if len(tail) < 2 * tarfile.BLOCKSIZE:
        raise ShardFormatError(
            shard, stopped, f"truncated: the tar ends after {len(data)} bytes without its end-of-archive marker"
        )
    if tail.strip(b"\0"):
        first = stopped + (len(tail) - len(tail.lstrip(b"\0")))
        raise ShardFormatError(
            shard,
            first,
            "unreadable data where a tar header should be (corrupt header, or bytes after the end of the archive)",
        )
    if key is not None:
        yield key, members
