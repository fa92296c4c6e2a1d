"""Backdrop packs: ``pack.json`` of equirectangular HDRIs, loading with every file
verified, and the held-out split.

A backdrop pack is a folder or fsspec URL laid out as an asset pack
(:mod:`factory.assets.pack`: one folder per id, a ``sha256`` of every file, the same
licence table and the same held-out split by id), with ``"kind": "backdrops"``::

    {"format": 1, "kind": "backdrops", "name": "backdrops", "version": "1",
     "backdrops": [{"id": "blender-forest", "image": "blender-forest/image.npz",
                    "notices": ["blender-forest/notice0.txt"], "category": "outdoor",
                    "licence": "CC0-1.0", "creator": "Greg Zaal (HDRI Haven)",
                    "title": "Forest", "source": "debian:blender-data=3.4.1+dfsg-2:/usr/share/...",
                    "width": 256, "height": 128, "bytes": 151234,
                    "mean_radiance": [0.61, 0.66, 0.71],
                    "sun": {"direction": [0.3, -0.5, 0.8], "share": 0.31, "radiance": [40.2, 38.1, 33.0]},
                    "sha256": {"blender-forest/image.npz": "...", ...}}, ...]}

``image`` is a ``.npz`` (:mod:`factory.assets.backdrops.image`, which also states the
direction convention), ``bytes`` its size, ``width`` x ``height`` its pixels;
``mean_radiance`` (linear RGB, the solid-angle-weighted mean over the sphere) and
``sun`` (:class:`~factory.assets.backdrops.image.SunStats`) are computed at build from
the stored pixels, for the renderer to light with. ``category`` is one of
:data:`CATEGORIES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import fsspec
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from factory.assets.backdrops.image import decode_image
from factory.assets.licences import licence
from factory.assets.pack import HELD_OUT_SHARE, ID_PATTERN, PACK_FILE, _read_checked, held_out, repeated
from factory.errors import AssetError, ParamError, problem_line
from factory.scene.validation import validation_problems

FORMAT = 1
KIND = "backdrops"
CATEGORIES = ("outdoor", "indoor", "studio", "night")
MAX_SIDE = 8192  # pixels of a stored map's width; a pack asking for more is refused unread


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


_Text = Annotated[str, Field(min_length=1)]
_RelPath = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)+$")]
_Finite3 = tuple[float, float, float]


def _finite(v: _Finite3, low: float) -> _Finite3:
    if not all(math.isfinite(x) and x >= low for x in v):
        raise ValueError(f"each value must be a finite number >= {low}")
    return v


class SunModel(_Strict):
    """``sun``: ``direction`` a unit vector (z up), ``share`` of the map's power within
    the sun's cone, ``radiance`` its mean linear RGB."""

    direction: _Finite3
    share: float = Field(ge=0.0, le=1.0)
    radiance: _Finite3

    @field_validator("direction")
    @classmethod
    def _unit(cls, v: _Finite3) -> _Finite3:
        _finite(v, -1.0)
        if abs(math.hypot(*v) - 1.0) > 1e-6:
            raise ValueError("must be a unit vector")
        return v

    @field_validator("radiance")
    @classmethod
    def _radiance(cls, v: _Finite3) -> _Finite3:
        return _finite(v, 0.0)


class BackdropRecord(_Strict):
    """One backdrop of ``pack.json`` (see the module docstring)."""

    id: Annotated[str, Field(pattern=ID_PATTERN, max_length=120)]
    image: _RelPath
    notices: tuple[_RelPath, ...] = ()
    category: Literal[CATEGORIES]
    licence: _Text
    creator: _Text
    title: _Text
    source: _Text
    width: int = Field(ge=2, le=MAX_SIDE)
    height: int = Field(ge=1, le=MAX_SIDE // 2)
    bytes: int = Field(ge=1)
    mean_radiance: _Finite3
    sun: SunModel
    sha256: dict[_RelPath, Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]]

    @field_validator("mean_radiance")
    @classmethod
    def _mean(cls, v: _Finite3) -> _Finite3:
        return _finite(v, 0.0)

    @model_validator(mode="after")
    def _files(self) -> BackdropRecord:
        files = self.files()
        if len(set(files)) != len(files) or set(self.sha256) != set(files):
            raise ValueError(f"sha256 must list exactly the backdrop's files {list(files)}, got {sorted(self.sha256)}")
        if any(not f.startswith(self.id + "/") for f in files):
            raise ValueError(f"every file must lie in the backdrop's folder {self.id}/")
        if self.width != 2 * self.height:
            raise ValueError(f"width must be twice the height (equirectangular), got {self.width}x{self.height}")
        return self

    def files(self) -> tuple[str, ...]:
        """The image, then the notices, as paths relative to the pack."""
        return (self.image, *self.notices)


class BackdropPackFile(_Strict):
    """``pack.json`` of a backdrop pack (see the module docstring)."""

    format: Literal[1]
    kind: Literal["backdrops"]
    name: Annotated[str, Field(pattern=ID_PATTERN)]
    version: _Text
    backdrops: tuple[BackdropRecord, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> BackdropPackFile:
        ids = [a.id for a in self.backdrops]
        dupes = repeated(ids)
        if dupes:
            raise ValueError(f"backdrop ids must be unique; repeated: {dupes}")
        return self


@dataclass(frozen=True)
class BackdropPack:
    """A loaded, verified backdrop pack: ``url`` where it lives, ``meta`` its ``pack.json``."""

    url: str
    meta: BackdropPackFile

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def backdrops(self) -> tuple[BackdropRecord, ...]:
        return self.meta.backdrops

    def shown(self, path: str) -> str:
        """``path`` (relative to the pack) as errors name it: the pack's URL joined on."""
        return f"{self.url.rstrip('/')}/{path}"

    def read_image(self, record: BackdropRecord) -> np.ndarray:
        """``record``'s radiance, float16 ``(height, width, 3)``, read again and checked
        (hash, dtype, shape, finite, non-negative).

        Raises:
            AssetError: naming the file.
        """
        fs, root = fsspec.core.url_to_fs(self.url)
        return _read_image(fs, root, self, record)


def _read_image(fs: fsspec.AbstractFileSystem, root: str, pack: BackdropPack, record: BackdropRecord) -> np.ndarray:
    shown = pack.shown(record.image)
    data = _read_checked(fs, root, record, record.image, shown)
    if len(data) != record.bytes:
        raise AssetError(shown, f"{len(data)} bytes; pack.json says {record.bytes}")
    image = decode_image(data, shown)
    if image.shape[:2] != (record.height, record.width):
        raise AssetError(shown, f"{image.shape[1]}x{image.shape[0]} px; pack.json says {record.width}x{record.height}")
    return image


def parse_backdrop_pack(data: bytes, shown: str) -> BackdropPackFile:
    """``pack.json``'s bytes as a :class:`BackdropPackFile`.

    Raises:
        AssetError: naming ``shown``, with one ``field: message (got value)`` line per
            problem.
    """
    try:
        return BackdropPackFile.model_validate_json(data)
    except ValidationError as e:
        if any(err["type"] == "json_invalid" for err in e.errors()):
            raise AssetError(shown, f"not valid JSON ({e.errors()[0]['msg']})") from None
        lines = [problem_line(p) for p in validation_problems(e.errors(), BackdropPackFile)]
        raise AssetError(shown, "; ".join(lines)) from None


def load_backdrops(url: str, storage_options: dict | None = None) -> BackdropPack:
    """The backdrop pack at ``url`` (a folder or fsspec URL), each backdrop verified: a
    licence factory knows, every file's sha256, the image's size, dtype, shape, finite
    and non-negative values.

    Raises:
        AssetError: naming the file (``pack.json`` for the licence).
    """
    fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
    shown = f"{url.rstrip('/')}/{PACK_FILE}"
    try:
        data = fs.cat_file(f"{root.rstrip('/')}/{PACK_FILE}")
    except FileNotFoundError:
        raise AssetError(
            shown, "no backdrop pack here: pack.json is missing (build one with `factory backdrops build`)"
        ) from None
    except OSError as e:
        raise AssetError(shown, f"cannot be read ({e})") from None
    pack = BackdropPack(url, parse_backdrop_pack(data, shown))
    for record in pack.backdrops:
        where = f"{shown}: backdrop {record.id}"
        if not licence(record.licence, where).known:
            raise AssetError(where, f"licence {record.licence} is unknown; a pack holds only licences factory knows")
        _read_image(fs, root, pack, record)
        for notice in record.notices:
            _read_checked(fs, root, record, notice, pack.shown(notice))
    return pack


def split_backdrops(
    pack: BackdropPack, which: Literal["train", "test", "all"], share: float = HELD_OUT_SHARE
) -> tuple[BackdropRecord, ...]:
    """The backdrops of ``pack`` in split ``which`` (pack order), by id exactly as asset
    packs split (:func:`factory.assets.pack.held_out`).

    Raises:
        ParamError: ``which`` is not train, test or all, or ``share`` is outside [0, 1].
    """
    if which not in ("train", "test", "all"):
        raise ParamError(f"split {which!r}: allowed: train, test, all")
    if not 0.0 <= share <= 1.0:
        raise ParamError(f"held-out share {share}: allowed: 0 to 1")
    if which == "all":
        return pack.backdrops
    return tuple(b for b in pack.backdrops if held_out(b.id, share) == (which == "test"))
