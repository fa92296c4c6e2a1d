"""Asset packs: the format, loading with every file verified, and the held-out split.

A pack is a folder or any fsspec URL (``s3://bucket/packs/sh3d``, ``memory://p``)
holding ``pack.json`` and the per-asset files it lists. ``pack.json``::

    {"format": 1, "name": "sh3d-blendswap-cc0", "version": "1",
     "limits": {"max_faces": 20000, "max_texture_px": 1024},
     "parts": {"method": "coacd", "params": {"threshold": 0.1, "seed": 1, ...}},
     "assets": [{"id": "blend-swap-cc-0-armchair", "mesh": "blend-swap-cc-0-armchair/mesh.npz",
                 "textures": ["blend-swap-cc-0-armchair/tex0.png"], "category": "office",
                 "size_m": [0.594, 0.627, 1.05], "licence": "CC0-1.0", "creator": "Absfrm",
                 "title": "Armchair", "source": "BlendSwap-CC-0.sh3f:/blendswap-cc-0/armchair/armchair.obj",
                 "notices": ["blend-swap-cc-0-armchair/notice0.txt"],
                 "sha256": {"blend-swap-cc-0-armchair/mesh.npz": "...", ...}}, ...]}

``parts`` (optional: packs built before it have none) says how the convex pieces in
each mesh were made (:mod:`factory.assets.parts`: ``hull``, or ``coacd`` with its
settings), so that a third party can make them again. ``size_m`` is the mesh's bounding-box extents in metres (x, y, z; z up); ``mesh`` is a
``.npz`` (:mod:`factory.assets.meshfile`); ``textures`` PNG or JPEG images; ``notices``
(optional) the licence and attribution texts that came with the asset, verbatim;
``sha256`` holds every file the asset names, and nothing else. Ids are unique, lower-case
``[a-z0-9][a-z0-9._-]*`` (also the asset's folder name).

:func:`load_pack` reads ``pack.json`` through fsspec and verifies every asset
(:func:`verify_asset`): its licence is one factory knows (:mod:`factory.assets.licences`),
each file's sha256 matches, the mesh is well formed and within the pack's face limit,
each texture opens as an image within the pack's pixel limit. Every refusal is an
:class:`~factory.errors.AssetError` naming the file. The limits recorded in a pack are
those it was built with, and may not exceed :data:`HARD_LIMITS`.

The held-out split (:func:`split`): an asset is in ``test`` when the sha256 of its id
falls in the first ``share`` of the hash range, so the choice depends on the id alone,
never on the pack's order, size or process (Kubric's MOVi holds out assets the same way).
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Literal, NamedTuple

import fsspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from factory.assets.licences import licence
from factory.assets.meshfile import MeshData, decode_mesh
from factory.errors import AssetError, ParamError, problem_line
from factory.scene.validation import validation_problems

FORMAT = 1
PACK_FILE = "pack.json"
HELD_OUT_SHARE = 0.1  # a tenth of each pack for the test split, as Kubric's MOVi
ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
TEXTURE_FORMATS = ("PNG", "JPEG")


def repeated(ids: Iterable[str]) -> list[str]:
    """The ids that occur more than once, sorted (a pack's ids must be unique)."""
    ids = list(ids)
    return sorted({i for i in ids if ids.count(i) > 1})


class Limits(NamedTuple):
    """What a pack's assets may hold: ``max_faces`` triangles per mesh and textures of
    at most ``max_texture_px`` pixels on their longer side. A build decimates and
    downscales to them; a load refuses more."""

    max_faces: int = 20_000  # Sweet Home 3D's median is 2k-11k faces; the renderer's BVHs stay small
    max_texture_px: int = 1024  # 1024^2 RGBA is 4 MiB a texture on the device


# The most any pack may declare: a pack.json asking for more is refused before a file is read.
HARD_LIMITS = Limits(max_faces=500_000, max_texture_px=8192)
MAX_FILE_BYTES = 256 * 2**20  # one mesh or texture file; a larger one is refused unread


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


_Text = Annotated[str, Field(min_length=1)]
_RelPath = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)+$")]


class LimitsModel(_Strict):
    max_faces: int = Field(ge=1, le=HARD_LIMITS.max_faces)
    max_texture_px: int = Field(ge=1, le=HARD_LIMITS.max_texture_px)


class PartsModel(_Strict):
    """``pack.json``'s ``parts``: ``method`` (``hull`` or ``coacd``) and, for CoACD, the
    settings it ran with (:data:`factory.assets.parts.COACD_PARAMS`)."""

    method: Literal["hull", "coacd"]
    params: dict[str, bool | int | float] = {}


class AssetRecord(_Strict):
    """One asset of ``pack.json`` (see the module docstring)."""

    id: Annotated[str, Field(pattern=ID_PATTERN, max_length=120)]
    mesh: _RelPath
    textures: tuple[_RelPath, ...] = ()
    notices: tuple[_RelPath, ...] = ()
    category: _Text
    size_m: tuple[float, float, float]
    licence: _Text
    creator: _Text
    title: _Text
    source: _Text
    sha256: dict[_RelPath, Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]]

    @field_validator("size_m")
    @classmethod
    def _positive(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not all(math.isfinite(x) and x > 0 for x in v):
            raise ValueError("each extent must be a finite number of metres above 0")
        return v

    @model_validator(mode="after")
    def _files(self) -> AssetRecord:
        files = self.files()
        if len(set(files)) != len(files) or set(self.sha256) != set(files):
            raise ValueError(f"sha256 must list exactly the asset's files {list(files)}, got {sorted(self.sha256)}")
        if any(not f.startswith(self.id + "/") for f in files):
            raise ValueError(f"every file must lie in the asset's folder {self.id}/")
        return self

    def files(self) -> tuple[str, ...]:
        """The mesh, the textures, then the notices, as paths relative to the pack."""
        return (self.mesh, *self.textures, *self.notices)


class PackFile(_Strict):
    """``pack.json`` (see the module docstring)."""

    format: Literal[1]
    name: Annotated[str, Field(pattern=ID_PATTERN)]
    version: _Text
    limits: LimitsModel
    parts: PartsModel | None = None
    assets: tuple[AssetRecord, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> PackFile:
        ids = [a.id for a in self.assets]
        dupes = repeated(ids)
        if dupes:
            raise ValueError(f"asset ids must be unique; repeated: {dupes}")
        return self


@dataclass(frozen=True)
class Pack:
    """A loaded, verified pack: ``url`` where it lives, ``meta`` its ``pack.json``."""

    url: str
    meta: PackFile

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def assets(self) -> tuple[AssetRecord, ...]:
        return self.meta.assets

    @property
    def limits(self) -> Limits:
        return Limits(**self.meta.limits.model_dump())

    def read_mesh(self, asset: AssetRecord) -> MeshData:
        """``asset``'s mesh, read again and checked (hash, shape, limits)."""
        return decode_mesh(
            self.read_file(asset, asset.mesh), self.shown(asset.mesh), self.limits.max_faces, len(asset.textures)
        )

    def read_file(self, asset: AssetRecord, path: str) -> bytes:
        """The bytes of ``path``, one of ``asset``'s files, its sha256 checked.

        Raises:
            AssetError: naming the file: missing, unreadable, too large, or the hash
                does not match.
        """
        if path not in asset.sha256:
            raise AssetError(self.shown(path), f"not a file of asset {asset.id}; its files: {list(asset.files())}")
        fs, root = fsspec.core.url_to_fs(self.url)
        return _read_checked(fs, root, asset, path, self.shown(path))

    def shown(self, path: str) -> str:
        """``path`` (relative to the pack) as errors name it: the pack's URL joined on."""
        return f"{self.url.rstrip('/')}/{path}"


def parse_pack_file(data: bytes, shown: str) -> PackFile:
    """``pack.json``'s bytes as a :class:`PackFile`.

    Raises:
        AssetError: naming ``shown``, with one ``field: message (got value)`` line per
            problem.
    """
    try:
        return PackFile.model_validate_json(data)
    except ValidationError as e:
        if any(err["type"] == "json_invalid" for err in e.errors()):
            raise AssetError(shown, f"not valid JSON ({e.errors()[0]['msg']})") from None
        lines = [problem_line(p) for p in validation_problems(e.errors(), PackFile)]
        raise AssetError(shown, "; ".join(lines)) from None


def load_pack(url: str, storage_options: dict | None = None) -> Pack:
    """The pack at ``url`` (a folder or fsspec URL), every asset verified by
    :func:`verify_asset`.

    Raises:
        AssetError: ``pack.json`` is missing or malformed, or an asset is refused; the
            message names the file.
    """
    fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
    shown = f"{url.rstrip('/')}/{PACK_FILE}"
    try:
        data = fs.cat_file(f"{root.rstrip('/')}/{PACK_FILE}")
    except FileNotFoundError:
        raise AssetError(shown, "no pack here: pack.json is missing (build one with `factory pack build`)") from None
    except OSError as e:
        raise AssetError(shown, f"cannot be read ({e})") from None
    pack = Pack(url, parse_pack_file(data, shown))
    for asset in pack.assets:
        verify_asset(fs, root, pack, asset)
    return pack


def verify_asset(fs: fsspec.AbstractFileSystem, root: str, pack: Pack, asset: AssetRecord) -> None:
    """Check one asset of ``pack``: a licence factory knows, every file's sha256 (the
    notices too), the mesh (:func:`~factory.assets.meshfile.decode_mesh`) and each texture
    (:func:`check_texture`) within the pack's limits.

    Raises:
        AssetError: naming the file (``pack.json`` for the licence).
    """
    lic = licence(asset.licence, f"{pack.shown(PACK_FILE)}: asset {asset.id}")
    if not lic.known:
        raise AssetError(
            f"{pack.shown(PACK_FILE)}: asset {asset.id}",
            f"licence {asset.licence} is unknown; a pack holds only licences factory knows",
        )
    limits = pack.limits
    mesh_file = pack.shown(asset.mesh)
    decode_mesh(_read_checked(fs, root, asset, asset.mesh, mesh_file), mesh_file, limits.max_faces, len(asset.textures))
    for tex in asset.textures:
        shown = pack.shown(tex)
        check_texture(_read_checked(fs, root, asset, tex, shown), shown, limits.max_texture_px)
    for notice in asset.notices:
        _read_checked(fs, root, asset, notice, pack.shown(notice))


def _read_checked(fs: fsspec.AbstractFileSystem, root: str, asset: AssetRecord, path: str, shown: str) -> bytes:
    try:
        size = fs.size(f"{root.rstrip('/')}/{path}")
        if size is not None and size > MAX_FILE_BYTES:
            raise AssetError(shown, f"{size} bytes, more than the limit of {MAX_FILE_BYTES}")
        data = fs.cat_file(f"{root.rstrip('/')}/{path}")
    except FileNotFoundError:
        raise AssetError(shown, f"missing (asset {asset.id} lists it)") from None
    except OSError as e:
        raise AssetError(shown, f"cannot be read ({e})") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != asset.sha256[path]:
        raise AssetError(shown, f"sha256 {digest} does not match pack.json's {asset.sha256[path]}")
    return data


def check_texture(data: bytes, file: str, max_px: int) -> tuple[int, int]:
    """The ``(width, height)`` in pixels of the image in ``data``.

    Raises:
        AssetError: naming ``file``: not a PNG or JPEG Pillow can decode, or a side
            longer than ``max_px``.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, size = img.format, img.size
            if fmt in TEXTURE_FORMATS and max(size) <= max_px:
                img.load()  # decodes every pixel: a truncated file fails here
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise AssetError(file, f"not a readable image ({type(e).__name__}: {e})") from None
    if fmt not in TEXTURE_FORMATS:
        raise AssetError(file, f"image format {fmt}; allowed: {', '.join(TEXTURE_FORMATS)}")
    if max(size) > max_px:
        raise AssetError(file, f"texture of {size[0]}x{size[1]} px, over the limit of {max_px} px a side")
    return size


def held_out(asset_id: str, share: float = HELD_OUT_SHARE) -> bool:
    """Whether ``asset_id`` is in the test split: the first 8 bytes of the sha256 of
    its UTF-8 bytes, as a fraction of 2**64, below ``share``."""
    word = int.from_bytes(hashlib.sha256(asset_id.encode("utf-8")).digest()[:8], "big")
    return word < share * 2**64


def split(pack: Pack, which: Literal["train", "test", "all"], share: float = HELD_OUT_SHARE) -> tuple[AssetRecord, ...]:
    """The assets of ``pack`` in split ``which`` (pack order): ``test`` those
    :func:`held_out`, ``train`` the rest, ``all`` every one.

    Raises:
        ParamError: ``which`` is not train, test or all, or ``share`` is outside [0, 1].
    """
    if which not in ("train", "test", "all"):
        raise ParamError(f"split {which!r}: allowed: train, test, all")
    if not 0.0 <= share <= 1.0:
        raise ParamError(f"held-out share {share}: allowed: 0 to 1")
    if which == "all":
        return pack.assets
    return tuple(a for a in pack.assets if held_out(a.id, share) == (which == "test"))
