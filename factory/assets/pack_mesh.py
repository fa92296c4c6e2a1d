"""A pack asset as the MeshAsset physics and the renderer take (interim: the hull collides).

:func:`pack_mesh` reads the asset's mesh (verified again by its hash), centres and scales
it into the unit box, decodes its textures, and caches the result per process.
"""

from __future__ import annotations

import io

import fsspec
import numpy as np

from factory.assets.pack import AssetRecord, Pack
from factory.scene.assets import MeshAsset, make_asset, mass_moments

_CACHE: dict[tuple[str, str, str], tuple[MeshAsset, float]] = {}


def _load(url: str, asset_id: str, sha: str, pack: Pack, record: AssetRecord) -> tuple[MeshAsset, float]:
    from PIL import Image

    data = pack.read_mesh(record)
    v = np.asarray(data.vertices, np.float64)
    lo, hi = v.min(0), v.max(0)
    half = float(np.abs(hi - lo).max() / 2)
    unit = (v - (lo + hi) / 2) / half
    fs, root = fsspec.core.url_to_fs(url)
    textures = []
    for path in record.textures:
        with Image.open(io.BytesIO(fs.cat_file(f"{root.rstrip('/')}/{path}"))) as im:
            textures.append(np.asarray(im.convert("RGBA"), np.uint8))
    import manifold3d  # a runtime pin (the mug's CSG); its hull needs no SciPy

    hull = manifold3d.Manifold.hull_points(unit).to_mesh()  # an open mesh has no volume: its hull's
    asset = make_asset(
        f"pack:{pack.name}/{asset_id}@{sha[:12]}",
        unit,
        data.faces,
        (unit,),
        moments=mass_moments(np.asarray(hull.vert_properties, np.float64)[:, :3], np.asarray(hull.tri_verts)),
        uv=data.uv,
        face_material=data.face_material,
        material_colour=data.material_colour,
        material_texture=data.material_texture,
        textures=tuple(textures),
    )
    return asset, half


def pack_mesh(pack: Pack, record: AssetRecord) -> tuple[MeshAsset, float]:
    """``record``'s MeshAsset in the unit box and its metres per unit (its largest half-extent)."""
    key = (pack.url, record.id, record.sha256[record.mesh])
    if key not in _CACHE:
        if len(_CACHE) >= 256:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _load(*key, pack, record)
    return _CACHE[key]
