"""Pack assets as the scene's :class:`~factory.scene.assets.MeshAsset`, loaded once per
process: packs by name or URL (:func:`open_pack`), each asset's mesh, pieces and
textures (:func:`pack_mesh`).

:func:`pack_mesh` gives the asset normalised as every mesh kind is (bounding box
centred, largest half-extent 1) with the metres per unit ``s`` (that half-extent): an
object of the asset's real size has ``dims = (s, s, s)``. Its key (``MeshAsset.kind``, under which the renderer
caches the BVH and textures) is ``pack:<pack name>/<asset id>@<first 12 hex of the
mesh's sha256>``: stable across processes, and the same key means the same mesh bytes.

Mass: a pack mesh is often open (a chair modelled as surfaces, a cup without a
bottom) and the divergence theorem that trimesh's mass properties use is then wrong
(any number, negative too). A mesh that is watertight, winding-consistent and of
positive volume once coincident vertices are merged (UV seams split them) keeps its
own; any other takes volume, centroid and second moment from its convex pieces' hulls
summed (the pieces are cuts of one mesh, so they overlap at most along their cuts:
the sum is their union's). Faces of zero area are dropped (they have no normal).

Caches, per process and thread-safe: packs by URL (every file verified once, when
first opened), and pack meshes by (pack URL, asset id, mesh sha256) in an LRU bounded
by the bytes its arrays hold (:class:`PackMeshCache`, :func:`pack_mesh_stats`). The
arrays of a cached asset are read-only: objects share them.
"""

from __future__ import annotations

import io
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from factory.assets.byte_cache import ByteCache, CacheStats
from factory.assets.pack import AssetRecord, Pack, load_pack
from factory.assets.parts import convex_hull, hull_piece, split_pieces
from factory.errors import AssetError
from factory.scene.assets import MeshAsset, make_asset, mass_moments

STARTER = Path(__file__).with_name("starter")
NAMED_PACKS = {"starter": STARTER}  # names that mean a pack shipped in the package
DEFAULT_MAX_BYTES = 512 * 2**20  # ~700 starter assets (0.7 MB each) or ~50 full-size ones
_SURFACE = ("uv", "face_material", "material_colour", "material_texture")
_AREA_EPS = 1e-12  # twice a face's area in the unit box below which it has no normal

_PACKS: dict[str, Pack] = {}
_PACKS_LOCK = threading.Lock()


def pack_url(name: str) -> str:
    """The URL of pack ``name``: a name of :data:`NAMED_PACKS` (``starter``: the
    package's own, ``factory/assets/starter/``), else ``name`` itself (a folder or
    fsspec URL)."""
    return str(NAMED_PACKS[name]) if name in NAMED_PACKS else name


def open_pack(name: str) -> Pack:
    """The pack ``name`` (see :func:`pack_url`), loaded and verified once per process.

    Raises:
        AssetError: as :func:`~factory.assets.pack.load_pack`, naming the file.
    """
    url = pack_url(name)
    with _PACKS_LOCK:
        pack = _PACKS.get(url)
    if pack is None:
        pack = load_pack(url)  # outside the lock: a large pack takes a while
        with _PACKS_LOCK:
            pack = _PACKS.setdefault(url, pack)
    return pack


def asset_key(pack: Pack, record: AssetRecord) -> str:
    """``MeshAsset.kind`` of a pack asset (see the module docstring)."""
    return f"pack:{pack.name}/{record.id}@{record.sha256[record.mesh][:12]}"


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def decode_texture(data: bytes, file: str) -> np.ndarray:
    """A PNG or JPEG's pixels (H, W, 4) uint8 sRGB RGBA (opaque where it has no alpha).

    Raises:
        AssetError: naming ``file`` when Pillow cannot decode it.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.array(img.convert("RGBA"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise AssetError(file, f"not a readable image ({type(e).__name__}: {e})") from None


def _closed(vertices: np.ndarray, faces: np.ndarray) -> bool:
    """Whether the mesh bounds a volume: watertight and winding-consistent with
    coincident vertices merged, and of positive volume."""
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=True)  # merges the copies UV seams make
    return bool(mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0)


def pieces_mass(parts: tuple) -> tuple[float, np.ndarray, np.ndarray]:
    """(volume, centroid (3,), second moment about the origin (3, 3)) of the hulls of
    ``parts`` (each (K_j, 3)) summed, density 1; a piece whose hull has no volume adds
    nothing.

    Raises:
        ValueError: no piece has volume.
    """
    volume, first, moment = 0.0, np.zeros(3), np.zeros((3, 3))
    for piece in parts:
        hull = convex_hull(piece)
        if hull is None:
            continue
        v, c, m = mass_moments(*hull)
        volume, first, moment = volume + v, first + v * c, moment + m
    if volume <= 0:
        raise ValueError("no convex piece has volume")
    return volume, first / volume, moment


def build_pack_mesh(pack: Pack, record: AssetRecord) -> tuple[MeshAsset, float]:
    """``(asset, metres per unit)`` of ``record`` in ``pack``, uncached (see the module
    docstring); :func:`pack_mesh` is the cached way.

    Raises:
        AssetError: naming the file: the mesh or a texture is missing, altered (hash)
            or malformed.
    """
    mesh = pack.read_mesh(record)
    v = mesh.vertices.astype(np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    centre, scale = (lo + hi) / 2, float((hi - lo).max()) / 2
    unit = (v - centre) / scale
    if mesh.part_vertices is None:  # a pack built before pieces were: its hull collides
        parts = (hull_piece(unit),)
    else:
        pieces = split_pieces(mesh.part_vertices.astype(np.float64), mesh.part_offsets)
        parts = tuple((p - centre) / scale for p in pieces)
    f = mesh.faces.astype(np.int64)
    cross = np.cross(unit[f[:, 1]] - unit[f[:, 0]], unit[f[:, 2]] - unit[f[:, 0]])
    keep = np.linalg.norm(cross, axis=1) > _AREA_EPS
    textures = tuple(
        _frozen(decode_texture(pack.read_file(record, path), pack.shown(path))) for path in record.textures
    )
    asset = make_asset(
        asset_key(pack, record),
        unit,
        f[keep],
        tuple(_frozen(p) for p in parts),
        uv=mesh.uv,  # None: no material has a texture (the renderer maps such meshes triplanar)
        face_material=mesh.face_material[keep],
        material_colour=mesh.material_colour,
        material_texture=mesh.material_texture,
        textures=textures,
    )
    if not _closed(unit, f[keep]):
        volume, centroid, moment = pieces_mass(parts)
        asset = replace(asset, volume=volume, centroid=centroid, moment=moment)
    for name in ("vertices", "faces", "normals", "centroid", "moment", *_SURFACE):
        if getattr(asset, name) is not None:
            _frozen(getattr(asset, name))  # each array is the asset's own (made here or read from the file)
    return asset, scale


class PackMeshCache(ByteCache):
    """An LRU of :func:`build_pack_mesh` results by (pack URL, asset id, mesh sha256),
    holding at most ``max_bytes`` of arrays (``MeshAsset.nbytes``); an asset larger
    than the bound is built and returned but not kept. Thread-safe."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        super().__init__(max_bytes, lambda built: built[0].nbytes)

    def get(self, pack: Pack, record: AssetRecord) -> tuple[MeshAsset, float]:
        """``build_pack_mesh(pack, record)``, from the cache when it holds it."""
        key = (pack.url, record.id, record.sha256[record.mesh])
        return self.fetch(key, lambda: build_pack_mesh(pack, record))


_CACHE = PackMeshCache()


def pack_mesh(pack: Pack, record: AssetRecord) -> tuple[MeshAsset, float]:
    """``(asset, metres per unit)`` of ``record`` in ``pack`` through this process's
    cache: the same objects every time while it is held (see the module docstring).

    Raises:
        AssetError: as :func:`build_pack_mesh`.
    """
    return _CACHE.get(pack, record)


def pack_mesh_stats() -> CacheStats:
    """This process's pack-mesh cache counters (hits, misses, evictions, entries,
    bytes, max_bytes)."""
    return _CACHE.stats()


def pack_mesh_cache() -> PackMeshCache:
    """This process's pack-mesh cache (to clear it or change its ``max_bytes``)."""
    return _CACHE
