"""Sweet Home 3D furniture libraries (``.sh3f``), as Debian's ``sweethome3d-furniture``
installs them (``/usr/share/sweethome3d/furniture/*.sh3f``).

A library is a zip: ``PluginFurnitureCatalog.properties`` (Java properties, ISO-8859-1
with ``\\uXXXX`` escapes) and, per model, a folder with an OBJ, its MTL and textures.
The properties give the library's ``license=`` text (one for every model; a model's own
``license#N`` overrides it) and per model ``N``: ``id#N``, ``name#N``, ``category#N``,
``model#N`` (a path from the archive's root), ``width#N``, ``depth#N``, ``height#N``
(centimetres: x, z and y of the y-up model, which Sweet Home 3D stretches the model to),
``creator#N`` and an optional ``modelRotation#N`` (9 numbers, a row-major 3x3 matrix
applied first).

Licence texts map to SPDX ids by :data:`LICENCE_TEXTS` (the five Debian libraries:
BlendSwap-CC-0 says "Public domain" -> CC0-1.0; BlendSwap-CC-BY and Scopia -> CC-BY-3.0;
Kator Legaz and Reallusion -> CC-BY-3.0-US); any other text is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from factory.assets.importers.archive import entry_path, safe_extract
from factory.assets.licences import LICENCES
from factory.assets.source import Y_UP_TO_Z_UP, SourceAsset, asset_id
from factory.errors import AssetError

CATALOG = "PluginFurnitureCatalog.properties"

# Lower-cased fragment of a library's licence text -> SPDX id, first match wins (the
# United States port before the plain 3.0 it also contains).
LICENCE_TEXTS = (
    ("public domain", "CC0-1.0"),
    ("cc-0", "CC0-1.0"),
    ("creative commons zero", "CC0-1.0"),
    ("attribution 3.0 united states", "CC-BY-3.0-US"),
    ("attribution 3.0 unported", "CC-BY-3.0"),
    ("attribution 3.0 license", "CC-BY-3.0"),
)

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def parse_properties(text: str) -> dict[str, str]:
    """Java ``.properties`` text as a dict: ``#``/``!`` comments, ``=``, ``:`` or
    whitespace between key and value, a trailing ``\\`` continues the line, ``\\uXXXX``
    and the other backslash escapes decoded."""
    out: dict[str, str] = {}
    logical, pending = [], ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not pending and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:  # an odd number of backslashes: the last one continues the line
            pending += line[:-1]
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)
    for line in logical:
        m = re.match(r"((?:\\.|[^=:\s\\])*)\s*[=:\s]?\s*(.*)$", line, re.DOTALL)
        key, value = (m.group(1), m.group(2)) if m else (line, "")
        out[_unescape(key)] = _unescape(value)
    return out


def _unescape(s: str) -> str:
    def one(m: re.Match) -> str:
        body = m.group(1)
        if body.startswith("u"):
            return chr(int(body[1:], 16))
        return _ESCAPES.get(body, body)

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, s)


def spdx_of(text: str, file: str) -> str:
    """The SPDX id a Sweet Home 3D licence text means (an SPDX id itself is taken as is).

    Raises:
        AssetError: naming ``file``: no text, or a text no rule of :data:`LICENCE_TEXTS`
            matches.
    """
    text = (text or "").strip()
    if text in LICENCES:
        return text
    low = " ".join(text.lower().split())
    for fragment, spdx in LICENCE_TEXTS:
        if fragment in low:
            return spdx
    known = "; ".join(f"'{f}' -> {s}" for f, s in LICENCE_TEXTS)
    raise AssetError(file, f"unknown licence text {text!r}; known texts (case-insensitive): {known}")


def import_assets(source: Path, work: Path) -> list[SourceAsset]:
    """Every model of the library ``source`` (a ``.sh3f`` file), unpacked under ``work``.

    Raises:
        AssetError: naming the archive, entry or property: an unsafe entry, no catalogue,
            an unknown licence, a model file missing, a size that is not a number.
    """
    source = Path(source)
    root = safe_extract(source, Path(work) / source.stem)
    catalog = root / CATALOG
    if not catalog.is_file():
        raise AssetError(f"{source}:{CATALOG}", "missing: not a Sweet Home 3D furniture library")
    props = parse_properties(catalog.read_text(encoding="latin-1"))
    numbers = sorted({int(m.group(1)) for k in props if (m := re.fullmatch(r"id#(\d+)", k))})
    return [_model(props, n, source, root) for n in numbers]


def _model(props: dict[str, str], n: int, source: Path, root: Path) -> SourceAsset:
    where = f"{source}:{CATALOG}"

    def get(key: str, required: bool = True) -> str:
        value = props.get(f"{key}#{n}", "").strip()
        if required and not value:
            raise AssetError(where, f"model {n}: {key}#{n} is missing")
        return value

    licence_text = props.get(f"license#{n}") or props.get("license", "")
    spdx = spdx_of(licence_text, f"{where} (model {n}, {get('id')})")
    model = get("model").lstrip("/")
    mesh = root / entry_path(model, str(source))
    if not mesh.is_file():
        raise AssetError(f"{source}:{model}", f"missing (model#{n} names it)")
    try:
        extents = tuple(float(get(k)) / 100.0 for k in ("width", "depth", "height"))  # cm -> m, z up
        rotation = get("modelRotation", required=False)
        turn = np.array([float(x) for x in rotation.split()]).reshape(3, 3) if rotation else np.eye(3)
    except ValueError as e:
        raise AssetError(where, f"model {n}: width, depth, height and modelRotation must be numbers ({e})") from None
    if not all(np.isfinite(extents)) or min(extents) <= 0:
        raise AssetError(where, f"model {n}: width, depth and height must be above 0 cm, got {extents}")
    linear = np.asarray(Y_UP_TO_Z_UP).reshape(3, 3) @ turn
    # The licence texts beside the model (Blend Swap's name title, author and source),
    # then the library's own.
    beside = sorted(p for p in mesh.parent.iterdir() if "licen" in p.name.lower()) if mesh.parent != root else []
    library = sorted(p for p in root.iterdir() if p.is_file() and "licen" in p.name.lower())
    return SourceAsset(
        id=asset_id(get("id"), where),
        mesh=mesh,
        category=get("category").lower(),
        licence=spdx,
        creator=get("creator"),
        title=get("name"),
        source=f"{source.name}:/{model}",
        linear=tuple(float(x) for x in linear.ravel()),
        extents_m=extents,
        notices=tuple(p for p in [*beside, *library] if p.is_file()),
    )
