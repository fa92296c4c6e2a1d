"""Licences for the dataset card: the generator's code and the libraries that shaped the data.

Read from installed package metadata (:mod:`importlib.metadata`): the SPDX
``License-Expression`` when the package declares one, else a short ``License`` field,
else its ``License ::`` trove classifiers. For factory itself, when it is not installed
as a distribution, ``pyproject.toml`` next to the package is read instead.

These are the versions installed where the report runs; the manifest does not record
library versions, so for a dataset made elsewhere they are an indication, not a record.
"""

from __future__ import annotations

import importlib.metadata as md
import tomllib
from pathlib import Path

# (distribution, what it did to the data)
LIBRARIES = (
    ("numpy", "random draws, simulation and rendering arithmetic"),
    ("opencv-python-headless", "PNG and MP4 encoding of every member"),
    ("pillow", "PNG decoding by readers (webdataset, Ray Data, factory.decode)"),
    ("pyyaml", "reading scenario configs"),
    ("pydantic", "config validation and the defaults in the resolved config"),
)


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


def library_licences() -> list[dict[str, str | None]]:
    """``{"name", "version", "licence", "role"}`` for each of :data:`LIBRARIES`."""
    return [{**package_licence(name), "role": role} for name, role in LIBRARIES]
