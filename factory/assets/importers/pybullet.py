"""pybullet's procedurally made "blob" meshes: ``pybullet_data/random_urdfs`` only.

The PyPI package ``pybullet`` (3.2.7) ships ``pybullet_data/random_urdfs/NNN/`` with
``NNN.urdf`` and ``NNN.obj``: 1,000 non-convex blobs under the package's zlib licence.
Other folders of ``pybullet_data`` carry other licences (CC-BY-SA, "by permission"), so
this importer takes nothing but a folder named ``random_urdfs``. It reads each URDF's
visual mesh and its ``scale`` (metres per OBJ unit); meshes are z up as written.
pybullet is not a dependency: point ``--from pybullet`` at the folder of an installed
copy (``python -c "import pybullet_data; print(pybullet_data.getDataPath())"``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from factory.assets.source import SourceAsset
from factory.errors import AssetError

FOLDER = "random_urdfs"
LICENCE = "Zlib"
CREATOR = "Erwin Coumans (Bullet Physics)"
CATEGORY = "blob"


def import_assets(source: Path, work: Path) -> list[SourceAsset]:
    """One asset per ``NNN/NNN.urdf`` under ``source`` (in name order; ``work`` unused).

    Raises:
        AssetError: naming the folder or URDF: not a ``random_urdfs`` folder, no URDFs,
            a URDF that does not parse, has no visual mesh, a scale that is not three
            equal numbers above 0, or a mesh path outside its folder or missing.
    """
    folder = Path(source)
    if folder.name != FOLDER or not folder.is_dir():
        raise AssetError(str(folder), f"only pybullet_data's {FOLDER} folder may be imported (its zlib meshes)")
    urdfs = sorted(p for p in folder.glob("*/*.urdf") if p.stem == p.parent.name)
    if not urdfs:
        raise AssetError(str(folder), "no NNN/NNN.urdf files: not pybullet_data's random_urdfs")
    return [_asset(urdf) for urdf in urdfs]


def _asset(urdf: Path) -> SourceAsset:
    try:
        robot = ET.parse(urdf).getroot()
    except ET.ParseError as e:
        raise AssetError(str(urdf), f"not a readable URDF ({e})") from None
    node = robot.find("./link/visual/geometry/mesh")
    if node is None or not node.get("filename"):
        raise AssetError(str(urdf), "no <visual><geometry><mesh filename=...> in the URDF")
    mesh = (urdf.parent / node.get("filename")).resolve()
    if mesh.parent != urdf.parent.resolve() or not mesh.is_file():
        raise AssetError(str(urdf), f"mesh {node.get('filename')!r} must be a file in {urdf.parent}")
    try:
        scale = [float(x) for x in (node.get("scale") or "1 1 1").split()]
    except ValueError:
        scale = []
    if len(scale) != 3 or len(set(scale)) != 1 or scale[0] <= 0:
        raise AssetError(str(urdf), f"mesh scale {node.get('scale')!r}: three equal numbers above 0 expected")
    name = urdf.stem
    return SourceAsset(
        id=f"pybullet-blob-{name}",
        mesh=mesh,
        category=CATEGORY,
        licence=LICENCE,
        creator=CREATOR,
        title=robot.get("name") or f"blob{name}",
        source=f"pybullet (PyPI) pybullet_data/{FOLDER}/{name}/{mesh.name}",
        scale=scale[0],
    )
