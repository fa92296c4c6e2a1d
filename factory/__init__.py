"""factory: procedural 3D scenes rendered as clips with exact ground truth.

The public entry points are importable from here (loaded on first use, so that
``import factory`` stays cheap): :func:`load_config`, :func:`generate_sample`,
:func:`generate_samples`, :func:`generate_members` and :func:`decode_sample`.

The package is layered as folders, each importing only the ones above it in this list
(README "Layout" has the table): ``scene`` (config, allocation, scene sampling),
``physics``, ``render``, ``sample`` (generate, encode, decode), ``dataset`` (storage,
shards, manifest, provenance, the one writer, resume, reader, mix), ``trust`` (validate,
report, diversity), ``client`` (HTTP client, PyTorch datasets, rerun export), then ``onray`` (every Ray Data use), ``service`` and
``commands``. Only ``factory.onray``, the Serve adapter ``factory.service.app`` and the
``serve`` command import Ray; ``tests/unit/test_house.py`` imports every other module
with Ray made unimportable.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> the module that defines it (imported when first asked for)
_PUBLIC = {
    "load_config": "factory.scene.config",
    "generate_sample": "factory.sample.generate",
    "generate_samples": "factory.sample.generate",
    "generate_members": "factory.sample.generate",
    "decode_sample": "factory.sample.decode",
}

__all__ = ["__version__", *_PUBLIC]  # noqa: PLE0604 (the keys are str; ruff cannot see into the dict)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'factory' has no attribute {name!r}")
