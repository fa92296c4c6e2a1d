"""Backdrop sources: HDRI files with their licences as :class:`BackdropSource` records,
and reading their pixels.

Each importer is ``import_backdrops(source: Path, work: Path) -> list[BackdropSource]``
(``work``: an empty scratch folder that outlives the build); :data:`IMPORTERS` maps
``factory backdrops build --from`` names to them:

* ``blender``: Debian's ``blender-data`` unpacked (``dpkg-deb -x``): the 8 HDRIs of
  ``datafiles/studiolights/world`` (OpenEXR, 1024x512), whose ``license.txt`` must say
  CC0 (it credits Greg Zaal, HDRI Haven); it is carried as each backdrop's notice.
* ``pmndrs``: npm's ``@pmndrs/assets`` (the ``npm pack`` tarball or its unpacked
  folder): the 18 Poly Haven HDRIs of ``hdri/*.exr.js`` (float16 OpenEXR, 512x256,
  base64 in a ``data:`` URL), the package's ``license`` must be ``CC0-1.0``; its
  ``LICENSE`` is carried as the notice.
* ``folder``: ``.exr`` or ``.hdr`` files named in a ``licences.csv`` with the columns
  :data:`COLUMNS` (and optionally ``notice``, a licence text in the folder).

:func:`read_radiance` reads an ``.exr`` through PyPI's ``openexr`` (the ``hdri`` extra;
the pinned OpenCV is built without OpenEXR) or a Radiance ``.hdr`` through OpenCV.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factory.assets.backdrops.pack import CATEGORIES
from factory.assets.importers.folder import licence_rows
from factory.assets.source import asset_id
from factory.errors import AssetError

COLUMNS = ("file", "id", "category", "licence", "creator", "title", "source")
SUFFIXES = (".exr", ".hdr")
BLENDER_WORLD = "usr/share/blender/datafiles/studiolights/world"
BLENDER_CATEGORIES = {
    **dict.fromkeys(("city", "courtyard", "forest", "sunrise", "sunset"), "outdoor"),
    "interior": "indoor",
    "night": "night",
    "studio": "studio",
}
PMNDRS_CATEGORIES = {
    **dict.fromkeys(("apartment", "hall", "lab", "lobby", "warehouse", "workshop"), "indoor"),
    **dict.fromkeys(
        ("bridge", "city", "dawn", "esplanade", "forest", "park", "sky", "sunrise", "sunset", "venice"), "outdoor"
    ),
    "night": "night",
    "studio": "studio",
}
_DATA_URL = re.compile(rb"data:[a-z/+-]*;base64,([A-Za-z0-9+/=]+)")


@dataclass(frozen=True)
class BackdropSource:
    """One HDRI as an importer found it: ``file`` on local disk (``.exr`` or ``.hdr``),
    ``notices`` licence texts to carry verbatim, the rest :class:`BackdropRecord`'s."""

    id: str
    file: Path
    category: str
    licence: str
    creator: str
    title: str
    source: str
    notices: tuple[Path, ...] = ()
    shown: str = ""  # how errors and the log name the file; "" for ``file`` itself

    def where(self) -> str:
        """The file as errors and the build log name it."""
        return self.shown or str(self.file)


def read_radiance(path: Path, shown: str = "") -> np.ndarray:
    """The linear RGB of an ``.exr`` or ``.hdr`` file, float32 ``(H, W, 3)``, row 0 the
    top; values as stored (negatives and non-finite ones included: the build decides).

    Raises:
        AssetError: naming the file: another suffix, unreadable, no R, G and B, or (an
            ``.exr``) the ``openexr`` package is missing (with the install hint).
    """
    shown = shown or str(path)
    suffix = path.suffix.lower()
    if suffix == ".exr":
        return _read_exr(path, shown)
    if suffix == ".hdr":
        import cv2

        bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3:
            raise AssetError(shown, "not a readable Radiance .hdr image with 3 channels")
        return np.ascontiguousarray(bgr[:, :, ::-1], dtype=np.float32)
    raise AssetError(shown, f"suffix {path.suffix!r}; a backdrop is one of {', '.join(SUFFIXES)}")


def _read_exr(path: Path, shown: str) -> np.ndarray:
    try:
        import OpenEXR
    except ImportError:
        raise AssetError(shown, "reading OpenEXR needs the openexr package: pip install 'factory[hdri]'") from None
    try:
        with OpenEXR.File(str(path)) as exr:
            channels = {name: np.asarray(ch.pixels) for name, ch in exr.channels().items()}
    except Exception as e:  # OpenEXR raises plain exceptions for a corrupt or foreign file
        raise AssetError(shown, f"not a readable OpenEXR image ({type(e).__name__}: {e})") from None
    if "RGB" in channels and channels["RGB"].ndim == 3 and channels["RGB"].shape[2] == 3:
        return channels["RGB"].astype(np.float32)
    if {"R", "G", "B"} <= set(channels):
        return np.stack([channels[c] for c in "RGB"], axis=-1).astype(np.float32)
    raise AssetError(shown, f"channels {sorted(channels)}; a backdrop needs R, G and B")


def import_blender(source: Path, work: Path) -> list[BackdropSource]:
    """The HDRIs of an unpacked ``blender-data`` (``source``: the unpacked root, or its
    ``studiolights/world`` folder), in name order.

    Raises:
        AssetError: naming the file: no ``license.txt``, one that does not say CC0, no
            HDRI, or an HDRI without a known category.
    """
    world = Path(source) if (Path(source) / "license.txt").is_file() else Path(source) / BLENDER_WORLD
    notice = world / "license.txt"
    if not notice.is_file():
        raise AssetError(str(notice), "missing: expected an unpacked blender-data (dpkg-deb -x) or its world folder")
    text = notice.read_text(encoding="utf-8", errors="replace")
    if "CC0" not in text:
        raise AssetError(str(notice), "does not say CC0; factory imports blender-data's HDRIs as CC0 only")
    found = re.search(r"created by (.+?)(?: \(|\.|$)", text)
    creator = f"{found.group(1).strip()} (HDRI Haven)" if found else "HDRI Haven"
    files = sorted(world.glob("*.exr"))
    if not files:
        raise AssetError(str(world), "no .exr files")
    package = f"blender-data={_debian_version(Path(source))}"
    out = []
    for f in files:
        if f.stem not in BLENDER_CATEGORIES:
            raise AssetError(str(f), f"no category known for it; known: {', '.join(BLENDER_CATEGORIES)}")
        out.append(
            BackdropSource(
                id=asset_id(f"blender-{f.stem}", str(f)),
                file=f,
                category=BLENDER_CATEGORIES[f.stem],
                licence="CC0-1.0",
                creator=creator,
                title=f.stem.capitalize(),
                source=f"debian:{package}:/{BLENDER_WORLD}/{f.name}",
                notices=(notice,),
            )
        )
    return out


def _debian_version(root: Path) -> str:
    """The package version in an unpacked ``blender-data``'s Debian changelog (its first
    line, ``blender (3.4.1+dfsg-2) unstable; ...``), or ``unknown`` without one."""
    changelog = root / "usr/share/doc/blender-data/changelog.Debian.gz"
    try:
        with gzip.open(changelog, "rt", encoding="utf-8") as f:
            found = re.match(r"\S+ \(([^)]+)\)", f.readline())
    except OSError:
        return "unknown"
    return found.group(1) if found else "unknown"


def import_pmndrs(source: Path, work: Path) -> list[BackdropSource]:
    """The HDRIs of ``@pmndrs/assets`` (``source``: the ``npm pack`` tarball or the
    unpacked ``package`` folder), decoded from base64 into ``work``, in name order.

    Raises:
        AssetError: naming the file: not that package, a licence other than CC0-1.0, a
            ``.js`` without a base64 ``data:`` URL, or an HDRI without a known category.
    """
    root = shown_root = Path(source)
    if root.is_file():
        try:
            with tarfile.open(root) as tar:
                tar.extractall(work, filter="data")
        except (tarfile.TarError, OSError) as e:
            raise AssetError(str(root), f"not a readable npm tarball ({e})") from None
        root, shown_root = work / "package", Path(f"{source}:package")
    meta_file = root / "package.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise AssetError(str(meta_file), f"cannot be read as JSON ({e})") from None
    if meta.get("name") != "@pmndrs/assets" or meta.get("license") != "CC0-1.0":
        raise AssetError(
            str(meta_file),
            f"package {meta.get('name')!r} licence {meta.get('license')!r}; expected @pmndrs/assets under CC0-1.0",
        )
    notice = root / "LICENSE"
    files = sorted((root / "hdri").glob("*.exr.js"))
    if not files:
        raise AssetError(str(root / "hdri"), "no .exr.js files")
    out = []
    for f in files:
        name = f.name.removesuffix(".exr.js")
        if name not in PMNDRS_CATEGORIES:
            raise AssetError(str(f), f"no category known for it; known: {', '.join(PMNDRS_CATEGORIES)}")
        found = _DATA_URL.search(f.read_bytes())
        if not found:
            raise AssetError(str(f), "holds no base64 data: URL")
        exr = work / "pmndrs" / f"{name}.exr"
        exr.parent.mkdir(parents=True, exist_ok=True)
        exr.write_bytes(base64.b64decode(found.group(1)))
        out.append(
            BackdropSource(
                id=asset_id(f"pmndrs-{name}", str(f)),
                file=exr,
                category=PMNDRS_CATEGORIES[name],
                licence="CC0-1.0",
                creator="Poly Haven (polyhaven.com), via pmndrs/assets",
                title=name.capitalize(),
                source=f"npm:@pmndrs/assets@{meta.get('version', '?')}:hdri/{f.name}",
                notices=(notice,) if notice.is_file() else (),
                shown=str(shown_root / "hdri" / f.name),
            )
        )
    return out


def import_folder(source: Path, work: Path) -> list[BackdropSource]:
    """One :class:`BackdropSource` per row of ``source/licences.csv`` (row order).

    Raises:
        AssetError: naming the CSV and line: no CSV, a missing column, an empty field,
            an unknown category, a file outside the folder or missing.
    """
    folder = Path(source)
    table, rows = licence_rows(folder, COLUMNS)
    return [_row(row, f"{table} line {i}", folder) for i, row in rows]


def _row(row: dict[str, str], where: str, folder: Path) -> BackdropSource:
    values = {c: (row.get(c) or "").strip() for c in COLUMNS}
    empty = [c for c, v in values.items() if not v]
    if empty:
        raise AssetError(where, f"empty fields {empty}; every column needs a value")
    if values["category"] not in CATEGORIES:
        raise AssetError(where, f"category {values['category']!r}; allowed: {', '.join(CATEGORIES)}")
    paths = {"file": values["file"], "notice": (row.get("notice") or "").strip()}
    resolved = {}
    for column, name in paths.items():
        path = (folder / name).resolve()
        if name and (not path.is_relative_to(folder.resolve()) or not path.is_file()):
            raise AssetError(where, f"{column} {name!r} is not a file in the folder {folder}")
        resolved[column] = path if name else None
    return BackdropSource(
        id=asset_id(values["id"], where),
        file=resolved["file"],
        category=values["category"],
        licence=values["licence"],
        creator=values["creator"],
        title=values["title"],
        source=values["source"],
        notices=(resolved["notice"],) if resolved["notice"] else (),
    )


IMPORTERS: dict[str, Callable[[Path, Path], list[BackdropSource]]] = {
    "blender": import_blender,
    "pmndrs": import_pmndrs,
    "folder": import_folder,
}
