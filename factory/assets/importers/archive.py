"""Unpacking a zip archive safely: no entry outside its folder, no entry past a size.

A zip's entry names are whatever its maker wrote, and its sizes what it claims: an
entry named ``../evil`` or ``/etc/x`` would land outside the folder it is unpacked
into, and a small archive can expand to gigabytes (a zip bomb). :func:`safe_extract`
refuses both, naming the entry, and counts the bytes it actually writes rather than
trusting the header.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from factory.errors import AssetError

MAX_ENTRY_BYTES = 256 * 2**20  # the largest Sweet Home 3D OBJ is ~30 MB; textures a few MB
MAX_TOTAL_BYTES = 2 * 2**30  # Scopia.sh3f, the largest library, unpacks to ~200 MB
_CHUNK = 2**20


def entry_path(name: str, archive: str) -> PurePosixPath:
    """The relative path an entry named ``name`` may be written to.

    Raises:
        AssetError: naming ``archive`` and the entry: an absolute path, a drive letter,
            or a ``..`` part.
    """
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and ":" in path.parts[0]) or ".." in path.parts:
        raise AssetError(f"{archive}:{name}", "archive entry would land outside its folder (absolute path or '..')")
    return path


def safe_extract(
    archive: Path, dest: Path, max_entry_bytes: int = MAX_ENTRY_BYTES, max_total_bytes: int = MAX_TOTAL_BYTES
) -> Path:
    """Unpack zip ``archive`` into folder ``dest`` (made if missing); returns ``dest``.

    Raises:
        AssetError: naming the archive and entry: a path outside ``dest``, an entry over
            ``max_entry_bytes`` (declared or actually written), the archive over
            ``max_total_bytes``, or a file that is not a readable zip.
    """
    shown = str(archive)
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:  # every name and declared size checked before anything is written
                entry_path(info.filename, shown)
                if info.file_size > max_entry_bytes:
                    raise AssetError(
                        f"{shown}:{info.filename}",
                        f"archive entry expands to {info.file_size} bytes, over the limit of {max_entry_bytes}",
                    )
            for info in infos:
                total += _extract_one(zf, info, dest, shown, max_entry_bytes, max_total_bytes - total)
    except zipfile.BadZipFile as e:
        raise AssetError(shown, f"not a readable zip archive ({e})") from None
    except OSError as e:  # missing, a folder, unreadable: the OS's words say which
        raise AssetError(shown, f"cannot be read ({e.strerror or e})") from None
    return dest


def _extract_one(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, shown: str, limit: int, left: int) -> int:
    """Write one entry, counting its real bytes; returns them."""
    target = dest / entry_path(info.filename, shown)
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with zf.open(info) as src, open(target, "wb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > limit or written > left:
                what = f"the entry limit of {limit}" if written > limit else "the archive's total limit"
                raise AssetError(f"{shown}:{info.filename}", f"archive entry expands past {what} bytes")
            out.write(chunk)
    return written
