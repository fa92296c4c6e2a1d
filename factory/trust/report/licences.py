"""Licences for the dataset card: the generator's code and the libraries that shaped the data.

Read from installed package metadata (:mod:`importlib.metadata`): the SPDX
``License-Expression`` when the package declares one, else a short ``License`` field,
else its ``License ::`` trove classifiers. For factory itself, when it is not installed
as a distribution, ``pyproject.toml`` next to the package is read instead.

The assets' licences (:func:`asset_licences`) are the manifest's ``assets`` section: the
counts per licence and the attribution list, summed over every shard when the dataset was
written (:mod:`factory.dataset.licensing`), so the card covers all samples even when the
report reads fewer.

Versions are the ones the manifest recorded (``generator.libraries``, see
:mod:`factory.dataset.provenance`); a dataset made before factory recorded them gets the
versions installed where the report runs, marked as such.
"""

from __future__ import annotations

import importlib.metadata as md
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from factory.dataset import provenance

# Libraries that touch the data only when it is read back.
READERS = (("pillow", "PNG decoding by readers (webdataset, Ray Data, factory.sample.decode)"),)


def package_licence(name: str) -> dict[str, str | None]:
    """``{"name", "version", "licence"}`` of an installed distribution; version None and
    licence ``"unknown (not installed)"`` when it is not installed."""
    try:
        meta = md.metadata(name)
    except md.PackageNotFoundError:
        return {"name": name, "version": None, "licence": "unknown (not installed)"}
    return {"name": name, "version": meta.get("Version"), "licence": _licence_of(meta)}


def _licence_of(meta) -> str:
    expr = (meta.get("License-Expression") or "").strip()
    if expr:
        return expr
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 80:  # a name, not the licence's full text
        return text
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return "; ".join(classifiers)
    return "unknown (no licence in the package metadata)"


def generator_licence() -> dict[str, str | None]:
    """``{"name": "factory", "version", "licence"}`` of the code that made the data."""
    info = package_licence("factory")
    if info["version"] is not None:
        return info
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text())["project"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return info
    lic = project.get("license")
    text = lic.get("text") if isinstance(lic, dict) else lic
    import factory

    return {"name": "factory", "version": factory.__version__, "licence": text or info["licence"]}


def library_licences(recorded: Mapping[str, str | None] | None) -> list[dict[str, str | None]]:
    """``{"name", "version", "recorded", "licence", "role"}`` for each library that made
    the data (the names in ``recorded``, the manifest's ``generator.libraries``, or
    :data:`factory.dataset.provenance.LIBRARIES` when it has none) and for the :data:`READERS`.
    ``recorded`` is True when ``version`` comes from the manifest, False when it is the
    version installed here."""
    roles = dict(provenance.LIBRARIES + READERS)
    makers = list(recorded) if recorded else [name for name, _ in provenance.LIBRARIES]
    out = []
    for name in makers + [name for name, _ in READERS]:
        info = package_licence(name)
        from_manifest = bool(recorded) and name in recorded
        out.append(
            {
                **info,
                "version": recorded[name] if from_manifest else info["version"],
                "recorded": from_manifest,
                "role": roles.get(name, "recorded by the generator"),
            }
        )
    return out


def version_label(lib: Mapping[str, str | None]) -> str | None:
    """A library's version as the card and the HTML show it: as recorded, or marked
    ``(installed here)`` when the manifest did not record it."""
    if lib.get("version") is None:
        return None
    return lib["version"] if lib.get("recorded") else f"{lib['version']} (installed here)"


ASSET_FIELDS = (
    "split",
    "allowed_licences",
    "packs",
    "samples",
    "licences",
    "attribution",
    "backdrops",
    "uncounted_shards",
)


def asset_licences(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """The manifest's ``assets`` section for the card: ``split``, ``allowed_licences``,
    ``packs``, ``samples`` (with any generated or pack object), ``licences`` (SPDX id ->
    ``{objects, generated, samples, name, attribution}``), ``attribution`` (one entry per
    distinct asset whose licence asks for it) and ``uncounted_shards``; None when the
    manifest has no such section (no manifest, or one made before factory counted them)."""
    section = manifest.get("assets")
    if not isinstance(section, Mapping):
        return None
    return {k: section[k] for k in ASSET_FIELDS if k in section}
