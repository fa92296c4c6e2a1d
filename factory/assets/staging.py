"""Writing a pack (of assets or of backdrops) so that nothing half-written is ever left.

:func:`staged_pack` hands out a fresh working folder; when its block ends without an
error the folder becomes the pack: renamed into place on a local disk (one atomic
step), or uploaded file by file with ``pack.json`` last (its commit marker) to any
other fsspec URL. The working folder is removed either way. The small checks both
builders make before writing are here too (ids: :func:`factory.assets.pack.repeated`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fsspec

from factory.assets.pack import PACK_FILE
from factory.errors import AssetError

MAX_NOTICE_BYTES = 2**20  # licence texts are a few kB


def notice_bytes(path: Path) -> bytes:
    """A notice file's bytes (at most :data:`MAX_NOTICE_BYTES`).

    Raises:
        AssetError: naming ``path``: too large or unreadable.
    """
    try:
        size = path.stat().st_size
        if size > MAX_NOTICE_BYTES:
            raise AssetError(str(path), f"notice of {size} bytes, over the limit of {MAX_NOTICE_BYTES}")
        return path.read_bytes()
    except OSError as e:
        raise AssetError(str(path), f"notice cannot be read ({e})") from None


@contextmanager
def staged_pack(out: str) -> Iterator[Path]:
    """A working folder to write the pack at ``out`` (a folder or fsspec URL) into,
    ``pack.json`` included; committed to ``out`` when the block ends without an error.

    Raises:
        AssetError: ``out`` already holds something (a pack is never overwritten).
    """
    fs, root = fsspec.core.url_to_fs(out)
    if fs.exists(root):
        raise AssetError(out, "already exists; give a new --out location (a pack is never overwritten)")
    local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    parent = Path(root).parent if local else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{Path(root).name}.building-", dir=parent))
    work.chmod(0o755)  # mkdtemp makes it private; the pack is an ordinary folder once renamed
    try:
        yield work
        if local:
            os.rename(work, root)
        else:
            _upload(fs, work, root)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _upload(fs: fsspec.AbstractFileSystem, work: Path, root: str) -> None:
    """Every file of ``work`` to ``root``, ``pack.json`` last (the commit marker)."""
    files = sorted(p for p in work.rglob("*") if p.is_file() and p.name != PACK_FILE)
    for p in [*files, work / PACK_FILE]:
        fs.pipe_file(f"{root.rstrip('/')}/{p.relative_to(work).as_posix()}", p.read_bytes())
