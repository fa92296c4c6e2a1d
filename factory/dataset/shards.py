"""Deterministic WebDataset shards: tar bytes, names and checksums.

Shard ``i`` of a dataset of ``n`` samples in shards of ``s`` holds exactly samples
``[i*s, min((i+1)*s, n))`` in index order and is named ``<prefix>-<i:06d>.tar``.

The tar bytes depend only on the members, never on the machine, the time or the
order in which samples were made:

* every member has mtime :data:`TAR_MTIME`, uid/gid 0, empty uname/gname, mode 0o644
  and is a regular file in the tar's top level, named ``<key>.<extension>``;
* samples appear in index order; within a sample ``json`` comes first, then the other
  extensions sorted by name (:func:`member_order`);
* headers are POSIX ustar, so no PAX or GNU extension records appear.

A shard is built in two steps so that the expensive part can run anywhere:
:func:`sample_segment` turns one sample's members into its tar records (header + data
+ padding, for each member) and :func:`assemble` concatenates segments and appends the
end-of-archive marker. ``assemble([sample_segment(k, m) for ...])`` is byte-identical to
writing the same members in the same order with :mod:`tarfile`
(:func:`build_shard` does exactly that and the tests compare the two).
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from collections.abc import Iterable, Mapping

DEFAULT_SHARD_SIZE = 100  # samples per shard when not given
TAR_MTIME = 0  # seconds since the epoch; fixed so that shard bytes are reproducible
TAR_MODE = 0o644
_BLOCK = tarfile.BLOCKSIZE  # 512
_RECORD = tarfile.RECORDSIZE  # 10240: tarfile pads the archive to a multiple of this


def shard_name(prefix: str, shard: int) -> str:
    """The file name of shard number ``shard``: ``<prefix>-<shard:06d>.tar``."""
    if shard < 0:
        raise ValueError(f"shard number must be >= 0, got {shard}")
    return f"{prefix}-{shard:06d}.tar"


def shard_pattern(prefix: str) -> re.Pattern:
    """Matches exactly the names :func:`shard_name` gives ``prefix``; group 1 is the
    shard number's six digits."""
    return re.compile(rf"^{re.escape(prefix)}-(\d{{6}})\.tar$")


def shard_count(samples: int, shard_size: int) -> int:
    """How many shards ``samples`` samples fill, ``shard_size`` per shard (last may be short)."""
    if shard_size < 1:
        raise ValueError(f"shard size must be >= 1, got {shard_size}")
    return -(-samples // shard_size)


def shard_indices(shard: int, samples: int, shard_size: int) -> range:
    """The sample indices that shard ``shard`` holds, in order."""
    start = shard * shard_size
    return range(start, min(start + shard_size, samples))


def member_order(extensions: Iterable[str]) -> list[str]:
    """The fixed order of a sample's members: ``json`` first, then the rest by name."""
    exts = sorted(e for e in extensions if e != "__key__")
    if "json" in exts:
        exts.remove("json")
        exts.insert(0, "json")
    return exts


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = TAR_MTIME
    info.mode = TAR_MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def _check_member(key: str, ext: str, value) -> None:
    if not key or "." in key or "/" in key:
        raise ValueError(f"sample key {key!r} must be non-empty with no '.' or '/'")
    if not ext or ext != ext.lower() or "/" in ext:
        raise ValueError(f"member extension {ext!r} of sample {key!r} must be non-empty lower case without '/'")
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"member {key}.{ext} must be bytes, got {type(value).__name__}")


def sample_segment(key: str, members: Mapping[str, bytes]) -> bytes:
    """The tar records of one sample (no end-of-archive marker).

    ``members`` maps extension to encoded bytes (the webdataset ``TarWriter``
    convention); a ``__key__`` entry, if present, must equal ``key`` and is not written.
    """
    if "__key__" in members and members["__key__"] != key:
        raise ValueError(f"members carry __key__ {members['__key__']!r}, expected {key!r}")
    out = []
    for ext in member_order(members):
        data = members[ext]
        _check_member(key, ext, data)
        data = bytes(data)
        info = _tarinfo(f"{key}.{ext}", len(data))
        out.append(info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict"))
        out.append(data)
        pad = -len(data) % _BLOCK
        if pad:
            out.append(b"\0" * pad)
    return b"".join(out)


def assemble(segments: Iterable[bytes]) -> bytes:
    """A complete tar from sample segments, in the given order (the order of the shard)."""
    body = b"".join(segments)
    return body + end_of_archive(len(body))


def end_of_archive(body_bytes: int) -> bytes:
    """What ends a tar whose records so far take ``body_bytes`` bytes: two zero blocks,
    padded to tarfile's record size. Lets a tar be streamed one segment at a time."""
    end = body_bytes + 2 * _BLOCK
    return b"\0" * (2 * _BLOCK + (-end % _RECORD))


def build_shard(samples: Iterable[tuple[str, Mapping[str, bytes]]]) -> bytes:
    """Reference implementation with :mod:`tarfile`: ``(key, members)`` pairs -> tar bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for key, members in samples:
            for ext in member_order(members):
                data = bytes(members[ext])
                _check_member(key, ext, data)
                tar.addfile(_tarinfo(f"{key}.{ext}", len(data)), io.BytesIO(data))
    return buf.getvalue()


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
