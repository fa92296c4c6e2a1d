"""What an importer hands the pack builder: :class:`SourceAsset`, and reading its mesh.

An importer (:mod:`factory.assets.importers`) turns a source (a Sweet Home 3D library,
a folder with a licence CSV, pybullet's ``random_urdfs``) into a list of
:class:`SourceAsset`: a mesh file on local disk, the metadata a pack records, and how
to bring the mesh to factory's frame (z up, metres). :func:`read_source` reads the mesh
with trimesh (OBJ with its MTL and textures, GLB, PLY, STL), every part's transform
applied, into one :class:`~factory.assets.meshfile.MeshData` with one material per
distinct (colour, texture), and the texture images' bytes.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import trimesh

from factory.assets.meshfile import MeshData
from factory.errors import AssetError

MESH_SUFFIXES = (".obj", ".glb", ".ply", ".stl")
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
Y_UP_TO_Z_UP = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0)  # (x, y, z) -> (x, -z, y): OBJ/glTF's y up to z up


@dataclass(frozen=True)
class SourceAsset:
    """One asset as an importer found it.

    ``linear`` (row-major 3x3) takes the file's coordinates to factory's frame (z up);
    then the mesh is sized: ``extents_m`` stretches each axis's bounding-box extent to
    the given metres (Sweet Home 3D sizes every model so), else ``longest_m`` scales
    uniformly so the longest extent is that many metres, else ``scale`` (metres per
    file unit) applies. ``notices``: licence and attribution texts that came with the
    asset, copied into the pack verbatim. The other fields are
    :class:`~factory.assets.pack.AssetRecord`'s.
    """

    id: str
    mesh: Path
    category: str
    licence: str
    creator: str
    title: str
    source: str
    linear: tuple[float, ...] = IDENTITY
    extents_m: tuple[float, float, float] | None = None
    longest_m: float | None = None
    scale: float = 1.0
    notices: tuple[Path, ...] = ()


class TextureSource(NamedTuple):
    """An image a material uses: ``file`` names it in errors, ``data`` its bytes."""

    file: str
    data: bytes


class SourceMesh(NamedTuple):
    """A source's mesh as read: ``mesh`` in the file's own units and axes (float64
    vertices), ``textures`` the images its materials index, ``notes`` what was left out
    (a texture the MTL names that is missing or outside the model's folder)."""

    mesh: MeshData
    textures: list[TextureSource]
    notes: list[str]


def read_source(asset: SourceAsset) -> SourceMesh:
    """``asset``'s mesh with one material per distinct (colour, texture) and the
    textures' bytes.

    Raises:
        AssetError: naming the file: an unknown suffix, a file trimesh cannot read, no
            faces, or a texture the MTL names that is not a readable image.
    """
    path = Path(asset.mesh)
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise AssetError(str(path), f"mesh format {path.suffix or '(none)'}; allowed: {', '.join(MESH_SUFFIXES)}")
    notes: list[str] = []
    mtl_textures = _mtl_textures(path, notes) if path.suffix.lower() == ".obj" else None
    try:
        scene = trimesh.load(str(path), force="scene", process=False)
        parts = [g for g in scene.dump(concatenate=False) if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    except Exception as e:  # any parser failure of trimesh's: the file is not a mesh it reads
        raise AssetError(str(path), f"not a readable mesh ({type(e).__name__}: {e})") from None
    if not parts:
        raise AssetError(str(path), "empty mesh: no faces")
    return SourceMesh(*_merge(parts, mtl_textures), notes)


def _mtl_textures(obj: Path, notes: list[str]) -> dict[str, TextureSource]:
    """Material name -> its ``map_Kd`` image, for every MTL the OBJ names (read here,
    not by trimesh, so that a broken image is refused by name instead of dropped)."""
    out: dict[str, TextureSource] = {}
    for line in obj.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("mtllib "):
            mtl = obj.parent / line.split(None, 1)[1].strip()
            if mtl.is_file():
                out.update(_read_mtl(mtl, obj.parent.resolve(), notes))
    return out


def _texture_path(mtl: Path, value: str) -> Path:
    """The file a ``map_Kd`` value names: the whole value (names may hold spaces), else
    its last word (options such as ``-s 1 1 1`` come first)."""
    whole = mtl.parent / value.replace("\\", "/")
    return whole if whole.is_file() else mtl.parent / value.split()[-1].replace("\\", "/")


def _read_mtl(mtl: Path, folder: Path, notes: list[str]) -> dict[str, TextureSource]:
    from PIL import Image, UnidentifiedImageError

    out, current = {}, None
    for line in mtl.read_text(encoding="utf-8", errors="replace").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "newmtl":
            current = line.split(None, 1)[1].strip()
        elif len(words) >= 2 and words[0] == "map_Kd" and current is not None:
            image = _texture_path(mtl, line.split(None, 1)[1].strip()).resolve()
            if not image.is_relative_to(folder) or not image.is_file():
                # Libraries name textures left on their maker's disk (C:/Documents and
                # Settings/...); Sweet Home 3D shows the colour then, and so do we. A path
                # outside the model's folder is never read.
                notes.append(
                    f"{mtl}: material {current!r}: texture {words[-1]!r} missing or outside {folder}; colour kept"
                )
                continue
            data = image.read_bytes()
            try:
                with Image.open(io.BytesIO(data)) as img:
                    img.verify()
            except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
                raise AssetError(str(image), f"texture is not a readable image ({type(e).__name__}: {e})") from None
            out[current] = TextureSource(str(image), data)
    return out


def _material(
    part: trimesh.Trimesh, mtl_textures: dict[str, TextureSource] | None
) -> tuple[tuple[float, ...], TextureSource | None]:
    """A part's (RGBA in [0, 1], texture or None). ``mtl_textures`` is None for formats
    that embed their images (GLB); for an OBJ only the MTL's checked images count, never
    one trimesh found by following a path out of the model's folder."""
    visual = part.visual
    mat = getattr(visual, "material", None)
    if mat is None:
        main = getattr(visual, "main_color", None)
        colour = np.asarray(main if main is not None else (204, 204, 204, 255), dtype=np.float64) / 255.0
        return tuple(float(c) for c in colour), None
    pbr = mat.to_pbr() if hasattr(mat, "to_pbr") else mat
    factor = getattr(pbr, "baseColorFactor", None)
    colour = np.asarray(factor if factor is not None else (204, 204, 204, 255), dtype=np.float64)
    colour = colour / 255.0 if colour.max() > 1.0 or colour.dtype.kind in "iu" else colour
    texture = None if mtl_textures is None else mtl_textures.get(getattr(mat, "name", None))
    if mtl_textures is None:
        image = getattr(mat, "image", None) or getattr(pbr, "baseColorTexture", None)
        if image is not None:  # embedded (GLB): stored as PNG
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            texture = TextureSource(f"{mat.name or 'embedded'}.png", buf.getvalue())
    has_uv = getattr(visual, "uv", None) is not None and len(visual.uv) == len(part.vertices)
    return tuple(float(c) for c in colour), texture if has_uv else None


def _merge(
    parts: list[trimesh.Trimesh], mtl_textures: dict[str, TextureSource] | None
) -> tuple[MeshData, list[TextureSource]]:
    vertices, faces, uvs, face_material = [], [], [], []
    materials: dict[tuple, int] = {}
    textures: dict[str, int] = {}
    texture_list: list[TextureSource] = []
    offset = 0
    for part in parts:
        colour, texture = _material(part, mtl_textures)
        tex_index = -1
        if texture is not None:  # one file per distinct image, whatever its name
            digest = hashlib.sha256(texture.data).hexdigest()
            if digest not in textures:
                textures[digest] = len(texture_list)
                texture_list.append(texture)
            tex_index = textures[digest]
        key = (colour, tex_index)
        index = materials.setdefault(key, len(materials))
        v = np.asarray(part.vertices, dtype=np.float64)
        vertices.append(v)
        faces.append(np.asarray(part.faces, dtype=np.int64) + offset)
        uv = part.visual.uv if tex_index >= 0 else None
        uvs.append(np.zeros((len(v), 2)) if uv is None else np.asarray(uv, dtype=np.float64))
        face_material.append(np.full(len(part.faces), index, dtype=np.int64))
        offset += len(v)
    keys = list(materials)
    mesh = MeshData(
        vertices=np.concatenate(vertices),
        faces=np.concatenate(faces),
        uv=np.concatenate(uvs) if texture_list else None,
        face_material=np.concatenate(face_material),
        material_colour=np.array([k[0] for k in keys], dtype=np.float64).reshape(-1, 4),
        material_texture=np.array([k[1] for k in keys], dtype=np.int64),
    )
    return mesh, texture_list


def asset_id(text: str, file: str) -> str:
    """A pack id from a source's name or id: lower case, runs of anything but
    ``[a-z0-9._]`` made one ``-``, trimmed (``Blend Swap CC-0#armchair`` ->
    ``blend-swap-cc-0-armchair``).

    Raises:
        AssetError: naming ``file`` when nothing is left.
    """
    slug = re.sub(r"[^a-z0-9._]+", "-", text.lower()).strip("-._")
    if not slug:
        raise AssetError(file, f"no usable asset id in {text!r}; an id needs a letter or digit")
    return slug[:120]
