"""A plain folder of meshes (OBJ, GLB, PLY, STL) with a ``licences.csv``.

``licences.csv`` (UTF-8, a header row) has one row per asset, with the columns
:data:`COLUMNS`: ``file`` (the mesh, relative to the folder; an OBJ's MTL and textures
beside it), ``id`` (made a pack id: lower case, ``-`` for other characters),
``category``, ``licence`` (an SPDX id), ``creator``, ``title``, ``source`` (a URL or a
package name) and ``size_m``: the real size in metres, either one number (the longest
bounding-box extent; the mesh is scaled uniformly) or three separated by ``x`` (the x,
y and z extents; each axis stretched). Optional columns: ``up``, the file's up axis,
``z`` or ``y`` (default: ``y`` for GLB, as glTF specifies, else ``z``), and ``notice``, a
licence or attribution text to carry into the pack verbatim. Files the CSV does not
name are not imported.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from factory.assets.source import IDENTITY, Y_UP_TO_Z_UP, SourceAsset, asset_id
from factory.errors import AssetError

CSV_NAME = "licences.csv"
COLUMNS = ("file", "id", "category", "licence", "creator", "title", "source", "size_m")


def import_assets(source: Path, work: Path) -> list[SourceAsset]:
    """One :class:`SourceAsset` per row of ``source/licences.csv``, in row order
    (``work`` is not used: nothing is unpacked).

    Raises:
        AssetError: naming the CSV (and row): no CSV, a missing column, an empty
            field, a ``size_m`` that is not 1 or 3 numbers above 0, a file outside the
            folder or missing.
    """
    folder = Path(source)
    table, rows = licence_rows(folder, COLUMNS)
    return [_row(row, i, folder, table) for i, row in rows]


def licence_rows(folder: Path, columns: tuple[str, ...]) -> tuple[Path, list[tuple[int, dict]]]:
    """The path of ``folder``'s :data:`CSV_NAME` and its rows as (line number, row);
    every one of ``columns`` must be a column (also for the backdrop importer).

    Raises:
        AssetError: naming the CSV: missing, or a column missing.
    """
    table = folder / CSV_NAME
    if not table.is_file():
        raise AssetError(str(table), f"missing: a folder import needs {CSV_NAME} with columns {', '.join(columns)}")
    with open(table, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise AssetError(str(table), f"missing columns {missing}; needed: {', '.join(columns)}")
        return table, list(enumerate(reader, start=2))


def _row(row: dict[str, str], line: int, folder: Path, table: Path) -> SourceAsset:
    where = f"{table} line {line}"
    values = {c: (row.get(c) or "").strip() for c in COLUMNS}
    empty = [c for c, v in values.items() if not v]
    if empty:
        raise AssetError(where, f"empty fields {empty}; every column needs a value")
    mesh = (folder / values["file"]).resolve()
    if not mesh.is_relative_to(folder.resolve()):
        raise AssetError(where, f"file {values['file']!r} lies outside the folder {folder}")
    if not mesh.is_file():
        raise AssetError(where, f"file {values['file']!r} is missing")
    sizes = _sizes(values["size_m"], where)
    up = (row.get("up") or "").strip().lower() or ("y" if mesh.suffix.lower() == ".glb" else "z")
    if up not in ("y", "z"):
        raise AssetError(where, f"up {up!r}: allowed: y, z")
    notice = (row.get("notice") or "").strip()
    notices = (folder / notice).resolve() if notice else None
    if notices is not None and (not notices.is_relative_to(folder.resolve()) or not notices.is_file()):
        raise AssetError(where, f"notice {notice!r} is not a file in the folder {folder}")
    return SourceAsset(
        id=asset_id(values["id"], where),
        mesh=mesh,
        category=values["category"].lower(),
        licence=values["licence"],
        creator=values["creator"],
        title=values["title"],
        source=values["source"],
        extents_m=sizes if len(sizes) == 3 else None,
        longest_m=sizes[0] if len(sizes) == 1 else None,
        linear=Y_UP_TO_Z_UP if up == "y" else IDENTITY,
        notices=(notices,) if notices else (),
    )


def _sizes(text: str, where: str) -> tuple[float, ...]:
    try:
        sizes = tuple(float(x) for x in text.lower().split("x"))
    except ValueError:
        sizes = ()
    if len(sizes) not in (1, 3) or not all(math.isfinite(s) and s > 0 for s in sizes):
        raise AssetError(
            where, f"size_m {text!r}: one length in metres (the longest side) or three as 'XxYxZ', above 0"
        )
    return sizes
