"""Importers: a source of meshes and licences as :class:`~factory.assets.source.SourceAsset` records.

Each importer is ``import_assets(source: Path, work: Path) -> list[SourceAsset]``:
``source`` is what the user names (a ``.sh3f`` file, a folder), ``work`` an empty
scratch folder it may unpack into, which must outlive the build. :data:`IMPORTERS`
maps each ``factory pack build --from`` name to its function.

* ``sh3f`` (:mod:`.sh3f`): a Sweet Home 3D furniture library;
* ``folder`` (:mod:`.folder`): OBJ/GLB/PLY/STL files with a ``licences.csv``;
* ``pybullet`` (:mod:`.pybullet`): pybullet_data's ``random_urdfs`` (zlib) only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from factory.assets.importers import folder, pybullet, sh3f
from factory.assets.source import SourceAsset

IMPORTERS: dict[str, Callable[[Path, Path], list[SourceAsset]]] = {
    "sh3f": sh3f.import_assets,
    "folder": folder.import_assets,
    "pybullet": pybullet.import_assets,
}
