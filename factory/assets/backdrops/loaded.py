"""Backdrop packs and images as a sampler or renderer takes them, loaded once per process.

:func:`open_backdrops` gives a pack by name (``curated``: the package's own,
``factory/assets/backdrops/curated/``) or URL, every file verified when first opened;
:func:`backdrop_image` a backdrop's radiance as float32 ``(H, W, 3)`` (read-only,
shared by every caller), held in an LRU bounded by the bytes its arrays hold
(:class:`~factory.assets.byte_cache.ByteCache`) under the key (pack URL, id, sha256),
so the same key always means the same pixels. Thread-safe.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from factory.assets.backdrops.pack import BackdropPack, BackdropRecord, load_backdrops
from factory.assets.byte_cache import ByteCache, CacheStats

CURATED = Path(__file__).with_name("curated")
NAMED_BACKDROPS = {"curated": CURATED}  # names that mean a backdrop pack shipped in the package
DEFAULT_MAX_BYTES = 256 * 2**20  # ~650 maps of 256x128 in float32, or ~20 of 2048x1024

_PACKS: dict[str, BackdropPack] = {}
_PACKS_LOCK = threading.Lock()
_CACHE = ByteCache(DEFAULT_MAX_BYTES, lambda image: image.nbytes)


def backdrops_url(name: str) -> str:
    """The URL of backdrop pack ``name``: a name of :data:`NAMED_BACKDROPS`, else
    ``name`` itself (a folder or fsspec URL)."""
    return str(NAMED_BACKDROPS[name]) if name in NAMED_BACKDROPS else name


def open_backdrops(name: str) -> BackdropPack:
    """The backdrop pack ``name`` (see :func:`backdrops_url`), loaded and verified once
    per process.

    Raises:
        AssetError: as :func:`~factory.assets.backdrops.pack.load_backdrops`, naming the file.
    """
    url = backdrops_url(name)
    with _PACKS_LOCK:
        pack = _PACKS.get(url)
    if pack is None:
        pack = load_backdrops(url)  # outside the lock: a large pack takes a while
        with _PACKS_LOCK:
            pack = _PACKS.setdefault(url, pack)
    return pack


def _build(pack: BackdropPack, record: BackdropRecord) -> np.ndarray:
    image = pack.read_image(record).astype(np.float32)
    image.setflags(write=False)
    return image


def backdrop_image(pack: BackdropPack, record: BackdropRecord) -> np.ndarray:
    """``record``'s radiance, float32 ``(height, width, 3)``, linear RGB, read-only
    (layout: :mod:`factory.assets.backdrops.image`), through this process's cache.

    Raises:
        AssetError: naming the file: missing, altered (hash) or malformed.
    """
    key = (pack.url, record.id, record.sha256[record.image])
    return _CACHE.fetch(key, lambda: _build(pack, record))


def backdrop_cache() -> ByteCache:
    """This process's backdrop-image cache (to clear it or change its ``max_bytes``)."""
    return _CACHE


def backdrop_stats() -> CacheStats:
    """This process's backdrop-image cache counters."""
    return _CACHE.stats()
